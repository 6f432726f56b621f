//! [`RampLimiter`]: the decorator, its hot path and the task that advances the ramp.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use events_core::{
    BoxFuture, Emitter, Event, EventName, Lifecycle, LifecycleState, LimiterError, ListenerId,
    RateLimiter,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::ramp::Ramp;
use crate::{RampBuilder, RampRule};

/// No `give_me` yet: everything reported counts as used.
const NO_TARGET: u64 = u64::MAX;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the handle, its task and the listener on the inner limiter.
struct Shared<L: ?Sized> {
    emitter: Emitter,
    /// What the rules allow now; `capacity()` is the lower of this and the inner's.
    ceiling: AtomicU32,
    /// The last `give_me` target, or [`NO_TARGET`].
    target: AtomicU64,
    /// The target last passed on to the inner limiter, or [`NO_TARGET`].
    forwarded: AtomicU64,
    ramp: Mutex<Ramp>,
    wake: Arc<Notify>,
    inner: Arc<L>,
}

impl<L: RateLimiter + ?Sized> Shared<L> {
    /// What the inner limiter offers, or could grant the demand: the larger of its
    /// capacity and `min(target, max_capacity)`. A limiter that acquires on demand (Azure)
    /// offers little more than it is asked for, so the demand is what the ramp holds back.
    fn wanted(&self, offered: u32) -> u32 {
        let target = self.target.load(Ordering::Acquire);
        if target == NO_TARGET {
            return offered;
        }
        let grantable = target.min(u64::from(self.inner.max_capacity()));
        offered.max(u32::try_from(grantable).unwrap_or(u32::MAX))
    }

    /// Passes `min(target, ceiling)` on to the inner limiter when it changed, so that a
    /// shared limiter does not hold capacity the ramp would hold back.
    fn forward_target(&self) {
        let target = self.target.load(Ordering::Acquire);
        if target == NO_TARGET {
            return;
        }
        let wanted = target.min(u64::from(self.ceiling.load(Ordering::Acquire)));
        if self.forwarded.swap(wanted, Ordering::AcqRel) != wanted {
            // `wanted` is at most the ceiling, a u32.
            self.inner
                .give_me(u32::try_from(wanted).unwrap_or(u32::MAX));
        }
    }

    /// Advances the ramp to `now`; raises `capacity` and `held-back` when they change
    /// (or `capacity` regardless with `announce`).
    fn update(&self, now: Instant, announce: bool) {
        let offered = self.inner.capacity();
        let wanted = self.wanted(offered);
        let (capacity, held, rule) = {
            let mut ramp = lock(&self.ramp);
            let (ceiling, tightest) = ramp.ceiling(now);
            self.ceiling.store(ceiling, Ordering::Release);
            let capacity = offered.min(ceiling);
            let target = self.target.load(Ordering::Acquire);
            let used = u32::try_from(target.min(u64::from(capacity))).unwrap_or(capacity);
            ramp.record(now, capacity, used);
            let held = wanted.saturating_sub(ceiling);
            let capacity = (announce || ramp.reported != Some(capacity)).then_some(capacity);
            let held = (held != ramp.held).then_some(held);
            if let Some(c) = capacity {
                ramp.reported = Some(c);
            }
            if let Some(h) = held {
                ramp.held = h;
            }
            (capacity, held, ramp.rule(tightest))
        };
        self.forward_target();
        if let Some(capacity) = capacity {
            tracing::debug!(capacity, offered, "ramped capacity changed");
            self.emitter.emit(EventName::Capacity, i64::from(capacity));
        }
        if let Some(held) = held {
            self.emitter
                .emit_with(EventName::HeldBack, i64::from(held), |e| match rule {
                    Some(rule) if held > 0 => e.with_msg(rule.to_string()),
                    _ => e,
                });
        }
    }
}

struct Running {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// A [`RateLimiter`] that wraps another and caps how fast the capacity it reports may
/// grow, by [`RampRule`]s; falls pass through at once. See the [crate documentation](crate).
///
/// `capacity() = min(inner.capacity(), ceiling)`, two atomic loads. The ceiling is what
/// the rules allow; a task started by `start` recomputes it every tick and whenever the
/// inner limiter raises a `capacity` event. Before `start` the ceiling is what the rules
/// allow from a standing start; after `stop` it stays where it was.
///
/// `provision`, `start` and `stop` are passed on to the inner limiter, `give_me(target)`
/// as `give_me(min(target, ceiling))` (again whenever the ceiling moves), and
/// `max_capacity` is the inner's (lower only if a rule can never grow, such as a step
/// over `Duration::MAX`). The decorator is itself a `RateLimiter`, so ramps nest.
pub struct RampLimiter<L: RateLimiter + ?Sized + 'static = dyn RateLimiter> {
    shared: Arc<Shared<L>>,
    rules: Vec<RampRule>,
    floor: u32,
    ultimate: u32,
    tick: Duration,
    lifecycle: Lifecycle,
    running: Mutex<Option<Running>>,
    listener: ListenerId,
}

impl RampLimiter {
    /// Starts the settings; see [`RampBuilder`] for the defaults.
    pub fn builder() -> RampBuilder {
        RampBuilder::default()
    }
}

impl<L: RateLimiter + ?Sized + 'static> RampLimiter<L> {
    pub(crate) fn new(settings: RampBuilder, inner: Arc<L>) -> Self {
        let RampBuilder {
            rules,
            floor,
            previous_peak,
            tick,
            forward_events,
        } = settings;
        let emitter = Emitter::new("ramp limiter");
        let wake = Arc::new(Notify::new());
        let listener = {
            let emitter = emitter.clone();
            let wake = Arc::clone(&wake);
            inner
                .emitter()
                .add_listener(move |event: &Event| match event.name() {
                    EventName::Capacity => wake.notify_one(),
                    EventName::Shutdown => {}
                    _ if forward_events => emitter.emit_event(event.clone()),
                    _ => {}
                })
        };
        let shared = Shared {
            emitter,
            ceiling: AtomicU32::new(Ramp::initial_ceiling(floor, previous_peak, &rules)),
            target: AtomicU64::new(NO_TARGET),
            forwarded: AtomicU64::new(NO_TARGET),
            ramp: Mutex::new(Ramp::new(floor, previous_peak, &rules)),
            wake,
            inner,
        };
        RampLimiter {
            shared: Arc::new(shared),
            ultimate: Ramp::ultimate_ceiling(floor, previous_peak, &rules),
            rules,
            floor,
            tick,
            lifecycle: Lifecycle::provisioned("ramp limiter"),
            running: Mutex::new(None),
            listener,
        }
    }

    /// The wrapped limiter.
    pub fn inner(&self) -> &Arc<L> {
        &self.shared.inner
    }

    /// The most capacity the rules allow now (before the inner limiter's own limit).
    pub fn ceiling(&self) -> u32 {
        self.shared.ceiling.load(Ordering::Acquire)
    }

    /// How much the ramp holds back now: what the inner limiter offers, or could grant
    /// the last `give_me` target (the larger), above the ceiling.
    pub fn held_back(&self) -> u32 {
        let shared = &self.shared;
        shared
            .wanted(shared.inner.capacity())
            .saturating_sub(self.ceiling())
    }

    /// The rules, in the order they were added.
    pub fn rules(&self) -> &[RampRule] {
        &self.rules
    }

    /// The capacity always allowed.
    pub fn floor(&self) -> u32 {
        self.floor
    }

    async fn do_start(&self) -> Result<(), LimiterError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LimiterError::InvalidConfig(
                "start() needs a tokio runtime for the ramp's task; await it inside one".to_owned(),
            ));
        }
        if self.lifecycle.state() != LifecycleState::Provisioned {
            // Reports why without changing the state.
            self.lifecycle.begin_start()?;
        }
        self.shared.inner.start().await?;
        self.lifecycle.begin_start()?;
        let now = Instant::now();
        lock(&self.shared.ramp).begin(now);
        self.shared.update(now, true);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(
            run(Arc::clone(&self.shared), self.tick, cancel.clone()).in_current_span(),
        );
        tracing::debug!(rules = self.rules.len(), floor = self.floor, "ramp started");
        *lock(&self.running) = Some(Running { cancel, task });
        Ok(())
    }

    async fn do_stop(&self) -> Result<(), LimiterError> {
        let first = self.lifecycle.begin_stop();
        let running = lock(&self.running).take();
        if let Some(Running { cancel, task }) = running {
            cancel.cancel();
            // The task only loops and updates; a panic there is a bug worth reporting.
            if let Err(join) = task.await {
                tracing::error!(error = %join, "the ramp's task ended abnormally");
            }
        }
        let result = self.shared.inner.stop().await;
        if first {
            self.shared.emitter.emit(EventName::Shutdown, 0);
        }
        result
    }
}

async fn run<L: RateLimiter + ?Sized>(
    shared: Arc<Shared<L>>,
    tick: Duration,
    cancel: CancellationToken,
) {
    let mut ticks = interval_at(Instant::now() + tick, tick);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
            _ = shared.wake.notified() => {}
        }
        shared.update(Instant::now(), false);
    }
}

impl<L: RateLimiter + ?Sized + 'static> Drop for RampLimiter<L> {
    fn drop(&mut self) {
        // The inner limiter may outlive the ramp (it is shared).
        self.shared.inner.emitter().remove_listener(self.listener);
        // Without stop(), the task still ends.
        if let Some(running) = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            running.cancel.cancel();
        }
    }
}

impl<L: RateLimiter + ?Sized + 'static> RateLimiter for RampLimiter<L> {
    /// Provisions the inner limiter.
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.lifecycle.check_provision()?;
            self.shared.inner.provision().await
        })
    }

    /// Starts the inner limiter, then the ramp's task; raises `capacity`.
    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(self.do_start())
    }

    /// Stops the ramp's task, then the inner limiter; raises `shutdown` the first time.
    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(self.do_stop())
    }

    fn max_capacity(&self) -> u32 {
        self.shared.inner.max_capacity().min(self.ultimate)
    }

    fn capacity(&self) -> u32 {
        self.shared
            .inner
            .capacity()
            .min(self.shared.ceiling.load(Ordering::Acquire))
    }

    fn give_me(&self, target: u32) {
        self.shared
            .target
            .store(u64::from(target), Ordering::Release);
        self.shared.forward_target();
    }

    fn emitter(&self) -> &Emitter {
        &self.shared.emitter
    }
}

impl<L: RateLimiter + ?Sized + 'static> fmt::Debug for RampLimiter<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RampLimiter")
            .field("inner", &self.shared.inner)
            .field("rules", &self.rules)
            .field("floor", &self.floor)
            .field("ceiling", &self.ceiling())
            .field("state", &self.lifecycle.state())
            .finish_non_exhaustive()
    }
}
