//! A callback batch runs in the span that was current where its watcher was created,
//! so what the callback logs is attributed to the code that owns the work.

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use tokio::sync::mpsc::unbounded_channel;
use tracing::Span;

#[tokio::test(start_paused = true)]
async fn a_callback_sees_the_span_of_the_code_that_made_its_watcher() {
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    let batcher = Batcher::builder().build().unwrap();
    let (tx, mut rx) = unbounded_channel();
    let report = move |_: Vec<Operation<u32>>| {
        let span = Span::current();
        let name = span.metadata().map(|m| m.name());
        let _ = tx.send(name);
        async {}
    };
    let watcher = {
        let request = tracing::info_span!("request", id = 7);
        let _entered = request.enter();
        Watcher::builder().callback(&batcher, report.clone())
    };
    // Made outside any span: the callback runs in the batcher's own span.
    let plain = Watcher::builder().callback(&batcher, report);
    batcher.start().unwrap();
    watcher.try_enqueue(Operation::new(1, 1)).unwrap();
    batcher.flush();
    let seen = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
    assert_eq!(seen.unwrap().unwrap(), Some("request"));
    plain.try_enqueue(Operation::new(2, 1)).unwrap();
    batcher.flush();
    let seen = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
    assert_eq!(seen.unwrap().unwrap(), Some("batcher"));
    batcher.stop().await;
}
