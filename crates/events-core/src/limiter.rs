//! The [`RateLimiter`] trait: the contract between a batcher and a source of capacity.

use futures_core::future::BoxFuture;

use crate::{Emitter, LimiterError};

/// A source of capacity for a batcher, such as a fixed provisioned budget or a share of a
/// capacity leased from shared storage.
///
/// Capacity is a per-second budget in the datastore's cost units (for example Cosmos
/// request units). The batcher reads [`capacity`](RateLimiter::capacity) at every flush and
/// tells the limiter how much it would like with [`give_me`](RateLimiter::give_me) at every
/// capacity interval.
///
/// The trait is object safe: a batcher holds an `Arc<dyn RateLimiter>`.
///
/// # Lifecycle
///
/// `provision` → `start` → `stop`, enforced with
/// [`LifecycleError`](crate::LifecycleError) (see [`Lifecycle`](crate::Lifecycle)).
/// Limiters with nothing to provision start out provisioned. Stopping twice is harmless.
///
/// # Implementation notes
///
/// `capacity`, `max_capacity` and `give_me` are called from the batcher's loops and must
/// not block: keep them to atomic loads and stores, and do slow work in a task started by
/// `start`. Raise a [`Capacity`](crate::EventName::Capacity) event whenever the capacity
/// changes and [`Shutdown`](crate::EventName::Shutdown) on stop.
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Prepares backing resources (containers, partition blobs). Safe to call again.
    ///
    /// # Errors
    ///
    /// A lifecycle error after `start` or `stop`, or a backend error.
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>>;

    /// Starts whatever keeps the capacity current (lease loops, timers).
    ///
    /// # Errors
    ///
    /// A lifecycle error unless provisioned and not yet started.
    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>>;

    /// Stops, releasing what it holds so that others may use it. Safe to call again.
    ///
    /// # Errors
    ///
    /// A backend error if releasing failed; the limiter is stopped regardless.
    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>>;

    /// The most capacity this limiter could ever grant; an operation costing more can
    /// never be released.
    fn max_capacity(&self) -> u32;

    /// The capacity granted now.
    fn capacity(&self) -> u32;

    /// Tells the limiter how much capacity is wanted; it works towards it in the
    /// background.
    fn give_me(&self, target: u32);

    /// The emitter on which the limiter raises its events.
    fn emitter(&self) -> &Emitter;
}
