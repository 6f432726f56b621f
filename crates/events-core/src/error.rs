//! Errors shared by every component.

use std::error::Error as StdError;

/// A subscription fell behind and lost the oldest events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the subscriber fell behind and missed {missed} events; read faster or create the \
     emitter with a larger subscription capacity"
)]
pub struct Lagged {
    /// How many events were dropped for this subscriber.
    pub missed: u64,
}

/// A string was not the name of any [`EventName`](crate::EventName).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a flowgate event name; see EventName::ALL for the valid names")]
pub struct UnknownEventName {
    /// The string that did not match.
    pub name: String,
}

/// A lifecycle method was called out of order (see [`Lifecycle`](crate::Lifecycle)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// `start` before `provision`.
    #[error("cannot start {component}: it has not been provisioned; call provision() first")]
    NotProvisioned {
        /// The component that refused.
        component: &'static str,
    },
    /// `provision` or `start` on a component that is already running.
    #[error("cannot {operation} {component}: it is already started; stop it first")]
    AlreadyStarted {
        /// The component that refused.
        component: &'static str,
        /// The method that was called.
        operation: &'static str,
    },
    /// Any lifecycle call after `stop`.
    #[error("cannot {operation} {component}: it has been stopped; create a new one instead")]
    Stopped {
        /// The component that refused.
        component: &'static str,
        /// The method that was called.
        operation: &'static str,
    },
}

/// What a [`RateLimiter`](crate::RateLimiter) can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimiterError {
    /// A lifecycle method was called out of order.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The limiter's settings cannot work; the message names the setting and the fix.
    #[error("invalid rate limiter configuration: {0}")]
    InvalidConfig(String),
    /// The backing service failed (storage, network); the message says what was attempted.
    #[error("{message}")]
    Backend {
        /// What was being attempted.
        message: String,
        /// The underlying failure.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl LimiterError {
    /// Wraps a backend failure with a description of what was being attempted.
    pub fn backend(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        LimiterError::Backend {
            message: message.into(),
            source: source.into(),
        }
    }

    /// Whether the error is a lifecycle-order mistake.
    pub fn is_lifecycle(&self) -> bool {
        matches!(self, LimiterError::Lifecycle(_))
    }
}
