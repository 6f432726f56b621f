//! The client against hostile servers on loopback: `retry: 0` then 503s is backed off (a
//! bounded number of requests per minute, on the paused clock), a server that never answers times
//! out, redirects are not followed by default (and never from https to http), an HTML 200 is a
//! clear terminal error, and a refused connection says so.

#[path = "support/hostile_servers.rs"]
mod hostile;
#[path = "support/stream.rs"]
mod support;

use std::time::Duration;

use bbs_events::client::{Client, StreamItem, SubscriptionError, TransportError};
use events_core::SourceError as _;
use hostile::Behaviour;

#[tokio::test(start_paused = true)]
async fn retry_zero_then_503s_is_backed_off_from_the_floor() {
    let server = hostile::start(Behaviour::RetryZeroThen503).await;
    let client = Client::builder(&server.url())
        // No connect timer may fire while the clock jumps.
        .connect_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut sub = client.subscribe_to_task_events().await.unwrap();
    assert!(matches!(sub.next().await, Ok(StreamItem::Event(_))));
    let start = tokio::time::Instant::now();
    // The subscription keeps retrying for a virtual minute.
    let read = tokio::time::timeout(Duration::from_secs(60), sub.next()).await;
    assert!(
        read.is_err(),
        "a 503-forever server never lets a read finish"
    );
    let arrivals = server.arrivals.lock().await.clone();
    let in_the_minute = arrivals[1..]
        .iter()
        .filter(|t| **t - start <= Duration::from_secs(60));
    let retries = in_the_minute.count();
    eprintln!("retry: 0 then 503s: {retries} requests in the first minute");
    // From the 500 ms floor, doubling: 0.5 + 1 + 2 + 4 + 8 + 16 + 30 s, less at most a fifth of
    // jitter each: at most 8 requests in the first minute (3,444 in 10 s without the floor).
    assert!((5..=8).contains(&retries), "{retries} requests in a minute");
    let first_wait = arrivals[1] - start;
    assert!(
        first_wait >= Duration::from_millis(400),
        "the first reconnect came after {first_wait:?}, under the 500 ms floor"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_times_out_and_is_given_up_on() {
    let server = hostile::start(Behaviour::NeverAnswer).await;
    let client = Client::builder(&server.url())
        .connect_timeout(Duration::from_secs(3600))
        .max_reconnect_attempts(2)
        .build()
        .unwrap();
    let err = client.subscribe_to_task_events().await.unwrap_err();
    match &err {
        SubscriptionError::Disconnected {
            attempts: 2,
            source,
        } => assert!(
            matches!(**source, TransportError::Timeout(t) if t == Duration::from_secs(30)),
            "{source:?}"
        ),
        other => panic!("expected Disconnected after two timeouts, got {other:?}"),
    }
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let server = hostile::start(Behaviour::Redirect {
        status: 301,
        location: "http://127.0.0.1:1/elsewhere".into(),
    })
    .await;
    let client = Client::new(&server.url()).unwrap();
    let err = support::within(10, "the redirect", client.subscribe_to_task_events())
        .await
        .unwrap_err();
    assert!(err.is_terminal());
    match &err {
        SubscriptionError::Redirect { location, .. } => {
            assert_eq!(location.as_deref(), Some("http://127.0.0.1:1/elsewhere"));
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert_eq!(server.count(), 1, "not retried");

    // Opted in, a 301 (which would drop the POST body) is still refused.
    let following = Client::builder(&server.url())
        .follow_redirects(5)
        .build()
        .unwrap();
    let err = support::within(10, "the redirect", following.subscribe_to_task_events())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SubscriptionError::Redirect { reason, .. } if reason.contains("307")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_opted_in_307_keeps_the_post_and_its_body_but_https_to_http_is_refused() {
    let target = hostile::start(Behaviour::ReplayAndCut {
        events: 1,
        cuts: 0,
        per_connection: 1,
    })
    .await;
    let location = format!("{}/v1/events/lrp_instances.r1", target.url());
    let hop = hostile::start(Behaviour::Redirect {
        status: 307,
        location: location.clone(),
    })
    .await;
    let client = Client::builder(&hop.url())
        .follow_redirects(1)
        .build()
        .unwrap();
    let mut sub = support::within(
        10,
        "followed redirect",
        client.subscribe_to_instance_events_by_cell_id("cell-7"),
    )
    .await
    .unwrap();
    let got = support::event(support::within(10, "event", sub.next()).await);
    assert_eq!(got.event.key(), "task-0");
    // The redirected request is still a POST with its EventsByCellId body.
    let (line, body) = target.requests_seen.lock().await[0].clone();
    assert!(
        line.starts_with("POST /v1/events/lrp_instances.r1 "),
        "{line}"
    );
    assert_eq!(body, b"\x0a\x06cell-7");

    let (port, cert) = hostile::https_redirect(location).await;
    let client = Client::builder(&format!("https://localhost:{port}"))
        .ca_pem(cert)
        .follow_redirects(5)
        .build()
        .unwrap();
    let err = support::within(
        10,
        "refused redirect",
        client.subscribe_to_instance_events(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, SubscriptionError::Redirect { reason, .. } if reason.contains("https to http")),
        "{err:?}"
    );
    assert_eq!(target.count(), 1, "the plain-text target was never asked");
}

#[tokio::test]
async fn an_html_200_is_a_terminal_error_that_says_what_came() {
    let server = hostile::start(Behaviour::Html).await;
    let client = Client::new(&server.url()).unwrap();
    let err = support::within(10, "the HTML answer", client.subscribe_to_task_events())
        .await
        .unwrap_err();
    assert!(err.is_terminal());
    match &err {
        SubscriptionError::NotEventStream {
            content_type, body, ..
        } => {
            assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
            assert!(body.contains("login portal"), "{body}");
        }
        other => panic!("expected NotEventStream, got {other:?}"),
    }
    assert!(err.to_string().contains("text/html"), "{err}");
    assert_eq!(server.count(), 1, "not retried");
}

#[tokio::test]
async fn a_refused_connection_keeps_its_cause_in_the_message() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::builder(&format!("http://127.0.0.1:{port}"))
        .max_reconnect_attempts(1)
        .build()
        .unwrap();
    let err = support::within(10, "the refusal", client.subscribe_to_task_events())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_accepts_and_drops_before_any_event_is_backed_off_too() {
    // Every connection: a 200, half an event, an abrupt drop.
    let server = hostile::start(Behaviour::ReplayAndCut {
        events: 1,
        cuts: usize::MAX,
        per_connection: 0,
    })
    .await;
    let client = Client::builder(&server.url())
        .connect_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut sub = client.subscribe_to_task_events().await.unwrap();
    let start = tokio::time::Instant::now();
    let reads = async {
        loop {
            match sub.next().await {
                Ok(StreamItem::Resync(_)) => {}
                other => panic!("expected only resync notices, got {other:?}"),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(60), reads).await;
    let arrivals = server.arrivals.lock().await.clone();
    let requests = arrivals
        .iter()
        .filter(|t| **t - start <= Duration::from_secs(60))
        .count();
    // 1 + 2 + 4 + 8 + 16 + 30 s less jitter: at most 8, not one a second.
    assert!(requests <= 8, "{requests} connections in a minute");
}
