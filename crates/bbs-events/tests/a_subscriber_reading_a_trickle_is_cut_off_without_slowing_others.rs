//! A subscriber that keeps reading, but only a trickle, makes progress on every write, so no write
//! timeout fires; it still falls behind the hub, is cut off, and its connection is closed, while a
//! healthy subscriber on the same route gets every event.

#[path = "support/hostile_peers.rs"]
mod hostile;

use std::time::Duration;

use hostile::{TASKS_REQUEST, read_head, start, within};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpSocket;

const EVENTS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickle_reader_is_cut_off_and_closed_and_a_healthy_subscriber_gets_everything() {
    let mut running = start(
        |h| h.subscriber_capacity(64),
        |s| s.write_timeout(Duration::from_secs(1)),
    )
    .await;

    // The trickle: a small receive buffer, 16 bytes every 20 ms (800 B/s).
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut trickle = socket.connect(running.addr).await.unwrap();
    trickle.write_all(TASKS_REQUEST).await.unwrap();
    read_head(&mut trickle).await;
    let trickle = tokio::spawn(async move {
        let mut buf = [0u8; 16];
        let mut total = 0usize;
        // Bounded: 60 s of trickling at most.
        for _ in 0..3_000 {
            match trickle.read(&mut buf).await {
                Ok(0) | Err(_) => return Some(total),
                Ok(n) => total += n,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    });

    let mut healthy = hostile::send(running.addr, TASKS_REQUEST).await;
    read_head(&mut healthy).await;
    let healthy = tokio::spawn(async move {
        let mut all = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while count_events(&all) < EVENTS {
            let n = healthy.read(&mut buf).await.expect("healthy read");
            assert!(n > 0, "the healthy subscriber was closed");
            all.extend_from_slice(&buf[..n]);
        }
        // The stream is handed back so that the subscriber stays connected.
        (count_events(&all), healthy)
    });
    running.wait_for_subscribers(2, 5).await;

    // 2,000 events of ~1 KiB over about 2 s.
    let mut pace = tokio::time::interval(Duration::from_millis(1));
    for _ in 0..EVENTS {
        pace.tick().await;
        running.hub.emit(hostile::big_task(1024)).unwrap();
    }

    let (got, _healthy) = within(30, "the healthy subscriber's events", healthy)
        .await
        .unwrap();
    assert_eq!(got, EVENTS);
    let trickled = within(30, "the trickle reader's connection to close", trickle)
        .await
        .unwrap()
        .expect("closed by the server within a minute");
    // Cut off long before it could have read everything (over 2 MB).
    assert!(trickled < EVENTS * 1024, "read {trickled} bytes");
    running.wait_for_subscribers(1, 5).await;
    running.stop().await;
}

fn count_events(bytes: &[u8]) -> usize {
    bytes
        .windows(b"event: task_created".len())
        .filter(|w| *w == b"event: task_created")
        .count()
}
