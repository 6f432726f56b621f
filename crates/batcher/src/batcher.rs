//! [`Batcher`]: the long-lived handle, one per datastore.

use std::sync::Arc;

use events_core::{Emitter, RateLimiter};
use tracing::Instrument;

use crate::core::Core;
use crate::options::BatcherBuilder;
use crate::pause::PauseReason;
use crate::resources::Resources;
use crate::{BatcherError, EnqueueError, Operation, Watcher, WatcherBuilder, loops};

/// Releases operations to their watchers in batches, within the capacity of a rate
/// limiter.
///
/// Cloning gives another handle to the same batcher. Build one with
/// [`Batcher::builder`], create [`Watcher`]s with [`Batcher::watcher`] or
/// [`Watcher::builder`], enqueue operations on the watchers, and [`start`](Batcher::start)
/// it inside a tokio runtime.
///
/// # Stopping
///
/// [`stop`](Batcher::stop) (or cancelling the token given to
/// [`cancellation_token`](BatcherBuilder::cancellation_token)) ends the loops and raises a
/// [`Shutdown`](events_core::EventName::Shutdown) event. Nothing enqueued is dropped silently:
///
/// * batches already handed out run to completion: `stop` returns once every callback
///   task has ended (a callback that has run past its max operation time is dropped
///   then, so that nothing of the batcher runs on after `stop`; called from inside a
///   callback, `stop` does not wait for the callbacks);
/// * operations still buffered stay with their watcher; take them back with
///   [`Watcher::take_unsent`] ([`Stopped::unsent`] says how many there were in all);
/// * enqueueing afterwards, and `enqueue` calls waiting for room, fail with
///   [`EnqueueErrorKind::Stopped`](crate::EnqueueErrorKind::Stopped), handing the
///   operation back.
///
/// Dropping the last `Batcher` handle stops the batcher as `stop` does, without
/// waiting for its loops: they end on their own, streams end, and what was buffered
/// stays with its watchers for [`Watcher::take_unsent`]. (Watchers do not keep the
/// batcher running.)
///
/// # Rate limiting
///
/// The limiter's capacity is a per-second budget, counted where the datastore sees it:
/// a batch counts from the moment its callback starts (or its stream's consumer
/// receives it) for one second, and from its release until then as pending. The
/// batcher releases an operation only if what counts now, plus the operation's cost,
/// stays within the capacity read at that moment, so no sliding one-second window of
/// batch starts ever holds more than the capacity, however late the runtime starts a
/// callback. A lowered capacity applies from
/// the next pass; releases already made still count. Without a limiter, releases are
/// unlimited.
///
/// Within that bound, releases are paced (see [Pacing](crate#pacing)): each flush tick
/// grants a slice of the capacity, unused allowance carries over up to what the window
/// allows, and an operation dearer than what is left overdraws the allowance, to be
/// repaid by later slices. So a steady backlog leaves a slice per flush instead of a
/// whole second's capacity at once, a backlog after an idle second may leave in one
/// burst up to the capacity, and an operation costing more than a slice leaves as soon
/// as the window allows (its watcher goes first until it has).
///
/// A watcher's [`Batches`](crate::Batches) stream that is dropped keeps its undelivered
/// operations with the watcher too (see
/// [Dropping the stream](crate::Batches#dropping-the-stream)).
#[derive(Debug, Clone)]
pub struct Batcher {
    core: Arc<Core>,
    /// Shared by the handles only (not by watchers or loops): stops the batcher when
    /// the last handle goes.
    _owner: Arc<Owner>,
}

/// Stops the batcher when the last [`Batcher`] handle is dropped.
#[derive(Debug)]
struct Owner(Arc<Core>);

impl Drop for Owner {
    fn drop(&mut self) {
        if self.0.shutdown() {
            tracing::debug!("the last batcher handle was dropped; the batcher stopped");
        }
    }
}

/// What [`Batcher::stop`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// Operations still buffered, to be taken back with [`Watcher::take_unsent`].
    pub unsent: usize,
    /// Batches handed out and not yet done.
    pub inflight: usize,
}

impl Batcher {
    /// Options for a new batcher, with go-batcher's defaults.
    pub fn builder() -> BatcherBuilder {
        BatcherBuilder::default()
    }

    pub(crate) fn from_builder(b: BatcherBuilder, resources: Resources) -> Batcher {
        let cancel = b.cancel.map(|t| t.child_token()).unwrap_or_default();
        let core = Arc::new(Core::new(b.options, b.emitter, resources, cancel));
        Batcher {
            _owner: Arc::new(Owner(core.clone())),
            core,
        }
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// A callback watcher with default options (see [`WatcherBuilder::callback`]).
    pub fn watcher<T, F, Fut>(&self, callback: F) -> Watcher<T>
    where
        T: Send + 'static,
        F: Fn(Vec<Operation<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        WatcherBuilder::default().callback(self, callback)
    }

    /// Enqueues `op` on `watcher`; the same as [`Watcher::enqueue`].
    ///
    /// # Errors
    ///
    /// See [`Watcher::enqueue`].
    pub async fn enqueue<T: Send + 'static>(
        &self,
        watcher: &Watcher<T>,
        op: Operation<T>,
    ) -> Result<(), EnqueueError<T>> {
        watcher.enqueue(op).await
    }

    /// Starts the flush, capacity and audit loops on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`BatcherError::AlreadyStarted`], [`BatcherError::Stopped`] or
    /// [`BatcherError::NoRuntime`].
    pub fn start(&self) -> Result<(), BatcherError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| BatcherError::NoRuntime)?;
        let lifecycle = self.core.lifecycle();
        lifecycle.begin()?;
        let span = tracing::debug_span!("batcher");
        let core = &self.core;
        lifecycle.add_task(handle.spawn(loops::dispatch(core.clone()).instrument(span.clone())));
        lifecycle.add_task(handle.spawn(loops::capacity(core.clone()).instrument(span.clone())));
        lifecycle.add_task(handle.spawn(loops::audit(core.clone()).instrument(span)));
        Ok(())
    }

    /// Stops the batcher and waits for its loops and its callback tasks to end (see
    /// [Stopping](#stopping)); stream batches already released stay with their streams.
    ///
    /// Calling it again only reports the state again.
    pub async fn stop(&self) -> Stopped {
        self.core.shutdown();
        self.core.lifecycle().join().await;
        // The loops are over, so no callback task starts after this.
        self.core.delivery().drain().await;
        Stopped {
            unsent: self.core.buffer().unsent(),
            inflight: self.inflight(),
        }
    }

    /// Whether the batcher has been stopped.
    pub fn is_stopped(&self) -> bool {
        self.core.is_stopped()
    }

    /// Stops the loops for a pause decided by the
    /// [`pause_policy`](BatcherBuilder::pause_policy): nothing is released, no capacity
    /// is requested and no audit runs. Raises [`Pause`](events_core::EventName::Pause) (val = the
    /// pause in milliseconds, msg `manual`, metadata [`PauseInfo`](crate::PauseInfo))
    /// and later [`Resume`](events_core::EventName::Resume). With a fixed policy, pausing while
    /// paused extends the pause (as go-batcher's does); with an exponential one, it
    /// belongs to the pause under way. To tell the batcher that the datastore throttled
    /// a batch, use its [`Feedback`](crate::Feedback) instead, which also adapts the
    /// capacity.
    pub fn pause(&self) {
        self.core
            .lifecycle()
            .pause(self.core.emitter(), PauseReason::Manual, None);
        self.core.signals().ring();
    }

    /// Asks for a flush now, releasing partial batches as capacity allows; returns at once.
    pub fn flush(&self) {
        self.core.signals().request_flush();
    }

    /// Operations enqueued and not yet handed out: those waiting in the watchers'
    /// queues, and those released to a stream watcher that its consumer has not yet
    /// received. Both take room in the buffer, so a slow stream consumer holds
    /// producers back.
    pub fn operations_in_buffer(&self) -> usize {
        self.core.buffer().ops()
    }

    /// The capacity the batcher needs in its primary resource: the cost of everything
    /// enqueued and not yet done (see [`needs_capacity_of`](Self::needs_capacity_of) for
    /// the other resources).
    pub fn needs_capacity(&self) -> u64 {
        self.core.needs_capacity()
    }

    /// Batches handed out and not yet done.
    pub fn inflight(&self) -> usize {
        self.core.inflight_batches()
    }

    /// The emitter on which the batcher raises its events.
    ///
    /// When the batcher made it (no [`emitter`](BatcherBuilder::emitter) was given), it
    /// is closed when the batcher stops: a subscription yields the
    /// [`Shutdown`](events_core::EventName::Shutdown) event and then ends, so a
    /// `while let Some(event) = subscription.next().await` loop finishes. An emitter
    /// given to the builder is left open, since other components may share it; close it
    /// with [`Emitter::close`] when they are done.
    pub fn emitter(&self) -> &Emitter {
        self.core.emitter()
    }

    /// The capacity the batcher works with: the rate limiter's, or less while an
    /// [`adaptive_capacity`](BatcherBuilder::adaptive_capacity) keeps it down after
    /// throttling; `None` without a limiter.
    pub fn effective_capacity(&self) -> Option<u64> {
        let limiter = u64::from(self.core.resources().limiter(0)?.capacity());
        let adjusted = self.core.adaptive().as_ref().and_then(|a| a.current());
        Some(adjusted.map_or(limiter, |c| c.min(limiter)))
    }

    /// The primary resource's rate limiter, if any.
    pub fn rate_limiter(&self) -> Option<&Arc<dyn RateLimiter>> {
        self.core.resources().limiter(0)
    }

    /// The names of the batcher's resources, the primary one first.
    pub fn resources(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.core.resources().names()
    }

    /// The rate limiter of the resource named `name` (the primary one included).
    pub fn resource_limiter(&self, name: &str) -> Option<&Arc<dyn RateLimiter>> {
        let r = self.core.resources().names().position(|n| n == name)?;
        self.core.resources().limiter(r)
    }

    /// What the batcher needs in the resource named `name`: the cost in it of everything
    /// enqueued and not yet done (what its limiter is asked for); `None` for a resource
    /// the batcher does not have.
    pub fn needs_capacity_of(&self, name: &str) -> Option<u64> {
        let r = self.core.resources().names().position(|n| n == name)?;
        Some(self.core.needs(r))
    }
}
