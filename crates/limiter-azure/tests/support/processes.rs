//! Limiter instances in separate OS processes (the `instance` example), each reporting its
//! capacity every 10 ms with a wall-clock timestamp, so that their capacities can be
//! compared at the same instants, also around a process that was stopped.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

/// One report: wall-clock microseconds and the capacity.
pub type Report = (u64, u32);

/// A running instance process.
#[derive(Debug)]
pub struct Instance {
    child: Child,
    stdin: Option<ChildStdin>,
    reader: JoinHandle<()>,
    pub reports: Arc<Mutex<Vec<Report>>>,
}

/// The `instance` example next to this test executable (cargo builds examples for tests).
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = debug.join("examples").join("instance");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p limiter-azure --example instance`",
        path.display()
    );
    path
}

impl Instance {
    /// Starts one instance on `container` of the storage at `connection`.
    pub fn start(connection: &str, container: &str, seed: u64) -> Instance {
        let mut child = Command::new(example())
            .args([container, &seed.to_string()])
            .env("AZURE_STORAGE_CONNECTION_STRING", connection)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let log = reports.clone();
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut words = line.split_whitespace();
                if words.next() != Some("sample") {
                    continue;
                }
                let (Some(t), Some(c)) = (words.next(), words.next()) else {
                    continue;
                };
                if let (Ok(t), Ok(c)) = (t.parse(), c.parse()) {
                    log.lock().unwrap().push((t, c));
                }
            }
        });
        Instance {
            child,
            stdin,
            reader,
            reports,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Closes its input, which makes it stop (releasing its leases), and waits for it.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        assert!(
            status.is_ok_and(|s| s.is_ok_and(|s| s.success())),
            "the instance did not stop cleanly"
        );
        let _ = self.reader.await;
    }
}

/// The sums at every 10-ms instant at which every process was running (its latest report
/// at most 50 ms old): a stopped process spends nothing, and what it reports first after
/// it continues is checked at the first instant after it. Returns `(instant, sum)`.
pub fn sums(all: &[Vec<Report>]) -> Vec<(u64, u32)> {
    let start = all.iter().filter_map(|r| r.first()).map(|r| r.0).max();
    let end = all.iter().filter_map(|r| r.last()).map(|r| r.0).min();
    let (Some(start), Some(end)) = (start, end) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut t = start;
    while t <= end {
        let latest: Option<Vec<Report>> = all
            .iter()
            .map(|r| {
                let i = r.partition_point(|x| x.0 <= t);
                r.get(i.checked_sub(1)?).copied()
            })
            .collect();
        if let Some(latest) = latest {
            if latest.iter().all(|r| t - r.0 <= 50_000) {
                out.push((t, latest.iter().map(|r| r.1).sum()));
            }
        }
        t += 10_000;
    }
    out
}
