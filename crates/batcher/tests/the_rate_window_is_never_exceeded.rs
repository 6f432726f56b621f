//! The limiter's capacity is a per-second budget enforced over a sliding window.

mod support;

use std::sync::Arc;
use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::RateLimiter;
use proptest::prelude::*;
use support::{TestLimiter, collect, max_window_cost, next_within, reporting_watcher, windows};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_provisioned_budget_is_used_fully_and_never_exceeded() {
    let limiter = TestLimiter::new(1_000);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(10_000)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(100));
    for i in 0..6_000u32 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let delivered = collect(&mut rx, 6_000).await;
    let w = windows(&delivered);
    assert_eq!(max_window_cost(&w), 1_000);
    // 6,000 at a slice of 100 per 100 ms flush, the first slice at the start: the last
    // leaves 5.9 s after the first.
    let last = delivered.last().unwrap().at;
    assert_eq!(last - t0, Duration::from_millis(5_900));
    let mut payloads: Vec<u32> = delivered.iter().flat_map(|d| d.payloads.clone()).collect();
    payloads.sort_unstable();
    assert_eq!(payloads, (0..6_000).collect::<Vec<_>>());
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_operation_above_the_per_flush_slice_leaves_as_soon_as_the_window_allows() {
    // 10 per second; a flush every 100 ms would give slices of 1, but an op costs 8.
    let limiter = TestLimiter::new(10);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(10));
    for i in 0..4u32 {
        watcher.try_enqueue(Operation::new(i, 8)).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let delivered = collect(&mut rx, 4).await;
    let at: Vec<Duration> = delivered.iter().map(|d| d.at - t0).collect();
    assert_eq!(
        at,
        [0, 1, 2, 3].map(Duration::from_secs).to_vec(),
        "each op leaves exactly when the previous one leaves the window"
    );
    assert_eq!(max_window_cost(&windows(&delivered)), 8);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_capacity_change_mid_run_is_respected_from_the_next_flush() {
    let limiter = TestLimiter::with_max(100, 1_000);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(100_000)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(10));
    for i in 0..3_000u32 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let mut delivered = Vec::new();
    let mut seen = 0;
    let mut raised = false;
    let mut lowered = false;
    while seen < 3_000 {
        let d = next_within(&mut rx, Duration::from_secs(30)).await;
        seen += d.payloads.len();
        let since = d.at - t0;
        if !raised && since >= Duration::from_millis(2_500) {
            limiter.set_capacity(1_000);
            raised = true;
        }
        if !lowered && since >= Duration::from_millis(4_500) {
            limiter.set_capacity(200);
            lowered = true;
        }
        delivered.push(d);
    }
    assert!(raised && lowered);
    let w = windows(&delivered);
    // Before the raise no window holds more than 100; after it, no more than 1,000.
    let before: Vec<_> = w
        .iter()
        .copied()
        .filter(|(at, _)| *at - t0 < Duration::from_millis(2_500))
        .collect();
    assert_eq!(max_window_cost(&before), 100);
    assert!(max_window_cost(&w) <= 1_000);
    // Once lowered, a window that starts after the change holds at most 200.
    let low_start = delivered
        .iter()
        .find(|d| d.at - t0 >= Duration::from_millis(4_500))
        .map(|d| d.at)
        .unwrap_or(t0);
    let late: Vec<_> = w
        .iter()
        .copied()
        .filter(|(at, _)| *at >= low_start + Duration::from_secs(1))
        .collect();
    assert!(max_window_cost(&late) <= 200, "{}", max_window_cost(&late));
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_limiter_is_asked_for_what_is_buffered_and_in_flight() {
    let limiter = TestLimiter::new(50);
    // A one-second flush makes the first slice the whole capacity.
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .flush_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let (watcher, _rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(10));
    for i in 0..30u32 {
        watcher.try_enqueue(Operation::new(i, 7)).unwrap();
    }
    assert_eq!(batcher.needs_capacity(), 210);
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let wanted = limiter.wanted.lock().unwrap().clone();
    // 7 ops (49) left at once; the first capacity tick sees the other 23.
    assert_eq!(wanted.first(), Some(&(23 * 7)));
    assert!(limiter.max_capacity() >= 50);
    batcher.stop().await;
}

/// One random case: ops spread over two watchers, and the capacity changed once mid-run.
struct Case {
    costs: Vec<u32>,
    capacity: u32,
    batch: usize,
    new_capacity: u32,
    change_after: Duration,
}

fn run_property(case: Case) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let Case {
            costs,
            capacity,
            batch,
            new_capacity,
            change_after,
        } = case;
        let limiter = TestLimiter::with_max(capacity, capacity.max(new_capacity));
        let batcher = Batcher::builder()
            .rate_limiter(limiter.clone() as Arc<dyn RateLimiter>)
            .build()
            .unwrap();
        let (a, mut rx_a) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(batch));
        let (b, mut rx_b) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(3));
        let mut counts = [0, 0];
        for (i, cost) in costs.iter().enumerate() {
            let op = Operation::new(i as u32, *cost).with_batchable(i % 7 != 3);
            let watcher = if i % 3 == 0 { &b } else { &a };
            counts[usize::from(i % 3 == 0)] += 1;
            watcher.try_enqueue(op).unwrap();
        }
        let t0 = Instant::now();
        batcher.start().unwrap();
        let changer = tokio::spawn(async move {
            tokio::time::sleep(change_after).await;
            limiter.set_capacity(new_capacity);
        });
        let mut delivered = collect(&mut rx_a, counts[0]).await;
        delivered.extend(collect(&mut rx_b, counts[1]).await);
        changer.await.unwrap();
        let mut payloads: Vec<u32> = delivered.iter().flat_map(|d| d.payloads.clone()).collect();
        payloads.sort_unstable();
        prop_assert_eq!(payloads, (0..costs.len() as u32).collect::<Vec<_>>());
        prop_assert!(delivered.iter().all(|d| d.attempts.iter().all(|a| *a == 1)));
        let mut w = windows(&delivered);
        w.sort_by_key(|x| x.0);
        prop_assert!(max_window_cost(&w) <= u64::from(capacity.max(new_capacity)));
        // Before the change, the first capacity bounds every window.
        let before: Vec<_> = w
            .iter()
            .copied()
            .filter(|(at, _)| *at - t0 < change_after)
            .collect();
        prop_assert!(max_window_cost(&before) <= u64::from(capacity));
        // A window starting a flush after the change is bounded by the new capacity.
        let late: Vec<_> = w
            .iter()
            .copied()
            .filter(|(at, _)| *at - t0 > change_after + Duration::from_millis(100))
            .collect();
        prop_assert!(max_window_cost(&late) <= u64::from(new_capacity));
        batcher.stop().await;
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_window_exceeds_capacity_and_every_op_arrives_once(
        capacity in 1u32..200,
        new_capacity in 1u32..200,
        change_ms in 0u64..3_000,
        raw in prop::collection::vec(1u32..1_000, 1..120),
        batch in 1usize..20,
    ) {
        let cheapest = capacity.min(new_capacity);
        let costs: Vec<u32> = raw.into_iter().map(|c| 1 + c % cheapest).collect();
        run_property(Case {
            costs,
            capacity,
            batch,
            new_capacity,
            change_after: Duration::from_millis(change_ms),
        })?;
    }
}
