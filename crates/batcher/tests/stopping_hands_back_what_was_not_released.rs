//! After stop nothing is released and nothing buffered is silently dropped.

mod support;

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::EventName;
use support::{Events, TestLimiter, next_within, reporting_watcher};
use tokio_util::sync::CancellationToken;

#[tokio::test(start_paused = true)]
async fn stop_with_a_full_buffer_leaves_every_operation_with_its_watcher() {
    // Capacity 0: nothing can be released, so the buffer stays full.
    let batcher = Batcher::builder()
        .rate_limiter(TestLimiter::with_max(0, 10))
        .buffer_size(50)
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (a, mut arx) = reporting_watcher::<u32>(&batcher, Watcher::builder().max_batch_size(5));
    let (b, _brx) = reporting_watcher::<String>(&batcher, Watcher::builder());
    for i in 0..40 {
        a.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    for i in 0..10 {
        b.try_enqueue(Operation::new(i.to_string(), 1)).unwrap();
    }
    batcher.start().unwrap();
    let waiting = tokio::spawn({
        let a = a.clone();
        async move { a.enqueue(Operation::new(99, 1)).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = batcher.stop().await;
    assert_eq!((stopped.unsent, stopped.inflight), (50, 0));
    let refused = waiting.await.unwrap().unwrap_err();
    assert!(refused.is_stopped());
    assert_eq!(refused.into_operation().into_payload(), 99);

    let mut back: Vec<u32> = a
        .take_unsent()
        .into_iter()
        .map(|o| o.into_payload())
        .collect();
    back.sort_unstable();
    assert_eq!(back, (0..40).collect::<Vec<_>>());
    assert_eq!(b.take_unsent().len(), 10);
    assert_eq!(batcher.operations_in_buffer(), 0);
    assert!(arx.try_recv().is_err(), "nothing was released");
    assert_eq!(events.count(EventName::Shutdown), 1);
    // Stopping again only reports.
    assert_eq!(batcher.stop().await.unsent, 0);
    assert_eq!(events.count(EventName::Shutdown), 1);
}

#[tokio::test(start_paused = true)]
async fn a_batch_stream_ends_after_the_batches_released_before_stop() {
    let batcher = Batcher::builder().build().unwrap();
    let (watcher, mut batches) = Watcher::builder().max_batch_size(2).stream::<u8>(&batcher);
    for i in 0..5 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    let first = batches.next().await.unwrap();
    assert_eq!(first.len(), 2);
    let first_payloads: Vec<u8> = first.iter().map(|o| *o.payload()).collect();
    first.done();
    let stopped = batcher.stop().await;
    let mut received: Vec<u8> = first_payloads;
    while let Some(batch) = batches.next().await {
        received.extend(
            batch
                .into_operations()
                .into_iter()
                .map(|o| o.into_payload()),
        );
    }
    let unsent = batches.take_unsent();
    assert_eq!(unsent.len(), stopped.unsent);
    received.extend(unsent.into_iter().map(|o| o.into_payload()));
    received.sort_unstable();
    assert_eq!(
        received,
        vec![0, 1, 2, 3, 4],
        "every operation exactly once"
    );
    assert_eq!(batcher.operations_in_buffer(), 0);
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_token_stops_the_batcher() {
    let token = CancellationToken::new();
    let batcher = Batcher::builder()
        .cancellation_token(token.clone())
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 1)).await.unwrap();
    next_within(&mut rx, Duration::from_secs(1)).await;
    token.cancel();
    tokio::time::timeout(Duration::from_secs(1), async {
        while !batcher.is_stopped() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert!(
        watcher
            .try_enqueue(Operation::new(2, 1))
            .unwrap_err()
            .is_stopped()
    );
    batcher.stop().await;
    assert_eq!(events.count(EventName::Shutdown), 1);
}
