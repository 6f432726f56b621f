//! [`Batches`]: the stream of a stream watcher's batches, and [`Batch`], one batch
//! received from it.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::feedback::Feedback;
use crate::inflight::Ticket;
use crate::queue::WatcherQueue;
use crate::{EnqueueError, Operation};

/// The stream of batches of a watcher made with [`WatcherBuilder::stream`](crate::WatcherBuilder::stream).
///
/// It ends once the batcher has stopped and every batch it released has been received.
///
/// # Backpressure
///
/// A batch released to the stream keeps its operations' room in the buffer until it is
/// received, and counts against the rate window from then (see
/// [Rate limiting](crate::Batcher#rate-limiting)). So a consumer that falls behind holds
/// producers back instead of letting batches pile up in memory. At most
/// [`stream_capacity`](crate::WatcherBuilder::stream_capacity) batches (default
/// [`DEFAULT_STREAM_CAPACITY`](crate::DEFAULT_STREAM_CAPACITY)) wait in the stream; the
/// watcher's later operations wait in the buffer, in order, until the consumer has
/// received half of them, and other watchers go on meanwhile. With a rate limiter,
/// batches released and not yet received count against the window as pending, so a
/// consumer that stops reading also holds back releases to other watchers once its
/// unreceived batches fill the window; receive promptly, or drop the stream. For the
/// same reason, do not wait in [`Watcher::enqueue`](crate::Watcher::enqueue) on the task that reads this stream:
/// with the buffer full of batches only that task can receive, the wait would never
/// end (use [`Watcher::try_enqueue`](crate::Watcher::try_enqueue) there, or read on another task).
///
/// # Dropping the stream
///
/// Dropping it closes its watcher, and nothing is lost: operations still buffered, and
/// those of batches released but not yet received from the stream, stay with the
/// watcher (counted in [`Batcher::operations_in_buffer`](crate::Batcher::operations_in_buffer) and
/// [`Batcher::needs_capacity`](crate::Batcher::needs_capacity), with the attempt of an unreceived batch taken back)
/// until [`Watcher::take_unsent`](crate::Watcher::take_unsent) takes them; take them promptly, since the batcher
/// asks its limiter for capacity for them until then. Later
/// enqueues on the watcher fail with [`EnqueueErrorKind::Closed`](crate::EnqueueErrorKind::Closed), handing the
/// operation back. Batches already received are unaffected.
pub struct Batches<T> {
    rx: Receiver<Batch<T>>,
    finished: Pin<Box<WaitForCancellationFutureOwned>>,
    queue: Arc<WatcherQueue<T>>,
}

impl<T> Batches<T> {
    pub(crate) fn new(
        rx: Receiver<Batch<T>>,
        finished: WaitForCancellationFutureOwned,
        queue: Arc<WatcherQueue<T>>,
    ) -> Self {
        Batches {
            rx,
            finished: Box::pin(finished),
            queue,
        }
    }
}

impl<T> fmt::Debug for Batches<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batches")
            .field("watcher", &self.queue.id())
            .finish_non_exhaustive()
    }
}

impl<T> Batches<T> {
    /// The next batch; `None` once the batcher has stopped and every batch it released
    /// has been received. The same as [`StreamExt::next`](futures::StreamExt::next),
    /// without importing it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a batch is taken from the stream only when the future completes.
    pub async fn next(&mut self) -> Option<Batch<T>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<T: Send + 'static> Batches<T> {
    /// Takes back every operation of this watcher that is still buffered.
    pub fn take_unsent(&self) -> Vec<Operation<T>> {
        self.queue.take_all()
    }
}

impl<T> Drop for Batches<T> {
    fn drop(&mut self) {
        // Closed first, so the dispatcher releases nothing more to this watcher. The
        // channel ends only once no slot is reserved, so a batch the dispatcher is
        // handing over now (it holds a slot for a few instructions, never across an
        // await) is drained too.
        self.queue.close();
        self.rx.close();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        loop {
            match self.rx.poll_recv(&mut cx) {
                Poll::Ready(Some(batch)) => self.queue.restore(batch.into_unsent()),
                Poll::Ready(None) => break,
                Poll::Pending => std::thread::yield_now(),
            }
        }
    }
}

impl<T> Stream for Batches<T> {
    type Item = Batch<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Batch<T>>> {
        let this = self.get_mut();
        let mut batch = match this.rx.poll_recv(cx) {
            Poll::Ready(batch) => batch,
            Poll::Pending => match this.finished.as_mut().poll(cx) {
                Poll::Ready(()) => this.rx.try_recv().ok(),
                Poll::Pending => return Poll::Pending,
            },
        };
        if let Some(batch) = &mut batch {
            // Received: the datastore may see it from now, and its operations no longer
            // hold buffer room.
            batch.ticket.start();
            this.queue.received(batch.len(), this.rx.len());
        }
        Poll::Ready(batch)
    }
}

/// A batch from a [`Batches`] stream; the batch is done when this guard is dropped or
/// [`done`](Batch::done) is called.
///
/// It dereferences to the slice of operations. It carries the batch's [`Feedback`]:
/// report a throttle with [`throttled`](Batch::throttled), hand every operation back
/// with [`retry`](Batch::retry), or take the operations and the feedback apart with
/// [`into_parts`](Batch::into_parts) to hand back only some. Take operations out with
/// [`into_operations`](Batch::into_operations), for instance to enqueue failed ones
/// again yourself.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use batcher::{Batcher, Operation, Watcher};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let batcher = Batcher::builder().build()?;
/// let (watcher, mut batches) = Watcher::builder().max_attempts(3).stream(&batcher);
/// batcher.start()?;
/// watcher.enqueue(Operation::new("doc", 1)).await?;
/// batcher.flush();
///
/// let mut batch = batches.next().await.unwrap();
/// // The datastore answered 429 with a retry-after of 20 ms.
/// batch.throttled(Some(Duration::from_millis(20)));
/// assert!(batch.retry().is_empty(), "handed back for a second attempt");
///
/// let again = batches.next().await.unwrap();
/// assert_eq!(again[0].attempts(), 2);
/// # batcher.stop().await;
/// # Ok(())
/// # }
/// ```
pub struct Batch<T> {
    ops: Vec<Operation<T>>,
    ticket: Ticket,
    feedback: Feedback<T>,
}

impl<T> Batch<T> {
    pub(crate) fn new(ops: Vec<Operation<T>>, ticket: Ticket, feedback: Feedback<T>) -> Self {
        Batch {
            ops,
            ticket,
            feedback,
        }
    }

    /// Marks the batch done.
    pub fn done(self) {}

    /// Marks the batch done and hands its operations over.
    pub fn into_operations(self) -> Vec<Operation<T>> {
        self.into_parts().0
    }

    /// Marks the batch done and hands its operations and its [`Feedback`] over, for
    /// instance to hand back only the operations the datastore throttled.
    pub fn into_parts(self) -> (Vec<Operation<T>>, Feedback<T>) {
        let Batch {
            ops,
            mut ticket,
            feedback,
        } = self;
        ticket.finish();
        (ops, feedback)
    }

    /// The operations of a batch that never reached its consumer.
    pub(crate) fn into_unsent(self) -> Vec<Operation<T>> {
        let (ops, mut feedback) = self.into_parts();
        feedback.silence();
        ops
    }

    /// Reports the batch throttled by the datastore (see [`Feedback::throttled`]).
    pub fn throttled(&mut self, retry_after: Option<Duration>) {
        self.feedback.throttled(retry_after);
    }
}

impl<T: Send + 'static> Batch<T> {
    /// Marks the batch done and hands every operation back for another attempt; returns
    /// the ones refused (see [`Feedback::retry`]).
    pub fn retry(self) -> Vec<EnqueueError<T>> {
        let (ops, feedback) = self.into_parts();
        feedback.retry(ops)
    }
}

impl<T> Deref for Batch<T> {
    type Target = [Operation<T>];

    fn deref(&self) -> &[Operation<T>] {
        &self.ops
    }
}

impl<T> DerefMut for Batch<T> {
    fn deref_mut(&mut self) -> &mut [Operation<T>] {
        &mut self.ops
    }
}

impl<T> fmt::Debug for Batch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("len", &self.ops.len())
            .field("ticket", &self.ticket)
            .field("throttled", &self.feedback.is_throttled())
            .finish()
    }
}
