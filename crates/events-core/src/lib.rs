//! Events, the emitter every flowgate component embeds, and the traits between components.
//!
//! `events-core` is the small, stable centre of flowgate. The implementation crates
//! (`batcher`, `limiter-provisioned`, `limiter-azure`, `bbs-events`) depend on it and on
//! nothing else of flowgate's. It provides:
//!
//! * [`Event`] and [`EventName`]: what a component reports (a name, an integer value, an
//!   optional message, optional metadata, and when).
//! * [`Emitter`]: callback listeners ([`Emitter::add_listener`]) and bounded stream
//!   subscriptions ([`Emitter::subscribe`]); every event is also a `tracing` event.
//! * [`RateLimiter`]: the object-safe contract between a batcher and a capacity source,
//!   with the [`Lifecycle`] order Provision → Start → Stop.
//! * [`EventSource`]: a stream of typed events from outside the process, with a
//!   [`futures_core::Stream`] view ([`SourceStream`]).
//!
//! The crate has no feature flags.
//!
//! # Examples
//!
//! Listen with a callback and with a stream:
//!
//! ```
//! use events_core::{Emitter, EventName};
//! // `next()` is inherent: no `futures::StreamExt` import needed.
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let emitter = Emitter::new("my-component");
//! emitter.add_listener(|event| println!("{event}"));
//! let mut events = emitter.subscribe();
//!
//! emitter.emit(EventName::Capacity, 1000);
//! emitter.emit_msg(EventName::Error, 0, "storage timed out");
//!
//! let first = events.next().await.unwrap().unwrap();
//! assert_eq!((first.name(), first.val()), (EventName::Capacity, 1000));
//! let second = events.next().await.unwrap().unwrap();
//! assert_eq!(second.msg(), Some("storage timed out"));
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod emitter;
mod error;
mod event;
mod lifecycle;
mod limiter;
mod name;
mod source;
mod subscription;

#[doc(inline)]
pub use crate::emitter::{DEFAULT_SUBSCRIPTION_CAPACITY, Emitter, ListenerId};
#[doc(inline)]
pub use crate::error::{Lagged, LifecycleError, LimiterError, UnknownEventName};
#[doc(inline)]
pub use crate::event::{Event, Metadata};
#[doc(inline)]
pub use crate::lifecycle::{Lifecycle, LifecycleState};
#[doc(inline)]
pub use crate::limiter::RateLimiter;
#[doc(inline)]
pub use crate::name::EventName;
#[doc(inline)]
pub use crate::source::{CloseHandle, EventSource, SourceError, SourceStream};
#[doc(inline)]
pub use crate::subscription::Subscription;

/// Re-exported so that implementers of the traits name the same types.
pub use futures_core::future::BoxFuture;
