//! The multi-resource workload: a batcher with two resources (request units and
//! payload bytes, each with a provisioned limiter) and a backlog whose operations are
//! heavy in one or the other, so that either resource can be the bottleneck.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use batcher::{Batcher, Operation, Watcher};
use events_core::RateLimiter;
use limiter_provisioned::ProvisionedResource;
use tokio::runtime::Runtime;

use crate::batcher::max_window;

/// Request units per second.
pub const RU_CAPACITY: u32 = 10_000;

/// One resource's figures.
#[derive(Debug, Clone, Copy)]
pub struct ResourceFigures {
    /// The resource's name.
    pub name: &'static str,
    /// Its capacity per second.
    pub capacity: u32,
    /// The most cost whose callbacks started in any sliding one-second window.
    pub window_max: u64,
    /// Cost started over the complete seconds since the first start, over capacity.
    pub utilisation: f64,
}

/// What a run came to: figures for request units, then bytes.
#[derive(Debug, Clone, Copy)]
pub struct TwoResources {
    /// Request units, then bytes.
    pub resources: [ResourceFigures; 2],
    /// Operations delivered (counting repeats).
    pub delivered: usize,
    /// Operations delivered more than once (must be 0).
    pub duplicates: usize,
}

impl TwoResources {
    /// The resource used most, relative to its capacity.
    pub fn bottleneck(&self) -> ResourceFigures {
        let [a, b] = self.resources;
        if a.utilisation >= b.utilisation { a } else { b }
    }
}

/// One callback start: when, its batch's cost in each resource, and its payloads.
struct Start {
    at: Instant,
    ru: u64,
    bytes: u64,
    payloads: Vec<u32>,
}

/// Cost started over the complete seconds since the first start, over capacity.
fn utilisation(starts: &[(Instant, u64)], capacity: u32) -> f64 {
    let Some(first) = starts.iter().map(|s| s.0).min() else {
        return 0.0;
    };
    let last = starts.iter().map(|s| s.0).max().unwrap_or(first);
    let seconds = last.duration_since(first).as_secs().max(1);
    let end = first + Duration::from_secs(seconds);
    let used: u64 = starts.iter().filter(|s| s.0 < end).map(|s| s.1).sum();
    used as f64 / (f64::from(capacity) * seconds as f64)
}

/// Runs a backlog for `run_for` against request units at [`RU_CAPACITY`] and bytes at
/// `bytes_capacity`. Half the operations (drawn at random, seeded) are RU-heavy (10–20
/// RU, 100–500 bytes), half bytes-heavy (1–5 RU, 1,500–3,000 bytes): at 1.5 MB/s
/// request units are the bottleneck, at 1.2 MB/s bytes are.
pub fn two_resources(rt: &Runtime, bytes_capacity: u32, run_for: Duration) -> TwoResources {
    rt.block_on(async move {
        let ru = Arc::new(ProvisionedResource::new(RU_CAPACITY));
        let bytes = Arc::new(ProvisionedResource::new(bytes_capacity));
        ru.start().await.expect("starts");
        bytes.start().await.expect("starts");
        // Enough for the whole run at the faster of the two paces, and more.
        let ops = (run_for.as_secs_f64() * 2_000.0) as u32;
        let batcher = Batcher::builder()
            .rate_limiter(ru.clone())
            .primary_resource("ru")
            .resource("bytes", bytes.clone())
            .buffer_size(ops as usize)
            .build()
            .expect("valid options");
        let starts: Arc<Mutex<Vec<Start>>> = Arc::default();
        let watcher = Watcher::builder().max_batch_size(100).callback(&batcher, {
            let starts = starts.clone();
            move |batch: Vec<Operation<u32>>| {
                let at = Instant::now();
                let ru = batch.iter().map(|o| u64::from(o.cost())).sum();
                let bytes = batch.iter().map(|o| u64::from(o.cost_of("bytes"))).sum();
                let payloads = batch.into_iter().map(Operation::into_payload).collect();
                starts.lock().unwrap().push(Start {
                    at,
                    ru,
                    bytes,
                    payloads,
                });
                std::future::ready(())
            }
        });
        let mut rng = fastrand::Rng::with_seed(13);
        for i in 0..ops {
            let (ru, bytes) = if rng.bool() {
                (rng.u32(10..=20), rng.u32(100..=500))
            } else {
                (rng.u32(1..=5), rng.u32(1_500..=3_000))
            };
            let op = Operation::new(i, ru).with_cost("bytes", bytes);
            watcher.try_enqueue(op).expect("room for all");
        }
        batcher.start().expect("inside a runtime");
        tokio::time::sleep(run_for).await;
        batcher.stop().await;
        ru.stop().await.expect("stops");
        bytes.stop().await.expect("stops");
        let starts = std::mem::take(&mut *starts.lock().unwrap());
        let mut payloads: Vec<u32> = starts.iter().flat_map(|s| s.payloads.clone()).collect();
        let delivered = payloads.len();
        payloads.sort_unstable();
        payloads.dedup();
        let figures = |name, capacity, pick: fn(&Start) -> u64| {
            let s: Vec<(Instant, u64)> = starts.iter().map(|x| (x.at, pick(x))).collect();
            ResourceFigures {
                name,
                capacity,
                window_max: max_window(s.clone()),
                utilisation: utilisation(&s, capacity),
            }
        };
        TwoResources {
            resources: [
                figures("ru", RU_CAPACITY, |x| x.ru),
                figures("bytes", bytes_capacity, |x| x.bytes),
            ],
            delivered,
            duplicates: delivered - payloads.len(),
        }
    })
}
