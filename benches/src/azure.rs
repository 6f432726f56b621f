//! Helpers for the `azure` scenario benchmark: a lease manager that counts storage calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use events_core::BoxFuture;
use limiter_azure::{LeaseError, LeaseId, LeaseManager, Member, Provisioned};

/// Wraps a [`LeaseManager`] and counts every call made through it.
#[derive(Debug)]
pub struct CountingLeases {
    inner: Arc<dyn LeaseManager>,
    calls: AtomicU64,
}

impl CountingLeases {
    /// Counts the calls made to `inner`.
    pub fn new(inner: Arc<dyn LeaseManager>) -> Self {
        CountingLeases {
            inner,
            calls: AtomicU64::new(0),
        }
    }

    /// The number of storage calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl LeaseManager for CountingLeases {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn ensure_container(&self) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        self.count();
        self.inner.ensure_container()
    }

    fn ensure_partition(
        &self,
        partition: u32,
    ) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        self.count();
        self.inner.ensure_partition(partition)
    }

    fn acquire(
        &self,
        partition: u32,
        lease: LeaseId,
        duration: Duration,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.count();
        self.inner.acquire(partition, lease, duration)
    }

    fn renew(&self, partition: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.count();
        self.inner.renew(partition, lease)
    }

    fn release(
        &self,
        partition: u32,
        lease: LeaseId,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.count();
        self.inner.release(partition, lease)
    }

    fn announce(&self, member: String, wanted: u32) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.count();
        self.inner.announce(member, wanted)
    }

    fn members(&self) -> BoxFuture<'static, Result<Vec<Member>, LeaseError>> {
        self.count();
        self.inner.members()
    }

    fn withdraw(&self, member: String) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.count();
        self.inner.withdraw(member)
    }

    fn probe(&self) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.count();
        self.inner.probe()
    }
}
