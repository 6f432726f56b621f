//! Under a backlog the per-second budget is released in even slices per flush, with
//! unused allowance carried and the sliding window as the hard bound.

mod support;

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use support::{
    Delivered, TestLimiter, collect, max_window_cost, next_within, reporting_watcher, windows,
};
use tokio::time::Instant;

const FLUSH: Duration = Duration::from_millis(100);

/// Released cost per flush interval since `t0`.
fn buckets<T>(delivered: &[Delivered<T>], t0: Instant) -> Vec<u64> {
    let mut out = Vec::new();
    for d in delivered {
        let k = ((d.at - t0).as_nanos() / FLUSH.as_nanos()) as usize;
        if out.len() <= k {
            out.resize(k + 1, 0);
        }
        out[k] += d.cost;
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_steady_backlog_is_released_one_slice_per_flush() {
    // 1,000 per second: a slice of 100 per 100 ms flush; ops cost 3 so slices do not
    // divide evenly and the overdraft rule is exercised.
    let limiter = TestLimiter::new(1_000);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(10_000)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(10));
    for i in 0..2_000u32 {
        watcher.try_enqueue(Operation::new(i, 3)).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let delivered = collect(&mut rx, 2_000).await;
    let b = buckets(&delivered, t0);
    let max_op = 3;
    assert!(
        b.iter().all(|c| *c <= 100 + max_op),
        "a flush released more than a slice plus one op: {b:?}"
    );
    // Every flush but the last releases about a slice: none is skipped or starved.
    let steady = &b[..b.len() - 1];
    assert!(steady.iter().all(|c| *c >= 100 - 2 * max_op), "{b:?}");
    assert!(max_window_cost(&windows(&delivered)) <= 1_000);
    // 6,000 at 1,000 per second: about 6 s, nothing lost to pacing.
    let last = delivered.last().unwrap().at - t0;
    assert!(last <= Duration::from_millis(6_000), "{last:?}");
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn allowance_unused_while_idle_lets_a_burst_go_at_once() {
    let limiter = TestLimiter::new(1_000);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(10_000)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(100));
    let started = Instant::now();
    batcher.start().unwrap();
    // Idle for two seconds: ten slices of the last second are carried.
    tokio::time::sleep(Duration::from_millis(2_050)).await;
    let t0 = Instant::now();
    for i in 0..3_000u32 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    let delivered = collect(&mut rx, 3_000).await;
    let at_once: u64 = delivered
        .iter()
        .filter(|d| d.at == t0)
        .map(|d| d.cost)
        .sum();
    assert_eq!(at_once, 1_000, "the whole carried second goes at once");
    // When the burst leaves the window, releases go on a slice per flush (counted
    // between flush ticks), not as a second burst.
    let after: Vec<_> = delivered.iter().filter(|d| d.at > t0).cloned().collect();
    let first_after = after[0].at - t0;
    assert!(first_after >= Duration::from_secs(1), "{first_after:?}");
    let b = buckets(&after, started);
    assert!(b.iter().all(|c| *c <= 100), "{b:?}");
    assert!(max_window_cost(&windows(&delivered)) <= 1_000);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_operation_dearer_than_a_slice_goes_within_a_second_despite_a_backlog() {
    let limiter = TestLimiter::new(1_000);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(10_000)
        .build()
        .unwrap();
    let (cheap, mut cheap_rx) =
        reporting_watcher::<u32>(&batcher, Watcher::builder().max_batch_size(10));
    let (dear, mut dear_rx) = reporting_watcher::<u32>(&batcher, Watcher::builder());
    for i in 0..5_000u32 {
        cheap.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    // Let the backlog settle into its slices and fill the window.
    tokio::time::sleep(Duration::from_millis(1_550)).await;
    let enqueued = Instant::now();
    // Six slices' worth, within the capacity.
    dear.try_enqueue(Operation::new(0, 600)).unwrap();
    let d = next_within(&mut dear_rx, Duration::from_secs(2)).await;
    let waited = d.at - enqueued;
    assert!(waited <= Duration::from_millis(1_000), "{waited:?}");

    let mut all = vec![(d.at, d.cost)];
    while let Ok(c) = cheap_rx.try_recv() {
        all.push((c.at, c.cost));
    }
    // A little more time so that the window after the dear op is covered too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Ok(c) = cheap_rx.try_recv() {
        all.push((c.at, c.cost));
    }
    all.sort_by_key(|x| x.0);
    assert!(max_window_cost(&all) <= 1_000, "{}", max_window_cost(&all));
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slices_follow_a_capacity_change() {
    let limiter = TestLimiter::with_max(1_000, 2_000);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(100_000)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(10));
    for i in 0..12_000u32 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let first = collect(&mut rx, 2_000).await;
    let change = Instant::now();
    limiter.set_capacity(2_000);
    let second = collect(&mut rx, 6_000).await;
    limiter.set_capacity(500);
    let lowered = Instant::now();
    let third = collect(&mut rx, 4_000).await;

    let b = buckets(&first, t0);
    assert!(b.iter().all(|c| *c <= 100), "{b:?}");
    // From the flush after the raise, slices of 200.
    let b = buckets(&second, change);
    assert!(b.iter().all(|c| *c <= 200), "{b:?}");
    assert!(b[1..b.len() - 1].iter().all(|c| *c == 200), "{b:?}");
    // After the cut, slices of 50; windows that start after it hold at most 500.
    let b = buckets(&third, lowered);
    assert!(b[1..].iter().all(|c| *c <= 50), "{b:?}");
    let late: Vec<_> = windows(&third)
        .into_iter()
        .filter(|(at, _)| *at > lowered + FLUSH)
        .collect();
    assert!(max_window_cost(&late) <= 500, "{}", max_window_cost(&late));
    let mut all = windows(&first);
    all.extend(windows(&second));
    all.extend(windows(&third));
    assert!(max_window_cost(&all) <= 2_000);
    batcher.stop().await;
}
