//! [`Lifecycle`]: the Provision → Start → Stop order that rate limiters share.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::LifecycleError;

/// Where a component is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleState {
    /// Created; needs `provision`.
    New,
    /// Provisioned; ready to `start`.
    Provisioned,
    /// Running.
    Started,
    /// Stopped for good.
    Stopped,
}

impl LifecycleState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => LifecycleState::New,
            1 => LifecycleState::Provisioned,
            2 => LifecycleState::Started,
            _ => LifecycleState::Stopped,
        }
    }
}

/// A lock-free state machine that enforces Provision → Start → Stop.
///
/// * `provision` is allowed while new or provisioned (provisioning again is harmless).
/// * `start` is allowed once, after provisioning.
/// * `stop` is allowed in any state and any number of times; only the first call reports
///   that it did something.
///
/// # Examples
///
/// ```
/// use events_core::{Lifecycle, LifecycleState};
///
/// let life = Lifecycle::new("limiter");
/// assert!(life.begin_start().is_err());
/// life.check_provision().unwrap();
/// life.mark_provisioned();
/// life.begin_start().unwrap();
/// assert!(life.begin_stop());
/// assert!(!life.begin_stop());
/// assert_eq!(life.state(), LifecycleState::Stopped);
/// ```
#[derive(Debug)]
pub struct Lifecycle {
    component: &'static str,
    state: AtomicU8,
}

impl Lifecycle {
    /// A lifecycle in [`LifecycleState::New`].
    pub const fn new(component: &'static str) -> Self {
        Lifecycle {
            component,
            state: AtomicU8::new(0),
        }
    }

    /// A lifecycle that needs no provisioning: it starts in [`LifecycleState::Provisioned`].
    pub const fn provisioned(component: &'static str) -> Self {
        Lifecycle {
            component,
            state: AtomicU8::new(1),
        }
    }

    /// The current state.
    pub fn state(&self) -> LifecycleState {
        LifecycleState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Whether `start` has succeeded and `stop` has not been called.
    pub fn is_started(&self) -> bool {
        self.state() == LifecycleState::Started
    }

    /// Checks that provisioning may run now.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::AlreadyStarted`] or [`LifecycleError::Stopped`].
    pub fn check_provision(&self) -> Result<(), LifecycleError> {
        match self.state() {
            LifecycleState::New | LifecycleState::Provisioned => Ok(()),
            LifecycleState::Started => Err(LifecycleError::AlreadyStarted {
                component: self.component,
                operation: "provision",
            }),
            LifecycleState::Stopped => Err(LifecycleError::Stopped {
                component: self.component,
                operation: "provision",
            }),
        }
    }

    /// Records that provisioning finished; has no effect once started or stopped.
    pub fn mark_provisioned(&self) {
        let _ = self
            .state
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Moves from provisioned to started.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::NotProvisioned`], [`LifecycleError::AlreadyStarted`] or
    /// [`LifecycleError::Stopped`].
    pub fn begin_start(&self) -> Result<(), LifecycleError> {
        match self
            .state
            .compare_exchange(1, 2, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(()),
            Err(current) => Err(match LifecycleState::from_u8(current) {
                LifecycleState::New => LifecycleError::NotProvisioned {
                    component: self.component,
                },
                LifecycleState::Started => LifecycleError::AlreadyStarted {
                    component: self.component,
                    operation: "start",
                },
                _ => LifecycleError::Stopped {
                    component: self.component,
                    operation: "start",
                },
            }),
        }
    }

    /// Moves to stopped; returns `true` only for the call that made the change.
    pub fn begin_stop(&self) -> bool {
        self.state.swap(3, Ordering::AcqRel) != 3
    }

    /// An error for `operation` called after stop, for components with more methods.
    pub fn stopped_error(&self, operation: &'static str) -> LifecycleError {
        LifecycleError::Stopped {
            component: self.component,
            operation,
        }
    }
}
