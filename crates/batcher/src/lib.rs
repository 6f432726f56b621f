//! Cost-aware batching of operations under a rate limit.
//!
//! A [`Batcher`] (one per datastore) buffers [`Operation`]s, each with a cost in the
//! rate limiter's units, and releases them in batches to the [`Watcher`] they were
//! enqueued on, pacing them evenly over the flush ticks and never spending more than
//! the limiter's per-second capacity in any sliding one-second window. It is the go-batcher v1 model in Rust idiom:
//!
//! * [`Operation`]: a payload, a cost, batchable or not, and an attempt counter.
//! * [`Watcher`]: per unit of work; receives its batches through an async callback
//!   ([`WatcherBuilder::callback`], each batch started in release order and run on in
//!   a task of its own once it waits, awaited by [`Batcher::stop`]) or a stream
//!   ([`WatcherBuilder::stream`], a [`Batches`] stream of [`Batch`] guards, holding at
//!   most [`stream_capacity`](WatcherBuilder::stream_capacity) unreceived). Payload
//!   types are chosen per watcher; one batcher serves watchers of different types.
//! * [`BatcherBuilder`]: go-batcher's options and defaults, plus [`linger`](BatcherBuilder::linger)
//!   and more named [`resource`](BatcherBuilder::resource)s, each with its own limiter.
//! * [`EnqueueError`]: refusals that hand the operation back (too expensive, too many
//!   attempts, buffer full, stopped, stream dropped); [`BatcherError`] for
//!   configuration and lifecycle mistakes.
//! * [`Feedback`]: what the datastore said about a batch, from a callback
//!   ([`WatcherBuilder::callback_with_feedback`]) or a stream [`Batch`]: throttled (with
//!   its retry-after), and which operations go again.
//! * [`PausePolicy`]: fixed pauses (go-batcher's) or [`ExponentialPause`]s; and
//!   [`AdaptiveCapacity`], an AIMD effective capacity under the limiter's (see
//!   [Adapting to the datastore](#adapting-to-the-datastore)).
//! * Events on an [`events_core::Emitter`]: `request`, `flush-start`, `flush-done`,
//!   `batch` (with [`BatchMetadata`]), `audit-pass`, `audit-fail`, `audit-skip`, `pause`
//!   (with [`PauseInfo`]), `resume`, `throttled`, `capacity-cut` and `capacity-raise`
//!   (with [`CapacityChange`]), `shutdown` and `error`.
//!
//! Full batches leave as soon as the allowance permits, without waiting for a flush
//! tick; partial batches leave on the flush tick, after lingering, or on
//! [`Batcher::flush`].
//!
//! # Pacing
//!
//! With a rate limiter, the per-second capacity is spread over the flush ticks rather
//! than spent in one burst per second. Each flush tick grants a *slice* (capacity ×
//! flush interval / 1 s, so a tenth of the capacity at the default 100 ms); allowance
//! left unused is carried, up to what the sliding window allows, so after an idle
//! second a burst of up to the whole capacity goes at once. An operation is released
//! while the allowance is not used up before it; one that costs more than what is left
//! overdraws it, and later slices repay the overdraft, so an operation dearer than a
//! slice still leaves as soon as the window allows. The exact sliding one-second window
//! stays the hard bound: no one-second window ever holds more than the capacity. Under
//! a steady backlog a flush releases at most a slice plus one operation's cost. A
//! watcher whose operation waits for the window keeps its turn; one whose backlog used
//! up the slice yields the next turn to the other watchers. Without a rate limiter
//! nothing is paced.
//!
//! # Adapting to the datastore
//!
//! A batch reported throttled ([`Feedback::throttled`]) pauses the batcher by its pause
//! policy, at least for the datastore's retry-after; with an [`AdaptiveCapacity`] it also
//! cuts the capacity the dispatcher works with by a factor, and while batches succeed
//! that capacity climbs back by a share of the limiter's per interval, never above it.
//! Operations handed back with [`Feedback::retry`] go again with their attempts
//! counted; past the watcher's max attempts they come back in
//! [`EnqueueErrorKind::TooManyAttempts`] errors.
//!
//! # Several resources
//!
//! A batcher may have several named resources (request units and payload bytes, say),
//! each with its own rate limiter, exact window and pacing: the primary one is the
//! [`rate_limiter`](BatcherBuilder::rate_limiter), costed by [`Operation::new`]; more are
//! added with [`resource`](BatcherBuilder::resource) and costed with
//! [`Operation::with_cost`] (absent = 0). An operation is released only when every
//! resource admits its cost there, so the scarcer resource sets the pace; each limiter
//! is asked for the cost enqueued in its own resource, and
//! [`TooExpensive`](EnqueueErrorKind::TooExpensive) names the resource.
//!
//! # Nothing is lost
//!
//! An enqueued operation is delivered or handed back: refused enqueues return it in the
//! [`EnqueueError`]; after [`Batcher::stop`], and after a stream watcher's [`Batches`]
//! is dropped, what was not delivered stays with its watcher until
//! [`Watcher::take_unsent`] takes it.
//!
//! The crate has no feature flags.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use batcher::{Batcher, Operation, Watcher};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let batcher = Batcher::builder().build()?;
//! batcher.start()?;
//!
//! let written = Arc::new(AtomicUsize::new(0));
//! let counter = written.clone();
//! let watcher = Watcher::builder()
//!     .max_batch_size(2)
//!     .callback(&batcher, move |batch: Vec<Operation<String>>| {
//!         let counter = counter.clone();
//!         async move {
//!             counter.fetch_add(batch.len(), Ordering::SeqCst);
//!         }
//!     });
//!
//! for id in 0..4 {
//!     watcher.enqueue(Operation::new(format!("doc {id}"), 1)).await?;
//! }
//! while written.load(Ordering::SeqCst) < 4 {
//!     tokio::task::yield_now().await;
//! }
//! let stopped = batcher.stop().await;
//! assert_eq!(stopped.unsent, 0);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod adaptive;
mod batcher;
mod batches;
mod buffer;
mod chunked;
mod core;
mod delivery;
mod error;
mod feedback;
mod inflight;
mod lifecycle;
mod loops;
mod operation;
mod options;
mod pacing;
mod pause;
mod queue;
mod resources;
mod scheduler;
mod shard;
mod signals;
mod watcher;
mod window;

#[doc(inline)]
pub use crate::adaptive::{AdaptiveCapacity, CapacityChange};
#[doc(inline)]
pub use crate::batcher::{Batcher, Stopped};
#[doc(inline)]
pub use crate::batches::{Batch, Batches};
#[doc(inline)]
pub use crate::delivery::DEFAULT_STREAM_CAPACITY;
#[doc(inline)]
pub use crate::error::{BatcherError, EnqueueError, EnqueueErrorKind};
#[doc(inline)]
pub use crate::feedback::Feedback;
#[doc(inline)]
pub use crate::operation::{BatchMetadata, Operation, OperationInfo, ResourceCosts, WatcherKind};
#[doc(inline)]
pub use crate::options::{BatcherBuilder, MAX_BUFFER_SIZE, MAX_DURATION};
#[doc(inline)]
pub use crate::pause::{ExponentialPause, PauseInfo, PausePolicy, PauseReason};
#[doc(inline)]
pub use crate::resources::{MAX_RESOURCES, PRIMARY_RESOURCE};
#[doc(inline)]
pub use crate::watcher::{Watcher, WatcherBuilder};

#[doc(no_inline)]
pub use events_core;
