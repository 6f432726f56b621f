//! Adaptive capacity (AIMD): the [`AdaptiveCapacity`] options and the [`Adaptive`]
//! state that turns the rate limiter's capacity into the *effective* capacity the
//! dispatcher works with.
//!
//! When a batch is reported throttled, the effective capacity is cut by a factor
//! (multiplicative decrease), at most once per cooldown: every batch that was in flight
//! when the datastore started throttling comes back throttled, and they all describe the
//! one rate that was too high. While batches succeed (or operations wait and nothing is
//! throttled), it is raised by a share of the limiter's capacity per interval (additive
//! increase) until it reaches the limiter's capacity again. It is never above the
//! limiter's capacity, so this only ever holds back what the limiter would allow; it
//! finds the datastore's true capacity when the configured one is wrong. TCP congestion
//! control works the same way.
//!
//! The dispatcher reads the limiter and passes its capacity through
//! [`Core::effective_capacity`] before every pass: the one place the adjustment applies.

use std::sync::Mutex;
use std::time::Duration;

use events_core::EventName;
use tokio::time::Instant;

use crate::MAX_DURATION;
use crate::core::{Core, after, lock};

/// Options of the adaptive capacity (see
/// [`BatcherBuilder::adaptive_capacity`](crate::BatcherBuilder::adaptive_capacity)).
///
/// | option | default |
/// |---|---|
/// | [`decrease`](Self::decrease) | 0.95: a throttle leaves 95 % |
/// | [`increase`](Self::increase) | 0.01: +1 % of the limiter's capacity per interval |
/// | [`interval`](Self::interval) | 1 s |
/// | [`floor`](Self::floor) | 0.05: never below 5 % of the limiter's capacity |
/// | [`cooldown`](Self::cooldown) | 1 s: one cut per second at most |
///
/// With the defaults, a datastore that takes 70 % of the configured capacity is found
/// in about seven seconds, and the capacity then climbs from 95 % to 100 % of what it
/// takes in about four, so the batcher runs at about 96 % of the true capacity, never
/// below 90 % in any second, with a few throttled operations every four seconds. A
/// deeper cut (e.g. 0.9) throttles even less but spends whole seconds below 90 %.
///
/// # Examples
///
/// The adjustment works on a rate limiter's capacity, so a batcher needs one:
///
/// ```
/// use batcher::{AdaptiveCapacity, Batcher, BatcherError};
///
/// let aimd = AdaptiveCapacity::new().decrease(0.8).increase(0.02);
/// let err = Batcher::builder().adaptive_capacity(aimd).build().unwrap_err();
/// assert!(matches!(err, BatcherError::InvalidOption { option: "adaptive_capacity", .. }));
/// // Batcher::builder().rate_limiter(limiter).adaptive_capacity(aimd).build()?
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveCapacity {
    decrease: f64,
    increase: f64,
    interval: Duration,
    floor: f64,
    cooldown: Duration,
}

impl Default for AdaptiveCapacity {
    fn default() -> Self {
        AdaptiveCapacity {
            decrease: 0.95,
            increase: 0.01,
            interval: Duration::from_secs(1),
            floor: 0.05,
            cooldown: Duration::from_secs(1),
        }
    }
}

impl AdaptiveCapacity {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// The share of the effective capacity left after a throttle: above 0, below 1.
    pub fn decrease(mut self, factor: f64) -> Self {
        self.decrease = factor;
        self
    }

    /// The share of the limiter's capacity added each [`interval`](Self::interval)
    /// without throttling: above 0, at most 1.
    pub fn increase(mut self, share: f64) -> Self {
        self.increase = share;
        self
    }

    /// How often the capacity is raised while nothing is throttled; above zero and at
    /// most [`MAX_DURATION`].
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The least effective capacity, as a share of the limiter's: above 0, at most 1.
    pub fn floor(mut self, share: f64) -> Self {
        self.floor = share;
        self
    }

    /// How long after a cut further throttle reports cut nothing more (they still stop
    /// the capacity from rising); at most [`MAX_DURATION`]. A second (the length of the
    /// rate window) lets the batches released at the old rate come back first.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Checks the options; the reason says what to use instead.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let share = |x: f64| x.is_finite() && x > 0.0 && x <= 1.0;
        if !(self.decrease.is_finite() && self.decrease > 0.0 && self.decrease < 1.0) {
            return Err("use a decrease factor above 0 and below 1 (0.9 keeps 90 %)");
        }
        if !share(self.increase) || !share(self.floor) {
            return Err(
                "use an increase and a floor above 0 and at most 1 (shares of the limiter's capacity)",
            );
        }
        if self.interval.is_zero() {
            return Err("use an interval above zero");
        }
        if self.interval > MAX_DURATION || self.cooldown > MAX_DURATION {
            return Err(
                "use durations of at most MAX_DURATION (one year), which already means never",
            );
        }
        Ok(())
    }
}

/// The metadata of a [`CapacityCut`](EventName::CapacityCut) or
/// [`CapacityRaise`](EventName::CapacityRaise) event; recover it with
/// `event.metadata::<CapacityChange>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapacityChange {
    /// The effective capacity before.
    pub old: u64,
    /// The effective capacity now.
    pub new: u64,
    /// The rate limiter's capacity, which the effective one never exceeds.
    pub limiter: u64,
}

#[derive(Debug, Default)]
struct State {
    /// The effective capacity; `None` while it is the limiter's.
    current: Option<u64>,
    /// When the capacity last changed, or the raise interval last began.
    since: Option<Instant>,
    last_cut: Option<Instant>,
    /// Whether a batch was throttled since `since`.
    throttled: bool,
    /// Whether a batch succeeded since `since`.
    succeeded: bool,
}

/// The effective capacity and what it has seen.
#[derive(Debug)]
pub(crate) struct Adaptive {
    options: AdaptiveCapacity,
    state: Mutex<State>,
}

impl Adaptive {
    pub(crate) fn new(options: AdaptiveCapacity) -> Self {
        Adaptive {
            options,
            state: Mutex::default(),
        }
    }

    /// The effective capacity at `now` under a limiter capacity of `limiter`, raised by
    /// a step if an interval passed without throttling and with writes succeeding (or
    /// `demand`: operations waiting); returns the change too, if any.
    pub(crate) fn effective(
        &self,
        now: Instant,
        limiter: u64,
        demand: bool,
    ) -> (u64, Option<CapacityChange>) {
        let mut s = lock(&self.state);
        let since = *s.since.get_or_insert(now);
        let Some(current) = s.current else {
            if after(since, self.options.interval) <= now {
                (s.since, s.throttled, s.succeeded) = (Some(now), false, false);
            }
            return (limiter, None);
        };
        let current = current.min(limiter);
        s.current = Some(current);
        if after(since, self.options.interval) > now {
            return (current, None);
        }
        let raise = !s.throttled && (s.succeeded || demand);
        (s.since, s.throttled, s.succeeded) = (Some(now), false, false);
        if !raise {
            return (current, None);
        }
        let new = current
            .saturating_add(share(self.options.increase, limiter))
            .min(limiter);
        s.current = (new < limiter).then_some(new);
        let change = (new != current).then_some(CapacityChange {
            old: current,
            new,
            limiter,
        });
        (new, change)
    }

    /// A batch was throttled at `now`: cuts the capacity unless it was cut within the
    /// cooldown or is at its floor; returns the change, if any.
    pub(crate) fn throttled(&self, now: Instant, limiter: u64) -> Option<CapacityChange> {
        let mut s = lock(&self.state);
        s.throttled = true;
        if s.last_cut
            .is_some_and(|at| now < after(at, self.options.cooldown))
        {
            return None;
        }
        let old = s.current.unwrap_or(limiter).min(limiter);
        let floor = share(self.options.floor, limiter).min(limiter);
        let cut = (old as f64 * self.options.decrease) as u64;
        let new = cut.max(floor);
        if new >= old {
            return None;
        }
        s.current = Some(new);
        s.last_cut = Some(now);
        (s.since, s.throttled, s.succeeded) = (Some(now), false, false);
        Some(CapacityChange { old, new, limiter })
    }

    /// A batch was written without throttling.
    pub(crate) fn succeeded(&self) {
        lock(&self.state).succeeded = true;
    }

    /// The effective capacity as last adjusted (`None`: the limiter's).
    pub(crate) fn current(&self) -> Option<u64> {
        lock(&self.state).current
    }
}

/// `share` of `of`, rounded up, at least 1 (for a capacity above 0).
fn share(share: f64, of: u64) -> u64 {
    ((of as f64 * share).ceil() as u64).max(u64::from(of > 0))
}

impl CapacityChange {
    fn emit(&self, core: &Core, name: EventName) {
        tracing::debug!(
            old = self.old,
            new = self.new,
            limiter = self.limiter,
            event = name.as_str(),
            "effective capacity changed"
        );
        let msg = format!(
            "effective capacity from {} to {} (the limiter's is {})",
            self.old, self.new, self.limiter
        );
        let info = *self;
        core.emitter()
            .emit_with(name, i64::try_from(self.new).unwrap_or(i64::MAX), |e| {
                e.with_msg(msg).with_metadata(info)
            });
    }
}

impl Core {
    /// The capacity the dispatcher works with at `now`, given the limiter's: the
    /// limiter's, or less while the datastore's throttling keeps it down.
    pub(crate) fn effective_capacity(&self, now: Instant, limiter: u64) -> u64 {
        let Some(adaptive) = self.adaptive() else {
            return limiter;
        };
        let (capacity, change) = adaptive.effective(now, limiter, self.buffer().cost(0) > 0);
        if let Some(change) = change {
            change.emit(self, EventName::CapacityRaise);
        }
        capacity
    }

    /// A batch was reported throttled: cut the effective capacity if configured.
    pub(crate) fn capacity_throttled(&self, now: Instant) {
        let (Some(adaptive), Some(limiter)) = (self.adaptive(), self.resources().limiter(0)) else {
            return;
        };
        if let Some(change) = adaptive.throttled(now, u64::from(limiter.capacity())) {
            change.emit(self, EventName::CapacityCut);
        }
    }

    /// A batch was written without throttling.
    pub(crate) fn capacity_succeeded(&self) {
        if let Some(adaptive) = self.adaptive() {
            adaptive.succeeded();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn aimd() -> Adaptive {
        Adaptive::new(AdaptiveCapacity::new())
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_cuts_once_per_cooldown_and_success_climbs_back_to_the_limiter() {
        let a = Adaptive::new(AdaptiveCapacity::new().decrease(0.9));
        let t0 = Instant::now();
        assert_eq!(a.effective(t0, 10_000, false), (10_000, None));
        let cut = a.throttled(t0, 10_000).unwrap();
        assert_eq!((cut.old, cut.new), (10_000, 9_000));
        // The rest of the burst of throttled batches cuts nothing more.
        assert_eq!(a.throttled(t0 + S / 2, 10_000), None);
        let cut = a.throttled(t0 + S, 10_000).unwrap();
        assert_eq!((cut.old, cut.new), (9_000, 8_100));
        assert_eq!(a.throttled(t0 + S * 3 / 2, 10_000), None);
        // Throttled in the interval: no raise at its end.
        assert_eq!(a.effective(t0 + S * 2, 10_000, true), (8_100, None));
        // An interval of success raises by 1 % of the limiter's capacity.
        a.succeeded();
        assert_eq!(a.effective(t0 + S * 5 / 2, 10_000, false), (8_100, None));
        let (c, raise) = a.effective(t0 + S * 3, 10_000, false);
        assert_eq!(
            (c, raise.map(|r| (r.old, r.new))),
            (8_200, Some((8_100, 8_200)))
        );
        // Without success or demand, it stays.
        assert_eq!(a.effective(t0 + S * 4, 10_000, false), (8_200, None));
        // Operations waiting count as demand; the climb ends at the limiter.
        let mut now = t0 + S * 4;
        for _ in 0..30 {
            now += S;
            a.effective(now, 10_000, true);
        }
        assert_eq!(
            (a.effective(now, 10_000, true).0, a.current()),
            (10_000, None)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn by_default_a_throttle_leaves_95_percent() {
        let a = aimd();
        let cut = a.throttled(Instant::now(), 10_000).unwrap();
        assert_eq!((cut.old, cut.new), (10_000, 9_500));
    }

    #[tokio::test(start_paused = true)]
    async fn never_above_the_limiter_nor_below_the_floor() {
        let a = aimd();
        let mut now = Instant::now();
        for _ in 0..100 {
            a.throttled(now, 10_000);
            now += S;
        }
        assert_eq!(a.current(), Some(500), "5 % of the limiter's capacity");
        // The limiter falls below the effective capacity: the limiter's wins.
        assert_eq!(a.effective(now, 300, false).0, 300);
        assert_eq!(a.current(), Some(300));
        // A capacity of zero stays zero; a huge one does not overflow.
        assert_eq!(a.effective(now, 0, true).0, 0);
        now += S * 2;
        a.effective(now, u64::from(u32::MAX), true);
        now += S * 2;
        let (c, _) = a.effective(now, u64::from(u32::MAX), true);
        assert!(c <= u64::from(u32::MAX));
    }

    #[test]
    fn options_are_checked() {
        let bad = [
            AdaptiveCapacity::new().decrease(1.0),
            AdaptiveCapacity::new().decrease(0.0),
            AdaptiveCapacity::new().decrease(f64::NAN),
            AdaptiveCapacity::new().increase(0.0),
            AdaptiveCapacity::new().increase(f64::INFINITY),
            AdaptiveCapacity::new().floor(2.0),
            AdaptiveCapacity::new().interval(Duration::ZERO),
            AdaptiveCapacity::new().interval(Duration::MAX),
            AdaptiveCapacity::new().cooldown(Duration::MAX),
        ];
        for options in bad {
            assert!(options.check().is_err(), "{options:?}");
        }
        assert!(
            AdaptiveCapacity::new()
                .cooldown(Duration::ZERO)
                .check()
                .is_ok()
        );
    }
}
