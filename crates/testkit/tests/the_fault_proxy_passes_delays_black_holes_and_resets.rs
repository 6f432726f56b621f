//! The fault proxy in each mode, switched while connections are open, and gone when
//! dropped. Real sockets on loopback.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use testkit::{Fault, FaultProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

async fn echo_server() -> SocketAddr {
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut peer, _)) = server.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = peer.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn round_trip(client: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    client.write_all(msg).await?;
    let mut buf = vec![0u8; msg.len()];
    client.read_exact(&mut buf).await?;
    Ok(buf)
}

#[tokio::test]
async fn pass_forwards_both_ways() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    assert_eq!(proxy.fault(), Fault::Pass);
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    let big = vec![7u8; 100_000];
    let echoed = timeout(WAIT, round_trip(&mut client, &big))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, big);
}

#[tokio::test]
async fn delay_holds_every_chunk_back() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    proxy.set(Fault::Delay(Duration::from_millis(150)));
    let begin = Instant::now();
    let echoed = timeout(WAIT, round_trip(&mut client, b"slow"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, b"slow");
    // Once on the way there and once on the way back.
    assert!(
        begin.elapsed() >= Duration::from_millis(300),
        "{:?}",
        begin.elapsed()
    );
}

#[tokio::test]
async fn a_black_hole_answers_nothing_until_switched_back() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut open, b"one").await.unwrap(), b"one");
    proxy.set(Fault::BlackHole);
    // Open connections and new ones alike: accepted, never answered.
    let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
    for client in [&mut open, &mut new] {
        let answer = timeout(Duration::from_millis(300), round_trip(client, b"two")).await;
        assert!(answer.is_err(), "answered through a black hole: {answer:?}");
    }
    proxy.set(Fault::Pass);
    let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
    let echoed = timeout(WAIT, round_trip(&mut after, b"three"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, b"three");
}

#[tokio::test]
async fn reset_cuts_open_and_new_connections() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut open, b"one").await.unwrap(), b"one");
    proxy.set(Fault::Reset);
    let mut buf = [0u8; 8];
    let read = timeout(WAIT, open.read(&mut buf)).await.unwrap();
    assert!(
        matches!(read, Err(_) | Ok(0)),
        "an open connection survived a reset: {read:?}"
    );
    let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
    let answer = timeout(WAIT, round_trip(&mut new, b"two")).await.unwrap();
    assert!(answer.is_err(), "a new connection was carried: {answer:?}");
}

#[tokio::test]
async fn dropping_the_proxy_closes_everything() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let addr = proxy.addr();
    let mut open = TcpStream::connect(addr).await.unwrap();
    assert_eq!(round_trip(&mut open, b"one").await.unwrap(), b"one");
    drop(proxy);
    let mut buf = [0u8; 8];
    let read = timeout(WAIT, open.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Err(_) | Ok(0)), "{read:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test]
async fn only_loopback_upstreams_are_accepted() {
    let far: SocketAddr = "192.0.2.1:80".parse().unwrap();
    let err = FaultProxy::start(far).await.unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}
