//! Helpers for the command-line tests: the conformance data of the `bbs-events` crate and bounded
//! waits.
#![allow(dead_code, unreachable_pub)]

pub mod attack;

use std::future::Future;
use std::time::Duration;

/// A conformance data file of the `bbs-events` crate, which keeps the only copy.
pub fn data(name: &str) -> Vec<u8> {
    let path = data_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The path of a conformance data file of the `bbs-events` crate.
pub fn data_path(name: &str) -> String {
    format!(
        "{}/../bbs-events/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The JSON lines of a conformance data file.
pub fn json_lines(name: &str) -> Vec<serde_json::Value> {
    String::from_utf8(data(name))
        .expect("UTF-8 data file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

/// Awaits `fut`, failing the test if it takes longer than `secs` seconds.
pub async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

/// The `bbs-events` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bbs-events");

/// Starts `bbs-events serve --listen 127.0.0.1:0` with `args`; returns it with its address, read
/// from its stderr (the rest of which is passed to this test's stderr).
pub async fn spawn_serve(args: &[&str]) -> (tokio::process::Child, std::net::SocketAddr) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = within(20, "serve address", async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return addr.parse().expect("a socket address");
            }
        }
        panic!("serve exited without printing its address");
    })
    .await;
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            eprintln!("serve: {line}");
        }
    });
    (child, addr)
}

/// Sends `signal` (e.g. `TERM`) to `child` with kill(1).
pub fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("child still running");
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
