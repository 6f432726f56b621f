//! A rate limiter for tests whose capacity the test sets, and helpers to read events.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{
    BoxFuture, Emitter, EventName, Lifecycle, LimiterError, RateLimiter, Subscription,
};
use futures::FutureExt;

/// A limiter whose capacity the test sets; it records the calls it receives.
#[derive(Debug)]
pub struct TestLimiter {
    capacity: AtomicU32,
    max: AtomicU32,
    lifecycle: Lifecycle,
    emitter: Emitter,
    pub calls: Mutex<Vec<String>>,
    pub fail_stop: AtomicBool,
}

impl TestLimiter {
    pub fn new(capacity: u32) -> Arc<Self> {
        Arc::new(TestLimiter {
            capacity: AtomicU32::new(capacity),
            max: AtomicU32::new(capacity),
            lifecycle: Lifecycle::new("test limiter"),
            emitter: Emitter::new("test limiter"),
            calls: Mutex::new(Vec::new()),
            fail_stop: AtomicBool::new(false),
        })
    }

    /// Changes the capacity (and max) and raises `capacity`, as real limiters do.
    pub fn set(&self, capacity: u32) {
        self.capacity.store(capacity, Ordering::Release);
        self.max.fetch_max(capacity, Ordering::AcqRel);
        self.emitter.emit(EventName::Capacity, i64::from(capacity));
    }

    /// Changes the capacity without any event, as a limiter that only polls would.
    pub fn set_quietly(&self, capacity: u32) {
        self.capacity.store(capacity, Ordering::Release);
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn call(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }
}

impl RateLimiter for TestLimiter {
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.call("provision".into());
            self.lifecycle.check_provision()?;
            self.lifecycle.mark_provisioned();
            Ok(())
        })
    }

    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.call("start".into());
            self.lifecycle.begin_start()?;
            self.emitter
                .emit(EventName::Capacity, i64::from(self.capacity()));
            Ok(())
        })
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.call("stop".into());
            if self.lifecycle.begin_stop() {
                self.emitter.emit(EventName::Shutdown, 0);
            }
            if self.fail_stop.load(Ordering::Acquire) {
                return Err(LimiterError::backend(
                    "could not release",
                    std::io::Error::other("storage down"),
                ));
            }
            Ok(())
        })
    }

    fn max_capacity(&self) -> u32 {
        self.max.load(Ordering::Acquire)
    }

    fn capacity(&self) -> u32 {
        self.capacity.load(Ordering::Acquire)
    }

    fn give_me(&self, target: u32) {
        self.call(format!("give_me {target}"));
        self.emitter.emit(EventName::Target, i64::from(target));
    }

    fn emitter(&self) -> &Emitter {
        &self.emitter
    }
}

/// Every `(name, val)` already raised on `events`, without waiting for more.
pub fn drain(events: &mut Subscription) -> Vec<(EventName, i64)> {
    let mut seen = Vec::new();
    while let Some(Some(Ok(e))) = events.next().now_or_never() {
        seen.push((e.name(), e.val()));
    }
    seen
}

/// The values of the events named `name` already raised on `events`.
pub fn values(events: &mut Subscription, name: EventName) -> Vec<i64> {
    drain(events)
        .into_iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect()
}

/// Lets the paused clock run for `d`, in steps of one tick, so that the ramp's task runs
/// at every tick on the way.
pub async fn run_for(d: Duration) {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() {
        let s = left.min(step);
        tokio::time::advance(s).await;
        left -= s;
        tokio::task::yield_now().await;
    }
}
