//! What the demo measures while it runs, shared by the pipeline, the live view and the report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One instance's counters; atomics so the hot path never waits on the view.
#[derive(Debug, Default)]
pub(crate) struct InstanceCounters {
    /// Events the consumer's subscription should receive (counted when emitted).
    pub(crate) expected: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) stream_errors: AtomicU64,
    /// Cost of every event received, enqueued or not: the demand on the datastore.
    pub(crate) demand_cost: AtomicU64,
    pub(crate) enqueued: AtomicU64,
    /// Enqueues refused because the buffer was full; the event is counted, not lost.
    pub(crate) refused_full: AtomicU64,
    /// Enqueues refused for any other reason (too expensive, stopped, ...).
    pub(crate) refused_other: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) delivered_cost: AtomicU64,
    pub(crate) batches: AtomicU64,
    /// Operations taken back from the watcher after the batcher stopped.
    pub(crate) handed_back: AtomicU64,
    pub(crate) handed_back_cost: AtomicU64,
}

/// A batch as the batcher released it: when, which instance, and its cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Release {
    pub(crate) at: Duration,
    pub(crate) instance: usize,
    pub(crate) cost: u64,
}

/// The state of every instance at one moment (taken every 100 ms).
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) at: Duration,
    pub(crate) capacity: Vec<u32>,
    pub(crate) queued: Vec<u64>,
    /// Cost waiting in all batchers (enqueued and not yet done).
    pub(crate) backlog_cost: u64,
    /// Cost of all events received so far, in all instances.
    pub(crate) demand_cost: u64,
}

/// Everything recorded during a run.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) start: Instant,
    pub(crate) emitted: AtomicU64,
    pub(crate) instances: Vec<InstanceCounters>,
    pub(crate) releases: Mutex<Vec<Release>>,
    pub(crate) samples: Mutex<Vec<Sample>>,
}

impl Recorder {
    pub(crate) fn new(instances: usize) -> Recorder {
        Recorder {
            start: Instant::now(),
            emitted: AtomicU64::new(0),
            instances: (0..instances)
                .map(|_| InstanceCounters::default())
                .collect(),
            releases: Mutex::new(Vec::new()),
            samples: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn release(&self, at: Instant, instance: usize, cost: u64) {
        let at = at.saturating_duration_since(self.start);
        self.releases
            .lock()
            .unwrap()
            .push(Release { at, instance, cost });
    }

    pub(crate) fn sample(&self, capacity: Vec<u32>, queued: Vec<u64>, backlog_cost: u64) {
        let at = self.start.elapsed();
        let demand_cost = self.total(|c| &c.demand_cost);
        self.samples.lock().unwrap().push(Sample {
            at,
            capacity,
            queued,
            backlog_cost,
            demand_cost,
        });
    }

    pub(crate) fn total(&self, f: impl Fn(&InstanceCounters) -> &AtomicU64) -> u64 {
        self.instances
            .iter()
            .map(|c| f(c).load(Ordering::Relaxed))
            .sum()
    }

    /// Cost released in the last second, in all instances.
    pub(crate) fn cost_last_second(&self) -> u64 {
        let now = self.start.elapsed();
        let from = now.saturating_sub(Duration::from_secs(1));
        let releases = self.releases.lock().unwrap();
        releases
            .iter()
            .rev()
            .take_while(|r| r.at > from)
            .map(|r| r.cost)
            .sum()
    }
}
