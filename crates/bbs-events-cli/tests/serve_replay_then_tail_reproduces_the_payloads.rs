//! `bbs-events serve --replay payloads.tsv` followed by `bbs-events tail --format wire` on each route
//! reproduces the file, routed like the BBS; bad replay lines are rejected with their line number.

mod support;

use std::process::Stdio;
use std::time::Duration;

use bbs_events::EventType;
use bbs_events::server::ServerRoute;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bbs-events");

async fn tail(url: &str, route: &str, count: usize) -> Vec<String> {
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(BIN)
            .args(["tail", "--url", url, "--route", route, "--format", "wire"])
            .args(["--count", &count.to_string()])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tail finished in time")
    .expect("tail ran");
    assert!(
        output.status.success(),
        "tail failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn replayed_payloads_come_back_identical_on_every_route() {
    let path = support::data_path("payloads.tsv");
    let lines: Vec<String> = String::from_utf8(support::data("payloads.tsv"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--replay", &path])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut stderr = BufReader::new(serve.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return addr.to_owned();
            }
        }
        panic!("serve exited without printing its address");
    })
    .await
    .expect("address in time");
    let url = format!("http://{addr}");
    let mut seen = std::collections::HashSet::new();
    for (route, name) in [
        (ServerRoute::Events, "events"),
        (ServerRoute::Instances, "instances"),
        (ServerRoute::Tasks, "tasks"),
    ] {
        let want: Vec<String> = lines
            .iter()
            .filter(|l| {
                let name = l.split('\t').next().unwrap();
                route.sends(EventType::from_wire(name).unwrap())
            })
            .cloned()
            .collect();
        let got = tail(&url, name, want.len()).await;
        assert_eq!(got, want, "route {name}");
        seen.extend(got);
    }
    // Together the routes give back every line of the file.
    assert_eq!(
        seen.len(),
        lines.iter().collect::<std::collections::HashSet<_>>().len()
    );
    serve.kill().await.unwrap();
}

#[tokio::test]
async fn a_bad_replay_line_is_rejected_with_its_number() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let path = format!("{dir}/bad-replay-{}.tsv", std::process::id());
    std::fs::write(
        &path,
        "task_removed\tCg8SDXB1Yi1iYXJlLXRhc2s=\ntask_exploded\tCgA=\n",
    )
    .unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--replay", &path])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("serve exits in time")
    .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(":2:") && stderr.contains("task_exploded"),
        "{stderr}"
    );
}
