//! After each attack (slowloris, subscribers that never read, subscribers that pipeline a byte
//! and leave; silent TLS peers have a file of their own), a `bbs-events serve` process is back to its
//! baseline of open descriptors within 10 s, and slowloris and silent TLS peers are closed after
//! the default timeouts. Each test prints its figures (`cargo xtask test --long`, or
//! `cargo test -p bbs-events-cli --test serve_returns_to_its_baseline_after_each_attack --
//! --ignored --nocapture`).
#![cfg(target_os = "linux")]

mod support;

use support::attack::{Target, fds, median_and_max, rss_kib};

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// One attack at a time, so that each baseline is measured alone. (Silent TLS peers run in a file
/// of their own. Run here, 41 of 500 were once seen unclosed after a minute: the server listened
/// with a backlog of 128, and a burst beyond it got SYN cookies, so some peers' connects completed
/// on their side only. It listens with 1,024 now; see
/// `serve_queues_a_burst_of_connections_while_it_is_busy`.)
static ONE_ATTACK_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
#[ignore = "long: 500 slowloris connections against the default 10 s header timeout (~20 s)"]
async fn slowloris_connections_are_closed_after_the_header_timeout() {
    let _alone = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Target::start(&[]).await;
    let addr = target.addr;
    let mut attackers = tokio::task::JoinSet::new();
    for _ in 0..500 {
        attackers.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let started = Instant::now();
            stream
                .write_all(b"GET /v1/events.r1 HTTP/1.1\r\nHost: bbs\r\nX-Slow: ")
                .await
                .unwrap();
            let mut buf = [0u8; 1024];
            // One more header byte a second, for at most a minute.
            for _ in 0..60 {
                tokio::select! {
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return started.elapsed(),
                        Ok(_) => {}
                    },
                    () = tokio::time::sleep(Duration::from_secs(1)) => {
                        if stream.write_all(b"a").await.is_err() {
                            return started.elapsed();
                        }
                    }
                }
            }
            panic!("a slowloris connection was still open after 60 s");
        });
    }
    let closed = attackers.join_all().await;
    let (median, max) = median_and_max(closed);
    assert!(median >= 9.0, "closed after {median} s, before the timeout");
    target
        .report(
            "500 slowloris connections (1 byte/s)",
            &format!("; each closed after {median:.1} s (median), {max:.1} s (max)"),
        )
        .await;
}

const INSTANCES_REQUEST: &[u8] =
    b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n";

/// Opens 1,000 subscriptions that never read (with small receive buffers, so that they stall
/// soon) and waits until the server has closed them all; returns the peak descriptors and how
/// long after the first subscription the last was closed.
async fn never_reading_round(target: &Target) -> (usize, Duration) {
    let started = Instant::now();
    // Kept open, never read: only the server can close these.
    let mut held = Vec::new();
    for _ in 0..1000 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(target.addr).await.unwrap();
        stream.write_all(INSTANCES_REQUEST).await.unwrap();
        held.push(stream);
    }
    let (_, peak) = target.back_to_baseline(60).await;
    let took = started.elapsed();
    drop(held);
    (peak, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: twice 1,000 subscribers that never read, with a 5 s write timeout (~30 s)"]
async fn subscribers_that_never_read_are_disconnected_and_their_sockets_closed() {
    let _alone = ONE_ATTACK_AT_A_TIME.lock().await;
    let mut target = Target::start(&["--synthetic", "500", "--write-timeout", "5s"]).await;
    // A healthy subscriber reads throughout; its longest wait between reads is reported, and
    // whether the hub cut it off as slow (fan-out speed is not what this test is about).
    let mut healthy = TcpStream::connect(target.addr).await.unwrap();
    healthy.write_all(INSTANCES_REQUEST).await.unwrap();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut last = Instant::now();
        let mut longest = Duration::ZERO;
        loop {
            tokio::select! {
                _ = &mut stopped => return (longest, None),
                read = healthy.read(&mut buf) => match read {
                    Ok(n) if n > 0 => {
                        longest = longest.max(last.elapsed());
                        last = Instant::now();
                    }
                    _ => return (longest, Some(last)),
                },
            }
        }
    });
    support::within(10, "the healthy subscriber's descriptor", async {
        // Bounded: the server opens the healthy subscriber's descriptor within a few polls.
        for _ in 0..200 {
            if fds(target.pid) > target.fds {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    target.fds = fds(target.pid);
    target.rss_kib = rss_kib(target.pid);
    let attack_started = Instant::now();
    let (peak, took) = never_reading_round(&target).await;
    let after_first = rss_kib(target.pid);
    let (_, took_again) = never_reading_round(&target).await;
    let after_second = rss_kib(target.pid);
    // The reader may have ended already, when it was cut off.
    let _ = stop.send(());
    let (longest, cut) = reader.await.unwrap();
    let healthy = match cut {
        None => "was never cut off".to_owned(),
        Some(at) => format!(
            "was cut off as slow {:.1} s into the attack",
            at.duration_since(attack_started).as_secs_f64()
        ),
    };
    // Memory kept by the allocator after the first round is reused by the second, not added to.
    assert!(
        after_second < after_first + 16 * 1024,
        "RSS grew from {after_first} KiB to {after_second} KiB across identical rounds"
    );
    let extra = format!(
        "; peak {peak} fds; all disconnected {:.1} s and {:.1} s after the first subscribed \
         (two rounds); RSS after round 1 {:.1} MB, after round 2 {:.1} MB; a healthy \
         subscriber's longest wait between reads {:.2} s, and it {healthy}",
        took.as_secs_f64(),
        took_again.as_secs_f64(),
        after_first as f64 / 1024.0,
        after_second as f64 / 1024.0,
        longest.as_secs_f64(),
    );
    target
        .report("1,000 never-reading subscribers", &extra)
        .await;
}

#[tokio::test]
#[ignore = "long: 1,000 subscribers that pipeline a byte and leave a quiet route (~10 s)"]
async fn subscribers_that_pipeline_and_leave_are_released() {
    let _alone = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Target::start(&[]).await;
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(target.addr).await.unwrap();
        stream
            .write_all(
                b"POST /v1/events/tasks.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\nX",
            )
            .await
            .unwrap();
        let mut head = [0u8; 512];
        // The stream is open once its head arrived; then the peer goes away.
        let _ = support::within(10, "a response head", stream.read(&mut head)).await;
    }
    target
        .report(
            "1,000 pipelined-and-gone subscribers on the quiet task route",
            "",
        )
        .await;
}
