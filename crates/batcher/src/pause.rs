//! Pauses: the [`PausePolicy`] that decides how long the batcher stops releasing, and
//! the [`Pauses`] state that applies it.
//!
//! A pause comes from [`Batcher::pause`](crate::Batcher::pause) or from a batch reported
//! throttled ([`Feedback::throttled`](crate::Feedback::throttled)). A fixed policy pauses
//! for the same time each time, as go-batcher does. An exponential policy makes each
//! pause of a run of throttling longer than the last, up to a cap, with jitter so that
//! many batchers throttled together do not come back together; the run ends (and the
//! next pause is the initial one again) after a quiet period without a pause. Reports
//! that arrive while the batcher is already paused belong to the same episode: they do
//! not lengthen the pause (batches that were in flight when the datastore started
//! throttling all come back throttled), except that a datastore's retry-after is always
//! honoured as the minimum pause.

use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::MAX_DURATION;
use crate::core::{after, lock};

/// How long the batcher pauses each time it is paused (see [`BatcherBuilder::pause_policy`](crate::BatcherBuilder::pause_policy)).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum PausePolicy {
    /// The same pause every time (go-batcher's); zero pauses only for a datastore's
    /// retry-after.
    Fixed(Duration),
    /// Pauses that grow while the datastore keeps throttling.
    Exponential(ExponentialPause),
}

impl Default for PausePolicy {
    fn default() -> Self {
        PausePolicy::Fixed(Duration::from_millis(500))
    }
}

/// An exponential pause: `initial`, then `initial × factor`, `initial × factor²`, ...
/// up to `max`, each shortened by a random share of up to `jitter`; after
/// `reset_after` without a pause the next one is `initial` again.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use batcher::{ExponentialPause, PausePolicy};
///
/// let policy = PausePolicy::Exponential(
///     ExponentialPause::new(Duration::from_millis(100), Duration::from_secs(10))
///         .factor(2.0)
///         .jitter(0.2)
///         .reset_after(Duration::from_secs(30)),
/// );
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialPause {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    pub(crate) factor: f64,
    pub(crate) jitter: f64,
    pub(crate) reset_after: Duration,
}

impl ExponentialPause {
    /// Pauses from `initial` up to `max`, doubling, with a jitter of 0.2 and a reset
    /// after 10 s without a pause.
    pub fn new(initial: Duration, max: Duration) -> Self {
        ExponentialPause {
            initial,
            max,
            factor: 2.0,
            jitter: 0.2,
            reset_after: Duration::from_secs(10),
        }
    }

    /// How much longer each pause of a run is than the one before (at least 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The largest share (0 to 1) by which a pause is randomly shortened; 0 for none.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// How long without a pause ends a run, so that the next pause is the initial one.
    pub fn reset_after(mut self, quiet: Duration) -> Self {
        self.reset_after = quiet;
        self
    }
}

impl PausePolicy {
    /// Checks the policy; the reason says what to use instead.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let at_most = |d: Duration| d <= MAX_DURATION;
        match *self {
            PausePolicy::Fixed(d) if !at_most(d) => {
                Err("use a pause of at most MAX_DURATION (one year), which already means never")
            }
            PausePolicy::Fixed(_) => Ok(()),
            PausePolicy::Exponential(e) => {
                if e.initial.is_zero() || e.reset_after.is_zero() {
                    return Err(
                        "use an initial pause and a reset_after above zero (for no pause, use PausePolicy::Fixed(Duration::ZERO))",
                    );
                }
                if !(at_most(e.initial) && at_most(e.max) && at_most(e.reset_after)) {
                    return Err(
                        "use durations of at most MAX_DURATION (one year), which already means never",
                    );
                }
                if e.max < e.initial {
                    return Err("use a max pause at least as long as the initial pause");
                }
                if !(e.factor.is_finite() && e.factor >= 1.0) {
                    return Err("use a finite factor of at least 1 (2 doubles each pause)");
                }
                if !(0.0..=1.0).contains(&e.jitter) {
                    return Err("use a jitter between 0 (none) and 1");
                }
                Ok(())
            }
        }
    }
}

/// Why the batcher paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PauseReason {
    /// [`Batcher::pause`](crate::Batcher::pause) was called.
    Manual,
    /// A batch was reported throttled.
    Throttled,
}

impl PauseReason {
    /// A short lower-case name, as in the [`Pause`](events_core::EventName::Pause)
    /// event's message and the metrics bridge's `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Manual => "manual",
            PauseReason::Throttled => "throttled",
        }
    }
}

/// The metadata of a [`Pause`](events_core::EventName::Pause) event; recover it with
/// `event.metadata::<PauseInfo>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PauseInfo {
    /// Why the batcher paused.
    pub reason: PauseReason,
    /// How long from now the batcher stays paused.
    pub pause: Duration,
    /// The datastore's retry-after, if the report carried one.
    pub retry_after: Option<Duration>,
    /// The pause's place in its run (0: the first; always 0 with a fixed policy).
    pub step: u32,
}

#[derive(Debug)]
struct State {
    until: Option<Instant>,
    /// Pauses so far in this run (exponential policy).
    step: u32,
    /// When the last pause (of any kind) ended or will end.
    last_end: Option<Instant>,
    rng: u64,
}

/// The pause policy and the current pause.
#[derive(Debug)]
pub(crate) struct Pauses {
    policy: PausePolicy,
    state: Mutex<State>,
}

impl Pauses {
    pub(crate) fn new(policy: PausePolicy) -> Self {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Pauses {
            policy,
            state: Mutex::new(State {
                until: None,
                step: 0,
                last_end: None,
                rng: seed | 1,
            }),
        }
    }

    /// Pauses (or extends the pause) by the policy; returns what was decided, or
    /// `None` if the pause already lasts long enough.
    pub(crate) fn pause(
        &self,
        now: Instant,
        reason: PauseReason,
        retry_after: Option<Duration>,
    ) -> Option<PauseInfo> {
        let retry_after = retry_after.map(|d| d.min(MAX_DURATION));
        let floor = retry_after.unwrap_or(Duration::ZERO);
        let mut s = lock(&self.state);
        let paused = s.until.is_some_and(|u| now < u);
        let (length, step) = match self.policy {
            PausePolicy::Fixed(d) => (d.max(floor), 0),
            PausePolicy::Exponential(_) if paused => (floor, s.step.saturating_sub(1)),
            PausePolicy::Exponential(e) => {
                if s.last_end
                    .is_some_and(|end| after(end, e.reset_after) <= now)
                {
                    s.step = 0;
                }
                let step = s.step;
                s.step = s.step.saturating_add(1);
                let jitter = e.jitter * next_unit(&mut s.rng);
                (exponential(e, step, jitter).max(floor), step)
            }
        };
        let until = after(now, length);
        if s.until.is_some_and(|u| u >= until) && paused {
            return None;
        }
        if length.is_zero() {
            return None;
        }
        s.until = Some(until);
        s.last_end = Some(until);
        Some(PauseInfo {
            reason,
            pause: length,
            retry_after,
            step,
        })
    }

    pub(crate) fn paused_until(&self) -> Option<Instant> {
        lock(&self.state).until
    }

    /// Ends the pause if it is over; returns whether this call ended it.
    pub(crate) fn resume(&self, now: Instant) -> bool {
        let mut s = lock(&self.state);
        if s.until.is_some_and(|u| now >= u) {
            s.until = None;
            return true;
        }
        false
    }
}

/// `initial × factor^step`, at most `max`, less `jitter` (a share) of it; no overflow.
fn exponential(e: ExponentialPause, step: u32, jitter: f64) -> Duration {
    let exp = i32::try_from(step).unwrap_or(i32::MAX);
    let secs = e.initial.as_secs_f64() * e.factor.powi(exp);
    let full = Duration::try_from_secs_f64(secs)
        .unwrap_or(e.max)
        .min(e.max);
    Duration::try_from_secs_f64(full.as_secs_f64() * (1.0 - jitter.clamp(0.0, 1.0))).unwrap_or(full)
}

/// A uniform number in [0, 1) from an xorshift generator.
fn next_unit(rng: &mut u64) -> f64 {
    let mut x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn exp(jitter: f64) -> PausePolicy {
        PausePolicy::Exponential(
            ExponentialPause::new(MS * 100, MS * 1_000)
                .jitter(jitter)
                .reset_after(MS * 5_000),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_pause_is_the_same_each_time_and_a_retry_after_lengthens_it() {
        let p = Pauses::new(PausePolicy::Fixed(MS * 500));
        let t0 = Instant::now();
        let first = p.pause(t0, PauseReason::Manual, None).unwrap();
        assert_eq!((first.pause, first.step), (MS * 500, 0));
        assert_eq!(p.paused_until(), Some(t0 + MS * 500));
        // While paused, a pause from now extends it, as go-batcher's does.
        let again = p
            .pause(t0 + MS * 100, PauseReason::Throttled, None)
            .unwrap();
        assert_eq!(again.pause, MS * 500);
        assert_eq!(p.paused_until(), Some(t0 + MS * 600));
        let longer = p
            .pause(t0 + MS * 100, PauseReason::Throttled, Some(MS * 2_000))
            .unwrap();
        assert_eq!(
            (longer.pause, longer.retry_after),
            (MS * 2_000, Some(MS * 2_000))
        );
        assert!(!p.resume(t0 + MS * 2_099));
        assert!(p.resume(t0 + MS * 2_100));
        assert_eq!(p.paused_until(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn exponential_pauses_grow_to_the_cap_and_reset_after_a_quiet_period() {
        let p = Pauses::new(exp(0.0));
        let mut now = Instant::now();
        let mut lengths = Vec::new();
        for _ in 0..6 {
            let info = p.pause(now, PauseReason::Throttled, None).unwrap();
            lengths.push(info.pause.as_millis());
            // The next report comes just after this pause ended.
            now += info.pause;
            assert!(p.resume(now));
        }
        assert_eq!(lengths, vec![100, 200, 400, 800, 1_000, 1_000]);
        // Reports during a pause belong to its episode: no longer pause.
        p.pause(now, PauseReason::Throttled, None).unwrap();
        assert_eq!(p.pause(now + MS * 10, PauseReason::Throttled, None), None);
        // Quiet for the reset period after the pause ended: back to the start.
        let later = now + MS * 1_000 + MS * 5_000;
        assert!(p.resume(later));
        let info = p.pause(later, PauseReason::Throttled, None).unwrap();
        assert_eq!((info.pause, info.step), (MS * 100, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_shortens_within_its_share_and_a_retry_after_is_the_floor() {
        let p = Pauses::new(exp(0.5));
        let mut now = Instant::now();
        for step in 0..4u32 {
            let info = p.pause(now, PauseReason::Throttled, None).unwrap();
            let full = (MS * 100 * 2u32.pow(step)).min(MS * 1_000);
            assert!(info.pause <= full && info.pause >= full / 2, "{info:?}");
            now += info.pause;
            p.resume(now);
        }
        let info = p
            .pause(now, PauseReason::Throttled, Some(MS * 3_000))
            .unwrap();
        assert_eq!(
            info.pause,
            MS * 3_000,
            "the datastore's word is the minimum"
        );
        // A retry-after during the pause extends it even within the episode.
        let info = p
            .pause(now + MS, PauseReason::Throttled, Some(MS * 4_000))
            .unwrap();
        assert_eq!(info.pause, MS * 4_000);
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_values_neither_overflow_nor_panic() {
        let e = ExponentialPause::new(MAX_DURATION, MAX_DURATION).factor(f64::MAX.sqrt());
        let p = Pauses::new(PausePolicy::Exponential(e));
        let now = Instant::now();
        let info = p
            .pause(now, PauseReason::Throttled, Some(Duration::MAX))
            .unwrap();
        assert_eq!(info.pause, MAX_DURATION);
        let policy = exp(0.0);
        let PausePolicy::Exponential(e) = policy else {
            unreachable!()
        };
        assert_eq!(exponential(e, u32::MAX, 0.0), MS * 1_000);
        assert_eq!(exponential(e, 3, 1.0), Duration::ZERO);
    }

    #[test]
    fn policies_are_checked() {
        let bad = [
            PausePolicy::Fixed(Duration::MAX),
            PausePolicy::Exponential(ExponentialPause::new(Duration::ZERO, MS)),
            PausePolicy::Exponential(ExponentialPause::new(MS, Duration::MAX)),
            PausePolicy::Exponential(ExponentialPause::new(MS * 2, MS)),
            PausePolicy::Exponential(ExponentialPause::new(MS, MS).factor(0.5)),
            PausePolicy::Exponential(ExponentialPause::new(MS, MS).factor(f64::NAN)),
            PausePolicy::Exponential(ExponentialPause::new(MS, MS).jitter(1.5)),
            PausePolicy::Exponential(ExponentialPause::new(MS, MS).reset_after(Duration::ZERO)),
        ];
        for policy in bad {
            assert!(policy.check().is_err(), "{policy:?}");
        }
        assert!(PausePolicy::Fixed(Duration::ZERO).check().is_ok());
        assert!(exp(0.3).check().is_ok());
    }
}
