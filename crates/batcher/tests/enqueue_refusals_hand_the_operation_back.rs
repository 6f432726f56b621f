//! Every enqueue error hands the operation back.

mod support;

use std::time::Duration;

use batcher::{Batcher, EnqueueErrorKind, Operation, Watcher};
use support::{TestLimiter, next_within, reporting_watcher};

#[tokio::test(start_paused = true)]
async fn an_operation_above_the_limiters_max_capacity_is_too_expensive() {
    let batcher = Batcher::builder()
        .rate_limiter(TestLimiter::with_max(10, 100))
        .build()
        .unwrap();
    let (watcher, _rx) = reporting_watcher::<&str>(&batcher, Watcher::builder());
    let err = watcher.try_enqueue(Operation::new("big", 101)).unwrap_err();
    assert_eq!(
        err.kind(),
        EnqueueErrorKind::TooExpensive {
            resource: "primary",
            cost: 101,
            max_capacity: 100
        }
    );
    assert!(err.to_string().contains("split it"));
    assert_eq!(err.into_operation().into_payload(), "big");
    // At the maximum is fine even though it exceeds the current capacity.
    watcher.try_enqueue(Operation::new("max", 100)).unwrap();
    assert_eq!(batcher.operations_in_buffer(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_operation_that_used_its_attempts_is_refused() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (watcher, mut rx) = {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let w = Watcher::builder().max_attempts(2).callback(
            &batcher,
            move |ops: Vec<Operation<u8>>| {
                let tx = tx.clone();
                async move {
                    for op in ops {
                        let _ = tx.send(op);
                    }
                }
            },
        );
        (w, rx)
    };
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1u8, 1)).await.unwrap();
    let once = next_within(&mut rx, Duration::from_secs(1)).await;
    assert_eq!(once.attempts(), 1);
    watcher.enqueue(once).await.unwrap();
    let twice = next_within(&mut rx, Duration::from_secs(1)).await;
    assert_eq!(twice.attempts(), 2);
    let err = watcher.enqueue(twice).await.unwrap_err();
    assert_eq!(
        err.kind(),
        EnqueueErrorKind::TooManyAttempts {
            attempts: 2,
            max_attempts: 2
        }
    );
    assert_eq!(err.operation().payload(), &1);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_refuses_try_enqueue_and_error_on_full_buffer_enqueue() {
    let batcher = Batcher::builder()
        .buffer_size(2)
        .error_on_full_buffer(true)
        .build()
        .unwrap();
    let (watcher, _rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    watcher.try_enqueue(Operation::new(1, 1)).unwrap();
    watcher.enqueue(Operation::new(2, 1)).await.unwrap();
    let err = watcher.try_enqueue(Operation::new(3, 1)).unwrap_err();
    assert!(err.is_buffer_full());
    assert_eq!(err.kind(), EnqueueErrorKind::BufferFull { buffer_size: 2 });
    let err = watcher.enqueue(Operation::new(4, 1)).await.unwrap_err();
    assert_eq!(err.into_operation().into_payload(), 4);
    assert_eq!(batcher.operations_in_buffer(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_makes_enqueue_wait_for_room() {
    let batcher = Batcher::builder().buffer_size(2).build().unwrap();
    let (watcher, mut rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    watcher.try_enqueue(Operation::new(1, 1)).unwrap();
    watcher.try_enqueue(Operation::new(2, 1)).unwrap();
    let waiting = tokio::spawn({
        let watcher = watcher.clone();
        async move { watcher.enqueue(Operation::new(3, 1)).await }
    });
    tokio::task::yield_now().await;
    assert!(
        !waiting.is_finished(),
        "enqueue must wait while the buffer is full"
    );
    batcher.start().unwrap();
    let first = next_within(&mut rx, Duration::from_secs(1)).await;
    assert_eq!(first.payloads, vec![1, 2]);
    waiting.await.unwrap().unwrap();
    let second = next_within(&mut rx, Duration::from_secs(1)).await;
    assert_eq!(second.payloads, vec![3]);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn enqueue_after_stop_is_refused() {
    let batcher = Batcher::builder().build().unwrap();
    batcher.start().unwrap();
    let (watcher, _rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    batcher.stop().await;
    assert!(batcher.is_stopped());
    let err = watcher.try_enqueue(Operation::new(9, 1)).unwrap_err();
    assert!(err.is_stopped());
    let err = batcher
        .enqueue(&watcher, Operation::new(8, 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), EnqueueErrorKind::Stopped);
    assert!(format!("{err:?}").contains("Stopped"));
    assert_eq!(err.into_operation().into_payload(), 8);
}
