//! Workloads for the batcher benchmarks, shared by the criterion bench and the
//! scenario binary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use batcher::{Batcher, Operation, Watcher};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// The W1 throughput workload: batchable ops of cost 1 from several producer tasks to
/// one watcher whose callback only counts.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Operations in all.
    pub ops: u64,
    /// Producer tasks.
    pub producers: u64,
    /// The batcher's buffer size.
    pub buffer: usize,
    /// The watcher's max batch size.
    pub max_batch: usize,
    /// Whether a listener is attached and batch events are on (W4).
    pub events: bool,
    /// Called with the batcher before it starts, to attach an observer (the metrics
    /// bridge in the metrics-on run).
    pub observe: Option<fn(&Batcher)>,
}

impl Throughput {
    /// W1 as the issue states it: 2,000,000 ops from 4 tasks, max batch 100, buffer 1,000,000.
    pub const W1: Throughput = Throughput {
        ops: 2_000_000,
        producers: 4,
        buffer: 1_000_000,
        max_batch: 100,
        events: false,
        observe: None,
    };

    /// Runs the workload once on `rt` and returns how long it took from the first
    /// enqueue until the callback had counted every operation.
    pub fn run(&self, rt: &Runtime) -> Duration {
        let cfg = *self;
        rt.block_on(async move {
            let batcher = Batcher::builder()
                .buffer_size(cfg.buffer)
                .emit_batch(cfg.events)
                .build()
                .expect("valid options");
            if let Some(observe) = cfg.observe {
                observe(&batcher);
            }
            let seen_events = Arc::new(AtomicU64::new(0));
            if cfg.events {
                let seen = seen_events.clone();
                batcher.emitter().add_listener(move |e| {
                    seen.fetch_add(e.val() as u64, Ordering::Relaxed);
                });
            }
            let counted = Arc::new(AtomicU64::new(0));
            let all_done = Arc::new(Notify::new());
            let watcher = Watcher::builder()
                .max_batch_size(cfg.max_batch)
                .callback(&batcher, {
                    let counted = counted.clone();
                    let all_done = all_done.clone();
                    move |ops: Vec<Operation<u64>>| {
                        let n = ops.len() as u64;
                        if counted.fetch_add(n, Ordering::AcqRel) + n == cfg.ops {
                            all_done.notify_one();
                        }
                        std::future::ready(())
                    }
                });
            batcher.start().expect("inside a runtime");
            let started = Instant::now();
            let per_task = cfg.ops / cfg.producers;
            let mut tasks = Vec::new();
            for p in 0..cfg.producers {
                let watcher = watcher.clone();
                let n = if p + 1 == cfg.producers {
                    cfg.ops - per_task * (cfg.producers - 1)
                } else {
                    per_task
                };
                tasks.push(tokio::spawn(async move {
                    for i in 0..n {
                        if let Err(e) = watcher.enqueue(Operation::new(i, 1)).await {
                            panic!("enqueue failed: {e}");
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.expect("producer finished");
            }
            // A partial last batch leaves on the next flush tick at the latest; ask now.
            batcher.flush();
            all_done.notified().await;
            let elapsed = started.elapsed();
            batcher.stop().await;
            if cfg.events {
                assert_eq!(seen_events.load(Ordering::Relaxed), cfg.ops);
            }
            elapsed
        })
    }
}

/// A multi-threaded runtime with one worker per CPU, as a service would use.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The most cost in any half-open one-second window of `(start, cost)` pairs.
pub fn max_window(mut starts: Vec<(Instant, u64)>) -> u64 {
    starts.sort_by_key(|x| x.0);
    let (mut max, mut lo, mut sum) = (0, 0, 0);
    for &(at, c) in &starts {
        sum += c;
        while at.duration_since(starts[lo].0) >= Duration::from_secs(1) {
            sum -= starts[lo].1;
            lo += 1;
        }
        max = max.max(sum);
    }
    max
}
