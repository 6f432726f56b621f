//! A burst of connections arriving while `bbs-events serve` cannot accept them (here: the process
//! is stopped) is queued by the kernel up to the listen backlog (1,024 by default), and each is
//! served once the process goes on. With the 128 that std and tokio listen with, connects beyond it
//! were dropped and retried seconds later, or (with SYN cookies) completed on the client's side
//! only: a TLS client waiting for the server to speak first then waited forever on a connection the
//! server never saw, which the long attack tests once showed as a few silent peers left open.
#![cfg(target_os = "linux")]

mod support;

use support::attack::until_closed;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_beyond_128_are_queued_while_the_server_is_stopped_and_then_served() {
    // The kernel lowers the backlog to net.core.somaxconn (4,096 on current kernels).
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(128);
    let burst = somaxconn.min(600).saturating_sub(8);
    if burst <= 128 {
        eprintln!("net.core.somaxconn is {somaxconn}: no backlog beyond 128 to check");
        return;
    }
    let (mut child, addr) =
        support::spawn_serve(&["--header-read-timeout", "2s", "--listen-backlog", "1024"]).await;
    support::send_signal(&child, "STOP");
    let (connected, mut connections) = tokio::sync::mpsc::channel(burst);
    let mut peers = tokio::task::JoinSet::new();
    for _ in 0..burst {
        let connected = connected.clone();
        peers.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let _ = connected.send(()).await;
            // Silent, as a TLS client before the server's first word: closed by the server's
            // header read timeout once it runs again.
            until_closed(&mut stream, 60).await
        });
    }
    drop(connected);
    // Every handshake completes in the kernel while the process is stopped; a dropped connect
    // would be retried only a second or more later, after this bound.
    support::within(5, "every connect of the burst to complete", async {
        for _ in 0..burst {
            connections
                .recv()
                .await
                .expect("a peer ended before it connected");
        }
    })
    .await;
    support::send_signal(&child, "CONT");
    let closed =
        support::within(90, "every peer of the burst to be closed", peers.join_all()).await;
    assert_eq!(closed.len(), burst);
    child.kill().await.unwrap();
}
