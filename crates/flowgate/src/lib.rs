//! Batching under a rate limit, shared capacity through Azure Blob leases, and the Cloud
//! Foundry BBS event stream, in one dependency.
//!
//! `flowgate` re-exports the workspace's crates as modules. Each module is behind a cargo
//! feature, all on by default; turn off what you do not use to skip its dependencies
//! (`default-features = false, features = ["batcher", "provisioned"]` builds without the
//! Azure SDK or the HTTP stack).
//!
//! | module | crate | feature |
//! |---|---|---|
//! | [`events`] | `events-core` | always |
//! | `batcher` | `batcher` | `batcher` |
//! | `limiter::provisioned` | `limiter-provisioned` | `provisioned` |
//! | `limiter::azure` | `limiter-azure` | `azure` |
//! | `limiter::ramp` | `limiter-ramp` | `ramp` |
//! | `bbs` | `bbs-events` | `bbs` |
//! | `metrics` | the bridge to the `metrics` facade (`docs/metrics.md`) | `metrics`, off by default |
//!
//! # Examples
//!
//! Batch operations under a provisioned capacity of 100 cost units per second, and watch
//! the batches go by:
//!
//! ```
//! # #[cfg(all(feature = "batcher", feature = "provisioned"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use flowgate::prelude::*;
//!
//! let limiter = Arc::new(ProvisionedResource::new(100));
//! limiter.start().await?;
//! let batcher = Batcher::builder()
//!     .rate_limiter(limiter.clone())
//!     .emit_batch(true)
//!     .build()?;
//! batcher.emitter().add_listener(|event| println!("{event}"));
//! batcher.start()?;
//!
//! let (written_tx, mut written) = tokio::sync::mpsc::unbounded_channel();
//! let watcher = Watcher::builder()
//!     .max_batch_size(10)
//!     .callback(&batcher, move |batch: Vec<Operation<u32>>| {
//!         let written_tx = written_tx.clone();
//!         async move {
//!             let _ = written_tx.send(batch.len());
//!         }
//!     });
//! for id in 0..25 {
//!     watcher.enqueue(Operation::new(id, 1)).await?;
//! }
//! batcher.flush();
//! let mut total = 0;
//! while total < 25 {
//!     total += written.recv().await.unwrap();
//! }
//! assert_eq!(batcher.stop().await.unsent, 0);
//! limiter.stop().await?;
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "batcher", feature = "provisioned")))]
//! # fn main() {}
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use events_core as events;

/// The cost-aware batcher.
#[cfg(feature = "batcher")]
#[cfg_attr(docsrs, doc(cfg(feature = "batcher")))]
#[doc(inline)]
pub use batcher;

/// The BBS event-stream client and server.
#[cfg(feature = "bbs")]
#[cfg_attr(docsrs, doc(cfg(feature = "bbs")))]
#[doc(inline)]
pub use bbs_events as bbs;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;

/// Rate limiters: sources of capacity for the batcher.
pub mod limiter {
    /// A fixed, provisioned capacity.
    #[cfg(feature = "provisioned")]
    #[cfg_attr(docsrs, doc(cfg(feature = "provisioned")))]
    #[doc(inline)]
    pub use limiter_provisioned as provisioned;

    /// Capacity shared across processes through Azure Blob leases.
    #[cfg(feature = "azure")]
    #[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
    #[doc(inline)]
    pub use limiter_azure as azure;

    /// A decorator that caps how fast any limiter's capacity may grow.
    #[cfg(feature = "ramp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ramp")))]
    #[doc(inline)]
    pub use limiter_ramp as ramp;
}

// The README's examples are compiled as doc tests, so they cannot drift from the API.
#[cfg(all(
    doctest,
    feature = "batcher",
    feature = "provisioned",
    feature = "azure",
    feature = "ramp",
    feature = "bbs"
))]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

/// The names most programs need, for a glob import.
pub mod prelude {
    #[doc(no_inline)]
    pub use events_core::{
        Emitter, Event, EventName, EventSource, LimiterError, RateLimiter, SourceError,
    };

    #[cfg(feature = "batcher")]
    #[doc(no_inline)]
    pub use batcher::{
        Batch, BatchMetadata, Batcher, Batches, EnqueueError, EnqueueErrorKind, Feedback,
        Operation, Stopped, Watcher, WatcherKind,
    };

    #[cfg(feature = "provisioned")]
    #[doc(no_inline)]
    pub use limiter_provisioned::ProvisionedResource;

    #[cfg(feature = "azure")]
    #[doc(no_inline)]
    pub use limiter_azure::{AzureSharedResource, Credentials};

    #[cfg(feature = "ramp")]
    #[doc(no_inline)]
    pub use limiter_ramp::{RampLimiter, RampRule};

    #[cfg(feature = "bbs")]
    #[doc(no_inline)]
    pub use bbs_events::{
        Event as BbsEvent, EventType as BbsEventType, client::Client as BbsClient,
        client::StreamItem as BbsStreamItem,
    };
}
