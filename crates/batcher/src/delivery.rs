//! Delivery: where a watcher's released batches go, a callback or a stream.
//!
//! A callback batch is started by the dispatcher itself, as it releases it: the
//! callback is called and its future polled once there, in the span of the code that
//! created the watcher. Batches so start in release order whatever the runtime does,
//! and count in the rate window from that moment. A callback that completes at once
//! costs no task; one that waits goes on in a task of its own, tracked
//! ([`TaskTracker`]) so that [`Batcher::stop`](crate::Batcher::stop) waits for it.
//!
//! A stream batch waits in the watcher's bounded channel, holding its buffer room, until
//! the consumer receives it (see [`Batches`](crate::Batches)). When the channel is full
//! the watcher releases nothing more until the consumer has received half of it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use events_core::{BoxFuture, EventName};
use futures::FutureExt;
use futures::future::CatchUnwind;
use tokio::sync::mpsc::{self, Receiver, Sender};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, Span};

use crate::feedback::Feedback;
use crate::inflight::Ticket;
use crate::{Batch, Operation, WatcherKind};

/// How many batches released to a stream may wait to be received, unless
/// [`WatcherBuilder::stream_capacity`](crate::WatcherBuilder::stream_capacity) says
/// otherwise.
pub const DEFAULT_STREAM_CAPACITY: usize = 16;

/// The most batches a stream may hold unreceived.
pub(crate) const MAX_STREAM_CAPACITY: usize = 1 << 20;

pub(crate) type Callback<T> =
    Arc<dyn Fn(Vec<Operation<T>>, Feedback<T>) -> BoxFuture<'static, ()> + Send + Sync>;

/// A callback's future, with its panic caught.
type Running = CatchUnwind<AssertUnwindSafe<BoxFuture<'static, ()>>>;

tokio::task_local! {
    /// The [`Delivery`] whose callback this is, by address.
    static IN_CALLBACK: usize;
}

/// The batcher's callback batches that went on waiting after their start.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    tracker: TaskTracker,
    /// Cancelled when the batcher stops: a callback that has run past its max
    /// operation time is dropped then, so that nothing runs on after `stop`.
    reap: CancellationToken,
}

impl Delivery {
    /// Starts a callback batch here and now: calls the callback and polls its future
    /// once, in `span`. A future that is not done by then goes on in a task of its own,
    /// which polls it again at once with its own waker (polled here with none, so that
    /// what it waits for wakes that task, not the dispatcher).
    fn start<T>(&self, start: Start<'_, T>, span: &Span) {
        let Start {
            callback,
            ops,
            mut ticket,
            feedback,
            max_time,
            watcher,
        } = start;
        let id = self as *const Delivery as usize;
        let _entered = span.enter();
        let pending = IN_CALLBACK.sync_scope(id, || {
            let started = Instant::now();
            // The datastore sees the batch from the moment the callback starts.
            ticket.start();
            let future =
                match std::panic::catch_unwind(AssertUnwindSafe(|| callback(ops, feedback))) {
                    Ok(future) => future,
                    Err(panic) => {
                        finish(&mut ticket, watcher, Err(panic));
                        return None;
                    }
                };
            let mut future = AssertUnwindSafe(future).catch_unwind();
            match Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(outcome) => {
                    finish(&mut ticket, watcher, outcome);
                    None
                }
                Poll::Pending => {
                    let left = max_time.saturating_sub(started.elapsed());
                    Some((future, left))
                }
            }
        });
        if let Some((future, left)) = pending {
            // Without a span of its own the task keeps the batcher's.
            let span = if span.is_none() {
                Span::current()
            } else {
                span.clone()
            };
            let rest = IN_CALLBACK
                .scope(id, run_on(future, ticket, left, watcher))
                .instrument(span);
            self.tracker.spawn(rest);
        }
    }

    /// Waits for every callback task to end; one that has run past its max operation
    /// time is dropped. Called from inside a callback, it does not wait (the callback
    /// would wait for itself).
    pub(crate) async fn drain(&self) {
        self.reap.cancel();
        self.tracker.close();
        let id = self as *const Delivery as usize;
        if IN_CALLBACK
            .try_with(|current| *current == id)
            .unwrap_or(false)
        {
            return;
        }
        self.tracker.wait().await;
    }

    /// Fires once the batcher stops.
    pub(crate) fn stopped(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.reap.cancelled()
    }
}

/// What starting a callback batch takes.
struct Start<'a, T> {
    callback: &'a Callback<T>,
    ops: Vec<Operation<T>>,
    ticket: Ticket,
    feedback: Feedback<T>,
    max_time: Duration,
    watcher: u64,
}

/// Drives a callback that waited at its start to its end, or past `left` of its max
/// operation time, after which it counts as done and runs on until it ends or the
/// batcher stops.
async fn run_on(mut future: Running, mut ticket: Ticket, left: Duration, watcher: u64) {
    let outcome = match tokio::time::timeout(left, &mut future).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::debug!(
                watcher,
                "batch exceeded the max operation time; it counts as done"
            );
            ticket.finish();
            tokio::select! {
                outcome = &mut future => outcome,
                _ = ticket.delivery().stopped() => {
                    tracing::debug!(
                        watcher,
                        "the batcher stopped; a callback past its max operation time is dropped"
                    );
                    return;
                }
            }
        }
    };
    finish(&mut ticket, watcher, outcome);
}

/// Marks a callback's batch done with the callback's `outcome`, raising the
/// [`Error`](EventName::Error) event if it panicked.
fn finish(ticket: &mut Ticket, watcher: u64, outcome: std::thread::Result<()>) {
    ticket.finish();
    let Err(panic) = outcome else {
        return;
    };
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_owned());
    ticket.emitter().emit_msg(
        EventName::Error,
        watcher as i64,
        format!(
            "the callback of watcher {watcher} panicked ({what}); its batch was marked done \
             and the batcher goes on. Handle failures inside the callback"
        ),
    );
}

/// A stream watcher's end of its bounded channel.
pub(crate) struct StreamSink<T> {
    tx: Sender<Batch<T>>,
    /// Set when the dispatcher found the channel full: the consumer wakes it once it
    /// has received half.
    starved: AtomicBool,
    /// The channel's capacity, in batches.
    capacity: usize,
}

/// Where a watcher's batches go.
pub(crate) enum Sink<T> {
    Callback {
        callback: Callback<T>,
        /// The span current where the watcher was created.
        span: Span,
    },
    Stream(StreamSink<T>),
}

impl<T> Sink<T> {
    pub(crate) fn kind(&self) -> WatcherKind {
        match self {
            Sink::Callback { .. } => WatcherKind::Callback,
            Sink::Stream(_) => WatcherKind::Stream,
        }
    }

    /// A stream's consumer received a batch and `queued` are left; returns whether the
    /// dispatcher, held back by the full channel, should look again.
    pub(crate) fn received(&self, queued: usize) -> bool {
        let Sink::Stream(s) = self else {
            return false;
        };
        fence(Ordering::SeqCst);
        queued <= s.capacity / 2
            && s.starved.load(Ordering::SeqCst)
            && s.starved.swap(false, Ordering::SeqCst)
    }
}

impl<T: Send + 'static> Sink<T> {
    /// A callback sink whose tasks carry the caller's current span.
    pub(crate) fn callback(callback: Callback<T>) -> Self {
        Sink::Callback {
            callback,
            span: Span::current(),
        }
    }

    /// A stream sink holding at most `capacity` unreceived batches, and its receiver.
    pub(crate) fn stream(capacity: usize) -> (Self, Receiver<Batch<T>>) {
        let capacity = capacity.clamp(1, MAX_STREAM_CAPACITY);
        let (tx, rx) = mpsc::channel(capacity);
        let sink = StreamSink {
            tx,
            starved: AtomicBool::new(false),
            capacity,
        };
        (Sink::Stream(sink), rx)
    }

    /// Whether a released batch keeps its buffer room until it is received.
    pub(crate) fn holds_room(&self) -> bool {
        matches!(self, Sink::Stream(_))
    }

    /// Whether the sink can take a batch now: a stream's channel is not full (a
    /// callback sink always can). The dispatcher is a stream's only sender, so room
    /// found here is still there when it delivers; a stream dropped meanwhile hands
    /// the batch back.
    pub(crate) fn has_room(&self) -> bool {
        match self {
            Sink::Callback { .. } => true,
            Sink::Stream(s) => {
                if s.tx.capacity() > 0 {
                    return true;
                }
                s.starved.store(true, Ordering::SeqCst);
                // Pairs with `received`: either the consumer sees the flag or we see
                // the room it made.
                fence(Ordering::SeqCst);
                s.tx.capacity() > 0
            }
        }
    }

    /// Hands a batch over; gives its operations back if the stream is gone.
    ///
    /// A stream's slot is reserved here and filled at once, with no user code between,
    /// so that a stream dropped meanwhile (its drop drains what reserved slots hold)
    /// never waits on a slot the dispatcher holds.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn deliver(
        &self,
        delivery: &Delivery,
        watcher: u64,
        ops: Vec<Operation<T>>,
        ticket: Ticket,
        feedback: Feedback<T>,
        max_time: Duration,
    ) -> Result<(), Vec<Operation<T>>> {
        match self {
            Sink::Callback { callback, span } => {
                delivery.start(
                    Start {
                        callback,
                        ops,
                        ticket,
                        feedback,
                        max_time,
                        watcher,
                    },
                    span,
                );
                Ok(())
            }
            // The stream can be dropped after the queue looked; its batch is kept for
            // `take_unsent` like the ones the stream held (and one sent just before the
            // drop is drained by it).
            Sink::Stream(s) => match s.tx.try_reserve() {
                Ok(permit) => {
                    permit.send(Batch::new(ops, ticket, feedback));
                    Ok(())
                }
                Err(_) => Err(Batch::new(ops, ticket, feedback).into_unsent()),
            },
        }
    }
}
