//! [`Feedback`]: how the code that writes a batch tells the batcher what the datastore
//! said: the batch was throttled (with the datastore's retry-after, if it gave one),
//! and which operations should go again.
//!
//! Every batch has one: a callback made with
//! [`WatcherBuilder::callback_with_feedback`](crate::WatcherBuilder::callback_with_feedback)
//! receives it with the batch, a stream's [`Batch`](crate::Batch) carries it
//! ([`Batch::throttled`](crate::Batch::throttled), [`Batch::retry`](crate::Batch::retry),
//! [`Batch::into_parts`](crate::Batch::into_parts)). When it is dropped without having
//! been told of a throttle, the batch counts as written, which lets an adaptive capacity
//! climb back.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use events_core::EventName;
use tokio::time::Instant;

use crate::core::Core;
use crate::pause::PauseReason;
use crate::queue::WatcherQueue;
use crate::{EnqueueError, EnqueueErrorKind, Operation, Watcher};

/// What the datastore said about one batch; dropping it without calling
/// [`throttled`](Self::throttled) reports the batch written.
///
/// # Examples
///
/// A callback reacting to a Cosmos-style 429 with `x-ms-retry-after-ms`:
///
/// ```
/// use std::time::Duration;
/// use batcher::{Batcher, Feedback, Operation, Watcher};
///
/// # async fn write(_: &[Operation<String>]) -> Result<(), Option<Duration>> { Ok(()) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let batcher = Batcher::builder().build()?;
/// let watcher = Watcher::builder().max_attempts(5).callback_with_feedback(
///     &batcher,
///     |batch: Vec<Operation<String>>, mut feedback: Feedback<String>| async move {
///         if let Err(retry_after) = write(&batch).await {
///             // 429: pause (at least retry-after), cut the capacity, and go again.
///             feedback.throttled(retry_after);
///             for refused in feedback.retry(batch) {
///                 eprintln!("giving up on an operation: {refused}");
///             }
///         }
///     },
/// );
/// # let _ = watcher;
/// # Ok(())
/// # }
/// ```
pub struct Feedback<T> {
    core: Arc<Core>,
    queue: Weak<WatcherQueue<T>>,
    throttled: bool,
    /// Whether dropping it says nothing (the batch never reached its consumer).
    silent: bool,
}

impl<T> fmt::Debug for Feedback<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feedback")
            .field("throttled", &self.throttled)
            .finish_non_exhaustive()
    }
}

impl<T> Feedback<T> {
    pub(crate) fn new(core: Arc<Core>, queue: Weak<WatcherQueue<T>>) -> Self {
        Feedback {
            core,
            queue,
            throttled: false,
            silent: false,
        }
    }

    /// Makes dropping it say nothing: the batch was never delivered.
    pub(crate) fn silence(&mut self) {
        self.silent = true;
    }

    /// Reports the batch (or some of its operations) throttled by the datastore, with
    /// its retry-after if it gave one (Cosmos DB: status 429 and `x-ms-retry-after-ms`).
    ///
    /// Raises [`Throttled`](EventName::Throttled), pauses the batcher by its
    /// [pause policy](crate::BatcherBuilder::pause_policy) (at least `retry_after`), and
    /// with an [adaptive capacity](crate::BatcherBuilder::adaptive_capacity) cuts the
    /// effective capacity. Calling it again for the same batch does nothing more. Hand
    /// the throttled operations back with [`retry`](Self::retry).
    pub fn throttled(&mut self, retry_after: Option<Duration>) {
        if std::mem::replace(&mut self.throttled, true) {
            return;
        }
        let core = &self.core;
        let ms = retry_after.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        tracing::debug!(?retry_after, "a batch was throttled");
        core.emitter().emit(EventName::Throttled, ms);
        core.capacity_throttled(Instant::now());
        core.lifecycle()
            .pause(core.emitter(), PauseReason::Throttled, retry_after);
    }

    /// Whether [`throttled`](Self::throttled) was called.
    pub fn is_throttled(&self) -> bool {
        self.throttled
    }
}

impl<T: Send + 'static> Feedback<T> {
    /// Hands operations of the batch back for another attempt, without waiting;
    /// returns the ones refused, each in its [`EnqueueError`], so that nothing is lost.
    ///
    /// They are enqueued on the batch's watcher as [`Watcher::try_enqueue`] does, so
    /// refusals are those of an enqueue: [`TooManyAttempts`](EnqueueErrorKind::TooManyAttempts)
    /// once an operation has been handed out as often as its watcher allows (each batch
    /// counts one attempt), `BufferFull`, `Stopped`, `Closed` (also when every handle of
    /// the watcher is gone). Use [`retry_waiting`](Self::retry_waiting) to wait for room.
    pub fn retry(&self, ops: impl IntoIterator<Item = Operation<T>>) -> Vec<EnqueueError<T>> {
        match self.watcher() {
            Some(w) => ops
                .into_iter()
                .filter_map(|op| w.try_enqueue(op).err())
                .collect(),
            None => closed(ops),
        }
    }

    /// [`retry`](Self::retry), waiting for room in the buffer as
    /// [`Watcher::enqueue`] does.
    ///
    /// Meant for callbacks, which run on in tasks of their own once they wait. Do not
    /// await it on the task that reads a watcher's [`Batches`](crate::Batches): with the
    /// buffer full of batches only that task can receive, the wait would never end.
    pub async fn retry_waiting(
        &self,
        ops: impl IntoIterator<Item = Operation<T>>,
    ) -> Vec<EnqueueError<T>> {
        let Some(w) = self.watcher() else {
            return closed(ops);
        };
        let mut refused = Vec::new();
        for op in ops {
            if let Err(e) = w.enqueue(op).await {
                refused.push(e);
            }
        }
        refused
    }

    fn watcher(&self) -> Option<Watcher<T>> {
        self.queue.upgrade().map(Watcher::from_queue)
    }
}

fn closed<T>(ops: impl IntoIterator<Item = Operation<T>>) -> Vec<EnqueueError<T>> {
    ops.into_iter()
        .map(|op| EnqueueError::new(EnqueueErrorKind::Closed, op))
        .collect()
}

impl<T> Drop for Feedback<T> {
    fn drop(&mut self) {
        // A batch whose callback panicked says nothing about the datastore.
        if !self.throttled && !self.silent && !std::thread::panicking() {
            self.core.capacity_succeeded();
        }
    }
}
