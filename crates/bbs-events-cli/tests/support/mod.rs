//! Helpers for the command-line tests: the conformance data of the `bbs-events` crate and bounded
//! waits.
#![allow(dead_code, unreachable_pub)]

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
