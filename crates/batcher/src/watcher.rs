//! [`Watcher`]: where a unit of work enqueues its operations and receives its batches.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::buffer::NoRoom;
use crate::delivery::Sink;
use crate::feedback::Feedback;
use crate::queue::WatcherQueue;
use crate::resources::Costs;
use crate::{Batcher, Batches, EnqueueError, EnqueueErrorKind, Operation};

/// Options of a [`Watcher`]; finish with [`callback`](WatcherBuilder::callback) or
/// [`stream`](WatcherBuilder::stream).
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until callback() or stream() is called"]
pub struct WatcherBuilder {
    max_batch_size: usize,
    max_attempts: u32,
    max_operation_time: Option<Duration>,
    stream_capacity: Option<usize>,
}

impl WatcherBuilder {
    /// The most operations in one batch; 0 (the default) means no limit.
    pub fn max_batch_size(mut self, size: usize) -> Self {
        self.max_batch_size = size;
        self
    }

    /// How many times an operation may be handed out; enqueueing an operation that has
    /// used them fails with [`EnqueueErrorKind::TooManyAttempts`]. 0 (the default) means
    /// no limit.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// How long a callback batch may run before it counts as done, overriding the
    /// batcher's [`max_operation_time`](crate::BatcherBuilder::max_operation_time); zero
    /// keeps the batcher's. A time above [`MAX_DURATION`](crate::MAX_DURATION) is taken
    /// as that (a year, as good as never).
    pub fn max_operation_time(mut self, time: Duration) -> Self {
        self.max_operation_time = Some(time.min(crate::MAX_DURATION)).filter(|t| !t.is_zero());
        self
    }

    /// How many batches released to a [`stream`](Self::stream) watcher may wait to be
    /// received; default [`DEFAULT_STREAM_CAPACITY`](crate::DEFAULT_STREAM_CAPACITY),
    /// taken as at least 1 and at most 2²⁰. While the stream holds that many, the
    /// watcher's operations wait in the buffer (holding their room there) and other
    /// watchers go on; releases resume once the consumer has received half of them.
    /// Callback watchers ignore it.
    pub fn stream_capacity(mut self, batches: usize) -> Self {
        self.stream_capacity = Some(batches);
        self
    }

    fn queue<T: Send + 'static>(&self, batcher: &Batcher, sink: Sink<T>) -> Arc<WatcherQueue<T>> {
        let core = batcher.core().clone();
        let max_time = self
            .max_operation_time
            .unwrap_or(core.options().max_operation_time);
        WatcherQueue::new(
            core,
            if self.max_batch_size == 0 {
                usize::MAX
            } else {
                self.max_batch_size
            },
            (self.max_attempts != 0).then_some(self.max_attempts),
            max_time,
            sink,
        )
    }

    /// A watcher that runs `callback` for every batch.
    ///
    /// The dispatcher starts each batch as it releases it, in release order: it calls
    /// `callback` and polls the future once. A future that completes then costs no
    /// task; one that waits goes on in a task of its own, so batches run concurrently.
    /// What the callback does before its first await delays the batches released after
    /// it: keep it short, and move heavy work behind an await (say, into
    /// [`spawn_blocking`](tokio::task::spawn_blocking)).
    ///
    /// The batch is done when the callback's future completes or the max operation time
    /// passes, whichever is first (the future is not cancelled at that point). A callback
    /// that panics is contained: its batch is marked done, an
    /// [`Error`](events_core::EventName::Error) event is raised and the batcher goes on.
    pub fn callback<T, F, Fut>(self, batcher: &Batcher, callback: F) -> Watcher<T>
    where
        T: Send + 'static,
        F: Fn(Vec<Operation<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // The feedback goes with the future, so that the batch counts as written when
        // the callback is done, not when it is called.
        self.callback_with_feedback(batcher, move |ops, feedback: Feedback<T>| {
            let run = callback(ops);
            async move {
                run.await;
                drop(feedback);
            }
        })
    }

    /// A watcher that runs `callback` for every batch, as [`callback`](Self::callback)
    /// does, handing it the batch's [`Feedback`] too: the callback tells the batcher
    /// that the datastore throttled the batch ([`Feedback::throttled`], which pauses and,
    /// with an [adaptive capacity](crate::BatcherBuilder::adaptive_capacity), cuts the
    /// capacity) and hands operations back for another attempt ([`Feedback::retry`]).
    /// A batch whose feedback is dropped without a throttle counts as written.
    pub fn callback_with_feedback<T, F, Fut>(self, batcher: &Batcher, callback: F) -> Watcher<T>
    where
        T: Send + 'static,
        F: Fn(Vec<Operation<T>>, Feedback<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let sink = Sink::callback(Arc::new(move |ops, feedback| {
            Box::pin(callback(ops, feedback))
        }));
        Watcher {
            queue: self.queue(batcher, sink),
        }
    }

    /// A watcher whose batches arrive on a [`Batches`] stream.
    ///
    /// A batch is done when its [`Batch`](crate::Batch) guard is dropped or [`Batch::done`](crate::Batch::done) is called;
    /// the max operation time does not apply (an audit resets accounting of batches that
    /// are never finished). The stream ends once the batcher has stopped and every batch
    /// released before has been received.
    ///
    /// # Examples
    ///
    /// ```
    /// use batcher::{Batcher, Operation, Watcher};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let batcher = Batcher::builder().build()?;
    /// let (watcher, mut batches) = Watcher::builder().max_batch_size(10).stream(&batcher);
    /// batcher.start()?;
    /// watcher.enqueue(Operation::new(7u32, 1)).await?;
    /// batcher.flush();
    ///
    /// let batch = batches.next().await.unwrap();
    /// assert_eq!(batch[0].payload(), &7);
    /// assert_eq!(batcher.inflight(), 1);
    /// batch.done();
    /// assert_eq!(batcher.inflight(), 0);
    /// batcher.stop().await;
    /// assert!(batches.next().await.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream<T: Send + 'static>(self, batcher: &Batcher) -> (Watcher<T>, Batches<T>) {
        let capacity = self
            .stream_capacity
            .unwrap_or(crate::DEFAULT_STREAM_CAPACITY);
        let (sink, rx) = Sink::stream(capacity);
        let queue = self.queue(batcher, sink);
        let finished = batcher.core().lifecycle().finished();
        (
            Watcher {
                queue: queue.clone(),
            },
            Batches::new(rx, finished, queue),
        )
    }
}

/// A handle through which one unit of work (say, one HTTP request) enqueues operations
/// with payload `T`; clones share the same queue.
///
/// A batch holds operations of this watcher only. Create one with [`Watcher::builder`]
/// or [`Batcher::watcher`].
///
/// # Order
///
/// The watcher's buffer is split by producing thread so that producers on different
/// cores do not contend for one lock. Operations enqueued from the same thread are
/// handed out in the order they were enqueued; operations from different threads (or
/// from a task that the runtime moved between threads) may be handed out in another
/// order. Batches run concurrently, so callers needing a strict order must not rely on
/// batch order anyway.
pub struct Watcher<T> {
    queue: Arc<WatcherQueue<T>>,
}

impl<T> Clone for Watcher<T> {
    fn clone(&self) -> Self {
        Watcher {
            queue: self.queue.clone(),
        }
    }
}

impl<T> fmt::Debug for Watcher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.queue, f)
    }
}

impl Watcher<()> {
    /// Options for a new watcher.
    pub fn builder() -> WatcherBuilder {
        WatcherBuilder::default()
    }
}

impl<T: Send + 'static> Watcher<T> {
    pub(crate) fn from_queue(queue: Arc<WatcherQueue<T>>) -> Self {
        Watcher { queue }
    }

    /// A number identifying the watcher within its batcher (used in events).
    pub fn id(&self) -> u64 {
        self.queue.id()
    }

    /// Enqueues `op` if there is room now, without waiting.
    ///
    /// # Errors
    ///
    /// [`EnqueueError`] holding `op`: too expensive (in some resource), a cost in a
    /// resource the batcher does not have, too many attempts, buffer full, stopped, or
    /// closed (the watcher's [`Batches`] stream was dropped).
    #[inline]
    pub fn try_enqueue(&self, op: Operation<T>) -> Result<(), EnqueueError<T>> {
        let mut cost = Costs::default();
        match self.check(&op, &mut cost) {
            Ok(()) => self.reserve_and_push(op, &cost),
            Err(kind) => Err(EnqueueError::new(kind, op)),
        }
    }

    /// Enqueues `op`, waiting for room in the buffer unless the batcher was built with
    /// [`error_on_full_buffer`](crate::BatcherBuilder::error_on_full_buffer).
    ///
    /// # Errors
    ///
    /// [`EnqueueError`] holding `op`: too expensive (in some resource), a cost in a
    /// resource the batcher does not have, too many attempts, buffer full (only
    /// with `error_on_full_buffer`), stopped (also if the batcher stops while waiting), or
    /// closed (the watcher's [`Batches`] stream was dropped, also while waiting).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops `op` with it; it was not enqueued.
    pub async fn enqueue(&self, op: Operation<T>) -> Result<(), EnqueueError<T>> {
        let core = &self.queue.core();
        let mut cost = Costs::default();
        if let Err(kind) = self.check(&op, &mut cost) {
            return Err(EnqueueError::new(kind, op));
        }
        let op = match self.reserve_and_push(op, &cost) {
            Ok(()) => return Ok(()),
            Err(e) if e.is_buffer_full() && !core.options().error_on_full_buffer => {
                e.into_operation()
            }
            Err(e) => return Err(e),
        };
        // The enqueue that filled the buffer woke the dispatcher already.
        match core.buffer().admit(&cost).await {
            Ok(full) => {
                if self.queue.is_closed() {
                    core.buffer().release(1, &cost);
                    return Err(EnqueueError::new(EnqueueErrorKind::Closed, op));
                }
                self.push_admitted(op, full);
                Ok(())
            }
            Err(NoRoom::Closed) | Err(NoRoom::Full) => {
                Err(EnqueueError::new(EnqueueErrorKind::Stopped, op))
            }
        }
    }

    /// Takes back every operation of this watcher that is still buffered.
    ///
    /// This is how operations come back after [`Batcher::stop`]: the batcher releases
    /// nothing more, and what was not released stays with its watcher until taken.
    /// Called while the batcher runs, it withdraws operations not yet handed out.
    /// It is also how operations come back after a stream watcher's [`Batches`] was
    /// dropped (see [Dropping the stream](Batches#dropping-the-stream)).
    pub fn take_unsent(&self) -> Vec<Operation<T>> {
        self.queue.take_all()
    }

    #[inline]
    /// Whether the operation may be enqueued; its cost in each resource is written to
    /// `cost`.
    fn check(&self, op: &Operation<T>, cost: &mut Costs) -> Result<(), EnqueueErrorKind> {
        if let Some(max_attempts) = self.queue.max_attempts() {
            if op.attempts() >= max_attempts {
                return Err(EnqueueErrorKind::TooManyAttempts {
                    attempts: op.attempts(),
                    max_attempts,
                });
            }
        }
        self.queue.core().resources().check(op, cost)
    }

    #[inline]
    fn reserve_and_push(&self, op: Operation<T>, cost: &Costs) -> Result<(), EnqueueError<T>> {
        let core = &self.queue.core();
        if core.is_stopped() {
            return Err(EnqueueError::new(EnqueueErrorKind::Stopped, op));
        }
        if self.queue.is_closed() {
            return Err(EnqueueError::new(EnqueueErrorKind::Closed, op));
        }
        match core.buffer().try_admit(cost) {
            Ok(full) => {
                self.push_admitted(op, full);
                Ok(())
            }
            Err(NoRoom::Full) => {
                let kind = EnqueueErrorKind::BufferFull {
                    buffer_size: core.buffer().size(),
                };
                Err(EnqueueError::new(kind, op))
            }
            Err(NoRoom::Closed) => Err(EnqueueError::new(EnqueueErrorKind::Stopped, op)),
        }
    }

    #[inline]
    fn push_admitted(&self, op: Operation<T>, full: bool) {
        self.queue.push(op, full);
    }
}
