//! The loops end when the last `Batcher` handle is dropped; watchers do not keep the
//! batcher running, and nothing buffered is lost.

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::{EventName, RateLimiter};

mod support;
use support::TestLimiter;

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_ends_streams_and_keeps_what_was_buffered() {
    // Capacity 0: nothing can leave, so everything stays buffered.
    let limiter = TestLimiter::with_max(0, 10);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .build()
        .unwrap();
    let mut events = batcher.emitter().subscribe();
    let (watcher, mut batches) = Watcher::builder().stream::<u32>(&batcher);
    for i in 0..3 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    let clone = batcher.clone();
    drop(batcher);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!clone.is_stopped(), "a clone keeps it running");
    drop(clone);

    let end = tokio::time::timeout(Duration::from_secs(1), batches.next()).await;
    assert!(matches!(end, Ok(None)), "the stream ended");
    let last = tokio::time::timeout(Duration::from_secs(1), async {
        let mut last = None;
        while let Some(e) = events.next().await {
            last = Some(e.unwrap().name());
        }
        last
    })
    .await
    .expect("the event stream ended");
    assert_eq!(last, Some(EventName::Shutdown));
    assert!(
        watcher
            .try_enqueue(Operation::new(9, 1))
            .unwrap_err()
            .is_stopped()
    );
    let back: Vec<u32> = watcher
        .take_unsent()
        .into_iter()
        .map(|o| o.into_payload())
        .collect();
    assert_eq!(back, vec![0, 1, 2]);
    // The capacity loop stopped asking too.
    let asked = limiter.wanted.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(limiter.wanted.lock().unwrap().len(), asked);
    assert_eq!(limiter.capacity(), 0);
}
