//! Beyond the connection cap a plain HTTP peer is answered 503 before any other work, and beyond
//! the subscriber cap a subscription is answered 503; both recover once a place frees up.

#[path = "support/hostile_peers.rs"]
mod hostile;

use hostile::{TASKS_REQUEST, read_head, read_to_close, read_until, send, start, within};
use tokio::net::TcpStream;

const NOT_FOUND_REQUEST: &[u8] = b"GET /nowhere HTTP/1.1\r\nHost: bbs\r\n\r\n";

#[tokio::test]
async fn connections_beyond_the_cap_are_answered_503_until_one_closes() {
    let running = start(|h| h, |s| s.max_connections(2)).await;
    // Two connections that send nothing yet hold both places.
    let first = TcpStream::connect(running.addr).await.unwrap();
    let mut second = TcpStream::connect(running.addr).await.unwrap();
    let mut third = send(running.addr, NOT_FOUND_REQUEST).await;
    let (answer, _) = read_to_close(&mut third, 5).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.ends_with("too many connections to this server; try again later\n"));
    // The held connections are served normally.
    tokio::io::AsyncWriteExt::write_all(&mut second, NOT_FOUND_REQUEST)
        .await
        .unwrap();
    assert!(read_head(&mut second).await.starts_with("HTTP/1.1 404"));
    drop(first);
    // Once the server has seen the first close, a new connection gets in (bounded retries).
    within(5, "a free connection place", async {
        for _ in 0..500 {
            let mut next = send(running.addr, NOT_FOUND_REQUEST).await;
            if read_head(&mut next).await.starts_with("HTTP/1.1 404") {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("no connection place freed up");
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn tls_connections_beyond_the_cap_are_closed_before_the_handshake() {
    let (tls, _) = hostile::tls_pair();
    let running = start(|h| h, |s| s.tls(tls).max_connections(1)).await;
    let _held = TcpStream::connect(running.addr).await.unwrap();
    let mut refused = TcpStream::connect(running.addr).await.unwrap();
    let (read, _) = read_to_close(&mut refused, 5).await;
    assert!(read.is_empty(), "{read:?}");
    running.stop().await;
}

#[tokio::test]
async fn subscriptions_beyond_the_cap_are_answered_503_until_one_ends() {
    let mut running = start(|h| h, |s| s.max_subscribers(1)).await;
    let mut first = send(running.addr, TASKS_REQUEST).await;
    assert!(read_head(&mut first).await.starts_with("HTTP/1.1 200"));
    running.wait_for_subscribers(1, 5).await;
    let mut refused = send(running.addr, TASKS_REQUEST).await;
    let head = read_head(&mut refused).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    read_until(
        &mut refused,
        "too many event subscribers; try again later\n",
    )
    .await;
    drop(first);
    running.wait_for_subscribers(0, 5).await;
    let mut next = send(running.addr, TASKS_REQUEST).await;
    assert!(read_head(&mut next).await.starts_with("HTTP/1.1 200"));
    running.stop().await;
}

#[tokio::test]
async fn zero_caps_and_timeouts_are_refused_with_the_option_named() {
    use bbs_events::server::{Hub, Server, ServerError};
    let error = Server::builder(Hub::new())
        .max_connections(0)
        .bind("127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ServerError::InvalidOption {
            option: "max_connections",
            ..
        }
    ));
    let error = Server::builder(Hub::new())
        .header_read_timeout(std::time::Duration::ZERO)
        .bind("127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("header_read_timeout"), "{error}");
}
