//! `bbs-events tail --format json` prints `{"id","type","event"}` lines that match the conformance
//! decoding, and `serve --synthetic` produces a live LRP lifecycle stream.

mod support;

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_bbs-events");

/// Starts `serve` with `args` and returns it with its URL, read from stderr.
async fn serve(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = support::within(20, "serve address", async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return addr.to_owned();
            }
        }
        panic!("serve exited without printing its address");
    })
    .await;
    (child, format!("http://{addr}"))
}

async fn tail_json(url: &str, route: &str, count: usize) -> Vec<Value> {
    let output = support::within(
        20,
        "tail",
        Command::new(BIN)
            .args(["tail", "--url", url, "--route", route, "--format", "json"])
            .args(["--count", &count.to_string()])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("tail ran");
    assert!(
        output.status.success(),
        "tail failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[tokio::test]
async fn json_lines_carry_id_type_and_the_proto3_json_event() {
    let path = support::data_path("payloads.tsv");
    let (mut server, url) = serve(&["--replay", &path]).await;
    let expected: Vec<Value> = support::json_lines("expected.jsonl")
        .into_iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("task_"))
        .collect();
    let got = tail_json(&url, "tasks", expected.len()).await;
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        // Ids count from 0 on the connection.
        assert_eq!(got["id"], i as u64);
        assert_eq!(got["type"], want["type"]);
        assert_eq!(got["event"], want["json"]);
    }
    assert_eq!(got.len(), expected.len());
    server.kill().await.unwrap();
}

#[tokio::test]
async fn the_synthetic_stream_is_a_sequence_of_lrp_lifecycle_events() {
    let (mut server, url) = serve(&["--synthetic", "2000"]).await;
    let got = tail_json(&url, "instances", 12).await;
    assert_eq!(got.len(), 12);
    let types: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let allowed = [
        "desired_lrp_created",
        "desired_lrp_removed",
        "actual_lrp_instance_created",
        "actual_lrp_instance_changed",
        "actual_lrp_instance_removed",
        "actual_lrp_crashed",
    ];
    assert!(types.iter().all(|t| allowed.contains(t)), "{types:?}");
    assert!(types.contains(&"actual_lrp_instance_changed"), "{types:?}");
    // Instance events name their process.
    for event in got
        .iter()
        .filter(|e| e["type"] == "actual_lrp_instance_changed")
    {
        assert!(event["event"]["actual_lrp_key"]["process_guid"].is_string());
    }
    server.kill().await.unwrap();
}
