//! A rate limiter decorator that caps how fast capacity may grow, for datastores that
//! autoscale.
//!
//! A datastore that scales by itself does not have its full capacity at once: a DynamoDB
//! on-demand table serves up to double its previous peak at once and more only after
//! about 30 minutes; other stores scale out one step at a time. [`RampLimiter`] wraps any
//! [`events_core::RateLimiter`] (provisioned, Azure shared, another ramp) and reports
//! `min(inner capacity, ceiling)`, where the ceiling grows only as fast as its
//! [`RampRule`]s allow:
//!
//! * [`RampRule::step`]: at most `+amount` within any `per`.
//! * [`RampRule::times_peak`] / [`RampRule::percent_of_peak`]: at most a multiple of the
//!   peak [used](PeakOf::Used) (or [reported](PeakOf::Reported)) that is at least
//!   `settle` old, optionally forgotten after a while
//!   ([`forget_after`](RampRule::forget_after)).
//!
//! Several rules combine, the tightest wins; a [floor](RampBuilder::floor) is always
//! allowed. Falls are never slowed: when the inner limiter's capacity drops, `capacity()`
//! drops with it on the next call. `capacity()` is two atomic loads; the ceiling is moved
//! by a task that `start` spawns, on every [tick](RampBuilder::tick) and on every
//! `capacity` event of the inner limiter, with tokio's clock (so paused-clock tests are
//! deterministic).
//!
//! Events on the ramp's own emitter: `capacity` (val = the capacity reported, on start and
//! on every change), `held-back` (val = how much the ramp holds back: what the inner
//! limiter offers, or could grant the last `give_me` target, above the ceiling; on every
//! change, 0 once it holds none back; msg = the tightest rule) and
//! `shutdown`; the inner limiter's other events are raised again there
//! ([`forward_events`](RampBuilder::forward_events)).
//!
//! The crate has no feature flags.
//!
//! # Examples
//!
//! A DynamoDB-like ramp over a limiter that offers 40,000 at once:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use events_core::RateLimiter;
//! use limiter_ramp::{RampLimiter, RampRule};
//! # use events_core::{BoxFuture, Emitter, LimiterError};
//! # #[derive(Debug)]
//! # struct Fixed(u32, Emitter);
//! # impl RateLimiter for Fixed {
//! #     fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> { Box::pin(async { Ok(()) }) }
//! #     fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> { Box::pin(async { Ok(()) }) }
//! #     fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> { Box::pin(async { Ok(()) }) }
//! #     fn max_capacity(&self) -> u32 { self.0 }
//! #     fn capacity(&self) -> u32 { self.0 }
//! #     fn give_me(&self, _: u32) {}
//! #     fn emitter(&self) -> &Emitter { &self.1 }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let inner = Arc::new(Fixed(40_000, Emitter::new("fixed")));
//! let limiter = RampLimiter::builder()
//!     .floor(4_000)
//!     .rule(RampRule::times_peak(2, Duration::from_secs(30 * 60)))
//!     .build(inner)?;
//!
//! limiter.start().await?;
//! assert_eq!(limiter.capacity(), 4_000);
//! assert_eq!(limiter.held_back(), 36_000);
//!
//! // Fully used for half an hour, that peak counts: double it.
//! limiter.give_me(1_000_000);
//! tokio::time::sleep(Duration::from_secs(30 * 60 + 60)).await;
//! assert_eq!(limiter.capacity(), 8_000);
//! limiter.stop().await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod builder;
mod error;
mod history;
mod limiter;
mod ramp;
mod rule;

#[doc(inline)]
pub use crate::builder::RampBuilder;
#[doc(inline)]
pub use crate::error::{MAX_RULES, RampConfigError};
#[doc(inline)]
pub use crate::limiter::RampLimiter;
#[doc(inline)]
pub use crate::rule::{PeakOf, RampRule};

#[doc(no_inline)]
pub use events_core;
