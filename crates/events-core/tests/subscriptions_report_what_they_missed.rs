//! The stream form of an emitter: order, lag accounting and the end of the stream.

use events_core::{Emitter, EventName, Lagged};

#[tokio::test]
async fn a_subscription_sees_later_events_in_order() {
    let emitter = Emitter::new("test");
    emitter.emit(EventName::Batch, 0); // Before subscribing: not seen.
    let mut events = emitter.subscribe();
    for val in 1..=3 {
        emitter.emit(EventName::Batch, val);
    }
    for val in 1..=3 {
        assert_eq!(events.next().await.unwrap().unwrap().val(), val);
    }
}

#[tokio::test]
async fn a_lagging_subscriber_loses_the_oldest_and_learns_how_many() {
    let emitter = Emitter::with_subscription_capacity("test", 4);
    let mut events = emitter.subscribe();
    // The emitter never blocks: ten emits into a queue of four.
    for val in 0..10 {
        emitter.emit(EventName::Batch, val);
    }
    match events.next().await {
        Some(Err(Lagged { missed })) => assert_eq!(missed, 6),
        other => panic!("expected a lag report, got {other:?}"),
    }
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(events.next().await.unwrap().unwrap().val());
    }
    assert_eq!(rest, [6, 7, 8, 9]);
    let lag = Lagged { missed: 6 };
    assert!(lag.to_string().contains("missed 6 events"), "{lag}");
}

#[tokio::test]
async fn a_subscription_ends_when_the_emitter_is_dropped() {
    let emitter = Emitter::new("test");
    let mut events = emitter.subscribe();
    assert!(emitter.is_observed());
    emitter.emit(EventName::Shutdown, 0);
    drop(emitter);
    assert_eq!(
        events.next().await.unwrap().unwrap().name(),
        EventName::Shutdown
    );
    assert!(events.next().await.is_none());
}

#[tokio::test]
async fn a_subscription_ends_when_the_emitter_is_closed_after_what_came_before() {
    let emitter = Emitter::new("test");
    let keep = emitter.clone();
    let mut events = emitter.subscribe();
    let waiting = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(e) = events.next().await {
            seen.push(e.unwrap().val());
        }
        seen
    });
    for val in 0..3 {
        emitter.emit(EventName::Shutdown, val);
    }
    emitter.close();
    assert!(keep.is_closed());
    // Raised after the close: listeners only.
    emitter.emit(EventName::Shutdown, 99);
    let seen = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("the loop ended although a handle of the emitter is alive")
        .unwrap();
    assert_eq!(seen, vec![0, 1, 2]);
    // A subscription made after the close ends at once.
    assert!(keep.subscribe().next().await.is_none());
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes() {
    let emitter = Emitter::new("test");
    let events = emitter.subscribe();
    assert!(emitter.is_observed());
    drop(events);
    assert!(!emitter.is_observed());
}
