//! The state shared by the batcher handle, its loops, its watchers and its batches.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use events_core::{Emitter, EventName};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::adaptive::Adaptive;
use crate::buffer::Buffer;
use crate::delivery::Delivery;
use crate::inflight::{Inflight, Ticket};
use crate::lifecycle::Lifecycle;
use crate::options::Options;
use crate::resources::{Costs, Resources};
use crate::signals::Signals;

/// Keeps hot counters on their own cache line so producers on different cores do not
/// invalidate each other's unrelated data.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `at + d`, without overflowing: a moment the clock cannot represent becomes a year
/// from `at` (every option is at most [`MAX_DURATION`](crate::MAX_DURATION), so only
/// a clock near its end gets there).
pub(crate) fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(crate::MAX_DURATION))
        .unwrap_or(at)
}

/// The batcher's components, shared by its handle, loops, watchers and batches. Each
/// component keeps its own state behind its own API; `Core` only ties them together.
pub(crate) struct Core {
    options: Options,
    emitter: Emitter,
    /// Whether the batcher made its emitter, and so closes it when it stops.
    owns_emitter: bool,
    /// The named capacities, the primary one first, each with its limiter (if any).
    resources: Resources,
    /// Admission, room and the buffered counters.
    buffer: Buffer,
    /// Batches handed out and not yet done.
    inflight: Inflight,
    /// Starts callback batches in release order, and tracks those that go on waiting.
    delivery: Delivery,
    /// What wakes the dispatcher, and what it is told when it wakes.
    signals: Signals,
    /// Started, paused, stopped, and the loops' tasks.
    lifecycle: Lifecycle,
    /// The effective capacity adjusted to the datastore's throttling, if configured.
    adaptive: Option<Adaptive>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("options", &self.options)
            .field("resources", &self.resources)
            .field("buffered", &self.buffer.ops())
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl Core {
    pub(crate) fn new(
        options: Options,
        emitter: Option<Emitter>,
        resources: Resources,
        cancel: CancellationToken,
    ) -> Self {
        Core {
            buffer: Buffer::new(options.buffer_size),
            lifecycle: Lifecycle::new(cancel, options.pause),
            adaptive: options.adaptive.map(Adaptive::new),
            owns_emitter: emitter.is_none(),
            emitter: emitter.unwrap_or_else(|| Emitter::new("batcher")),
            options,
            resources,
            inflight: Inflight::default(),
            delivery: Delivery::default(),
            signals: Signals::default(),
        }
    }

    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    pub(crate) fn emitter(&self) -> &Emitter {
        &self.emitter
    }

    pub(crate) fn resources(&self) -> &Resources {
        &self.resources
    }

    pub(crate) fn buffer(&self) -> &Buffer {
        &self.buffer
    }

    pub(crate) fn inflight(&self) -> &Inflight {
        &self.inflight
    }

    pub(crate) fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    pub(crate) fn signals(&self) -> &Signals {
        &self.signals
    }

    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    pub(crate) fn adaptive(&self) -> Option<&Adaptive> {
        self.adaptive.as_ref()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.lifecycle.is_stopped()
    }

    /// Marks the batcher stopped; returns `true` for the call that did it.
    pub(crate) fn shutdown(&self) -> bool {
        if !self.lifecycle.stop() {
            return false;
        }
        self.buffer.close();
        self.signals.ring();
        tracing::debug!(buffered = self.buffer.ops(), "batcher stopped");
        self.emitter.emit(EventName::Shutdown, 0);
        if self.owns_emitter {
            // Subscriptions end after the shutdown event; an emitter given to the
            // builder may be shared with other components, so its owner closes it.
            self.emitter.close();
        }
        true
    }

    /// Cost in the primary resource of everything enqueued and not yet done.
    pub(crate) fn needs_capacity(&self) -> u64 {
        self.needs(0)
    }

    /// Cost in resource `r` of everything enqueued and not yet done.
    pub(crate) fn needs(&self, r: usize) -> u64 {
        self.buffer.cost(r) + self.inflight.cost(r)
    }

    /// Records a batch handed out and returns its ticket.
    pub(crate) fn begin_batch(self: &Arc<Self>, cost: Costs, now: Instant) -> Ticket {
        let epoch = self.inflight.begin(&cost, now);
        let claimed = self.resources.any_limited() && !cost.is_zero();
        Ticket::new(self.clone(), cost, epoch, claimed)
    }

    /// Tells the dispatcher that a batch holding a window claim started (or never will).
    pub(crate) fn settle_claim(&self, at: Option<Instant>, cost: Costs) {
        self.signals.report_start(at, cost);
    }

    /// A batch of `cost` handed out in `epoch` is done.
    pub(crate) fn finish_batch(&self, epoch: u64, cost: &Costs) {
        self.inflight.finish(epoch, cost);
        if self.options.max_concurrent_batches.is_some() {
            // The concurrency limit may have held releases back.
            self.signals.ring();
        }
    }

    pub(crate) fn inflight_batches(&self) -> usize {
        self.inflight.batches()
    }

    pub(crate) fn has_batch_room(&self) -> bool {
        match self.options.max_concurrent_batches {
            Some(max) => self.inflight_batches() < max,
            None => true,
        }
    }
}
