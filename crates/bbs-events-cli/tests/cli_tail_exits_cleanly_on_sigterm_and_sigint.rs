//! `bbs-events tail` stops on SIGTERM (what docker, Kubernetes and systemd send) and on SIGINT
//! alike: it finishes the line it was writing and exits 0.
#![cfg(unix)]

mod support;

use tokio::io::AsyncBufReadExt as _;

async fn exits_cleanly_on(signal: &str) {
    let (_serve, addr) = support::spawn_serve(&["--synthetic", "50"]).await;
    let mut tail = tokio::process::Command::new(support::BIN)
        .args([
            "tail",
            "--url",
            &format!("http://{addr}"),
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tail starts");
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    let first = support::within(20, "tail's first line", lines.next_line())
        .await
        .unwrap()
        .expect("a line");
    assert!(first.starts_with('{'), "{first}");
    support::send_signal(&tail, signal);
    // Whatever was still being printed, then the end; every line whole.
    support::within(10, "tail's stdout to end", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            serde_json::from_str::<serde_json::Value>(&line).expect("a whole JSON line");
        }
    })
    .await;
    let status = support::within(10, "tail to exit", tail.wait())
        .await
        .unwrap();
    assert!(status.success(), "tail exited with {status}");
}

#[tokio::test]
async fn sigterm_ends_tail_with_exit_status_0() {
    exits_cleanly_on("TERM").await;
}

#[tokio::test]
async fn sigint_ends_tail_with_exit_status_0() {
    exits_cleanly_on("INT").await;
}
