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
//! | `bbs` | `bbs-events` | `bbs` |
//!
//! # Examples
//!
//! ```
//! use flowgate::prelude::*;
//!
//! let emitter = Emitter::new("example");
//! emitter.add_listener(|event| println!("{event}"));
//! emitter.emit(EventName::Capacity, 1000);
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
}

/// The names most programs need, for a glob import.
pub mod prelude {
    #[doc(no_inline)]
    pub use events_core::{
        Emitter, Event, EventName, EventSource, LimiterError, RateLimiter, SourceError,
    };
}
