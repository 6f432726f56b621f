//! `bbs-events serve` stops on SIGTERM (what docker, Kubernetes and systemd send) and on SIGINT
//! alike: every open stream gets its terminating chunk, the connection closes, and serve exits 0.
#![cfg(unix)]

mod support;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const TASKS_REQUEST: &[u8] =
    b"POST /v1/events/tasks.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n";

async fn ends_gracefully_on(signal: &str) {
    let (mut serve, addr) = support::spawn_serve(&[]).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(TASKS_REQUEST).await.unwrap();
    let mut read = Vec::new();
    let mut buf = [0u8; 1024];
    support::within(10, "the response head", async {
        while !read.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the head");
            read.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    support::send_signal(&serve, signal);
    read.clear();
    support::within(10, "the stream to end", async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert_eq!(read, b"0\r\n\r\n", "{:?}", String::from_utf8_lossy(&read));
    let status = support::within(15, "serve to exit", serve.wait())
        .await
        .unwrap();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn sigterm_ends_every_stream_with_the_terminating_chunk() {
    ends_gracefully_on("TERM").await;
}

#[tokio::test]
async fn sigint_ends_every_stream_with_the_terminating_chunk() {
    ends_gracefully_on("INT").await;
}
