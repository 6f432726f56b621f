//! The batcher with the real provisioned limiter: the rate window holds, including
//! across a runtime capacity change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::RateLimiter;
use limiter_provisioned::ProvisionedResource;
use tokio::time::Instant;

fn max_window(d: &[(Instant, u64)], from: Instant) -> u64 {
    let d: Vec<_> = d.iter().copied().filter(|(at, _)| *at >= from).collect();
    let mut max = 0;
    for (i, &(end, _)) in d.iter().enumerate() {
        let sum: u64 = d[..=i]
            .iter()
            .filter(|(at, _)| end.duration_since(*at) < Duration::from_secs(1))
            .map(|(_, c)| c)
            .sum();
        max = max.max(sum);
    }
    max
}

#[tokio::test(start_paused = true)]
async fn releases_stay_within_a_provisioned_capacity_that_changes() {
    let limiter = Arc::new(ProvisionedResource::new(1_000));
    limiter.start().await.unwrap();
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(20_000)
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = Watcher::builder().max_batch_size(50).callback(
        &batcher,
        move |ops: Vec<Operation<u32>>| {
            let tx = tx.clone();
            async move {
                let cost = ops.iter().map(|o| u64::from(o.cost())).sum::<u64>();
                let _ = tx.send((Instant::now(), cost, ops.len()));
            }
        },
    );
    for i in 0..8_000u32 {
        watcher.try_enqueue(Operation::new(i, 1 + i % 3)).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut delivered = 0;
    let mut lowered_at = None;
    while delivered < 8_000 {
        let (at, cost, n) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("progress")
            .expect("open");
        delivered += n;
        log.lock().unwrap().push((at, cost));
        if lowered_at.is_none() && at - t0 >= Duration::from_secs(3) {
            limiter.set_capacity(400);
            lowered_at = Some(at);
        }
    }
    let log = log.lock().unwrap().clone();
    assert!(max_window(&log, t0) <= 1_000);
    // A window starting a second after the change holds no more than the new capacity.
    let after = lowered_at.unwrap() + Duration::from_secs(1);
    assert!(max_window(&log, after) <= 400);
    // Used fully before the change: 3 s at 1,000 per second.
    let early: u64 = log
        .iter()
        .filter(|(at, _)| *at - t0 < Duration::from_secs(3))
        .map(|(_, c)| c)
        .sum();
    assert!(early >= 2_990, "{early}");
    batcher.stop().await;
    limiter.stop().await.unwrap();
}
