//! The [`LeaseManager`] trait: what the limiter needs from a lease store.

use std::fmt;
use std::time::Duration;

use events_core::BoxFuture;

use crate::LeaseError;

/// The identifier of one lease, a UUID in its usual text form.
///
/// The limiter chooses lease ids itself (Azure calls this a proposed lease id), so that
/// it can release a lease whose acquire request timed out but may still have been granted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseId(String);

impl LeaseId {
    /// A fresh random (version 4) UUID drawn from `rng`.
    pub fn random(rng: &mut fastrand::Rng) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        LeaseId(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether provisioning created a resource or found it in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioned {
    /// It did not exist and was created.
    Created,
    /// It existed already (possibly leased by another instance).
    Existed,
}

/// An instance that announced its demand (see [`LeaseManager::announce`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The instance's identifier.
    pub id: String,
    /// How many partitions it wants.
    pub wanted: u32,
    /// How long ago it last announced, by the storage's clock.
    pub age: Duration,
}

/// A store of exclusive, expiring leases on numbered partitions: the limiter's only view
/// of the storage.
///
/// [`AzureBlobLeases`](crate::AzureBlobLeases) keeps one zero-byte blob per partition in a
/// container; other backends can implement the same operations (the three membership
/// operations have do-nothing defaults, which turn fair sharing off). The trait is object
/// safe: the limiter holds an `Arc<dyn LeaseManager>`.
///
/// # Implementation notes
///
/// The futures are `'static` (clone what they need) so the limiter can run many at once.
/// The limiter puts its own timeout around every call, so implementations should not retry
/// for long. Map a lease held by someone else to [`LeaseError::Conflict`] and a lease that
/// is no longer ours to [`LeaseError::Lost`]; the limiter reacts to those two kinds.
pub trait LeaseManager: Send + Sync + fmt::Debug {
    /// Where the partitions live, for events and messages (for Azure, the container URL).
    fn location(&self) -> String;

    /// Creates the container that holds the partitions, unless it exists.
    ///
    /// # Errors
    ///
    /// A [`LeaseError`] if the storage could not be reached or refused.
    fn ensure_container(&self) -> BoxFuture<'static, Result<Provisioned, LeaseError>>;

    /// Creates partition `partition`, unless it exists; never disturbs an existing lease.
    ///
    /// # Errors
    ///
    /// A [`LeaseError`] if the storage could not be reached or refused.
    fn ensure_partition(
        &self,
        partition: u32,
    ) -> BoxFuture<'static, Result<Provisioned, LeaseError>>;

    /// Takes the exclusive lease on `partition` for `duration` under the id `lease`.
    ///
    /// # Errors
    ///
    /// [`LeaseError::Conflict`] if another holder has it; other kinds for failures.
    fn acquire(
        &self,
        partition: u32,
        lease: LeaseId,
        duration: Duration,
    ) -> BoxFuture<'static, Result<(), LeaseError>>;

    /// Extends a lease we hold by its original duration, counted from now.
    ///
    /// # Errors
    ///
    /// [`LeaseError::Lost`] if the lease is no longer ours; other kinds for failures.
    fn renew(&self, partition: u32, lease: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>>;

    /// Gives a lease up so that others can take the partition at once.
    ///
    /// # Errors
    ///
    /// [`LeaseError::Lost`] if the lease was no longer ours; other kinds for failures.
    fn release(&self, partition: u32, lease: LeaseId)
    -> BoxFuture<'static, Result<(), LeaseError>>;

    /// Records that instance `member` wants `wanted` partitions, so that the instances can
    /// share the partitions fairly. The default does nothing (no fair sharing).
    ///
    /// # Errors
    ///
    /// A [`LeaseError`] if the storage could not be reached or refused.
    fn announce(&self, member: String, wanted: u32) -> BoxFuture<'static, Result<(), LeaseError>> {
        let _ = (member, wanted);
        Box::pin(async { Ok(()) })
    }

    /// Every instance's latest announcement. The default knows of none.
    ///
    /// # Errors
    ///
    /// A [`LeaseError`] if the storage could not be reached or refused.
    fn members(&self) -> BoxFuture<'static, Result<Vec<Member>, LeaseError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Removes instance `member`'s announcement (on stop, or when it wants nothing).
    ///
    /// # Errors
    ///
    /// A [`LeaseError`] if the storage could not be reached or refused.
    fn withdraw(&self, member: String) -> BoxFuture<'static, Result<(), LeaseError>> {
        let _ = member;
        Box::pin(async { Ok(()) })
    }

    /// A cheap call that changes nothing and only tells whether the storage answers.
    ///
    /// While the storage is silent (a call timed out), the limiter sends no other call and
    /// keeps exactly one probe in flight, with a long timeout: every abandoned call would
    /// otherwise leave a request queued at a hung server, to be served (taking or renewing
    /// leases nobody counts) before the fresh ones once it resumes. Any answer, even an
    /// error status, ends the silence. The default calls
    /// [`ensure_container`](Self::ensure_container); [`AzureBlobLeases`](crate::AzureBlobLeases)
    /// reads the container's properties.
    ///
    /// # Errors
    ///
    /// [`LeaseError::NotFound`] if the container is gone (a sign of data loss); other kinds
    /// if the storage could not be reached or refused.
    fn probe(&self) -> BoxFuture<'static, Result<(), LeaseError>> {
        let call = self.ensure_container();
        Box::pin(async move { call.await.map(|_| ()) })
    }
}
