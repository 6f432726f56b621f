//! A fixed, provisioned capacity for the flowgate batcher.
//!
//! The crate provides [`ProvisionedResource`], an [`events_core::RateLimiter`] whose
//! capacity is a fixed per-second budget that is always granted in full, such as the
//! request units provisioned on a datastore. Nothing needs provisioning; `start` raises a
//! [`Capacity`](events_core::EventName::Capacity) event with the capacity, `stop` raises
//! [`Shutdown`](events_core::EventName::Shutdown), and
//! [`set_capacity`](ProvisionedResource::set_capacity) changes the budget at runtime.
//!
//! The crate has no feature flags.
//!
//! # Examples
//!
//! ```
//! use events_core::{EventName, RateLimiter};
//! use limiter_provisioned::ProvisionedResource;
//! // `next()` is inherent: no `futures::StreamExt` import needed.
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), events_core::LimiterError> {
//! let limiter = ProvisionedResource::new(10_000);
//! let mut events = limiter.emitter().subscribe();
//!
//! limiter.provision().await?;
//! limiter.start().await?;
//! assert_eq!(limiter.capacity(), 10_000);
//!
//! let started = events.next().await.unwrap().unwrap();
//! assert_eq!((started.name(), started.val()), (EventName::Capacity, 10_000));
//! limiter.stop().await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod resource;

#[doc(inline)]
pub use crate::resource::ProvisionedResource;

#[doc(no_inline)]
pub use events_core;
