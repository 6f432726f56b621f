//! Batch sizes, non-batchable operations, linger and the flush tick.

mod support;

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use support::{next_within, nothing_within, reporting_watcher};
use tokio::time::Instant;

const TICK: Duration = Duration::from_millis(100);

#[tokio::test(start_paused = true)]
async fn full_batches_leave_at_once_and_the_rest_on_the_next_tick() {
    let batcher = Batcher::builder().build().unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(3));
    batcher.start().unwrap();
    let t0 = Instant::now();
    for i in 0..7u32 {
        watcher.enqueue(Operation::new(i, 1)).await.unwrap();
    }
    let first = next_within(&mut rx, TICK / 2).await;
    let second = next_within(&mut rx, TICK / 2).await;
    assert_eq!(
        (first.payloads, second.payloads),
        (vec![0, 1, 2], vec![3, 4, 5])
    );
    assert_eq!(first.at, t0, "a full batch must not wait");
    let last = next_within(&mut rx, TICK * 2).await;
    assert_eq!(last.payloads, vec![6]);
    assert!(
        last.at - t0 <= TICK,
        "a partial batch waits at most one flush interval"
    );
    assert_eq!(last.attempts, vec![1]);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn non_batchable_operations_go_alone() {
    let batcher = Batcher::builder().build().unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(10));
    for i in 0..5u32 {
        let op = Operation::new(i, 1).with_batchable(i != 2);
        watcher.try_enqueue(op).unwrap();
    }
    batcher.start().unwrap();
    let mut batches = Vec::new();
    while batches.iter().map(|b: &Vec<u32>| b.len()).sum::<usize>() < 5 {
        batches.push(next_within(&mut rx, TICK * 3).await.payloads);
    }
    assert!(batches.contains(&vec![2]), "{batches:?}");
    assert!(batches.iter().all(|b| !b.contains(&2) || b.len() == 1));
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn zero_linger_releases_a_lone_operation_at_once() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(100));
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(35)).await;
    let t0 = Instant::now();
    watcher.enqueue(Operation::new("x", 1)).await.unwrap();
    let got = next_within(&mut rx, TICK).await;
    assert_eq!(got.at, t0);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_short_linger_releases_a_partial_batch_before_the_tick() {
    let linger = Duration::from_millis(20);
    let batcher = Batcher::builder().linger(linger).build().unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(100));
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let t0 = Instant::now();
    watcher.enqueue(Operation::new(1u8, 1)).await.unwrap();
    watcher.enqueue(Operation::new(2u8, 1)).await.unwrap();
    let got = next_within(&mut rx, TICK).await;
    assert_eq!(got.payloads, vec![1, 2]);
    // Due two milliseconds early, to absorb timer lateness.
    assert_eq!(got.at - t0, linger - Duration::from_millis(2));
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn flush_releases_partial_batches_without_waiting() {
    let batcher = Batcher::builder()
        .flush_interval(Duration::from_secs(10))
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(100));
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1u8, 1)).await.unwrap();
    nothing_within(&mut rx, Duration::from_secs(1)).await;
    let t0 = Instant::now();
    batcher.flush();
    let got = next_within(&mut rx, TICK).await;
    assert_eq!((got.payloads, got.at), (vec![1], t0));
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn watchers_of_different_payload_types_share_one_batcher() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (strings, mut srx) = reporting_watcher::<String>(&batcher, Watcher::builder());
    let (numbers, mut nrx) = reporting_watcher::<u64>(&batcher, Watcher::builder());
    batcher.start().unwrap();
    strings
        .enqueue(Operation::new("a".into(), 1))
        .await
        .unwrap();
    numbers.enqueue(Operation::new(42, 1)).await.unwrap();
    assert_eq!(
        next_within(&mut srx, TICK).await.payloads,
        vec!["a".to_string()]
    );
    assert_eq!(next_within(&mut nrx, TICK).await.payloads, vec![42]);
    assert_ne!(strings.id(), numbers.id());
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn unlimited_batch_size_takes_everything_buffered() {
    let batcher = Batcher::builder().build().unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder());
    for i in 0..500u32 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    let got = next_within(&mut rx, TICK * 2).await;
    assert_eq!(got.payloads, (0..500).collect::<Vec<_>>());
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_releases_a_partial_batch_without_waiting_for_the_tick() {
    // Go-batcher's shape: a one-operation buffer, unlimited batch size, a long tick.
    let batcher = Batcher::builder()
        .buffer_size(1)
        .flush_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder());
    batcher.start().unwrap();
    let t0 = Instant::now();
    let producer = tokio::spawn(async move {
        for i in 0..50u32 {
            watcher.enqueue(Operation::new(i, 1)).await.unwrap();
        }
    });
    let mut seen = Vec::new();
    while seen.len() < 50 {
        seen.extend(next_within(&mut rx, Duration::from_secs(1)).await.payloads);
    }
    producer.await.unwrap();
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
    assert!(
        Instant::now() - t0 < Duration::from_secs(1),
        "50 operations through a one-slot buffer waited {:?} for ticks",
        Instant::now() - t0
    );
    batcher.stop().await;
}
