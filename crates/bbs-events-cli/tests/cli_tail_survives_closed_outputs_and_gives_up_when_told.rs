//! `bbs-events tail` with stdout or stderr closed (a broken pipe) exits cleanly or with an error
//! status, never with a panic (101);
//! `--response-timeout` and `--max-reconnects` bound it against a server that never answers; and
//! `--v0` reads the routes without `.r1`.

#[path = "../../bbs-events/tests/support/hostile_servers.rs"]
mod hostile;
#[path = "../../bbs-events/tests/support/stream.rs"]
mod support;

use std::process::{Output, Stdio};

use hostile::Behaviour;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bbs-events");

/// A data file of the `bbs-events` crate, which keeps the only copy.
fn bbs_data(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../bbs-events/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Runs `tail` through `sh` so that `redirect` (e.g. `2>&-`) can close its outputs.
async fn tail_sh(url: &str, extra: &str, redirect: &str) -> Output {
    let script =
        format!("exec \"$0\" tail --url {url} --route tasks --format wire {extra} {redirect}");
    support::within(
        20,
        "tail",
        Command::new("sh")
            .args(["-c", &script, BIN])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tail ran")
}

fn replaying_three_events() -> Behaviour {
    Behaviour::ReplayAndCut {
        events: 3,
        cuts: 0,
        per_connection: 0,
    }
}

/// Runs `tail` with its stdout and/or stderr a pipe whose reading end is closed at once, so
/// that every write fails with a broken pipe, and returns its exit code and what it printed on the
/// output left open.
async fn tail_with_closed(
    url: &str,
    extra: &[&str],
    close_stdout: bool,
    close_stderr: bool,
) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(["tail", "--url", url, "--route", "tasks", "--format", "wire"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tail starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut kept = Vec::new();
    let read_kept = async {
        use tokio::io::AsyncReadExt as _;
        match (close_stdout, close_stderr) {
            (true, true) => {
                drop((stdout, stderr));
            }
            (true, false) => {
                drop(stdout);
                let mut stderr = stderr;
                stderr.read_to_end(&mut kept).await.unwrap();
            }
            (false, _) => {
                drop(stderr);
                let mut stdout = stdout;
                stdout.read_to_end(&mut kept).await.unwrap();
            }
        }
    };
    support::within(20, "tail output", read_kept).await;
    let status = support::within(20, "tail exit", child.wait())
        .await
        .unwrap();
    (status.code(), String::from_utf8_lossy(&kept).into_owned())
}

#[tokio::test]
async fn closed_stdout_or_stderr_is_no_panic() {
    let server = hostile::start(replaying_three_events()).await;
    let url = server.url();

    // The reader of stdout went away (`tail | head`): a clean exit, as for other tools.
    let (code, _) = tail_with_closed(&url, &[], true, false).await;
    assert_eq!(code, Some(0));
    let (code, _) = tail_with_closed(&url, &[], true, true).await;
    assert_eq!(code, Some(0));

    // With stderr closed, a clean run still prints its events and succeeds.
    let (code, stdout) = tail_with_closed(&url, &[], false, true).await;
    assert_eq!(code, Some(0));
    assert_eq!(stdout.lines().count(), 3);

    // With stderr closed, a failure (and its retry warnings) exits 1 quietly, not 101.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (code, _) = tail_with_closed(&refused, &["--max-reconnects", "2"], false, true).await;
    assert_eq!(code, Some(1));
}

#[tokio::test]
async fn response_timeout_and_max_reconnects_bound_a_silent_server() {
    let server = hostile::start(Behaviour::NeverAnswer).await;
    let out = tail_sh(
        &server.url(),
        "--response-timeout 200ms --max-reconnects 2",
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 connection attempt(s)") && stderr.contains("no response within 200ms"),
        "{stderr}"
    );
    assert_eq!(server.count(), 2);

    let out = tail_sh(&server.url(), "--response-timeout 2x", "").await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad duration is a usage error"
    );
}

#[tokio::test]
async fn v0_reads_the_routes_without_r1() {
    let path = format!(
        "{}/../bbs-events/tests/data/v0/edge-payloads.tsv",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--replay", &path])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut stderr = BufReader::new(serve.stderr.take().unwrap()).lines();
    let addr = support::within(20, "serve address", async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return addr.to_owned();
            }
        }
        panic!("serve exited without printing its address");
    })
    .await;
    let expected: Vec<String> = String::from_utf8(bbs_data("v0/edge-expected.tsv"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("task_"))
        .map(str::to_owned)
        .collect();
    let out = tail_sh(
        &format!("http://{addr}"),
        &format!("--v0 --count {}", expected.len()),
        "",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, expected);
    serve.kill().await.unwrap();
}
