//! When a batch counts as done, and how many may be in flight.

mod support;

use std::sync::Arc;
use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::EventName;
use support::{Events, eventually, next_within, reporting_watcher};
use tokio::sync::{Semaphore, mpsc};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_callback_batch_counts_as_done_after_the_max_operation_time() {
    let batcher = Batcher::builder()
        .max_operation_time(Duration::from_secs(5))
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (finished_tx, mut finished) = mpsc::unbounded_channel();
    let watcher = batcher.watcher(move |ops: Vec<Operation<u8>>| {
        let (started_tx, finished_tx) = (started_tx.clone(), finished_tx.clone());
        async move {
            let _ = started_tx.send(ops.len());
            tokio::time::sleep(Duration::from_secs(60)).await;
            let _ = finished_tx.send(ops.len());
        }
    });
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 4)).await.unwrap();
    next_within(&mut started, SECOND).await;
    assert_eq!((batcher.inflight(), batcher.needs_capacity()), (1, 4));
    tokio::time::sleep(Duration::from_millis(4_900)).await;
    assert_eq!(batcher.inflight(), 1);
    eventually(SECOND, || batcher.inflight() == 0).await;
    assert_eq!(batcher.needs_capacity(), 0);
    // The callback itself is not cancelled.
    assert_eq!(
        next_within(&mut finished, Duration::from_secs(120)).await,
        1
    );
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_watcher_max_operation_time_overrides_the_batchers() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let watcher = Watcher::builder()
        .max_operation_time(Duration::from_millis(300))
        .callback(&batcher, |_ops: Vec<Operation<u8>>| {
            std::future::pending::<()>()
        });
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 1)).await.unwrap();
    eventually(SECOND, || batcher.inflight() == 1).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(batcher.inflight(), 1);
    eventually(Duration::from_millis(100), || batcher.inflight() == 0).await;
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_batch_is_done_when_its_guard_is_dropped() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (watcher, mut batches) = Watcher::builder().stream::<u8>(&batcher);
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 3)).await.unwrap();
    let batch = batches.next().await.unwrap();
    assert_eq!((batcher.inflight(), batcher.needs_capacity()), (1, 3));
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        batcher.inflight(),
        1,
        "a held guard keeps the batch in flight"
    );
    drop(batch);
    assert_eq!((batcher.inflight(), batcher.needs_capacity()), (0, 0));
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn max_concurrent_batches_holds_back_further_batches() {
    let batcher = Batcher::builder()
        .max_concurrent_batches(2)
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = Watcher::builder().max_batch_size(1).callback(&batcher, {
        let gate = gate.clone();
        move |ops: Vec<Operation<u8>>| {
            let (gate, tx) = (gate.clone(), tx.clone());
            async move {
                let _ = tx.send(*ops[0].payload());
                gate.acquire().await.unwrap().forget();
            }
        }
    });
    for i in 0..5 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    let mut got = vec![
        next_within(&mut rx, SECOND).await,
        next_within(&mut rx, SECOND).await,
    ];
    support::nothing_within(&mut rx, Duration::from_secs(2)).await;
    assert_eq!(batcher.inflight(), 2);
    gate.add_permits(1);
    got.push(next_within(&mut rx, SECOND).await);
    support::nothing_within(&mut rx, SECOND).await;
    gate.add_permits(10);
    got.push(next_within(&mut rx, SECOND).await);
    got.push(next_within(&mut rx, SECOND).await);
    got.sort_unstable();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_callback_is_contained() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let events = Events::on(batcher.emitter());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = batcher.watcher(move |ops: Vec<Operation<u8>>| {
        let tx = tx.clone();
        async move {
            if *ops[0].payload() == 0 {
                panic!("storage exploded");
            }
            let _ = tx.send(ops.len());
        }
    });
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(0, 1)).await.unwrap();
    eventually(SECOND, || events.count(EventName::Error) == 1).await;
    let error = &events.named(EventName::Error)[0];
    assert!(error.msg().unwrap().contains("storage exploded"), "{error}");
    assert_eq!(batcher.inflight(), 0);
    // The batcher goes on.
    watcher.enqueue(Operation::new(1, 1)).await.unwrap();
    assert_eq!(next_within(&mut rx, SECOND).await, 1);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn batch_events_carry_the_operations() {
    let batcher = Batcher::builder().emit_batch(true).build().unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut rx) = reporting_watcher::<u8>(&batcher, Watcher::builder().max_batch_size(2));
    watcher.try_enqueue(Operation::new(1, 3)).unwrap();
    watcher
        .try_enqueue(Operation::new(2, 4).with_batchable(true))
        .unwrap();
    batcher.start().unwrap();
    next_within(&mut rx, SECOND).await;
    let batch = &events.named(EventName::Batch)[0];
    assert_eq!(batch.val(), 2);
    let meta = batch.metadata::<batcher::BatchMetadata>().unwrap();
    assert_eq!(meta.watcher, watcher.id());
    let costs: Vec<u32> = meta.operations.iter().map(|o| o.cost).collect();
    assert_eq!(costs, vec![3, 4]);
    assert!(
        meta.operations
            .iter()
            .all(|o| o.attempts == 1 && o.batchable)
    );
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn batch_events_say_whether_the_watcher_is_a_callback_or_a_stream() {
    let batcher = Batcher::builder().emit_batch(true).build().unwrap();
    let events = Events::on(batcher.emitter());
    let (callback, mut rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    let (stream, mut batches) = Watcher::builder().stream::<u8>(&batcher);
    batcher.start().unwrap();
    callback.try_enqueue(Operation::new(1, 1)).unwrap();
    batcher.flush();
    next_within(&mut rx, SECOND).await;
    stream.try_enqueue(Operation::new(2, 1)).unwrap();
    batcher.flush();
    batches.next().await.unwrap().done();
    let kinds: Vec<(Option<String>, batcher::WatcherKind, u64)> = events
        .named(EventName::Batch)
        .iter()
        .map(|e| {
            let meta = e.metadata::<batcher::BatchMetadata>().unwrap();
            (e.msg().map(str::to_owned), meta.kind, meta.watcher)
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                Some("callback".to_owned()),
                batcher::WatcherKind::Callback,
                callback.id()
            ),
            (
                Some("stream".to_owned()),
                batcher::WatcherKind::Stream,
                stream.id()
            ),
        ]
    );
    batcher.stop().await;
}
