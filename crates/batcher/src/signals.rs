//! [`Signals`]: everything that tells the dispatcher to look again, in one place.
//!
//! Producers ring when a queue becomes non-empty (handing the queue over), a batch
//! fills or the buffer fills; a handle rings to ask for a flush or after a pause; a
//! finishing batch rings when the concurrency limit may have held releases back; a
//! stream consumer rings once it has made room in a full channel.
//!
//! A released batch counts in the rate window as pending until the datastore sees it
//! (its callback starts, or its stream's consumer receives it). The batch's ticket
//! reports that moment here, or that it never came (its operations were handed back);
//! the dispatcher drains the reports into its scheduler before each pass. When pending
//! cost holds a release back, the dispatcher asks to be woken by the next report.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::core::lock;
use crate::queue::Queue;
use crate::resources::Costs;

/// When a released batch started (`None`: it never will), and its cost.
pub(crate) type Start = (Option<Instant>, Costs);

#[derive(Default)]
pub(crate) struct Signals {
    wake: Notify,
    /// Queues that became non-empty since the dispatcher last looked.
    incoming: Mutex<Vec<Arc<dyn Queue>>>,
    flush_requested: AtomicBool,
    /// Reports of released batches that started (or never will).
    starts: Mutex<Vec<Start>>,
    /// Set by a dispatcher held back by pending cost: the next report wakes it.
    start_awaited: AtomicBool,
    next_watcher: AtomicU64,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("flush_requested", &self.flush_requested)
            .finish_non_exhaustive()
    }
}

impl Signals {
    /// Wakes the dispatcher (or makes its next wait return at once).
    #[inline]
    pub(crate) fn ring(&self) {
        self.wake.notify_one();
    }

    /// Waits until rung.
    pub(crate) async fn rung(&self) {
        self.wake.notified().await;
    }

    /// Hands the dispatcher a queue that became non-empty.
    pub(crate) fn schedule(&self, queue: Arc<dyn Queue>) {
        lock(&self.incoming).push(queue);
        self.ring();
    }

    /// The queues scheduled since the last call.
    pub(crate) fn take_scheduled(&self) -> Vec<Arc<dyn Queue>> {
        std::mem::take(&mut *lock(&self.incoming))
    }

    /// Asks for a flush: the next pass releases partial batches.
    pub(crate) fn request_flush(&self) {
        self.flush_requested.store(true, Ordering::Release);
        self.ring();
    }

    /// Whether a flush was asked for since the last call.
    pub(crate) fn take_flush_request(&self) -> bool {
        self.flush_requested.swap(false, Ordering::AcqRel)
    }

    /// A new watcher's id.
    pub(crate) fn next_watcher_id(&self) -> u64 {
        self.next_watcher.fetch_add(1, Ordering::Relaxed)
    }

    /// A batch of `cost` started at `at` (or, with `None`, never will); wakes the
    /// dispatcher if it waits for this.
    pub(crate) fn report_start(&self, at: Option<Instant>, cost: Costs) {
        lock(&self.starts).push((at, cost));
        if self.start_awaited.swap(false, Ordering::SeqCst) {
            self.ring();
        }
    }

    /// Takes every start reported so far.
    pub(crate) fn take_starts(&self) -> Vec<Start> {
        std::mem::take(&mut *lock(&self.starts))
    }

    /// Asks for the next start report to wake the dispatcher; wakes it at once if one
    /// came in since the last [`take_starts`](Self::take_starts), so that none is
    /// missed.
    pub(crate) fn await_start(&self) {
        self.start_awaited.store(true, Ordering::SeqCst);
        if !lock(&self.starts).is_empty() {
            self.ring();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_report_wakes_a_dispatcher_that_awaits_one_and_none_is_missed() {
        let signals = Signals::default();
        let now = Instant::now();
        signals.report_start(Some(now), Costs::primary(3));
        // Not awaited: no wake-up stored.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(1), signals.rung())
                .await
                .is_err()
        );
        // A report arrived since the last drain: awaiting wakes at once.
        signals.await_start();
        signals.rung().await;
        assert_eq!(signals.take_starts(), vec![(Some(now), Costs::primary(3))]);
        signals.report_start(None, Costs::primary(2));
        signals.rung().await;
        assert_eq!(signals.take_starts(), vec![(None, Costs::primary(2))]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_request_is_taken_once() {
        let signals = Signals::default();
        assert!(!signals.take_flush_request());
        signals.request_flush();
        signals.rung().await;
        assert!(signals.take_flush_request());
        assert!(!signals.take_flush_request());
    }
}
