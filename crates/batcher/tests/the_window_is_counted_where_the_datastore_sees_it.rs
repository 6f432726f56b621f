//! The sliding window is counted when the datastore sees a batch: when its callback
//! starts, or when a stream's consumer receives it, however late that is.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use support::{TestLimiter, max_window_cost};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_stream_consumer_that_stalls_and_catches_up_never_sees_more_than_the_capacity() {
    let batcher = Batcher::builder()
        .rate_limiter(TestLimiter::new(100))
        .build()
        .unwrap();
    let (watcher, mut batches) = Watcher::builder().max_batch_size(1).stream::<u32>(&batcher);
    for i in 0..60 {
        watcher.try_enqueue(Operation::new(i, 10)).unwrap();
    }
    batcher.start().unwrap();
    let mut received = Vec::new();
    while received.len() < 60 {
        let batch = tokio::time::timeout(Duration::from_secs(30), batches.next())
            .await
            .expect("a batch in time")
            .expect("the stream goes on");
        received.push((Instant::now(), 10u64));
        drop(batch);
        if received.len() % 7 == 0 {
            // The consumer stalls: what the batcher released meanwhile must not
            // arrive in one burst on top of what it receives next.
            tokio::time::sleep(Duration::from_millis(900)).await;
        }
    }
    assert!(
        max_window_cost(&received) <= 100,
        "{}",
        max_window_cost(&received)
    );
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn callbacks_started_late_by_a_busy_runtime_stay_within_the_window() {
    let batcher = Batcher::builder()
        .rate_limiter(TestLimiter::new(100))
        .build()
        .unwrap();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let watcher = Watcher::builder().max_batch_size(1).callback(&batcher, {
        let starts = starts.clone();
        move |ops: Vec<Operation<u32>>| {
            starts
                .lock()
                .unwrap()
                .push((Instant::now(), u64::from(ops[0].cost())));
            async {}
        }
    });
    for i in 0..40 {
        watcher.try_enqueue(Operation::new(i, 10)).unwrap();
    }
    batcher.start().unwrap();
    // A task that hogs the (single-threaded) runtime now and then, so that callbacks
    // released before it start only after it. (The property test in `pacing` injects
    // arbitrary delays; this runs the whole batcher under such a stall.)
    let hog = tokio::spawn(async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(230)).await;
            let until = Instant::now() + Duration::from_millis(400);
            // Paused clock: advancing it without yielding stands for a long poll.
            tokio::time::advance(until - Instant::now()).await;
        }
    });
    support::eventually(Duration::from_secs(60), || {
        starts.lock().unwrap().len() == 40
    })
    .await;
    hog.abort();
    let starts = starts.lock().unwrap().clone();
    assert!(
        max_window_cost(&starts) <= 100,
        "{}",
        max_window_cost(&starts)
    );
    batcher.stop().await;
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Random capacities and costs, a stream consumer that takes a random time before
    /// each receive (the delay between release and when the datastore sees a batch):
    /// receipts never hold more than the capacity in a second, and every operation
    /// arrives exactly once.
    #[test]
    fn receipts_stay_within_the_window_whatever_the_consumer_delays(
        capacity in 5u32..=400,
        costs in proptest::collection::vec(0u32..=400, 1..60),
        delays in proptest::collection::vec(0u64..=700, 1..16),
        max_batch in 1usize..=8,
    ) {
        let costs: Vec<u32> = costs.iter().map(|c| c % (capacity + 1)).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let (received, max) = rt.block_on(async {
            let batcher = Batcher::builder()
                .rate_limiter(TestLimiter::new(capacity))
                .build()
                .unwrap();
            let (watcher, mut batches) =
                Watcher::builder().max_batch_size(max_batch).stream::<usize>(&batcher);
            for (i, &cost) in costs.iter().enumerate() {
                watcher.try_enqueue(Operation::new(i, cost)).unwrap();
            }
            batcher.start().unwrap();
            let (mut received, mut seen) = (Vec::new(), Vec::new());
            let mut k = 0;
            while received.len() < costs.len() {
                tokio::time::sleep(Duration::from_millis(delays[k % delays.len()])).await;
                k += 1;
                let batch = tokio::time::timeout(Duration::from_secs(120), batches.next())
                    .await
                    .expect("a batch in time")
                    .expect("the stream goes on");
                let cost: u64 = batch.iter().map(|o| u64::from(o.cost())).sum();
                seen.push((Instant::now(), cost));
                received.extend(batch.into_operations().into_iter().map(|o| o.into_payload()));
            }
            batcher.stop().await;
            (received, max_window_cost(&seen))
        });
        proptest::prop_assert!(max <= u64::from(capacity), "{} received in a second, capacity {}", max, capacity);
        let mut sorted = received;
        sorted.sort_unstable();
        proptest::prop_assert_eq!(sorted, (0..costs.len()).collect::<Vec<_>>());
    }
}
