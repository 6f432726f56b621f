//! [`Lifecycle`]: started, paused, stopped, and the loops' tasks; and the
//! [`LoopGuard`] that stops the batcher whenever a loop ends.
//!
//! Stopping cancels `cancel`, which ends the loops; the dispatcher cancels `finished`
//! once it has released its last batch (or at once if it never started), which ends
//! every [`Batches`](crate::Batches) stream after the batches released before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{Emitter, EventName};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

use crate::BatcherError;
use crate::core::{Core, Padded, lock};
use crate::pause::{PauseInfo, PausePolicy, PauseReason, Pauses};

#[derive(Debug)]
pub(crate) struct Lifecycle {
    stopped: Padded<AtomicBool>,
    started: AtomicBool,
    /// Cancelled to stop the loops.
    cancel: CancellationToken,
    /// Cancelled once the dispatcher has released its last batch.
    finished: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    pauses: Pauses,
}

impl Lifecycle {
    pub(crate) fn new(cancel: CancellationToken, policy: PausePolicy) -> Self {
        Lifecycle {
            stopped: Padded(AtomicBool::new(false)),
            started: AtomicBool::new(false),
            cancel,
            finished: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
            pauses: Pauses::new(policy),
        }
    }

    #[inline]
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.0.load(Ordering::Acquire)
    }

    /// Marks the batcher started, once.
    pub(crate) fn begin(&self) -> Result<(), BatcherError> {
        if self.is_stopped() {
            return Err(BatcherError::Stopped);
        }
        if self.started.swap(true, Ordering::AcqRel) {
            return Err(BatcherError::AlreadyStarted);
        }
        Ok(())
    }

    /// Completes once the loops are told to stop.
    pub(crate) fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    /// Whether the loops are told to stop.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The dispatcher has released its last batch: streams end after what they hold.
    pub(crate) fn finish(&self) {
        self.finished.cancel();
    }

    /// Completes once the dispatcher has released its last batch.
    pub(crate) fn finished(&self) -> WaitForCancellationFutureOwned {
        self.finished.clone().cancelled_owned()
    }

    pub(crate) fn add_task(&self, task: JoinHandle<()>) {
        lock(&self.tasks).push(task);
    }

    /// Marks the batcher stopped and tells the loops; returns `true` for the call that
    /// did it.
    pub(crate) fn stop(&self) -> bool {
        if self.stopped.0.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.cancel.cancel();
        if !self.started.load(Ordering::Acquire) {
            // No dispatcher will ever finish: streams end now.
            self.finished.cancel();
        }
        true
    }

    /// Waits for the loops to end.
    pub(crate) async fn join(&self) {
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Pauses (or extends the pause) by the pause policy and raises the
    /// [`Pause`](EventName::Pause) event for what was decided; returns it.
    pub(crate) fn pause(
        &self,
        emitter: &Emitter,
        reason: PauseReason,
        retry_after: Option<Duration>,
    ) -> Option<PauseInfo> {
        let info = self.pauses.pause(Instant::now(), reason, retry_after)?;
        tracing::debug!(reason = reason.as_str(), pause = ?info.pause, step = info.step, "batcher paused");
        let msg = match info.retry_after {
            Some(after) => format!("{}; retry-after {after:?}", reason.as_str()),
            None => reason.as_str().to_owned(),
        };
        emitter.emit_with(
            EventName::Pause,
            i64::try_from(info.pause.as_millis()).unwrap_or(i64::MAX),
            |e| e.with_msg(msg).with_metadata(info),
        );
        Some(info)
    }

    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.pauses.paused_until()
    }

    pub(crate) fn is_paused(&self, now: Instant) -> bool {
        self.paused_until().is_some_and(|until| now < until)
    }

    /// Ends the pause if it is over; returns whether this call ended it.
    pub(crate) fn resume(&self, now: Instant) -> bool {
        self.pauses.resume(now)
    }
}

/// Ends the batcher if one of its loops ends for any reason, a panic included (say, in
/// the rate limiter it calls): the batcher stops, every stream ends, and what is
/// buffered stays for `take_unsent`, so a failed loop loses nothing and hangs nobody.
pub(crate) struct LoopGuard {
    core: Arc<Core>,
    name: &'static str,
}

impl LoopGuard {
    pub(crate) fn new(core: Arc<Core>, name: &'static str) -> Self {
        LoopGuard { core, name }
    }
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                task = self.name,
                "a batcher loop panicked; the batcher stops"
            );
            self.core.emitter().emit_msg(
                EventName::Error,
                0,
                format!(
                    "the batcher's {} loop panicked and the batcher stopped; take back what \
                     was not delivered with take_unsent() and create a new batcher",
                    self.name
                ),
            );
            self.core.shutdown();
        }
        if self.name == "dispatch" {
            self.core.shutdown();
            self.core.lifecycle().finish();
        }
    }
}
