//! A mockall mock of the lease manager, for error paths and timing a real server cannot
//! produce on demand.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{BoxFuture, RateLimiter};
use futures::FutureExt;
use limiter_azure::{AzureSharedResource, LeaseError, LeaseId, LeaseManager, Member, Provisioned};
use tokio::time::Instant;

use super::Recorder;

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

pub const SECOND: Duration = Duration::from_secs(1);

/// Calls recorded by the mock: when, which partition, which lease.
pub type Calls = Arc<Mutex<Vec<(Instant, u32, LeaseId)>>>;

/// An empty call log.
pub fn calls() -> Calls {
    Arc::new(Mutex::new(Vec::new()))
}

/// Shared 3,000 in partitions of 1,000, reserved 100, 15 s leases.
pub fn limiter(leases: MockLeases) -> AzureSharedResource {
    AzureSharedResource::builder()
        .shared_capacity(3_000)
        .factor(1_000)
        .reserved_capacity(100)
        .seed(7)
        .build_with_manager(Arc::new(leases))
        .unwrap()
}

pub async fn started(leases: MockLeases) -> (AzureSharedResource, Recorder) {
    let limiter = limiter(leases);
    let rec = Recorder::attach(limiter.emitter());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    (limiter, rec)
}

pub fn grant_all(m: &mut MockLeases, acquired: &Calls) {
    let log = acquired.clone();
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        ready(Ok(()))
    });
}

pub fn record(
    log: &Calls,
) -> impl FnMut(u32, LeaseId) -> events_core::BoxFuture<'static, Result<(), LeaseError>> + Send + 'static
{
    let log = log.clone();
    move |p, lease| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        ready(Ok(()))
    }
}
