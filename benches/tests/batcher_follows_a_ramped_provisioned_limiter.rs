//! The batcher under a DynamoDB-like ramp over the real provisioned limiter: it spends no
//! more than the ramp allows while the peak settles, and the full capacity after.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::{EventName, RateLimiter};
use limiter_provisioned::ProvisionedResource;
use limiter_ramp::{RampLimiter, RampRule};
use tokio::time::Instant;

/// The most cost released in any one-second window that starts at or after `from` and
/// ends before `to`.
fn max_window(log: &[(Instant, u64)], from: Instant, to: Instant) -> u64 {
    let d: Vec<_> = log
        .iter()
        .copied()
        .filter(|(at, _)| *at >= from && *at < to)
        .collect();
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
async fn releases_follow_the_ramp_until_the_peak_settles() {
    // The worked example of docs/configuration.md, scaled down: units / 100, minutes to
    // seconds.
    let table_max = Arc::new(ProvisionedResource::new(400));
    let limiter = Arc::new(
        RampLimiter::builder()
            .floor(40)
            .previous_peak(120)
            .rule(RampRule::times_peak(2, Duration::from_secs(30)))
            .build(table_max)
            .unwrap(),
    );
    let held = Arc::new(Mutex::new(Vec::new()));
    let sink = held.clone();
    limiter.emitter().add_listener(move |e| {
        if e.name() == EventName::HeldBack {
            sink.lock().unwrap().push(e.val());
        }
    });
    limiter.start().await.unwrap();
    assert_eq!(limiter.capacity(), 240);

    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(20_000)
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = Watcher::builder().max_batch_size(20).callback(
        &batcher,
        move |ops: Vec<Operation<u32>>| {
            let tx = tx.clone();
            async move {
                let cost = ops.iter().map(|o| u64::from(o.cost())).sum::<u64>();
                let _ = tx.send((Instant::now(), cost));
            }
        },
    );
    let total = 16_000u64;
    for i in 0..total as u32 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let mut log = Vec::new();
    let mut delivered = 0;
    while delivered < total {
        let (at, cost) = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("progress")
            .expect("open");
        delivered += cost;
        log.push((at, cost));
    }
    let s = |n: u64| t0 + Duration::from_secs(n);
    // Before the first half-minute is settled: at most twice the previous peak.
    assert!(max_window(&log, t0, s(30)) <= 240);
    // And never more than the table's maximum.
    assert!(max_window(&log, t0, s(1_000)) <= 400);
    // Used fully: 240 a second for the first 30 s, then 400 a second.
    let early: u64 = log
        .iter()
        .filter(|(at, _)| *at < s(30))
        .map(|(_, c)| c)
        .sum();
    assert!(early >= 29 * 240, "{early}");
    let late: u64 = log
        .iter()
        .filter(|(at, _)| *at >= s(32) && *at < s(42))
        .map(|(_, c)| c)
        .sum();
    assert!(late >= 9 * 400, "{late}");
    batcher.stop().await;
    limiter.stop().await.unwrap();

    assert_eq!(*held.lock().unwrap(), vec![160, 0]);
}
