//! HTTPS with client-certificate verification, with certificates generated at test time.

#[path = "support/pki.rs"]
mod pki;

use std::time::Duration;

use bbs_events::Event;
use bbs_events::client::{Client, SubscriptionError};
use bbs_events::models::{Task, TaskCreatedEvent};
use bbs_events::server::{Hub, Server, ServerTls};
use events_core::SourceError as _;
use tokio_util::sync::CancellationToken;

fn task() -> Event {
    Event::TaskCreated(TaskCreatedEvent {
        task: Some(
            Task {
                task_guid: "over-tls".to_owned().into(),
                ..Task::default()
            }
            .into(),
        ),
    })
}

#[tokio::test]
async fn a_client_with_a_certificate_gets_events_and_one_without_is_refused() {
    let pki = pki::Pki::new();
    let tls = ServerTls::from_pem(
        pki.server.0.as_bytes(),
        pki.server.1.as_bytes(),
        Some(pki.ca_pem.as_bytes()),
    )
    .expect("server TLS");
    let (tx, mut count) = tokio::sync::watch::channel(0);
    let hub = Hub::builder()
        .on_subscriber_count(move |n| {
            let _ = tx.send(n);
        })
        .build();
    let server = Server::builder(hub.clone())
        .tls(tls)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("https://localhost:{}", server.local_addr().port());
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));

    let client = Client::builder(&url)
        .ca_pem(pki.ca_pem.clone())
        .identity_pem(pki.client.0.clone(), pki.client.1.clone())
        .build()
        .expect("client");
    let mut sub = tokio::time::timeout(Duration::from_secs(10), client.subscribe_to_task_events())
        .await
        .expect("in time")
        .expect("mutual TLS subscription");
    tokio::time::timeout(Duration::from_secs(5), count.wait_for(|n| *n == 1))
        .await
        .expect("subscriber registered")
        .unwrap();
    hub.emit(task()).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("in time")
        .expect("event")
        .into_event()
        .expect("an event, not a notice");
    assert_eq!(got.event.key(), "over-tls");

    // Without a client certificate: a terminal TLS error at once (no retries), whose message
    // keeps the cause the server gave.
    let anonymous = Client::builder(&url)
        .ca_pem(pki.ca_pem.clone())
        .build()
        .unwrap();
    let err = subscribe_error(&anonymous).await;
    assert!(matches!(err, SubscriptionError::Tls { .. }), "{err:?}");
    assert!(err.is_terminal());
    let message = err.to_string().to_lowercase();
    assert!(message.contains("certificate"), "{message}");

    // A server certificate from an unknown CA: terminal, and the message says so.
    let untrusting = Client::builder(&url)
        .identity_pem(pki.client.0.clone(), pki.client.1.clone())
        .build()
        .unwrap();
    let err = subscribe_error(&untrusting).await;
    assert!(matches!(err, SubscriptionError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // Asked to, the client retries TLS failures like others, and gives up with the cause kept.
    let patient = Client::builder(&url)
        .ca_pem(pki.ca_pem.clone())
        .retry_tls_errors(true)
        .retry_interval(Duration::from_millis(10))
        .max_reconnect_attempts(2)
        .build()
        .unwrap();
    let err = subscribe_error(&patient).await;
    assert!(
        matches!(err, SubscriptionError::Disconnected { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    shutdown.cancel();
}

async fn subscribe_error(client: &Client) -> SubscriptionError {
    tokio::time::timeout(Duration::from_secs(10), client.subscribe_to_task_events())
        .await
        .expect("in time")
        .unwrap_err()
}

#[test]
fn bad_pem_is_a_clear_error() {
    let err = ServerTls::from_pem(b"nope", b"nope", None).unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
}
