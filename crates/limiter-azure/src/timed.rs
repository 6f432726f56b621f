//! Timing every storage call: a [`LeaseManager`] decorator that raises one `storage-call`
//! event per call, with its duration, operation and outcome.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use events_core::{BoxFuture, Emitter, EventName};
use futures::FutureExt;
use tokio::time::Instant;

use crate::{LeaseError, LeaseId, LeaseManager, Member, Provisioned};

/// A call to the lease storage, as the `storage-call` event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageOperation {
    /// Creating the container (or finding it in place).
    CreateContainer,
    /// Creating a partition blob (or finding it in place).
    CreatePartition,
    /// Acquiring a partition lease (also re-proposing an id whose call went unanswered).
    Acquire,
    /// Renewing a partition lease.
    Renew,
    /// Releasing a partition lease.
    Release,
    /// Announcing this instance's demand.
    Announce,
    /// Listing every instance's demand.
    ListMembers,
    /// Removing this instance's announcement.
    Withdraw,
    /// Asking whether a silent storage answers again.
    Probe,
}

impl StorageOperation {
    /// Every operation, in declaration order.
    pub const ALL: &'static [StorageOperation] = &[
        StorageOperation::CreateContainer,
        StorageOperation::CreatePartition,
        StorageOperation::Acquire,
        StorageOperation::Renew,
        StorageOperation::Release,
        StorageOperation::Announce,
        StorageOperation::ListMembers,
        StorageOperation::Withdraw,
        StorageOperation::Probe,
    ];

    /// The stable name, such as `"acquire"`: the event's `msg` and the metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            StorageOperation::CreateContainer => "create_container",
            StorageOperation::CreatePartition => "create_partition",
            StorageOperation::Acquire => "acquire",
            StorageOperation::Renew => "renew",
            StorageOperation::Release => "release",
            StorageOperation::Announce => "announce",
            StorageOperation::ListMembers => "list_members",
            StorageOperation::Withdraw => "withdraw",
            StorageOperation::Probe => "probe",
        }
    }
}

impl fmt::Display for StorageOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a storage call ended, as the `storage-call` event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageOutcome {
    /// It succeeded.
    Ok,
    /// The lease was held by another instance ([`LeaseError::Conflict`]).
    Conflict,
    /// The lease was no longer ours ([`LeaseError::Lost`]).
    Lost,
    /// The container, a blob or a lease was unknown to the storage
    /// ([`LeaseError::NotFound`], [`LeaseError::LeaseMissing`]).
    NotFound,
    /// The storage refused the credentials ([`LeaseError::Unauthorized`]).
    Unauthorized,
    /// The storage asked us to slow down ([`LeaseError::Throttled`]).
    Throttled,
    /// Any other failure: the network, an unexpected status.
    Error,
    /// The limiter stopped waiting before an answer came (the call timed out, or the
    /// limiter stopped); the duration is how long it waited.
    Abandoned,
}

impl StorageOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: &'static [StorageOutcome] = &[
        StorageOutcome::Ok,
        StorageOutcome::Conflict,
        StorageOutcome::Lost,
        StorageOutcome::NotFound,
        StorageOutcome::Unauthorized,
        StorageOutcome::Throttled,
        StorageOutcome::Error,
        StorageOutcome::Abandoned,
    ];

    /// The stable name, such as `"ok"`: the metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            StorageOutcome::Ok => "ok",
            StorageOutcome::Conflict => "conflict",
            StorageOutcome::Lost => "lost",
            StorageOutcome::NotFound => "not_found",
            StorageOutcome::Unauthorized => "unauthorized",
            StorageOutcome::Throttled => "throttled",
            StorageOutcome::Error => "error",
            StorageOutcome::Abandoned => "abandoned",
        }
    }

    fn of<T>(result: &Result<T, LeaseError>) -> StorageOutcome {
        match result {
            Ok(_) => StorageOutcome::Ok,
            Err(LeaseError::Conflict { .. }) => StorageOutcome::Conflict,
            Err(LeaseError::Lost { .. }) => StorageOutcome::Lost,
            Err(LeaseError::NotFound { .. } | LeaseError::LeaseMissing { .. }) => {
                StorageOutcome::NotFound
            }
            Err(LeaseError::Unauthorized { .. }) => StorageOutcome::Unauthorized,
            Err(LeaseError::Throttled { .. }) => StorageOutcome::Throttled,
            Err(LeaseError::Timeout { .. }) => StorageOutcome::Abandoned,
            Err(_) => StorageOutcome::Error,
        }
    }
}

impl fmt::Display for StorageOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metadata of a `storage-call` event (its `val` is the duration in microseconds,
/// its `msg` the operation's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StorageCall {
    /// What was asked of the storage.
    pub operation: StorageOperation,
    /// How it ended.
    pub outcome: StorageOutcome,
    /// How long it took (or how long the limiter waited, for an abandoned call).
    pub duration: Duration,
}

/// Raises the event of one call when it completes, or when it is dropped unanswered.
struct Stopwatch {
    emitter: Emitter,
    operation: StorageOperation,
    started: Instant,
    done: bool,
}

impl Stopwatch {
    fn finish(&mut self, outcome: StorageOutcome) {
        self.done = true;
        let duration = self.started.elapsed();
        let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        let operation = self.operation;
        self.emitter
            .emit_with(EventName::StorageCall, micros, |event| {
                event
                    .with_msg(operation.as_str())
                    .with_metadata(StorageCall {
                        operation,
                        outcome,
                        duration,
                    })
            });
    }
}

impl Drop for Stopwatch {
    fn drop(&mut self) {
        if !self.done {
            self.finish(StorageOutcome::Abandoned);
        }
    }
}

/// A [`LeaseManager`] whose every call raises a `storage-call` event on `emitter`.
pub(crate) struct Timed {
    inner: Arc<dyn LeaseManager>,
    emitter: Emitter,
}

impl fmt::Debug for Timed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Timed {
    pub(crate) fn new(inner: Arc<dyn LeaseManager>, emitter: Emitter) -> Self {
        Timed { inner, emitter }
    }

    /// The lease store this decorates.
    pub(crate) fn inner(&self) -> &Arc<dyn LeaseManager> {
        &self.inner
    }

    fn time<T: Send + 'static>(
        &self,
        operation: StorageOperation,
        call: BoxFuture<'static, Result<T, LeaseError>>,
    ) -> BoxFuture<'static, Result<T, LeaseError>> {
        let mut watch = Stopwatch {
            emitter: self.emitter.clone(),
            operation,
            started: Instant::now(),
            done: false,
        };
        call.map(move |result| {
            watch.finish(StorageOutcome::of(&result));
            result
        })
        .boxed()
    }
}

impl LeaseManager for Timed {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn ensure_container(&self) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        self.time(
            StorageOperation::CreateContainer,
            self.inner.ensure_container(),
        )
    }

    fn ensure_partition(
        &self,
        partition: u32,
    ) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        self.time(
            StorageOperation::CreatePartition,
            self.inner.ensure_partition(partition),
        )
    }

    fn acquire(
        &self,
        partition: u32,
        lease: LeaseId,
        duration: Duration,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.time(
            StorageOperation::Acquire,
            self.inner.acquire(partition, lease, duration),
        )
    }

    fn renew(&self, partition: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.time(StorageOperation::Renew, self.inner.renew(partition, lease))
    }

    fn release(
        &self,
        partition: u32,
        lease: LeaseId,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.time(
            StorageOperation::Release,
            self.inner.release(partition, lease),
        )
    }

    fn announce(&self, member: String, wanted: u32) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.time(
            StorageOperation::Announce,
            self.inner.announce(member, wanted),
        )
    }

    fn members(&self) -> BoxFuture<'static, Result<Vec<Member>, LeaseError>> {
        self.time(StorageOperation::ListMembers, self.inner.members())
    }

    fn withdraw(&self, member: String) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.time(StorageOperation::Withdraw, self.inner.withdraw(member))
    }

    fn probe(&self) -> BoxFuture<'static, Result<(), LeaseError>> {
        self.time(StorageOperation::Probe, self.inner.probe())
    }
}
