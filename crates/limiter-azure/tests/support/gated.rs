//! A lease store that grants everything at once, until it is hung: then every call waits
//! (like a request queued at a stopped server) and is answered when the store resumes,
//! unless the limiter gave up on it first. Every call is logged with when it started.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::BoxFuture;
use futures::FutureExt;
use limiter_azure::{LeaseError, LeaseId, LeaseManager, Member, Provisioned};
use tokio::sync::watch;
use tokio::time::Instant;

/// One call: when it started, what it was, and the lease id it carried (if any).
pub type Call = (Instant, &'static str, Option<LeaseId>);

#[derive(Debug)]
pub struct GatedLeases {
    hung: watch::Sender<bool>,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl GatedLeases {
    pub fn new() -> Arc<GatedLeases> {
        Arc::new(GatedLeases {
            hung: watch::Sender::new(false),
            calls: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Hangs (`true`) or resumes (`false`) the store; resuming answers every waiting call.
    pub fn set_hung(&self, hung: bool) {
        self.hung.send_replace(hung);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn call<T: Send + 'static>(
        &self,
        what: &'static str,
        lease: Option<LeaseId>,
        value: T,
    ) -> BoxFuture<'static, T> {
        self.calls
            .lock()
            .unwrap()
            .push((Instant::now(), what, lease));
        let mut hung = self.hung.subscribe();
        async move {
            let _ = hung.wait_for(|h| !*h).await;
            value
        }
        .boxed()
    }
}

impl LeaseManager for GatedLeases {
    fn location(&self) -> String {
        "http://gated/container".to_owned()
    }

    fn ensure_container(&self) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        self.call("ensure_container", None, Ok(Provisioned::Existed))
    }

    fn ensure_partition(&self, _: u32) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        self.call("ensure_partition", None, Ok(Provisioned::Existed))
    }

    fn acquire(
        &self,
        _: u32,
        lease: LeaseId,
        _: Duration,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.call("acquire", Some(lease), Ok(()))
    }

    fn renew(&self, _: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.call("renew", Some(lease), Ok(()))
    }

    fn release(&self, _: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.call("release", Some(lease), Ok(()))
    }

    fn announce(&self, _: String, _: u32) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.call("announce", None, Ok(()))
    }

    fn members(&self) -> BoxFuture<'static, Result<Vec<Member>, LeaseError>> {
        self.call("members", None, Ok(Vec::new()))
    }

    fn withdraw(&self, _: String) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.call("withdraw", None, Ok(()))
    }

    fn probe(&self) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.call("probe", None, Ok(()))
    }
}
