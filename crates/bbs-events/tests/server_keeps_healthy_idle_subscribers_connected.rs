//! The BBS sends no heartbeats, so an idle stream is legitimate: a subscriber that reads but has
//! nothing to receive stays connected past every timeout, over plain HTTP and TLS, on a short
//! real configuration and on the paused clock with the defaults.

#[path = "support/hostile_peers.rs"]
mod hostile;

use std::time::Duration;

use hostile::{TASKS_REQUEST, read_head, read_until, send, start, stays_open_and_quiet};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SHORT: Duration = Duration::from_millis(100);

fn short(builder: bbs_events::server::ServerBuilder) -> bbs_events::server::ServerBuilder {
    builder
        .header_read_timeout(SHORT)
        .tls_handshake_timeout(SHORT)
        .request_body_timeout(SHORT)
        .write_timeout(SHORT)
}

#[tokio::test]
async fn an_idle_reader_outlasts_every_short_timeout_then_gets_its_event() {
    let mut running = start(|h| h, short).await;
    let mut stream = send(running.addr, TASKS_REQUEST).await;
    read_head(&mut stream).await;
    running.wait_for_subscribers(1, 5).await;
    // Eight times the longest timeout with nothing to send.
    assert!(stays_open_and_quiet(&mut stream, SHORT * 8).await);
    assert_eq!(running.subscribers(), 1);
    running.hub.emit(hostile::big_task(8)).unwrap();
    read_until(&mut stream, "event: task_created").await;
    running.stop().await;
}

#[tokio::test]
async fn an_idle_tls_reader_outlasts_the_handshake_and_write_timeouts() {
    let (tls, client) = hostile::tls_pair();
    let mut running = start(|h| h, |s| short(s).tls(tls)).await;
    let tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    stream.write_all(TASKS_REQUEST).await.unwrap();
    read_until(&mut stream, "\r\n\r\n").await;
    running.wait_for_subscribers(1, 5).await;
    let mut buf = [0u8; 64];
    let quiet = tokio::time::timeout(SHORT * 8, stream.read(&mut buf)).await;
    assert!(quiet.is_err(), "the idle TLS stream ended: {quiet:?}");
    running.hub.emit(hostile::big_task(8)).unwrap();
    read_until(&mut stream, "event: task_created").await;
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_reader_stays_an_hour_on_the_paused_clock_with_the_defaults() {
    let mut running = start(|h| h, |s| s).await;
    let mut stream = send(running.addr, TASKS_REQUEST).await;
    read_head(&mut stream).await;
    running.wait_for_subscribers(1, 5).await;
    // The paused clock jumps to each pending timer: any timeout on an idle stream would fire.
    assert!(stays_open_and_quiet(&mut stream, Duration::from_secs(3600)).await);
    assert_eq!(running.subscribers(), 1);
    running.hub.emit(hostile::big_task(8)).unwrap();
    read_until(&mut stream, "event: task_created").await;
    running.stop().await;
}
