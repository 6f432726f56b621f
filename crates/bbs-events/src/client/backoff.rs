//! Capped exponential reconnect backoff with jitter.

use std::time::Duration;

/// Reconnect delays: `base * 2^(attempt-1)`, capped at `max`, each reduced by a random jitter of up
/// to a fifth so that many clients of one restarted server do not reconnect in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (the SSE retry interval).
    pub base: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `attempt` (1 for the first reconnect) without jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before attempt `attempt` with jitter, given a random `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let nominal = self.nominal(attempt);
        // `mul_f64` panics when the product rounds above `Duration::MAX`; keep the nominal then.
        Duration::try_from_secs_f64(nominal.as_secs_f64() * (1.0 - 0.2 * unit.clamp(0.0, 1.0)))
            .unwrap_or(nominal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_retry_interval_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        let got: Vec<u64> = (1..=7).map(|a| b.nominal(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_a_fifth_below_nominal() {
        let b = Backoff {
            base: Duration::from_millis(1000),
            max: Duration::from_secs(30),
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(1000));
        assert_eq!(b.delay(1, 0.5), Duration::from_millis(900));
        assert!(b.delay(3, 0.999) >= Duration::from_millis(3200));
    }

    #[test]
    fn absurd_durations_do_not_panic() {
        let b = Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
        };
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::MAX);
        assert!(b.delay(1, 0.5) <= Duration::MAX);
        let zero = Backoff {
            base: Duration::ZERO,
            max: Duration::ZERO,
        };
        assert_eq!(zero.delay(7, 0.3), Duration::ZERO);
    }
}
