//! A mockall mock of the lease manager, for error paths and timing a real server cannot
//! produce on demand.

use std::time::Duration;

use events_core::BoxFuture;
use futures::FutureExt;
use limiter_azure::{LeaseError, LeaseId, LeaseManager, Member, Provisioned};

mockall::mock! {
    pub Leases {}
    impl LeaseManager for Leases {
        fn location(&self) -> String;
        fn ensure_container(&self) -> BoxFuture<'static, Result<Provisioned, LeaseError>>;
        fn ensure_partition(&self, partition: u32) -> BoxFuture<'static, Result<Provisioned, LeaseError>>;
        fn acquire(&self, partition: u32, lease: LeaseId, duration: Duration) -> BoxFuture<'static, Result<(), LeaseError>>;
        fn renew(&self, partition: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>>;
        fn release(&self, partition: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>>;
        fn announce(&self, member: String, wanted: u32) -> BoxFuture<'static, Result<(), LeaseError>>;
        fn members(&self) -> BoxFuture<'static, Result<Vec<Member>, LeaseError>>;
        fn withdraw(&self, member: String) -> BoxFuture<'static, Result<(), LeaseError>>;
    }
}

impl std::fmt::Debug for MockLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockLeases")
    }
}

/// A future that resolves at once.
pub fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    futures::future::ready(value).boxed()
}

/// A future that resolves after `delay` (on tokio's clock).
pub fn after<T: Send + 'static>(delay: Duration, value: T) -> BoxFuture<'static, T> {
    async move {
        tokio::time::sleep(delay).await;
        value
    }
    .boxed()
}

/// A future that never resolves (a call that hangs).
pub fn hang<T: Send + 'static>() -> BoxFuture<'static, T> {
    futures::future::pending().boxed()
}

/// A mock whose container and partitions exist already.
pub fn provisioned() -> MockLeases {
    let mut m = MockLeases::new();
    m.expect_location()
        .returning(|| "http://mock/container".to_owned());
    m.expect_ensure_container()
        .returning(|| ready(Ok(Provisioned::Existed)));
    m.expect_ensure_partition()
        .returning(|_| ready(Ok(Provisioned::Existed)));
    alone(&mut m);
    m
}

/// Membership calls that find no other instance.
pub fn alone(m: &mut MockLeases) {
    m.expect_announce().returning(|_, _| ready(Ok(())));
    m.expect_members().returning(|| ready(Ok(Vec::new())));
    m.expect_withdraw().returning(|_| ready(Ok(())));
}
