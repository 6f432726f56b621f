//! A program that imports only `flowgate::prelude::*` (no `futures`, no `events_core`)
//! can batch, watch events, read refusals and what stop left behind.

use std::sync::Arc;

use flowgate::prelude::*;

#[tokio::test]
async fn batch_watch_refuse_and_stop_with_the_prelude_only() {
    let limiter = Arc::new(ProvisionedResource::new(10));
    limiter.start().await.unwrap();
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .emit_batch(true)
        .build()
        .unwrap();
    // Subscription::next is inherent: no StreamExt import.
    let mut events = batcher.emitter().subscribe();
    batcher.start().unwrap();

    let (tx, mut written) = tokio::sync::mpsc::unbounded_channel();
    let watcher = Watcher::builder().callback(&batcher, move |batch: Vec<Operation<u32>>| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(batch.len());
        }
    });
    let refused = watcher.try_enqueue(Operation::new(1, 11)).unwrap_err();
    assert!(matches!(
        refused.kind(),
        EnqueueErrorKind::TooExpensive {
            resource: "primary",
            cost: 11,
            max_capacity: 10
        }
    ));
    watcher.enqueue(Operation::new(2, 1)).await.unwrap();
    batcher.flush();
    assert_eq!(written.recv().await, Some(1));
    let batch = loop {
        let event = events.next().await.expect("the emitter lives").unwrap();
        if event.name() == EventName::Batch {
            break event;
        }
    };
    let meta = batch.metadata::<BatchMetadata>().expect("batch metadata");
    assert_eq!(meta.operations.len(), 1);

    // A stream watcher's batches come as a `Batches` stream, named by the prelude too.
    let (_stream_watcher, _batches): (Watcher<u32>, Batches<u32>) =
        Watcher::builder().stream(&batcher);
    let stopped: Stopped = batcher.stop().await;
    assert_eq!(stopped.unsent, 0);
    limiter.stop().await.unwrap();
}
