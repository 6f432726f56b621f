//! After an abrupt drop the client reconnects with `Last-Event-ID` and reports that events may have
//! been missed; a clean end of stream is not reconnected; 5xx answers are retried and others are not.

#[path = "support/stream.rs"]
mod support;

use std::time::Duration;

use base64::Engine as _;
use bbs_events::Event;
use bbs_events::client::{Client, StreamItem, SubscriptionError};
use bbs_events::models::{Task, TaskRemovedEvent};
use events_core::SourceError as _;
use futures::StreamExt as _;

fn task_event_sse(id: u64, guid: &str) -> Vec<u8> {
    let event = Event::TaskRemoved(TaskRemovedEvent {
        task: Some(
            Task {
                task_guid: guid.to_owned().into(),
                ..Task::default()
            }
            .into(),
        ),
    });
    let b64 = base64::engine::general_purpose::STANDARD.encode(event.encode_to_vec());
    support::bbs_chunk(format!("id: {id}\nevent: task_removed\ndata: {b64}\n\n").as_bytes())
}

fn fast_client(addr: std::net::SocketAddr) -> Client {
    Client::builder(&format!("http://{addr}"))
        .retry_interval(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(100))
        .build()
        .expect("client")
}

#[tokio::test]
async fn an_abrupt_drop_reconnects_with_last_event_id_and_a_clean_end_does_not() {
    let (addr, mut conns) = support::raw_server().await;
    let client = fast_client(addr);
    let (sub, mut first) = tokio::join!(
        support::within(5, "subscription", client.subscribe_to_task_events()),
        async {
            let mut conn = support::within(5, "first connection", conns.recv())
                .await
                .unwrap();
            conn.write(support::BBS_HEAD).await;
            conn
        }
    );
    let mut sub = sub.expect("subscribed");
    assert!(
        first
            .request_line()
            .starts_with("POST /v1/events/tasks.r1 ")
    );
    assert_eq!(first.header("last-event-id"), None);
    first.write(&task_event_sse(0, "a")).await;
    first.write(&task_event_sse(1, "b")).await;
    for want in ["0", "1"] {
        let got = support::event(support::within(5, "event", sub.next()).await);
        assert_eq!(got.id.as_deref(), Some(want));
    }
    // Drop the connection without the terminating chunk.
    drop(first);

    let (notice, mut second) =
        tokio::join!(support::within(5, "reconnect notice", sub.next()), async {
            let mut conn = support::within(5, "second connection", conns.recv())
                .await
                .unwrap();
            assert_eq!(conn.header("last-event-id").as_deref(), Some("1"));
            conn.write(support::BBS_HEAD).await;
            conn.write(&task_event_sse(0, "c")).await;
            conn.write(support::LAST_CHUNK).await;
            conn
        });
    // The reconnect is data, not an error.
    match notice {
        Ok(StreamItem::Resync(resync)) => {
            assert_eq!(resync.last_event_id.as_deref(), Some("1"));
            assert_eq!(resync.attempts, 1);
        }
        other => panic!("expected a reconnect notice, got {other:?}"),
    }
    let got = support::event(support::within(5, "event after reconnect", sub.next()).await);
    assert_eq!(got.event.key(), "c");
    let end = support::within(5, "end of stream", sub.next())
        .await
        .unwrap_err();
    assert!(matches!(end, SubscriptionError::EndOfStream) && end.is_terminal());
    // A clean end is not reconnected: no third connection arrives within many retry intervals.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), conns.recv())
            .await
            .is_err(),
        "the client reconnected after a clean end of stream"
    );
    second.write(b"").await;
}

#[tokio::test]
async fn retryable_statuses_are_retried_until_the_stream_opens() {
    let (addr, mut conns) = support::raw_server().await;
    let server = tokio::spawn(async move {
        for status in [
            "503 Service Unavailable",
            "500 Internal Server Error",
            "502 Bad Gateway",
        ] {
            let mut conn = conns.recv().await.unwrap();
            conn.write(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await;
        }
        let mut conn = conns.recv().await.unwrap();
        conn.write(support::BBS_HEAD).await;
        conn.write(&task_event_sse(0, "after-retries")).await;
        conn.write(support::LAST_CHUNK).await;
        conn
    });
    let client = fast_client(addr);
    let sub = support::within(10, "subscription", client.subscribe_to_task_events())
        .await
        .expect("subscribed after retries");
    let items: Vec<_> = support::within(5, "stream", sub.collect::<Vec<_>>()).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        items[0]
            .as_ref()
            .unwrap()
            .as_event()
            .expect("an event")
            .event
            .key(),
        "after-retries"
    );
    assert!(matches!(items[1], Err(SubscriptionError::EndOfStream)));
    server.await.unwrap();
}

#[tokio::test]
async fn a_404_is_a_hard_error_and_repeated_failures_give_up_after_max_attempts() {
    let (addr, mut conns) = support::raw_server().await;
    tokio::spawn(async move {
        let mut conn = conns.recv().await.unwrap();
        conn.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n")
            .await;
        while let Some(mut conn) = conns.recv().await {
            conn.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let client = fast_client(addr);
    let err = support::within(5, "404", client.subscribe_to_events())
        .await
        .unwrap_err();
    match &err {
        SubscriptionError::Status { status, body, .. } => {
            assert_eq!(*status, 404);
            assert_eq!(body, "404 page not found");
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    assert!(err.is_terminal());

    let client = Client::builder(&format!("http://{addr}"))
        .retry_interval(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
        .max_reconnect_attempts(3)
        .build()
        .unwrap();
    let err = support::within(5, "give up", client.subscribe_to_events())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SubscriptionError::Disconnected { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn close_interrupts_an_in_flight_next() {
    let (addr, mut conns) = support::raw_server().await;
    let client = fast_client(addr);
    let (sub, _conn) = tokio::join!(
        support::within(5, "subscription", client.subscribe_to_events()),
        async {
            let mut conn = support::within(5, "connection", conns.recv())
                .await
                .unwrap();
            conn.write(support::BBS_HEAD).await;
            conn
        }
    );
    let mut sub = sub.expect("subscribed");
    let handle = sub.close_handle();
    let (result, ()) = tokio::join!(support::within(5, "closed next", sub.next()), async {
        tokio::task::yield_now().await;
        handle.close();
    });
    let err = result.unwrap_err();
    assert!(matches!(err, SubscriptionError::Closed) && err.is_closed());
    // The stream view ends quietly after a close.
    assert!(sub.next().await.unwrap_err().is_closed());
    let mut stream = Box::pin(sub);
    assert!(futures::StreamExt::next(&mut stream).await.is_none());
}
