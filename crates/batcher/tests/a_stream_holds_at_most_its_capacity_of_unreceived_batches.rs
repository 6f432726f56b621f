//! A stream watcher's channel is bounded: once it holds its capacity of unreceived
//! batches, the watcher's operations wait in the buffer (in order, nothing lost) and
//! other watchers go on.

mod support;

use std::time::Duration;

use batcher::{Batcher, DEFAULT_STREAM_CAPACITY, Operation, Watcher};
use support::{eventually, next_within, reporting_watcher};

#[tokio::test(start_paused = true)]
async fn a_stalled_stream_holds_its_capacity_and_the_rest_waits_in_order() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (watcher, mut batches) = Watcher::builder()
        .max_batch_size(1)
        .stream_capacity(4)
        .stream::<u32>(&batcher);
    let (other, mut delivered) = reporting_watcher::<u32>(&batcher, Watcher::builder());
    for i in 0..40 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    eventually(Duration::from_secs(1), || batcher.inflight() == 4).await;
    // Many flush ticks later, still only the stream's capacity is released to it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(batcher.inflight(), 4);
    assert_eq!(batcher.operations_in_buffer(), 40);
    // Another watcher is not held back by it.
    other.try_enqueue(Operation::new(7, 1)).unwrap();
    assert_eq!(
        next_within(&mut delivered, Duration::from_secs(1))
            .await
            .payloads,
        vec![7]
    );

    let mut received = Vec::new();
    while received.len() < 40 {
        let batch = tokio::time::timeout(Duration::from_secs(1), batches.next())
            .await
            .expect("the consumer's reading releases the rest")
            .unwrap();
        assert!(
            batcher.inflight() <= 4 + 1,
            "never more than the capacity ahead"
        );
        received.extend(
            batch
                .into_operations()
                .into_iter()
                .map(|o| o.into_payload()),
        );
    }
    assert_eq!(received, (0..40).collect::<Vec<_>>(), "in order, each once");
    assert_eq!(batcher.operations_in_buffer(), 0);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stopping_with_a_full_stream_leaves_the_rest_for_take_unsent() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (watcher, mut batches) = Watcher::builder().max_batch_size(2).stream::<u32>(&batcher);
    let ops = 2 * DEFAULT_STREAM_CAPACITY as u32 + 10;
    for i in 0..ops {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    eventually(Duration::from_secs(1), || {
        batcher.inflight() == DEFAULT_STREAM_CAPACITY
    })
    .await;
    let stopped = batcher.stop().await;
    assert_eq!(stopped.unsent, 10);
    let mut received = Vec::new();
    while let Some(batch) = batches.next().await {
        received.extend(
            batch
                .into_operations()
                .into_iter()
                .map(|o| o.into_payload()),
        );
    }
    assert_eq!(received.len(), 2 * DEFAULT_STREAM_CAPACITY);
    received.extend(watcher.take_unsent().into_iter().map(|o| o.into_payload()));
    assert_eq!(received, (0..ops).collect::<Vec<_>>());
    assert_eq!(batcher.operations_in_buffer(), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_full_stream_keeps_every_batch_for_take_unsent() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (watcher, batches) = Watcher::builder()
        .max_batch_size(3)
        .stream_capacity(2)
        .stream::<u32>(&batcher);
    for i in 0..20 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    eventually(Duration::from_secs(1), || batcher.inflight() == 2).await;
    drop(batches);
    assert_eq!(batcher.inflight(), 0);
    let mut back: Vec<u32> = watcher
        .take_unsent()
        .into_iter()
        .map(|o| {
            assert_eq!(o.attempts(), 0);
            o.into_payload()
        })
        .collect();
    back.sort_unstable();
    assert_eq!(back, (0..20).collect::<Vec<_>>());
    assert_eq!(batcher.operations_in_buffer(), 0);
    batcher.stop().await;
}
