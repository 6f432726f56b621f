//! [`BatcherBuilder`]: the batcher's options, with go-batcher's defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use events_core::{Emitter, RateLimiter};
use tokio_util::sync::CancellationToken;

use crate::resources::{PRIMARY_RESOURCE, Resources};
use crate::{AdaptiveCapacity, Batcher, BatcherError, PausePolicy};

/// The largest buffer a batcher accepts.
pub const MAX_BUFFER_SIZE: usize = 1 << 30;

/// The longest duration any batcher or watcher option accepts: one year.
///
/// Longer intervals would overflow the clock when added to the present moment; a year
/// is as good as "never" for every option that takes a duration.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) buffer_size: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) capacity_interval: Duration,
    pub(crate) audit_interval: Duration,
    pub(crate) max_operation_time: Duration,
    pub(crate) pause: PausePolicy,
    pub(crate) adaptive: Option<AdaptiveCapacity>,
    pub(crate) max_concurrent_batches: Option<usize>,
    pub(crate) error_on_full_buffer: bool,
    pub(crate) emit_flush: bool,
    pub(crate) emit_batch: bool,
    pub(crate) emit_request: bool,
    pub(crate) linger: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            buffer_size: 10_000,
            flush_interval: Duration::from_millis(100),
            capacity_interval: Duration::from_millis(100),
            audit_interval: Duration::from_secs(10),
            max_operation_time: Duration::from_secs(60),
            pause: PausePolicy::default(),
            adaptive: None,
            max_concurrent_batches: None,
            error_on_full_buffer: false,
            emit_flush: false,
            emit_batch: false,
            emit_request: false,
            linger: Duration::from_millis(100),
        }
    }
}

/// Builds a [`Batcher`]. Every option has go-batcher's default.
///
/// | option | default |
/// |---|---|
/// | [`buffer_size`](Self::buffer_size) | 10,000 operations |
/// | [`rate_limiter`](Self::rate_limiter) | none (unlimited) |
/// | [`primary_resource`](Self::primary_resource) | named [`PRIMARY_RESOURCE`] |
/// | [`resource`](Self::resource) | none: one resource |
/// | [`flush_interval`](Self::flush_interval) | 100 ms |
/// | [`capacity_interval`](Self::capacity_interval) | 100 ms |
/// | [`audit_interval`](Self::audit_interval) | 10 s |
/// | [`max_operation_time`](Self::max_operation_time) | 1 min |
/// | [`pause_time`](Self::pause_time), [`pause_policy`](Self::pause_policy) | fixed, 500 ms |
/// | [`adaptive_capacity`](Self::adaptive_capacity) | off: the limiter's capacity as it is |
/// | [`max_concurrent_batches`](Self::max_concurrent_batches) | unlimited |
/// | [`error_on_full_buffer`](Self::error_on_full_buffer) | off: `enqueue` waits for room |
/// | [`emit_flush`](Self::emit_flush), [`emit_batch`](Self::emit_batch), [`emit_request`](Self::emit_request) | off |
/// | [`linger`](Self::linger) | the flush interval |
#[derive(Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct BatcherBuilder {
    pub(crate) options: Options,
    linger_set: bool,
    /// The builder method that set the pause policy, to name it in errors.
    pause_set_by: Option<&'static str>,
    pub(crate) limiter: Option<Arc<dyn RateLimiter>>,
    primary: Option<&'static str>,
    more: Vec<(&'static str, Arc<dyn RateLimiter>)>,
    pub(crate) emitter: Option<Emitter>,
    pub(crate) cancel: Option<CancellationToken>,
}

impl fmt::Debug for BatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatcherBuilder")
            .field("options", &self.options)
            .field("limiter", &self.limiter)
            .field("primary", &self.primary.unwrap_or(PRIMARY_RESOURCE))
            .field("resources", &self.more)
            .finish_non_exhaustive()
    }
}

impl BatcherBuilder {
    /// How many operations may wait in the buffer (1 ..= [`MAX_BUFFER_SIZE`]).
    pub fn buffer_size(mut self, size: usize) -> Self {
        self.options.buffer_size = size;
        self
    }

    /// The rate limiter whose per-second capacity bounds what is released.
    ///
    /// The capacity is read at every pass of the dispatcher and paced: each flush tick
    /// grants a slice of it (see [Pacing](crate#pacing)), and no sliding one-second window
    /// ever holds more than it. Without a limiter nothing is paced or bounded.
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Names the primary resource (the one of [`rate_limiter`](Self::rate_limiter) and
    /// of the cost given to [`Operation::new`](crate::Operation::new)) in events and
    /// errors; [`PRIMARY_RESOURCE`] by default.
    pub fn primary_resource(mut self, name: &'static str) -> Self {
        self.primary = Some(name);
        self
    }

    /// Adds a resource named `name` with its own rate limiter, window and pacing; an
    /// operation's cost in it is set with
    /// [`Operation::with_cost`](crate::Operation::with_cost) (0 if not set).
    ///
    /// An operation is released only when every resource's window and paced allowance
    /// admit its cost there; each limiter is asked (`give_me`) for the cost enqueued in
    /// its resource, and an operation costing more in a resource than that limiter's
    /// maximum capacity is refused with
    /// [`TooExpensive`](crate::EnqueueErrorKind::TooExpensive) naming the resource.
    /// Names are `&'static str` because resources are dimensions fixed in code (request
    /// units, bytes, ...); a name read from configuration can be leaked once at start-up.
    /// At most [`MAX_RESOURCES`](crate::MAX_RESOURCES) resources in all, the primary
    /// one included, each with its own non-empty name.
    pub fn resource(mut self, name: &'static str, limiter: Arc<dyn RateLimiter>) -> Self {
        self.more.push((name, limiter));
        self
    }

    /// How often partial batches are flushed and, with a rate limiter, how often a
    /// slice of its capacity (capacity × interval / 1 s) is granted
    /// (see [Pacing](crate#pacing)). Above zero and at most [`MAX_DURATION`].
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.options.flush_interval = interval;
        self
    }

    /// How often the batcher tells the limiter what it needs (`give_me`); above zero
    /// and at most [`MAX_DURATION`].
    pub fn capacity_interval(mut self, interval: Duration) -> Self {
        self.options.capacity_interval = interval;
        self
    }

    /// How often the batcher checks its own accounting; above zero and at most
    /// [`MAX_DURATION`].
    pub fn audit_interval(mut self, interval: Duration) -> Self {
        self.options.audit_interval = interval;
        self
    }

    /// How long a callback batch may run before it counts as done; watchers may
    /// override. Above zero and at most [`MAX_DURATION`].
    pub fn max_operation_time(mut self, time: Duration) -> Self {
        self.options.max_operation_time = time;
        self
    }

    /// A fixed pause: how long [`Batcher::pause`] (and a batch reported throttled)
    /// stops the loops; at most [`MAX_DURATION`]. The same as
    /// `pause_policy(PausePolicy::Fixed(time))`.
    pub fn pause_time(mut self, time: Duration) -> Self {
        self.options.pause = PausePolicy::Fixed(time);
        self.pause_set_by = Some("pause_time");
        self
    }

    /// How long each pause lasts: fixed (the default, 500 ms) or growing while the
    /// datastore keeps throttling (see [`PausePolicy`]). A pause comes from
    /// [`Batcher::pause`] or from a batch reported throttled
    /// ([`Feedback::throttled`](crate::Feedback::throttled)); a datastore's retry-after
    /// is the minimum pause either way.
    pub fn pause_policy(mut self, policy: PausePolicy) -> Self {
        self.options.pause = policy;
        self.pause_set_by = Some("pause_policy");
        self
    }

    /// Adapts the capacity the batcher works with to what the datastore takes (AIMD):
    /// cut by a factor when a batch is reported throttled, raised step by step while
    /// writes succeed, never above the rate limiter's capacity (see
    /// [`AdaptiveCapacity`]). Needs a [`rate_limiter`](Self::rate_limiter).
    pub fn adaptive_capacity(mut self, adaptive: AdaptiveCapacity) -> Self {
        self.options.adaptive = Some(adaptive);
        self
    }

    /// The most batches handed out and not yet done at any time (at least 1).
    pub fn max_concurrent_batches(mut self, max: usize) -> Self {
        self.options.max_concurrent_batches = Some(max);
        self
    }

    /// Whether the waiting `enqueue` fails at once with a full buffer instead of waiting.
    pub fn error_on_full_buffer(mut self, on: bool) -> Self {
        self.options.error_on_full_buffer = on;
        self
    }

    /// Whether to raise `flush-start` and `flush-done` events.
    pub fn emit_flush(mut self, on: bool) -> Self {
        self.options.emit_flush = on;
        self
    }

    /// Whether to raise a `batch` event for every batch, with [`BatchMetadata`](crate::BatchMetadata).
    pub fn emit_batch(mut self, on: bool) -> Self {
        self.options.emit_batch = on;
        self
    }

    /// Whether to raise a `request` event each time the limiter is asked for capacity.
    pub fn emit_request(mut self, on: bool) -> Self {
        self.options.emit_request = on;
        self
    }

    /// How long a partial batch may wait for more operations before it is released even
    /// though no flush tick came; zero releases operations as soon as capacity allows.
    ///
    /// Full batches never wait. The flush tick releases partial batches too, so a linger
    /// longer than the flush interval has no effect. Defaults to the flush interval; at
    /// most [`MAX_DURATION`].
    /// Because timers fire a millisecond or two late, a partial batch is due two
    /// milliseconds before its linger ends, so that it does not wait longer than the linger.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.options.linger = linger;
        self.linger_set = true;
        self
    }

    /// The emitter on which the batcher raises its events (default: a new one named `batcher`).
    pub fn emitter(mut self, emitter: Emitter) -> Self {
        self.emitter = Some(emitter);
        self
    }

    /// A token whose cancellation stops the batcher, as [`Batcher::stop`] does.
    pub fn cancellation_token(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Checks the options and builds the batcher; call [`Batcher::start`] to run it.
    ///
    /// # Errors
    ///
    /// [`BatcherError::InvalidOption`] naming the option that cannot work: a zero or
    /// too large buffer, a zero interval or max operation time, a duration longer than
    /// [`MAX_DURATION`], zero max concurrent batches, a pause policy or adaptive
    /// capacity that cannot work (the reason says why), or an adaptive capacity without
    /// a rate limiter; [`BatcherError::DuplicateResource`],
    /// [`BatcherError::EmptyResourceName`] or [`BatcherError::TooManyResources`] for
    /// resources that cannot be told apart.
    pub fn build(mut self) -> Result<Batcher, BatcherError> {
        let o = &self.options;
        let invalid = |option, reason| Err(BatcherError::InvalidOption { option, reason });
        if o.buffer_size == 0 || o.buffer_size > MAX_BUFFER_SIZE {
            return invalid("buffer_size", "use a size between 1 and MAX_BUFFER_SIZE");
        }
        for (option, d, may_be_zero) in [
            ("flush_interval", o.flush_interval, false),
            ("capacity_interval", o.capacity_interval, false),
            ("audit_interval", o.audit_interval, false),
            ("max_operation_time", o.max_operation_time, false),
            ("linger", o.linger, true),
        ] {
            if d.is_zero() && !may_be_zero {
                return invalid(option, "use a duration above zero");
            }
            if d > MAX_DURATION {
                return invalid(
                    option,
                    "use a duration of at most MAX_DURATION (one year), which already means never",
                );
            }
        }
        if let Err(reason) = o.pause.check() {
            return invalid(self.pause_set_by.unwrap_or("pause_policy"), reason);
        }
        if let Some(adaptive) = &o.adaptive {
            if self.limiter.is_none() {
                return invalid(
                    "adaptive_capacity",
                    "set a rate_limiter: the adaptive capacity adjusts the limiter's capacity",
                );
            }
            if let Err(reason) = adaptive.check() {
                return invalid("adaptive_capacity", reason);
            }
        }
        if o.max_concurrent_batches == Some(0) {
            return invalid(
                "max_concurrent_batches",
                "use at least 1, or leave it unset for no limit",
            );
        }
        let resources = Resources::new(
            self.primary.unwrap_or(PRIMARY_RESOURCE),
            self.limiter.take(),
            std::mem::take(&mut self.more),
        )?;
        if !self.linger_set {
            self.options.linger = self.options.flush_interval;
        }
        Ok(Batcher::from_builder(self, resources))
    }
}
