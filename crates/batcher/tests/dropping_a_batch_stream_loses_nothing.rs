//! Dropping a watcher's batch stream keeps what it had not received for `take_unsent`,
//! and later enqueues on that watcher hand the operation back.

mod support;

use std::time::Duration;

use batcher::{Batcher, EnqueueErrorKind, Operation, Watcher};
use events_core::EventName;
use support::{Events, eventually};

#[tokio::test(start_paused = true)]
async fn buffered_operations_stay_with_the_watcher_after_the_stream_is_dropped() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, batches) = Watcher::builder().stream::<u8>(&batcher);
    for i in 0..5 {
        watcher.try_enqueue(Operation::new(i, 2)).unwrap();
    }
    drop(batches);
    batcher.start().unwrap();
    // Several flush ticks pass; nothing may be released to the closed watcher.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(batcher.operations_in_buffer(), 5);
    assert_eq!(batcher.needs_capacity(), 10);
    assert_eq!(batcher.inflight(), 0);

    let error = watcher.try_enqueue(Operation::new(9, 1)).unwrap_err();
    assert_eq!(error.kind(), EnqueueErrorKind::Closed);
    assert!(error.is_closed());
    assert!(error.to_string().contains("take_unsent"));
    assert_eq!(error.into_operation().into_payload(), 9);
    let error = watcher.enqueue(Operation::new(10, 1)).await.unwrap_err();
    assert!(error.is_closed());

    let unsent = watcher.take_unsent();
    let payloads: Vec<u8> = unsent.iter().map(|o| *o.payload()).collect();
    assert_eq!(payloads, vec![0, 1, 2, 3, 4]);
    assert!(unsent.iter().all(|o| o.attempts() == 0));
    assert_eq!(batcher.operations_in_buffer(), 0);
    assert_eq!(events.count(EventName::Error), 0);
    assert_eq!(batcher.stop().await.unsent, 0);
}

#[tokio::test(start_paused = true)]
async fn batches_released_but_not_received_come_back_too() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (watcher, mut batches) = Watcher::builder().max_batch_size(2).stream::<u8>(&batcher);
    for i in 0..5 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    // Three batches (2 + 2 + 1) are handed out to the stream.
    eventually(Duration::from_secs(1), || batcher.inflight() == 3).await;
    // Released but not yet received, they still hold their room in the buffer.
    assert_eq!(batcher.operations_in_buffer(), 5);
    assert_eq!(batcher.needs_capacity(), 5);
    let held = batches.next().await.unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(batcher.operations_in_buffer(), 3);
    drop(batches);

    // The two batches never received are buffered again, their attempt taken back.
    assert_eq!(batcher.inflight(), 1);
    assert_eq!(batcher.operations_in_buffer(), 3);
    let unsent = watcher.take_unsent();
    assert_eq!(unsent.len(), 3);
    assert!(unsent.iter().all(|o| o.attempts() == 0));
    assert!(held.iter().all(|o| o.attempts() == 1));

    let mut all: Vec<u8> = held
        .into_operations()
        .into_iter()
        .chain(unsent)
        .map(|o| o.into_payload())
        .collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2, 3, 4], "every operation exactly once");
    assert_eq!((batcher.inflight(), batcher.operations_in_buffer()), (0, 0));
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn other_watchers_go_on_after_one_stream_is_dropped() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (closed, dropped) = Watcher::builder().stream::<u8>(&batcher);
    let (open, mut batches) = Watcher::builder().stream::<u8>(&batcher);
    batcher.start().unwrap();
    drop(dropped);
    closed.try_enqueue(Operation::new(1, 1)).unwrap_err();
    open.try_enqueue(Operation::new(2, 1)).unwrap();
    let batch = tokio::time::timeout(Duration::from_secs(1), batches.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch[0].payload(), &2);
    batch.done();
    batcher.stop().await;
}
