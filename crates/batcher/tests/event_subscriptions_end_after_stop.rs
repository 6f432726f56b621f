//! After stop, a subscription to the batcher's events yields the shutdown event and
//! ends, so the documented `while let` loop finishes.

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::{Emitter, EventName};

#[tokio::test(start_paused = true)]
async fn the_documented_loop_ends_with_the_shutdown_event() {
    let batcher = Batcher::builder().emit_flush(true).build().unwrap();
    let mut subscription = batcher.emitter().subscribe();
    let reader = tokio::spawn(async move {
        let mut names = Vec::new();
        while let Some(event) = subscription.next().await {
            names.push(event.unwrap().name());
        }
        names
    });
    let (watcher, mut batches) = Watcher::builder().stream::<u32>(&batcher);
    batcher.start().unwrap();
    watcher.try_enqueue(Operation::new(1, 1)).unwrap();
    batcher.flush();
    let batch = batches.next().await.unwrap();
    assert_eq!(batch[0].payload(), &1);
    drop(batch);
    batcher.stop().await;
    // Watchers and batch streams are still alive: the loop ends all the same.
    let names = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the subscription ended after stop")
        .unwrap();
    assert_eq!(names.last(), Some(&EventName::Shutdown));
    assert!(names.contains(&EventName::FlushStart));
    assert!(batches.next().await.is_none());
    // A later subscription ends at once.
    assert!(batcher.emitter().subscribe().next().await.is_none());
    drop(watcher);
}

#[tokio::test(start_paused = true)]
async fn an_emitter_given_to_the_builder_stays_open_for_its_other_users() {
    let shared = Emitter::new("shared");
    let batcher = Batcher::builder().emitter(shared.clone()).build().unwrap();
    let mut subscription = shared.subscribe();
    batcher.start().unwrap();
    batcher.stop().await;
    let first = subscription.next().await.unwrap().unwrap();
    assert_eq!(first.name(), EventName::Shutdown);
    // Another component goes on emitting on it.
    shared.emit(EventName::Capacity, 7);
    let next = subscription.next().await.unwrap().unwrap();
    assert_eq!((next.name(), next.val()), (EventName::Capacity, 7));
    shared.close();
    assert!(subscription.next().await.is_none());
}
