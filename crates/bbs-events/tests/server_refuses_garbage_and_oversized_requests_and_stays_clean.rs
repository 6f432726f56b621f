//! What the server already held against, kept with the hardening: garbage, an HTTP/2 preface,
//! huge header lines, too many headers, unknown routes and methods, and oversized bodies are
//! refused without a subscriber left behind, as is plain HTTP on the TLS port, and
//! connect/disconnect cycles leave nothing open.

#[path = "support/hostile_peers.rs"]
mod hostile;

use hostile::{read_head, read_to_close, send, start, within};
use tokio::io::AsyncWriteExt as _;

/// The answer to `request` (possibly nothing, when the server just closes).
async fn answer(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may close before it has read everything.
    let _ = stream.write_all(request).await;
    let (read, _) = read_to_close(&mut stream, 10).await;
    String::from_utf8_lossy(&read).into_owned()
}

#[tokio::test]
async fn malformed_requests_are_refused_and_closed() {
    let mut running = start(|h| h, |s| s).await;
    let garbage = answer(running.addr, b"\x16\x03\x01 not http at all\r\n\r\n").await;
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage}"
    );
    let h2 = answer(running.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert!(!h2.contains("200 OK"), "{h2}");
    let long_line = |size: usize| {
        let mut request = b"GET /v1/events HTTP/1.1\r\nX-Long: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', size));
        request.extend_from_slice(b"\r\n\r\n");
        request
    };
    // A head within the connection buffer (16 KiB by default) is served like any request; one
    // beyond it is refused, 100 KB or 1 MB.
    let mut stream = send(running.addr, &long_line(12 * 1024)).await;
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(stream);
    for size in [20 * 1024, 100 * 1024, 1024 * 1024] {
        let long = answer(running.addr, &long_line(size)).await;
        assert!(
            long.is_empty() || long.starts_with("HTTP/1.1 431"),
            "{long}"
        );
    }
    // A server given a larger buffer serves the 100 KB head.
    let roomy = start(|h| h, |s| s.connection_buffer(128 * 1024)).await;
    let mut stream = send(roomy.addr, &long_line(100 * 1024)).await;
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(stream);
    roomy.stop().await;
    let mut many = b"GET /v1/events HTTP/1.1\r\n".to_vec();
    for i in 0..500 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let many = answer(running.addr, &many).await;
    assert!(!many.contains("200 OK"), "{many}");
    running.wait_for_subscribers(0, 5).await;
    running.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404() {
    let running = start(|h| h, |s| s).await;
    for request in [
        &b"GET /v2/events HTTP/1.1\r\nHost: bbs\r\n\r\n"[..],
        b"DELETE /v1/events HTTP/1.1\r\nHost: bbs\r\n\r\n",
        b"GET /v1/events/tasks HTTP/1.1\r\nHost: bbs\r\n\r\n",
    ] {
        let mut stream = send(running.addr, request).await;
        let head = read_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    }
    running.stop().await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_answered_500_without_reading_it_all() {
    let running = start(|h| h, |s| s).await;
    let mut stream = send(
        running.addr,
        b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 209715200\r\n\r\n",
    )
    .await;
    let chunk = vec![0u8; 64 * 1024];
    // Up to 2 MB of the announced 200 MB; the answer comes long before.
    let (mut reader, mut writer) = stream.split();
    let writing = async {
        for _ in 0..32 {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let head = within(10, "the 500", async {
        tokio::select! {
            (read, _) = read_to_close(&mut reader, 10) => String::from_utf8_lossy(&read).into_owned(),
            () = writing => unreachable!(),
        }
    })
    .await;
    assert!(head.starts_with("HTTP/1.1 500"), "{head}");
    assert_eq!(running.subscribers(), 0);
    running.stop().await;
}

#[tokio::test]
async fn connect_and_disconnect_cycles_leave_no_subscriber() {
    let mut running = start(|h| h, |s| s).await;
    for i in 0..1000 {
        let mut stream = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        if i % 2 == 0 {
            stream.write_all(hostile::TASKS_REQUEST).await.unwrap();
            read_head(&mut stream).await;
        }
    }
    running.wait_for_subscribers(0, 10).await;
    running.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_is_closed_without_a_subscriber() {
    let (tls, _) = hostile::tls_pair();
    let running = start(|h| h, |s| s.tls(tls)).await;
    let answer = answer(running.addr, hostile::TASKS_REQUEST).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    assert_eq!(running.subscribers(), 0);
    running.stop().await;
}
