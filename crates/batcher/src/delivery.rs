//! Delivery: where a watcher's released batches go, a callback task or a stream.
//!
//! A callback batch runs in its own task, carrying the span of the code that created
//! the watcher, and counts in the rate window from the moment that task starts; a
//! stream batch waits in the watcher's channel, holding its buffer room, until the
//! consumer receives it (see [`Batches`](crate::Batches)).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use events_core::{BoxFuture, EventName};
use futures::FutureExt;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{Instrument, Span};

use crate::feedback::Feedback;
use crate::inflight::Ticket;
use crate::{Batch, Operation};

pub(crate) type Callback<T> =
    Arc<dyn Fn(Vec<Operation<T>>, Feedback<T>) -> BoxFuture<'static, ()> + Send + Sync>;

/// Where a watcher's batches go.
pub(crate) enum Sink<T> {
    Callback {
        callback: Callback<T>,
        /// The span current where the watcher was created.
        span: Span,
    },
    Stream(UnboundedSender<Batch<T>>),
}

impl<T: Send + 'static> Sink<T> {
    /// A callback sink whose tasks carry the caller's current span.
    pub(crate) fn callback(callback: Callback<T>) -> Self {
        Sink::Callback {
            callback,
            span: Span::current(),
        }
    }

    /// Whether a released batch keeps its buffer room until it is received.
    pub(crate) fn holds_room(&self) -> bool {
        matches!(self, Sink::Stream(_))
    }

    /// Hands a batch over; gives its operations back if the stream is gone.
    pub(crate) fn deliver(
        &self,
        watcher: u64,
        ops: Vec<Operation<T>>,
        ticket: Ticket,
        feedback: Feedback<T>,
        max_time: Duration,
    ) -> Result<(), Vec<Operation<T>>> {
        match self {
            Sink::Callback { callback, span } => {
                let run = run_callback(callback.clone(), ops, ticket, feedback, max_time, watcher);
                // Without a span of its own the task keeps the batcher's.
                let span = if span.is_none() {
                    Span::current()
                } else {
                    span.clone()
                };
                tokio::spawn(run.instrument(span));
                Ok(())
            }
            // The stream can be dropped after the queue looked; its batch is kept for
            // `take_unsent` like the ones the stream held.
            Sink::Stream(tx) => tx
                .send(Batch::new(ops, ticket, feedback))
                .map_err(|unsent| unsent.0.into_unsent()),
        }
    }
}

async fn run_callback<T>(
    callback: Callback<T>,
    ops: Vec<Operation<T>>,
    mut ticket: Ticket,
    feedback: Feedback<T>,
    max_time: Duration,
    watcher: u64,
) {
    // The datastore sees the batch from the moment the callback starts, however late
    // the runtime got to this task.
    ticket.start();
    let run = AssertUnwindSafe(async move { callback(ops, feedback).await }).catch_unwind();
    tokio::pin!(run);
    let outcome = match tokio::time::timeout(max_time, &mut run).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::debug!(
                watcher,
                ?max_time,
                "batch exceeded the max operation time; it counts as done"
            );
            ticket.finish();
            run.await
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
