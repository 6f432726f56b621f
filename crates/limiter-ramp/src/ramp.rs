//! [`Ramp`]: the ramp's state and the arithmetic of its rules, free of any clock or task
//! so that every rule is a plain function of the samples it was given.

use std::time::Duration;

use tokio::time::Instant;

use crate::history::Series;
use crate::rule::Kind;
use crate::{PeakOf, RampRule};

#[derive(Debug)]
enum State {
    Step {
        amount: u32,
        per: Duration,
        reported: Series,
    },
    Peak {
        percent: u64,
        settle: Duration,
        memory: Option<Duration>,
        of: PeakOf,
        samples: Series,
        /// The highest settled sample, for rules that never forget (their settled
        /// buckets are folded in here).
        settled: u32,
        /// The previous peak given to the builder, and until when it counts.
        seed: u32,
        seed_until: Option<Instant>,
    },
}

#[derive(Debug)]
pub(crate) struct Ramp {
    floor: u32,
    rules: Vec<(RampRule, State)>,
    /// The capacity last reported, and the amount last held back, for change events.
    pub(crate) reported: Option<u32>,
    pub(crate) held: u32,
}

/// `value × percent / 100`, saturating at `u32::MAX`.
fn scale(value: u32, percent: u64) -> u32 {
    let scaled = u128::from(value) * u128::from(percent) / 100;
    u32::try_from(scaled).unwrap_or(u32::MAX)
}

impl Ramp {
    /// A ramp over validated rules.
    pub(crate) fn new(floor: u32, previous_peak: u32, rules: &[RampRule]) -> Self {
        let rules = rules
            .iter()
            .map(|rule| {
                let state = match rule.kind {
                    Kind::Step { amount, per } => State::Step {
                        amount,
                        per,
                        reported: Series::new(per),
                    },
                    Kind::Peak { percent, settle } => State::Peak {
                        percent,
                        settle,
                        memory: rule.memory,
                        of: rule.peak_of().unwrap_or(PeakOf::Used),
                        samples: Series::new(
                            settle.saturating_add(rule.memory.unwrap_or_default()),
                        ),
                        settled: 0,
                        seed: previous_peak,
                        seed_until: None,
                    },
                };
                (*rule, state)
            })
            .collect();
        Ramp {
            floor,
            rules,
            reported: None,
            held: 0,
        }
    }

    /// Starts the clock of every rule at `now`: the capacity before counts as the floor,
    /// and a previous peak counts from now for its rule's memory.
    pub(crate) fn begin(&mut self, now: Instant) {
        let floor = self.floor;
        for (_, state) in &mut self.rules {
            match state {
                State::Step { reported, .. } => reported.record(now, floor),
                State::Peak {
                    memory, seed_until, ..
                } => *seed_until = memory.and_then(|m| now.checked_add(m)),
            }
        }
    }

    /// The most capacity the rules allow at `now`, and the index of the tightest rule.
    pub(crate) fn ceiling(&mut self, now: Instant) -> (u32, usize) {
        let mut tightest = (u32::MAX, 0);
        for (index, (_, state)) in self.rules.iter_mut().enumerate() {
            let ceiling = match state {
                State::Step {
                    amount,
                    per,
                    reported,
                } => {
                    let low = reported
                        .min_since(now.checked_sub(*per))
                        .unwrap_or(self.floor);
                    low.saturating_add(*amount)
                }
                State::Peak {
                    percent,
                    settle,
                    memory,
                    samples,
                    settled,
                    seed,
                    seed_until,
                    ..
                } => {
                    let peak = match now.checked_sub(*settle) {
                        None => 0,
                        Some(cutoff) => match memory {
                            None => {
                                if let Some(max) = samples.take_settled(cutoff) {
                                    *settled = (*settled).max(max);
                                }
                                *settled
                            }
                            Some(memory) => {
                                if let Some(forget) = cutoff.checked_sub(*memory) {
                                    samples.forget_before(forget);
                                }
                                samples.max_settled(cutoff).unwrap_or(0)
                            }
                        },
                    };
                    let seed = match seed_until {
                        Some(until) if now >= *until => 0,
                        _ => *seed,
                    };
                    scale(peak.max(seed), *percent)
                }
            };
            if ceiling < tightest.0 {
                tightest = (ceiling, index);
            }
        }
        (tightest.0.max(self.floor), tightest.1)
    }

    /// Records what was reported at `now`, and how much of it was used.
    ///
    /// A step rule counts a capacity below the floor as the floor: the floor is allowed
    /// at any time, so falling below it (an inner limiter that starts at 0 and acquires
    /// its capacity, an outage) must not set the climb back below floor + one step.
    pub(crate) fn record(&mut self, now: Instant, reported: u32, used: u32) {
        let floor = self.floor;
        for (_, state) in &mut self.rules {
            match state {
                State::Step { reported: s, .. } => s.record(now, reported.max(floor)),
                State::Peak { of, samples, .. } => {
                    let value = match of {
                        PeakOf::Used => used,
                        PeakOf::Reported => reported,
                    };
                    samples.record(now, value);
                }
            }
        }
    }

    /// The rule at `index`.
    pub(crate) fn rule(&self, index: usize) -> Option<RampRule> {
        self.rules.get(index).map(|(rule, _)| *rule)
    }

    /// The ceiling before any sample: what the rules allow from a standing start.
    pub(crate) fn initial_ceiling(floor: u32, previous_peak: u32, rules: &[RampRule]) -> u32 {
        rules
            .iter()
            .map(|rule| match rule.kind {
                Kind::Step { amount, .. } => floor.saturating_add(amount),
                Kind::Peak { percent, .. } => scale(previous_peak, percent),
            })
            .min()
            .unwrap_or(u32::MAX)
            .max(floor)
    }

    /// The most the rules can ever allow: less than `u32::MAX` only when a rule's period
    /// is so long (`Duration::MAX`) that it never lets capacity grow past its start.
    pub(crate) fn ultimate_ceiling(floor: u32, previous_peak: u32, rules: &[RampRule]) -> u32 {
        rules
            .iter()
            .map(|rule| match rule.kind {
                Kind::Step { amount, per } if per == Duration::MAX => floor.saturating_add(amount),
                Kind::Peak { percent, settle } if settle == Duration::MAX => {
                    scale(previous_peak, percent)
                }
                _ => u32::MAX,
            })
            .min()
            .unwrap_or(u32::MAX)
            .max(floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn scaling_saturates_instead_of_overflowing() {
        assert_eq!(scale(u32::MAX, u64::from(u32::MAX) * 100), u32::MAX);
        assert_eq!(scale(1_000, 150), 1_500);
        assert_eq!(scale(0, 200), 0);
    }

    #[test]
    fn a_step_rule_allows_one_step_per_period() {
        let t0 = Instant::now();
        let tick = Duration::from_millis(100);
        let mut ramp = Ramp::new(100, 0, &[RampRule::step(50, 10 * SEC)]);
        ramp.begin(t0);
        let mut rises = Vec::new();
        let mut last = 100;
        for i in 0..=250u32 {
            let now = t0 + tick * i;
            let (ceiling, _) = ramp.ceiling(now);
            ramp.record(now, ceiling, ceiling);
            if ceiling != last {
                rises.push((now - t0, ceiling));
                last = ceiling;
            }
        }
        // One step at once, then one per period, each at most one bucket (1/64) late.
        assert_eq!(rises.len(), 3, "{rises:?}");
        for (n, (at, ceiling)) in rises.iter().enumerate() {
            let n = n as u32;
            assert_eq!(*ceiling, 150 + 50 * n);
            assert!(
                *at >= 10 * SEC * n && *at <= 10 * SEC * n + 10 * SEC / 64 + tick,
                "{at:?}"
            );
        }
    }

    #[test]
    fn the_tightest_rule_wins_and_the_floor_always_holds() {
        let t0 = Instant::now();
        let rules = [
            RampRule::step(1_000, 60 * SEC),
            RampRule::times_peak(2, 60 * SEC),
        ];
        let mut ramp = Ramp::new(10, 0, &rules);
        ramp.begin(t0);
        // The peak rule has no settled peak yet: the floor.
        assert_eq!(ramp.ceiling(t0), (10, 1));
        ramp.record(t0, 10, 10);
        assert_eq!(ramp.ceiling(t0 + 61 * SEC), (20, 1));
    }

    #[test]
    fn durations_at_the_limit_do_not_overflow() {
        let t0 = Instant::now();
        let rules = [
            RampRule::step(u32::MAX, Duration::MAX),
            RampRule::times_peak(u32::MAX, Duration::MAX).forget_after(Duration::MAX),
        ];
        let mut ramp = Ramp::new(u32::MAX, u32::MAX, &rules);
        ramp.begin(t0);
        ramp.record(t0, u32::MAX, u32::MAX);
        assert_eq!(ramp.ceiling(t0 + SEC).0, u32::MAX);
        assert_eq!(Ramp::ultimate_ceiling(5, 0, &rules), 5);
    }
}
