//! Hostile and broken peers cannot hold the server's sockets or hub subscribers: headers or bodies
//! trickled too slowly, TLS peers that never say hello, subscribers that never read, and
//! subscribers that pipelined a byte and went away on a quiet route are all disconnected; a slow
//! subscriber's stream ends at once with the terminating chunk and the connection closes, as in
//! the BBS.

#[path = "support/hostile_peers.rs"]
mod hostile;

use std::time::Duration;

use hostile::{TASKS_REQUEST, read_head, read_to_close, send, start, within};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn headers_trickled_slower_than_the_header_timeout_are_cut_off() {
    let running = start(|h| h, |s| s.header_read_timeout(SHORT)).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let request = b"GET /v1/events HTTP/1.1\r\nHost: bbs\r\nX-Slow: ".repeat(4);
    // The peer keeps sending a byte every 50 ms, far longer than the timeout allows.
    let trickling = async {
        for byte in &request {
            if writer.write_all(std::slice::from_ref(byte)).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        (_, took) = read_to_close(&mut reader, 5) => {
            assert!(took >= SHORT, "closed after {took:?}, before the timeout");
        }
        () = trickling => panic!("the whole trickled request was accepted"),
    }
    running.stop().await;
}

#[tokio::test]
async fn a_tls_peer_that_never_sends_a_client_hello_is_closed() {
    let (tls, _) = hostile::tls_pair();
    let running = start(|h| h, |s| s.tls(tls).tls_handshake_timeout(SHORT)).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let (read, took) = read_to_close(&mut stream, 5).await;
    assert!(read.is_empty());
    assert!(took >= SHORT, "closed after {took:?}, before the timeout");
    running.stop().await;
}

#[tokio::test]
async fn a_request_body_trickled_too_slowly_is_answered_408() {
    let running = start(|h| h, |s| s.request_body_timeout(SHORT)).await;
    let mut stream = send(
        running.addr,
        b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 10\r\n\r\n\x0a",
    )
    .await;
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    // Nothing more is served on the connection.
    read_to_close(&mut stream, 5).await;
    assert_eq!(running.subscribers(), 0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_disconnected_after_the_write_timeout() {
    // A queue long enough that the hub never cuts the subscriber off: only the write timeout can.
    let mut running = start(
        |h| h.subscriber_capacity(100_000),
        |s| s.write_timeout(SHORT),
    )
    .await;
    let mut stream = send(running.addr, TASKS_REQUEST).await;
    read_head(&mut stream).await;
    running.wait_for_subscribers(1, 5).await;
    // 21 MB of events on the wire: more than the kernel buffers between the two sockets hold.
    for _ in 0..256 {
        running.hub.emit(hostile::big_task(64 * 1024)).unwrap();
    }
    running.wait_for_subscribers(0, 10).await;
    // The socket was reset, not left holding what the peer never read.
    let (read, _) = read_to_close(&mut stream, 10).await;
    assert!(read.len() < 21 << 20, "read {} bytes", read.len());
    running.stop().await;
}

#[tokio::test]
async fn a_slow_subscribers_stream_ends_with_the_terminating_chunk_and_the_connection_closes() {
    // On this single-threaded runtime the server cannot write while the test emits, so the
    // four-event queue overflows.
    let mut running = start(|h| h.subscriber_capacity(4), |s| s).await;
    let mut stream = send(running.addr, TASKS_REQUEST).await;
    read_head(&mut stream).await;
    running.wait_for_subscribers(1, 5).await;
    for _ in 0..20 {
        running.hub.emit(hostile::big_task(16)).unwrap();
    }
    let (read, _) = read_to_close(&mut stream, 5).await;
    let text = String::from_utf8_lossy(&read);
    // Cut off before the server wrote more than one: the stream ends at once, without the rest of
    // the ring, so that a peer reading a trickle cannot stretch its end out. The terminating
    // chunk follows the last event's chunk, or is all there is.
    assert!(text.matches("event: task_created").count() < 4, "{text}");
    assert!(
        text == "0\r\n\r\n" || text.ends_with("\r\n0\r\n\r\n"),
        "{text:?}"
    );
    running.wait_for_subscribers(0, 5).await;
    running.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_pipelined_a_byte_and_closed_is_released_on_a_quiet_route() {
    let mut running = start(|h| h, |s| s).await;
    let mut request = TASKS_REQUEST.to_vec();
    request.push(b'X');
    let mut stream = send(running.addr, &request).await;
    read_head(&mut stream).await;
    running.wait_for_subscribers(1, 5).await;
    drop(stream);
    // No event is ever emitted: only watching the read half can notice.
    running.wait_for_subscribers(0, 5).await;
    running.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_pipelined_a_request_and_reset_is_released_on_a_quiet_route() {
    let mut running = start(|h| h, |s| s).await;
    let mut request = TASKS_REQUEST.to_vec();
    request.extend_from_slice(b"GET /v1/events HTTP/1.1\r\nHost: bbs\r\n\r\n");
    let mut stream = send(running.addr, &request).await;
    read_head(&mut stream).await;
    running.wait_for_subscribers(1, 5).await;
    stream.set_zero_linger().unwrap();
    drop(stream);
    running.wait_for_subscribers(0, 5).await;
    running.stop().await;
}

#[tokio::test]
async fn a_subscriber_that_keeps_sending_after_its_request_is_disconnected() {
    let mut running = start(|h| h, |s| s).await;
    let mut stream = send(running.addr, TASKS_REQUEST).await;
    read_head(&mut stream).await;
    running.wait_for_subscribers(1, 5).await;
    let junk = vec![b'x'; 16 * 1024];
    within(5, "the server to stop taking bytes", async {
        // 64 KiB is the most taken after a request; a bounded number of writes gets past it.
        for _ in 0..1024 {
            if stream.write_all(&junk).await.is_err() {
                break;
            }
            if running.subscribers() == 0 {
                break;
            }
        }
    })
    .await;
    running.wait_for_subscribers(0, 5).await;
    running.stop().await;
}

#[tokio::test]
async fn a_tls_subscriber_that_pipelined_a_byte_and_closed_is_released() {
    let (tls, client) = hostile::tls_pair();
    let mut running = start(|h| h, |s| s.tls(tls)).await;
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let mut request = TASKS_REQUEST.to_vec();
    request.push(b'X');
    stream.write_all(&request).await.unwrap();
    hostile::read_until(&mut stream, "\r\n\r\n").await;
    running.wait_for_subscribers(1, 5).await;
    // Gone without a TLS close_notify: only the TCP close says so.
    drop(stream);
    running.wait_for_subscribers(0, 5).await;
    running.stop().await;
}
