//! [`Starts`]: how the dispatcher learns when released batches started.
//!
//! A released batch counts in the rate window as pending until the datastore sees it
//! (its callback starts, or its stream's consumer receives it). The batch's ticket
//! reports that moment here, or that it never came (its operations were handed back);
//! the dispatcher drains the reports into its scheduler before each pass. When pending
//! cost holds a release back, the dispatcher asks to be woken by the next report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::core::lock;
use crate::resources::Costs;

#[derive(Debug, Default)]
pub(crate) struct Starts {
    /// When released batches started (`None`: never will), and their cost.
    reports: Mutex<Vec<(Option<Instant>, Costs)>>,
    /// Set by a dispatcher held back by pending cost: the next report wakes it.
    awaited: AtomicBool,
}

impl Starts {
    /// A batch of `cost` started at `at` (or, with `None`, never will); wakes the
    /// dispatcher through `wake` if it waits for this.
    pub(crate) fn report(&self, at: Option<Instant>, cost: Costs, wake: &Notify) {
        lock(&self.reports).push((at, cost));
        if self.awaited.swap(false, Ordering::SeqCst) {
            wake.notify_one();
        }
    }

    /// Takes every report so far.
    pub(crate) fn drain(&self) -> Vec<(Option<Instant>, Costs)> {
        std::mem::take(&mut *lock(&self.reports))
    }

    /// Asks for the next report to wake `wake`; wakes it at once if a report came in
    /// since the last drain, so that none is missed.
    pub(crate) fn await_next(&self, wake: &Notify) {
        self.awaited.store(true, Ordering::SeqCst);
        if !lock(&self.reports).is_empty() {
            wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_report_wakes_a_dispatcher_that_awaits_one_and_none_is_missed() {
        let (starts, wake) = (Starts::default(), Notify::new());
        let now = Instant::now();
        starts.report(Some(now), Costs::primary(3), &wake);
        // Not awaited: no wake-up stored.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(1), wake.notified())
                .await
                .is_err()
        );
        // A report arrived since the last drain: awaiting wakes at once.
        starts.await_next(&wake);
        wake.notified().await;
        assert_eq!(starts.drain(), vec![(Some(now), Costs::primary(3))]);
        starts.report(None, Costs::primary(2), &wake);
        wake.notified().await;
        assert_eq!(starts.drain(), vec![(None, Costs::primary(2))]);
    }
}
