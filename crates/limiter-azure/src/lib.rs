//! Capacity shared across processes through Azure Blob leases.
//!
//! Many instances of a service share one datastore capacity (say 20,000 Cosmos RU/s).
//! [`AzureSharedResource`] cuts the shared capacity into partitions of `factor` capacity
//! each (at most [`MAX_PARTITIONS`]), keeps one zero-byte blob per partition in a
//! container, and lets an instance use a partition's capacity while it holds the exclusive
//! lease on its blob. A reserved capacity is always available on top:
//! `max_capacity = shared + reserved`, `capacity = held partitions' capacity + reserved`.
//! It implements [`events_core::RateLimiter`], so a batcher drives it with `give_me`.
//!
//! What it adds to the classic design:
//!
//! * **Safety first**: a lease is counted only until the time its acquire (or renew)
//!   request was *sent* plus the lease duration minus a safety margin minus the rate
//!   window, so the capacity in use across all instances never exceeds
//!   `shared + reserved`.
//! * **Exact over the rate window**: capacity is a budget per second, so at any instant
//!   is not enough. Between the moment one instance stops counting a partition and the
//!   moment another can start counting it, at least the rate window passes (builder
//!   [`rate_window`](AzureSharedResourceBuilder::rate_window), default 1.1 s; it must be
//!   at least the consumer's accounting window). Consumers that each spend at most their
//!   `capacity()` in any sliding window therefore spend at most `shared + Σ reserved`
//!   together in any such window, also while partitions move between instances.
//! * **Renew, drain, release**: leases still needed are renewed; a lease no longer needed
//!   stops being counted at once, is kept ("draining") for the rate window, then
//!   released so other instances get it; demand that returns meanwhile counts it again.
//!   `stop` drops the capacity to the reserve at once and returns once the leases are
//!   released, one rate window later.
//! * **Fast ramp-up**: a large deficit is acquired with several concurrent requests.
//! * **Fair sharing**: instances announce their demand next to the partitions and cap
//!   themselves at their max-min fair share while others want partitions too.
//! * **Safe through storage faults**: after any sign that the storage lost its data, no
//!   partition is acquired for a lease duration plus the safety margin (other instances
//!   may still count leases it forgot), the blobs are recreated after that and demand is
//!   shared fairly again first; while the storage is silent (a call timed out) only one
//!   probe is in flight, so a hung server queues no pile of stale requests; a call that
//!   went unanswered keeps its lease id, which the next acquire proposes again (a renewal
//!   if the storage had granted it), so capacity comes back within about a second after a
//!   hang; and `capacity()` leaves out a lease past its counted time even before the lease
//!   loop runs.
//! * **No secret in any log**: the storage SDK logs requests with their headers and URLs;
//!   the limiter's own pipeline policy and transport keep the `Authorization` header and
//!   SAS parameters out of what it logs, at every level.
//! * **Runtime changes** of shared and reserved capacity
//!   ([`AzureSharedResource::set_shared_capacity`], [`AzureSharedResource::set_reserved_capacity`]).
//! * **Pluggable storage**: the [`LeaseManager`] trait; [`AzureBlobLeases`] is the Azure
//!   Blob implementation (works with Azurite).
//!
//! Events: `created-container`/`verified-container` (msg = container URL),
//! `created-blob`/`verified-blob` (val = index), `target` (val = partitions wanted),
//! `allocated` (val = index; the partition is counted from now on), `released` (val =
//! index; the lease is given back, or was lost), `failed` (val = index), `capacity`
//! (val = capacity; it drops at once when a partition starts draining), `error`
//! (msg = cause), `storage-call` (one per call to the lease store: val = its duration in
//! microseconds, msg = the [`StorageOperation`], metadata a [`StorageCall`] with the
//! [`StorageOutcome`]) and `shutdown`.
//!
//! The crate has no feature flags.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use limiter_azure::{AzureSharedResource, Credentials};
//! use limiter_azure::events_core::RateLimiter;
//!
//! # fn main() -> Result<(), limiter_azure::ConfigError> {
//! let limiter = AzureSharedResource::builder()
//!     .container("cosmos-capacity")
//!     .credentials(Credentials::Emulator)
//!     .endpoint("http://127.0.0.1:10000/devstoreaccount1")
//!     .shared_capacity(10_200)
//!     .factor(1_000)
//!     .reserved_capacity(500)
//!     .lease_duration(Duration::from_secs(15))
//!     .rate_window(Duration::from_millis(1_100))
//!     .build()?;
//! assert_eq!(limiter.partitions(), 11);
//! assert_eq!(limiter.max_capacity(), 10_700);
//! assert_eq!(limiter.capacity(), 500);
//!
//! // A batcher asks for 9,250: 8,750 above the reserve, so 9 partitions.
//! limiter.give_me(9_250);
//! assert_eq!(limiter.wanted_partitions(), 9);
//! // Then: limiter.provision().await?; limiter.start().await?; ... limiter.stop().await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod azure;
mod builder;
mod engine;
mod error;
mod fair;
mod lease;
mod quiet;
mod resource;
mod shared;
mod timed;

#[doc(inline)]
pub use crate::azure::{AzureBlobLeases, AzureStorage, Credentials, EMULATOR_ACCOUNT};
#[doc(inline)]
pub use crate::builder::AzureSharedResourceBuilder;
#[doc(inline)]
pub use crate::error::{ConfigError, LeaseError, MAX_PARTITIONS};
#[doc(inline)]
pub use crate::lease::{LeaseId, LeaseManager, Member, Provisioned};
#[doc(inline)]
pub use crate::resource::AzureSharedResource;
#[doc(inline)]
pub use crate::timed::{StorageCall, StorageOperation, StorageOutcome};

#[doc(no_inline)]
pub use events_core;
