//! [`Pacer`]: spreads a per-second budget evenly over the flush ticks, inside the exact
//! sliding window's hard bound.
//!
//! # The rule
//!
//! * Every flush tick grants the capacity's share of the time since the previous tick
//!   (a *slice*: capacity × flush interval / 1 s at a regular tick). The batcher also
//!   starts with one slice.
//! * Allowance not spent is carried, but never beyond what the window allows now or
//!   within half a flush interval: allowance that the window keeps from being used is
//!   dropped rather than saved up, so a backlog is not released in one burst when old
//!   releases leave the window. (The half interval absorbs timer lateness: a release
//!   from ten ticks ago that leaves the window a millisecond after this tick does not
//!   cost this tick its slice.) After an idle second the carry is the whole capacity,
//!   so a burst goes at once, up to the window.
//! * An operation is released when the allowance is not used up before it (the cost
//!   already taken in this pass is below the allowance) and the window has room for it.
//!   An operation dearer than what is left overdraws the allowance; later slices repay
//!   the overdraft before anything else goes. So an operation costing more than a slice
//!   never starves: it waits only until the allowance is positive and the window allows
//!   it, and one pass releases at most its allowance plus one operation's cost.
//! * The window is the hard bound: no half-open one-second window of batch *starts*
//!   (when a callback starts or a stream's consumer receives the batch, which is when
//!   the datastore sees it) ever holds more than the capacity read at the time of each
//!   release. A released batch counts as pending until it starts (see [`Window`]).

use std::time::Duration;

use tokio::time::Instant;

use crate::resources::{Costs, MAX_RESOURCES};
use crate::window::Window;

/// Allowance is kept in cost × nanoseconds per second, so that slices of any capacity
/// and interval add up exactly.
const NANOS: i128 = 1_000_000_000;

/// What a pass may release now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Allowance {
    /// The paced allowance, rounded up: an operation may start while less than this has
    /// been taken.
    pub(crate) paced: u64,
    /// What the sliding window still holds room for.
    pub(crate) window: u64,
}

impl Allowance {
    /// Whether an operation costing `cost` may join `taken` already released.
    pub(crate) fn admits(&self, taken: u64, cost: u64) -> bool {
        taken + cost <= self.window && (cost == 0 || taken < self.paced)
    }
}

/// What a pass may release now in each resource (`None`: that resource is unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Allowances([Option<Allowance>; MAX_RESOURCES]);

impl Allowances {
    /// Sets resource `r`'s allowance (`None`: it has no limiter).
    pub(crate) fn set(&mut self, r: usize, allowance: Option<Allowance>) {
        self.0[r] = allowance;
    }

    /// Whether an operation costing `cost` may join `taken` already released: every
    /// limited resource admits its cost there.
    #[inline]
    pub(crate) fn admits(&self, taken: &Costs, cost: &Costs) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(r, a)| a.is_none_or(|a| a.admits(taken.get(r), cost.get(r))))
    }

    /// [`admits`](Self::admits) for an operation that costs `cost` in the primary resource
    /// and nothing elsewhere: only the primary resource is asked, since a resource admits
    /// a cost of 0 whenever what was taken there is within its window, and nothing is
    /// taken anywhere that its window did not admit.
    #[inline]
    pub(crate) fn admits_primary(&self, taken: &Costs, cost: u64) -> bool {
        self.0[0].is_none_or(|a| a.admits(taken.get(0), cost))
    }

    /// Whether some resource's paced allowance is used up.
    pub(crate) fn exhausted(&self) -> bool {
        self.0.iter().flatten().any(|a| a.paced == 0)
    }
}

/// The paced allowance and the exact window it is bounded by.
#[derive(Debug)]
pub(crate) struct Pacer {
    window: Window,
    /// Allowance in cost × `NANOS`; negative while an overdraft is repaid.
    credit: i128,
    /// When the last slice was granted; `None` before the first pass.
    granted: Option<Instant>,
    flush_interval: Duration,
}

impl Pacer {
    pub(crate) fn new(flush_interval: Duration) -> Self {
        Pacer {
            window: Window::default(),
            credit: 0,
            granted: None,
            flush_interval,
        }
    }

    /// Forgets releases that left the window and, on a flush tick (and on the first
    /// pass), grants the allowance for the time since the last grant.
    pub(crate) fn refill(&mut self, now: Instant, capacity: u64, tick: bool) {
        self.window.expire(now);
        let elapsed = match self.granted {
            None => self.flush_interval,
            Some(at) if tick => now.saturating_duration_since(at),
            Some(_) => return,
        };
        self.granted = Some(now);
        let grant = i128::from(capacity).saturating_mul(elapsed.as_nanos() as i128);
        let ceiling = i128::from(
            self.window
                .available_by(capacity, crate::core::after(now, self.flush_interval / 2)),
        ) * NANOS;
        self.credit = self.credit.saturating_add(grant).min(ceiling);
    }

    pub(crate) fn allowance(&self, capacity: u64) -> Allowance {
        let credit = self.credit.max(0);
        Allowance {
            paced: u64::try_from((credit + NANOS - 1) / NANOS).unwrap_or(u64::MAX),
            window: self.window.available(capacity),
        }
    }

    /// Spends `cost` of the allowance on a batch released now; it counts in the window
    /// as pending until [`settle`](Self::settle) says when it started.
    pub(crate) fn release(&mut self, cost: u64) {
        self.window.claim(cost);
        self.credit -= i128::from(cost) * NANOS;
    }

    /// A released batch started at `at` (or, with `None`, never will).
    pub(crate) fn settle(&mut self, at: Option<Instant>, cost: u64) {
        self.window.settle(at, cost);
    }

    /// Cost released and not yet started.
    pub(crate) fn pending(&self) -> u64 {
        self.window.pending()
    }

    /// When the window will have room for `cost`; `None` if it has room already (then
    /// only the paced allowance holds the operation back, and the next tick grants
    /// more) or never will at this capacity.
    pub(crate) fn window_fits_later(&self, cost: u64, capacity: u64) -> Option<Instant> {
        if self.window.available(capacity) >= cost {
            return None;
        }
        self.window.fits_at(cost, capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(100);

    impl Pacer {
        /// Releases `cost` and starts it at once.
        fn record(&mut self, at: Instant, cost: u64) {
            self.release(cost);
            self.settle(Some(at), cost);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slices_are_granted_per_tick_and_carried_up_to_the_window() {
        let t0 = Instant::now();
        let mut p = Pacer::new(TICK);
        p.refill(t0, 1_000, false);
        assert_eq!(p.allowance(1_000).paced, 100);
        p.record(t0, 100);
        p.refill(t0 + TICK, 1_000, true);
        assert_eq!(p.allowance(1_000).paced, 100);
        // Between ticks nothing is granted.
        p.refill(t0 + TICK * 3 / 2, 1_000, false);
        assert_eq!(p.allowance(1_000).paced, 100);
        // After an idle second the carry is the whole capacity, less the window.
        p.refill(t0 + TICK * 20, 1_000, true);
        assert_eq!(
            p.allowance(1_000),
            Allowance {
                paced: 1_000,
                window: 1_000
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_overdraft_is_repaid_before_anything_else_goes() {
        let t0 = Instant::now();
        let mut p = Pacer::new(TICK);
        p.refill(t0, 10, false);
        let a = p.allowance(10);
        assert_eq!(a.paced, 1);
        assert!(a.admits(0, 8));
        assert!(!a.admits(8, 1));
        p.record(t0, 8);
        for k in 1..=7 {
            p.refill(t0 + TICK * k, 10, true);
            assert_eq!(p.allowance(10).paced, 0, "tick {k}");
        }
        p.refill(t0 + TICK * 8, 10, true);
        assert_eq!(p.allowance(10).paced, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn allowance_the_window_withholds_is_not_saved_up() {
        let t0 = Instant::now();
        let mut p = Pacer::new(TICK);
        p.refill(t0, 1_000, false);
        p.refill(t0 + TICK * 20, 1_000, true);
        p.record(t0 + TICK * 20, 1_000);
        for k in 21..30 {
            p.refill(t0 + TICK * k, 1_000, true);
            assert_eq!(p.allowance(1_000).paced, 0);
        }
        // The burst leaves the window: one slice, not a second burst.
        p.refill(t0 + TICK * 30, 1_000, true);
        assert_eq!(
            p.allowance(1_000),
            Allowance {
                paced: 100,
                window: 1_000
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_release_leaving_just_after_a_late_tick_does_not_cost_the_slice() {
        let t0 = Instant::now();
        let mut p = Pacer::new(TICK);
        p.refill(t0, 1_000, false);
        p.record(t0 + Duration::from_millis(2), 100);
        for k in 1..10 {
            p.refill(t0 + TICK * k, 1_000, true);
            p.record(t0 + TICK * k, 100);
        }
        // This tick comes on time, the one ten ticks ago came 2 ms late.
        p.refill(t0 + TICK * 10, 1_000, true);
        assert_eq!(
            p.allowance(1_000),
            Allowance {
                paced: 100,
                window: 0
            }
        );
        assert_eq!(
            p.window_fits_later(100, 1_000),
            Some(t0 + TICK * 10 + Duration::from_millis(2))
        );
    }

    /// The largest cost started in any half-open one-second window.
    fn max_window(starts: &mut [(Instant, u64)]) -> u64 {
        starts.sort_by_key(|s| s.0);
        let (mut max, mut lo, mut sum) = (0, 0, 0);
        for &(at, cost) in starts.iter() {
            sum += cost;
            while at.duration_since(starts[lo].0) >= Duration::from_secs(1) {
                sum -= starts[lo].1;
                lo += 1;
            }
            max = max.max(sum);
        }
        max
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

        /// The dispatcher's rule, run against a simulated runtime that starts each
        /// batch after a random scheduling delay and reports the start after a random
        /// lag: the window of starts never holds more than the capacity, and a modest
        /// backlog still all goes.
        #[test]
        fn the_window_holds_at_callback_start_whatever_the_scheduling_delays(
            capacity in 1u64..=2_000,
            tick_ms in 5u64..=200,
            costs in proptest::collection::vec(0u64..=2_000, 1..200),
            delays in proptest::collection::vec(0u64..=400, 1..64),
            lags in proptest::collection::vec(0u64..=60, 1..64),
        ) {
            let ms = Duration::from_millis;
            let costs: Vec<u64> = costs.iter().map(|c| c % (capacity + 1)).collect();
            let t0 = Instant::now();
            let mut pacer = Pacer::new(ms(tick_ms));
            let mut next_tick = t0 + ms(tick_ms);
            let (mut next, mut batch) = (0usize, 0usize);
            let mut starts = Vec::new();
            // Starts the simulated runtime has made and not yet reported.
            let mut unreported: Vec<(Instant, Instant, u64)> = Vec::new();
            for step in 0..10_000u64 {
                let now = t0 + ms(step);
                unreported.retain(|&(report, start, cost)| {
                    let due = report <= now;
                    if due {
                        pacer.settle(Some(start), cost);
                    }
                    !due
                });
                let ticked = now >= next_tick;
                if ticked {
                    next_tick += ms(tick_ms);
                }
                pacer.refill(now, capacity, step == 0 || ticked);
                while let Some(&cost) = costs.get(next) {
                    if !pacer.allowance(capacity).admits(0, cost) {
                        break;
                    }
                    pacer.release(cost);
                    let start = now + ms(delays[batch % delays.len()]);
                    let report = start + ms(lags[batch % lags.len()]);
                    starts.push((start, cost));
                    unreported.push((report, start, cost));
                    next += 1;
                    batch += 1;
                }
            }
            let max = max_window(&mut starts);
            proptest::prop_assert!(max <= capacity, "{max} started in a second, capacity {capacity}");
            let backlog: u64 = costs.iter().sum();
            if backlog <= 3 * capacity {
                proptest::prop_assert_eq!(next, costs.len(), "a backlog of {} stayed behind", backlog);
            }
        }
    }
}
