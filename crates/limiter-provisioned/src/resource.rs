//! [`ProvisionedResource`]: a rate limiter with a fixed, always-granted capacity.

use std::sync::atomic::{AtomicU32, Ordering};

use events_core::{BoxFuture, Emitter, EventName, Lifecycle, LimiterError, RateLimiter};

/// A rate limiter whose capacity is a fixed per-second budget, granted in full.
///
/// Use it for a datastore with provisioned throughput that the process does not share:
/// the batcher may spend the whole budget every second. [`give_me`](RateLimiter::give_me)
/// is ignored because there is nothing to negotiate.
///
/// The capacity is also the maximum capacity, so an operation costing more than it is
/// refused by the batcher at enqueue time.
///
/// # Examples
///
/// ```
/// use events_core::RateLimiter;
/// use limiter_provisioned::ProvisionedResource;
///
/// let limiter = ProvisionedResource::new(400);
/// assert_eq!((limiter.capacity(), limiter.max_capacity()), (400, 400));
/// limiter.set_capacity(1_000);
/// assert_eq!(limiter.capacity(), 1_000);
/// ```
#[derive(Debug)]
pub struct ProvisionedResource {
    capacity: AtomicU32,
    lifecycle: Lifecycle,
    emitter: Emitter,
}

impl ProvisionedResource {
    /// A limiter granting `capacity` cost units per second.
    pub fn new(capacity: u32) -> Self {
        ProvisionedResource {
            capacity: AtomicU32::new(capacity),
            lifecycle: Lifecycle::provisioned("provisioned resource"),
            emitter: Emitter::new("provisioned resource"),
        }
    }

    /// Changes the capacity (and maximum capacity) at runtime and raises a
    /// [`Capacity`](EventName::Capacity) event with the new value.
    ///
    /// A batcher reads the new capacity at its next flush; operations already released
    /// in the current one-second window still count against it.
    pub fn set_capacity(&self, capacity: u32) {
        self.capacity.store(capacity, Ordering::Release);
        tracing::debug!(capacity, "provisioned capacity changed");
        self.emitter.emit(EventName::Capacity, i64::from(capacity));
    }
}

impl RateLimiter for ProvisionedResource {
    /// There is nothing to provision; this only checks that the limiter is not started
    /// or stopped.
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.lifecycle.check_provision()?;
            self.lifecycle.mark_provisioned();
            Ok(())
        })
    }

    /// Starts and raises a [`Capacity`](EventName::Capacity) event with the capacity.
    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.lifecycle.begin_start()?;
            self.emitter
                .emit(EventName::Capacity, i64::from(self.capacity()));
            Ok(())
        })
    }

    /// Stops and raises [`Shutdown`](EventName::Shutdown) the first time.
    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            if self.lifecycle.begin_stop() {
                self.emitter.emit(EventName::Shutdown, 0);
            }
            Ok(())
        })
    }

    fn max_capacity(&self) -> u32 {
        self.capacity()
    }

    fn capacity(&self) -> u32 {
        self.capacity.load(Ordering::Acquire)
    }

    fn give_me(&self, _target: u32) {}

    fn emitter(&self) -> &Emitter {
        &self.emitter
    }
}
