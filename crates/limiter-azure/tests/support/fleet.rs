//! Several limiter instances in one process, sharing one container, watched together: their
//! capacities are sampled at the same instants and every partition's counting is checked
//! to be exclusive at every moment (through the `on_counting` hook, which is the truth
//! while the instances' loops run, as they do in one process).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::RateLimiter;
use limiter_azure::{AzureSharedResource, AzureSharedResourceBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Shared capacity of a fleet: 10 partitions of 1,000 (reserved 0), as in the runs.
pub const SHARED: u32 = 10_000;
pub const FACTOR: u32 = 1_000;
pub const PARTITIONS: usize = 10;

/// Holds the long fault tests of one test binary to one at a time: on a loaded machine
/// (two cores) their timing assertions are about the limiter, not the scheduler.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// One sample: when, and the sum of the instances' capacities.
pub type Sample = (Instant, u32);

/// Partitions counted per instance, and every moment two instances counted the same one.
#[derive(Debug, Default)]
struct Counting {
    table: Vec<[bool; PARTITIONS]>,
    doubles: Vec<String>,
}

/// A fleet of instances and the watch over them.
#[derive(Debug)]
pub struct Fleet {
    pub limiters: Vec<Arc<AzureSharedResource>>,
    counting: Arc<Mutex<Counting>>,
    samples: Arc<Mutex<Vec<Sample>>>,
    latest: watch::Receiver<Sample>,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
}

impl Fleet {
    /// Builds one instance per builder (each gets the counting hook), provisions and
    /// starts them, makes each want everything, and samples every 10 ms.
    pub async fn start(builders: Vec<AzureSharedResourceBuilder>) -> Fleet {
        let counting = Arc::new(Mutex::new(Counting {
            table: vec![[false; PARTITIONS]; builders.len()],
            doubles: Vec::new(),
        }));
        let mut limiters = Vec::new();
        for (me, b) in builders.into_iter().enumerate() {
            let watch = counting.clone();
            let limiter = b
                .shared_capacity(SHARED)
                .factor(FACTOR)
                .on_counting(move |p, counted| {
                    let mut c = watch.lock().unwrap();
                    let p = p as usize;
                    if counted {
                        if let Some(other) = (0..c.table.len()).find(|&o| o != me && c.table[o][p])
                        {
                            let at = format!("partition {p} counted by {me} and {other}");
                            c.doubles.push(at);
                        }
                    }
                    c.table[me][p] = counted;
                })
                .build()
                .unwrap();
            limiter.provision().await.unwrap();
            limiter.start().await.unwrap();
            limiter.give_me(u32::MAX);
            limiters.push(Arc::new(limiter));
        }
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (all, log, done) = (limiters.clone(), samples.clone(), stop.clone());
        let (tx, latest) = watch::channel((Instant::now(), 0));
        let sampler = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            while !done.load(Ordering::Acquire) {
                tick.tick().await;
                let sample = (Instant::now(), all.iter().map(|l| l.capacity()).sum());
                log.lock().unwrap().push(sample);
                tx.send_replace(sample);
            }
        });
        Fleet {
            limiters,
            counting,
            samples,
            latest,
            stop,
            sampler: Some(sampler),
        }
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Waits (at most `within`) for a sample whose sum is `sum`; returns when it was taken.
    pub async fn wait_for_sum(&self, sum: u32, within: Duration) -> Option<Instant> {
        self.wait_for(within, |s| s == sum).await
    }

    /// Waits (at most `within`) for a sample whose sum satisfies `pred`.
    pub async fn wait_for(&self, within: Duration, pred: impl Fn(u32) -> bool) -> Option<Instant> {
        let mut latest = self.latest.clone();
        latest.mark_unchanged();
        let found = tokio::time::timeout(within, latest.wait_for(|s| pred(s.1))).await;
        found.ok()?.ok().map(|s| s.0)
    }

    /// Runs for `d`, sampling.
    pub async fn run_for(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    /// Stops the sampler and every instance; panics with the evidence if the sum ever
    /// exceeded the shared capacity or a partition was ever counted twice.
    pub async fn stop_and_check(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Release);
        if let Some(sampler) = self.sampler.take() {
            sampler.await.unwrap();
        }
        for l in &self.limiters {
            l.stop().await.unwrap();
        }
        let samples = self.samples();
        let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
        let over: Vec<&Sample> = samples.iter().filter(|s| s.1 > SHARED).collect();
        assert!(
            over.is_empty(),
            "sum of capacities above {SHARED} in {} samples (peak {peak})",
            over.len()
        );
        let doubles = &self.counting.lock().unwrap().doubles;
        assert!(doubles.is_empty(), "double counts: {doubles:?}");
        eprintln!(
            "fleet: {} samples, peak sum {peak} of {SHARED}",
            samples.len()
        );
        samples
    }
}
