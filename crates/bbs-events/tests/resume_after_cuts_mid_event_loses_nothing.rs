//! A replaying server that cuts the stream in the middle of an event, 20 times: the client resumes
//! each time with the id of the last event it delivered, so every event arrives exactly once.

#[path = "support/hostile_servers.rs"]
mod hostile;
#[path = "support/stream.rs"]
mod support;

use std::time::Duration;

use bbs_events::client::{Client, StreamItem, SubscriptionError};
use bbs_events::sse::SseParser;
use hostile::Behaviour;

const EVENTS: usize = 100;
const CUTS: usize = 20;

#[tokio::test]
async fn twenty_cuts_mid_event_lose_and_repeat_no_event() {
    let server = hostile::start(Behaviour::ReplayAndCut {
        events: EVENTS,
        cuts: CUTS,
        per_connection: 3,
    })
    .await;
    let client = Client::builder(&server.url())
        .retry_interval(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(20))
        .build()
        .unwrap();
    let mut sub = support::within(10, "subscription", client.subscribe_to_task_events())
        .await
        .unwrap();
    let mut keys = Vec::new();
    let mut resyncs = 0;
    support::within(30, "every event", async {
        loop {
            match sub.next().await {
                Ok(StreamItem::Event(received)) => keys.push(received.event.key()),
                Ok(StreamItem::Resync(_)) => resyncs += 1,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(SubscriptionError::EndOfStream) => break,
                Err(e) => panic!("unexpected error {e}"),
            }
        }
    })
    .await;
    let want: Vec<String> = (0..EVENTS).map(|i| format!("task-{i}")).collect();
    let lost = want.iter().filter(|k| !keys.contains(k)).count();
    eprintln!(
        "{CUTS} cuts mid-event: {lost} events lost, {} received",
        keys.len()
    );
    assert_eq!(keys, want, "every event once, in order");
    assert_eq!(resyncs, CUTS);
    // Each reconnect resumed after the last delivered event, never after the cut one.
    let ids = server.last_event_ids.lock().await.clone();
    let expected: Vec<Option<String>> = std::iter::once(None)
        .chain((1..=CUTS).map(|c| Some((c * 3 - 1).to_string())))
        .collect();
    assert_eq!(ids, expected);
}

#[test]
fn the_resume_id_is_the_last_complete_events_not_a_cut_ones() {
    let mut parser = SseParser::new();
    parser.push(b"id: 4\nevent: task_removed\ndata: Cg==\n\nid: 5\nevent: task_removed\nda");
    assert_eq!(
        parser.next_event().unwrap().unwrap().id.as_deref(),
        Some("4")
    );
    assert!(parser.next_event().is_none());
    assert_eq!(parser.last_event_id(), Some("4"));
    parser.reset_connection();
    assert_eq!(parser.last_event_id(), Some("4"));
    // An event without an id on the new connection takes the resume id, not the cut one.
    parser.push(b"event: task_removed\ndata: Cg==\n\n");
    assert_eq!(
        parser.next_event().unwrap().unwrap().id.as_deref(),
        Some("4")
    );
}
