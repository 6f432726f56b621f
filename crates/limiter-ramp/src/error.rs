//! [`RampConfigError`]: ramp settings that cannot work.

use std::time::Duration;

use events_core::LimiterError;

use crate::RampRule;

/// The most rules one [`RampLimiter`](crate::RampLimiter) may combine.
pub const MAX_RULES: usize = 16;

/// A setting of a [`RampLimiter`](crate::RampLimiter) that cannot work, returned by
/// [`RampBuilder::build`](crate::RampBuilder::build).
///
/// Rules are numbered from 0 in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RampConfigError {
    /// No rule was given.
    #[error(
        "a ramp limiter needs at least one rule; add .rule(RampRule::step(..)) or \
         .rule(RampRule::times_peak(..)), or use the inner limiter directly"
    )]
    NoRules,
    /// More than [`MAX_RULES`] rules.
    #[error("{count} ramp rules is more than the limit of {max}; combine or drop some")]
    TooManyRules {
        /// How many were given.
        count: usize,
        /// The limit, [`MAX_RULES`].
        max: usize,
    },
    /// A step rule that adds nothing.
    #[error(
        "rule {index} ({rule}) adds 0 per step, so capacity could never grow above the floor; \
         use an amount of at least 1, or raise the floor instead"
    )]
    ZeroStep {
        /// The rule's position.
        index: usize,
        /// The rule.
        rule: RampRule,
    },
    /// A step rule over no time at all.
    #[error(
        "rule {index} ({rule}) has a period of zero, which would let capacity grow without \
         limit; use the time the datastore takes to scale by one step (for example 60 s)"
    )]
    ZeroPeriod {
        /// The rule's position.
        index: usize,
        /// The rule.
        rule: RampRule,
    },
    /// A peak rule that does not allow growth past the peak.
    #[error(
        "rule {index} ({rule}) allows {percent}% of the peak, which could never grow past it; \
         use more than 100% (DynamoDB on-demand: RampRule::times_peak(2, ..))"
    )]
    PeakMultiple {
        /// The rule's position.
        index: usize,
        /// The rule.
        rule: RampRule,
        /// The percentage asked for.
        percent: u64,
    },
    /// A peak rule whose peaks count at once.
    #[error(
        "rule {index} ({rule}) counts a new peak at once, which would let capacity multiply at \
         every tick; use the time the datastore takes to learn a new peak (DynamoDB: 30 min)"
    )]
    ZeroSettle {
        /// The rule's position.
        index: usize,
        /// The rule.
        rule: RampRule,
    },
    /// A peak rule that forgets peaks at once.
    #[error(
        "rule {index} ({rule}) forgets a peak as soon as it counts, so capacity could never grow \
         past the floor; forget after more than zero, or do not call forget_after"
    )]
    ZeroMemory {
        /// The rule's position.
        index: usize,
        /// The rule.
        rule: RampRule,
    },
    /// `forget_after` or `of_reported` on a step rule.
    #[error(
        "rule {index} ({rule}) is a step rule, but forget_after/of_reported only apply to peak \
         rules; drop the call or use RampRule::times_peak"
    )]
    NotAPeakRule {
        /// The rule's position.
        index: usize,
        /// The rule.
        rule: RampRule,
    },
    /// A peak rule with neither a floor nor a previous peak to grow from.
    #[error(
        "rule {index} ({rule}) grows from the peak, but with a floor of 0 and no previous peak \
         the peak stays 0; set .floor(n) to what the datastore serves at once, or \
         .previous_peak(n) to the peak it has already seen"
    )]
    NothingToGrowFrom {
        /// The rule's position.
        index: usize,
        /// The rule.
        rule: RampRule,
    },
    /// A tick outside the range the ramp supports.
    #[error(
        "tick {tick:?} is outside 1 ms to 60 s: it is how often the ramp samples the inner \
         limiter and lets capacity grow; the default is 100 ms"
    )]
    Tick {
        /// The tick asked for.
        tick: Duration,
    },
}

impl From<RampConfigError> for LimiterError {
    fn from(err: RampConfigError) -> Self {
        LimiterError::InvalidConfig(err.to_string())
    }
}
