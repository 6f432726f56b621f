//! Delivery: where a watcher's released batches go, a callback task or a stream.
//!
//! A callback batch runs in its own task, carrying the span of the code that created
//! the watcher, and counts in the rate window from the moment that task starts. The
//! tasks are tracked ([`TaskTracker`]), so that [`Batcher::stop`](crate::Batcher::stop)
//! waits for them, and they start in the order their batches were released: each task
//! first waits for the one released before it to have polled its callback once, so the
//! datastore sees batches in release order however the runtime schedules the tasks.
//!
//! A stream batch waits in the watcher's bounded channel, holding its buffer room, until
//! the consumer receives it (see [`Batches`](crate::Batches)). When the channel is full
//! the watcher releases nothing more until the consumer has received half of it.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{BoxFuture, EventName};
use futures::FutureExt;
use tokio::sync::mpsc::{self, Receiver, Sender};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, Span};

use crate::core::lock;
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

tokio::task_local! {
    /// The [`Delivery`] whose callback task this is, by address.
    static IN_CALLBACK: usize;
}

/// A callback batch's work, type-erased so that batches of every watcher queue up in
/// one line.
type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The batcher's callback tasks: tracked, and started in release order.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    tracker: TaskTracker,
    /// Cancelled when the batcher stops: a callback that has run past its max
    /// operation time is dropped then, so that nothing runs on after `stop`.
    reap: CancellationToken,
    line: Arc<Mutex<Line>>,
}

/// The callback batches released and not yet picked up by a task, in release order.
#[derive(Default)]
struct Line {
    jobs: VecDeque<Job>,
    /// Fires once the callback released last has started; the next one waits for it.
    last_start: Option<oneshot::Receiver<()>>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line")
            .field("jobs", &self.jobs.len())
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Queues a callback batch and spawns a task for it. `run` is given what fires once
    /// the batch released before has started, and what to fire once this one has.
    ///
    /// Tasks do not take their own batch but the oldest one waiting, so whichever task
    /// the runtime polls first starts the batch released first; a task then waits for
    /// its predecessor only in the moment between two tasks taking batches and starting
    /// them.
    fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        run: impl FnOnce(Option<oneshot::Receiver<()>>, Started) -> F,
        span: Span,
    ) {
        let id = self as *const Delivery as usize;
        {
            let mut line = lock(&self.line);
            let (tx, rx) = oneshot::channel();
            let before = line.last_start.replace(rx);
            let job = IN_CALLBACK
                .scope(id, run(before, Started(Some(tx))))
                .instrument(span);
            line.jobs.push_back(Box::pin(job));
        }
        let line = self.line.clone();
        self.tracker.spawn(async move {
            // Every task is spawned after its batch joined the line, so there is one.
            let job = lock(&line).jobs.pop_front();
            if let Some(job) = job {
                job.await;
            }
        });
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
}

/// Tells the next callback task that this one has started.
struct Started(Option<oneshot::Sender<()>>);

impl Started {
    fn fire(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
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
                let callback = callback.clone();
                let reap = delivery.reap.clone();
                // Without a span of its own the task keeps the batcher's.
                let span = if span.is_none() {
                    Span::current()
                } else {
                    span.clone()
                };
                delivery.spawn(
                    move |before, started| {
                        run_callback(Run {
                            callback,
                            ops,
                            ticket,
                            feedback,
                            max_time,
                            watcher,
                            before,
                            started,
                            reap,
                        })
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

/// What a callback task needs.
struct Run<T> {
    callback: Callback<T>,
    ops: Vec<Operation<T>>,
    ticket: Ticket,
    feedback: Feedback<T>,
    max_time: Duration,
    watcher: u64,
    /// Fires once the callback released before this one has started.
    before: Option<oneshot::Receiver<()>>,
    started: Started,
    reap: CancellationToken,
}

// The task's state is kept small (a callback task exists per batch, and a backlog of
// them is memory): the callback's future is boxed, and what the task holds across its
// awaits is held once.
async fn run_callback<T>(run: Run<T>) {
    let Run {
        callback,
        ops,
        mut ticket,
        feedback,
        max_time,
        watcher,
        before,
        mut started,
        reap,
    } = run;
    if let Some(before) = before {
        // An error means that task ended without starting (say, the runtime shut
        // down): nothing to wait for.
        let _ = before.await;
    }
    // The datastore sees the batch from the moment the callback starts, however late
    // the runtime got to this task.
    ticket.start();
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(move || callback(ops, feedback)))
    {
        Err(panic) => {
            started.fire();
            Err(panic)
        }
        Ok(future) => {
            let mut future = AssertUnwindSafe(future).catch_unwind();
            // The next task may start once this callback has run to its first await.
            let mut run = std::future::poll_fn(move |cx| {
                let out = Pin::new(&mut future).poll(cx);
                started.fire();
                out
            });
            match tokio::time::timeout(max_time, &mut run).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::debug!(
                        watcher,
                        ?max_time,
                        "batch exceeded the max operation time; it counts as done"
                    );
                    ticket.finish();
                    tokio::select! {
                        outcome = &mut run => outcome,
                        _ = reap.cancelled() => {
                            tracing::debug!(
                                watcher,
                                "the batcher stopped; a callback past its max operation time is dropped"
                            );
                            return;
                        }
                    }
                }
            }
        }
    };
    ticket.finish();
    if let Err(panic) = outcome {
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
}
