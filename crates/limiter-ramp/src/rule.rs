//! [`RampRule`]: one limit on how fast capacity may grow.

use std::fmt;
use std::time::Duration;

/// What a peak rule takes the peak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeakOf {
    /// The capacity that was both reported and asked for with
    /// [`give_me`](events_core::RateLimiter::give_me): `min(target, capacity)` at each
    /// tick. Until the first `give_me`, all the reported capacity counts as used. This is
    /// what a datastore that learns from traffic (DynamoDB on-demand) sees.
    Used,
    /// The capacity reported, whether it was used or not.
    Reported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Step { amount: u32, per: Duration },
    Peak { percent: u64, settle: Duration },
}

/// One limit on how fast the capacity a [`RampLimiter`](crate::RampLimiter) reports may
/// grow. Falls are never limited.
///
/// * [`step`](RampRule::step): at most `+amount` within any `per` (a store that scales out
///   in steps: "+1,000 RU every 5 minutes").
/// * [`times_peak`](RampRule::times_peak) / [`percent_of_peak`](RampRule::percent_of_peak):
///   at most a multiple of the peak that is at least `settle` old (DynamoDB on-demand:
///   "up to double the previous peak at once, more only after ~30 minutes").
///
/// Several rules combine: the tightest wins at every moment. A ramp's
/// [floor](crate::RampBuilder::floor) is always allowed, whatever the rules say.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use limiter_ramp::RampRule;
///
/// let steps = RampRule::step(1_000, Duration::from_secs(300));
/// let dynamo = RampRule::times_peak(2, Duration::from_secs(30 * 60));
/// let forgetful = RampRule::percent_of_peak(150, Duration::from_secs(60))
///     .forget_after(Duration::from_secs(3_600))
///     .of_reported();
/// assert_eq!(steps.to_string(), "at most +1000 per 300s");
/// assert_eq!(dynamo.to_string(), "at most 200% of the peak used at least 1800s ago");
/// assert!(forgetful.to_string().contains("forgotten after 3600s"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub struct RampRule {
    pub(crate) kind: Kind,
    pub(crate) memory: Option<Duration>,
    pub(crate) of: Option<PeakOf>,
}

impl RampRule {
    /// Capacity may rise by at most `amount` within any period of length `per`, measured
    /// on the capacity the ramp reports (to within 1/64 of `per`, on the safe side).
    ///
    /// A fall counts: after the inner limiter drops, capacity climbs back at this rate,
    /// from the floor at the lowest (the floor is always allowed).
    pub const fn step(amount: u32, per: Duration) -> Self {
        RampRule {
            kind: Kind::Step { amount, per },
            memory: None,
            of: None,
        }
    }

    /// Capacity may be at most `multiple` times the highest [used](PeakOf::Used) capacity
    /// that is at least `settle` old. A new peak needs `settle` to count, so sustained
    /// demand multiplies the capacity by `multiple` every `settle`.
    pub const fn times_peak(multiple: u32, settle: Duration) -> Self {
        Self::peak(multiple as u64 * 100, settle)
    }

    /// Like [`times_peak`](RampRule::times_peak) with a multiple in percent: `150` allows
    /// one and a half times the peak.
    pub const fn percent_of_peak(percent: u32, settle: Duration) -> Self {
        Self::peak(percent as u64, settle)
    }

    const fn peak(percent: u64, settle: Duration) -> Self {
        RampRule {
            kind: Kind::Peak { percent, settle },
            memory: None,
            of: None,
        }
    }

    /// A peak rule forgets a peak once it has counted for `memory` (to within 1/64 of
    /// `settle + memory`, on the safe side); by default peaks are never forgotten.
    pub const fn forget_after(mut self, memory: Duration) -> Self {
        self.memory = Some(memory);
        self
    }

    /// A peak rule takes the peak of the capacity [reported](PeakOf::Reported) rather
    /// than [used](PeakOf::Used).
    pub const fn of_reported(mut self) -> Self {
        self.of = Some(PeakOf::Reported);
        self
    }

    /// What a peak rule takes the peak of; `None` for a step rule.
    pub fn peak_of(&self) -> Option<PeakOf> {
        match self.kind {
            Kind::Step { .. } => None,
            Kind::Peak { .. } => Some(self.of.unwrap_or(PeakOf::Used)),
        }
    }

    /// Whether this is a step rule.
    pub fn is_step(&self) -> bool {
        matches!(self.kind, Kind::Step { .. })
    }
}

impl fmt::Display for RampRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Step { amount, per } => write!(f, "at most +{amount} per {per:?}"),
            Kind::Peak { percent, settle } => {
                let of = match self.peak_of() {
                    Some(PeakOf::Reported) => "reported",
                    _ => "used",
                };
                write!(
                    f,
                    "at most {percent}% of the peak {of} at least {settle:?} ago"
                )?;
                if let Some(memory) = self.memory {
                    write!(f, ", forgotten after {memory:?}")?;
                }
                Ok(())
            }
        }
    }
}
