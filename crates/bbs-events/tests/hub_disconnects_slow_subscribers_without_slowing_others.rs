//! The hub's bounded ring: a slow subscriber is cut off with a clear error, the others get
//! everything; subscriber counts are reported; close, shutdown and the replay window behave.

use std::sync::{Arc, Mutex};

use bbs_events::Event;
use bbs_events::models::{Task, TaskRemovedEvent};
use bbs_events::server::{Filter, Hub, HubError, ServerRoute};

fn task(guid: &str) -> Event {
    Event::TaskRemoved(TaskRemovedEvent {
        task: Some(
            Task {
                task_guid: guid.to_owned().into(),
                ..Task::default()
            }
            .into(),
        ),
    })
}

#[tokio::test]
async fn a_slow_subscriber_is_disconnected_and_the_fast_one_gets_everything() {
    let counts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&counts);
    let hub = Hub::builder()
        .subscriber_capacity(4)
        .on_subscriber_count(move |n| seen.lock().unwrap().push(n))
        .build();
    let mut fast = hub.subscribe(Filter::all()).unwrap();
    let mut slow = hub.subscribe(Filter::all()).unwrap();
    let mut fast_got = Vec::new();
    for i in 0..10 {
        // `emit` never waits, however far behind a subscriber is.
        hub.emit(task(&format!("t{i}"))).unwrap();
        fast_got.push(fast.recv().await.unwrap().event.key());
    }
    let want: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    assert_eq!(fast_got, want);
    // The slow one is told at once: the shared ring has moved past what it missed.
    let err = slow.recv().await.unwrap_err();
    assert_eq!(err, HubError::SlowSubscriber { capacity: 4 });
    assert!(err.to_string().contains("fell 4 events behind"));
    assert_eq!(hub.subscriber_count(), 1);
    // It stays ended, and the hub no longer counts it.
    hub.emit(task("after")).unwrap();
    assert_eq!(slow.recv().await.unwrap_err(), err);
    assert_eq!(hub.subscriber_count(), 1);
    drop(fast);
    assert_eq!(*counts.lock().unwrap(), vec![1, 2, 1, 0]);
}

#[tokio::test]
async fn close_delivers_what_is_queued_then_ends() {
    let hub = Hub::new();
    let mut sub = hub.subscribe(Filter::all()).unwrap();
    hub.emit(task("last")).unwrap();
    hub.close();
    assert_eq!(sub.recv().await.unwrap().event.key(), "last");
    assert_eq!(sub.recv().await.unwrap_err(), HubError::Closed);
    assert_eq!(hub.emit(task("late")).unwrap_err(), HubError::Closed);
    assert!(hub.subscribe(Filter::all()).is_err());
}

#[tokio::test]
async fn route_filters_and_the_replay_window() {
    let hub = Hub::builder().replay_window(3).build();
    for i in 0..5 {
        hub.emit(task(&format!("t{i}"))).unwrap();
    }
    // Resuming after sequence 2 gives 3 and 4 from the window, then live events.
    let mut sub = hub
        .subscribe_after(Filter::route(ServerRoute::Tasks), Some(2))
        .unwrap();
    let mut lrps = hub
        .subscribe(Filter::route(ServerRoute::Instances))
        .unwrap();
    hub.emit(task("t5")).unwrap();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let e = sub.recv().await.unwrap();
        keys.push((e.seq, e.event.key()));
    }
    assert_eq!(
        keys,
        vec![(3, "t3".into()), (4, "t4".into()), (5, "t5".into())]
    );
    // The instances route receives no task events.
    hub.close();
    assert_eq!(lrps.recv().await.unwrap_err(), HubError::Closed);
}

#[tokio::test]
async fn events_a_filter_skips_still_count_towards_falling_behind() {
    // The ring is shared: a subscriber that is not reading falls behind by every event emitted,
    // including those its route would skip.
    let hub = Hub::builder().subscriber_capacity(4).build();
    let mut lrps = hub
        .subscribe(Filter::route(ServerRoute::Instances))
        .unwrap();
    let mut reading = hub
        .subscribe(Filter::route(ServerRoute::Instances))
        .unwrap();
    for i in 0..4 {
        hub.emit(task(&format!("t{i}"))).unwrap();
    }
    // Four behind is not too far: the reading one drains them (all skipped) and waits.
    let waited = tokio::time::timeout(std::time::Duration::from_millis(10), reading.recv()).await;
    assert!(waited.is_err(), "{waited:?}");
    hub.emit(task("t4")).unwrap();
    assert_eq!(
        lrps.recv().await.unwrap_err(),
        HubError::SlowSubscriber { capacity: 4 }
    );
    hub.close();
    assert_eq!(reading.recv().await.unwrap_err(), HubError::Closed);
}

#[tokio::test]
async fn capacities_are_rounded_up_to_the_rings_power_of_two() {
    let hub = Hub::builder().subscriber_capacity(3).build();
    let mut slow = hub.subscribe(Filter::all()).unwrap();
    for i in 0..4 {
        hub.emit(task(&format!("t{i}"))).unwrap();
    }
    // Four fit in a ring of four.
    assert_eq!(slow.recv().await.unwrap().event.key(), "t0");
    for i in 4..9 {
        hub.emit(task(&format!("t{i}"))).unwrap();
    }
    assert_eq!(
        slow.recv().await.unwrap_err(),
        HubError::SlowSubscriber { capacity: 4 }
    );
}
