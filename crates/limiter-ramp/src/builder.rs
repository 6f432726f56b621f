//! [`RampBuilder`]: the settings of a [`RampLimiter`].

use std::sync::Arc;
use std::time::Duration;

use events_core::RateLimiter;

use crate::error::MAX_RULES;
use crate::rule::Kind;
use crate::{RampConfigError, RampLimiter, RampRule};

/// Settings for a [`RampLimiter`]; start with [`RampLimiter::builder`].
///
/// | setting | default |
/// |---|---|
/// | [`rule`](Self::rule) | none; at least one is required |
/// | [`floor`](Self::floor) | 0 |
/// | [`previous_peak`](Self::previous_peak) | 0 |
/// | [`tick`](Self::tick) | 100 ms |
/// | [`forward_events`](Self::forward_events) | `true` |
#[derive(Debug, Clone)]
#[must_use]
pub struct RampBuilder {
    pub(crate) rules: Vec<RampRule>,
    pub(crate) floor: u32,
    pub(crate) previous_peak: u32,
    pub(crate) tick: Duration,
    pub(crate) forward_events: bool,
}

impl Default for RampBuilder {
    fn default() -> Self {
        RampBuilder {
            rules: Vec::new(),
            floor: 0,
            previous_peak: 0,
            tick: Duration::from_millis(100),
            forward_events: true,
        }
    }
}

impl RampBuilder {
    /// Adds a rule; with several, the tightest wins at every moment.
    pub fn rule(mut self, rule: RampRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Capacity always allowed, whatever the rules say (still never more than the inner
    /// limiter's): what the datastore serves from a standing start.
    pub fn floor(mut self, floor: u32) -> Self {
        self.floor = floor;
        self
    }

    /// A peak the datastore has already seen (for example a DynamoDB table's previous
    /// peak): peak rules count it as settled from the start, for their memory.
    pub fn previous_peak(mut self, peak: u32) -> Self {
        self.previous_peak = peak;
        self
    }

    /// How often the ramp samples the inner limiter and lets capacity grow (1 ms to
    /// 60 s). A change the inner limiter announces with a `capacity` event is handled at
    /// once; falls are always passed on at once, whatever the tick.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Whether the inner limiter's events (other than `capacity` and `shutdown`, which
    /// the ramp raises itself) are raised again on the ramp's emitter, so that one
    /// listener sees everything. They are then traced twice, once per component.
    pub fn forward_events(mut self, forward: bool) -> Self {
        self.forward_events = forward;
        self
    }

    /// Wraps `inner`. Makes no call to it beyond reading its capacity and adding an event
    /// listener; hand it over unstarted, the ramp's `start` starts it.
    ///
    /// # Errors
    ///
    /// [`RampConfigError`] naming the setting or rule that cannot work.
    pub fn build<L>(self, inner: Arc<L>) -> Result<RampLimiter<L>, RampConfigError>
    where
        L: RateLimiter + ?Sized + 'static,
    {
        self.validate()?;
        Ok(RampLimiter::new(self, inner))
    }

    fn validate(&self) -> Result<(), RampConfigError> {
        if self.rules.is_empty() {
            return Err(RampConfigError::NoRules);
        }
        if self.rules.len() > MAX_RULES {
            return Err(RampConfigError::TooManyRules {
                count: self.rules.len(),
                max: MAX_RULES,
            });
        }
        if self.tick < Duration::from_millis(1) || self.tick > Duration::from_secs(60) {
            return Err(RampConfigError::Tick { tick: self.tick });
        }
        for (index, rule) in self.rules.iter().copied().enumerate() {
            match rule.kind {
                Kind::Step { amount, per } => {
                    if rule.memory.is_some() || rule.of.is_some() {
                        return Err(RampConfigError::NotAPeakRule { index, rule });
                    }
                    if amount == 0 {
                        return Err(RampConfigError::ZeroStep { index, rule });
                    }
                    if per.is_zero() {
                        return Err(RampConfigError::ZeroPeriod { index, rule });
                    }
                }
                Kind::Peak { percent, settle } => {
                    if percent <= 100 {
                        return Err(RampConfigError::PeakMultiple {
                            index,
                            rule,
                            percent,
                        });
                    }
                    if settle.is_zero() {
                        return Err(RampConfigError::ZeroSettle { index, rule });
                    }
                    if rule.memory.is_some_and(|m| m.is_zero()) {
                        return Err(RampConfigError::ZeroMemory { index, rule });
                    }
                    if self.floor == 0 && self.previous_peak == 0 {
                        return Err(RampConfigError::NothingToGrowFrom { index, rule });
                    }
                }
            }
        }
        Ok(())
    }
}
