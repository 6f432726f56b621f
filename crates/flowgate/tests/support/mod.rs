//! Helpers shared by the facade's tests: the demo example run as a user would (built by
//! cargo, started as a process, its output read line by line with deadlines), and a
//! Prometheus recorder to run a test under and read back.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// Builds the demo example (a no-op when it is fresh) and returns its path.
pub fn demo_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_demo).clone()
}

fn build_demo() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    // Cargo sets these for the test; build scripts that watch them (ring watches
    // CARGO_MANIFEST_DIR) would otherwise rebuild half the workspace.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
            ]
            .contains(&key.as_str())
            || key.starts_with("CARGO_PRIMARY_PACKAGE")
            || key.starts_with("CARGO_TARGET_TMPDIR")
        {
            cargo.env_remove(key);
        }
    }
    let output = cargo
        .args([
            "build",
            "--quiet",
            "--package",
            "flowgate",
            "--example",
            "demo",
            "--features",
            "metrics",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building the demo failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The artifact message of the example names its executable.
    let line = stdout
        .lines()
        .find(|l| l.contains("\"name\":\"demo\"") && l.contains("\"executable\":\""))
        .expect("cargo reports the demo's executable");
    let start = line.find("\"executable\":\"").unwrap() + "\"executable\":\"".len();
    let end = start + line[start..].find('"').unwrap();
    PathBuf::from(&line[start..end])
}

/// A folder of its own for one test's output.
pub fn out_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgate-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A running demo whose stdout is collected by a thread.
pub struct Demo {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub stdout: Vec<String>,
}

impl Demo {
    pub fn start(args: &[&str]) -> Demo {
        let mut child = Command::new(demo_binary())
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the demo starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            child,
            lines,
            stdout: Vec::new(),
        }
    }

    /// Waits for a line of stdout that satisfies `pred`, up to `limit`.
    pub fn wait_for_line(&mut self, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no matching line within {limit:?}; stdout so far:\n{}",
                    self.stdout.join("\n")
                ),
            }
        }
    }

    /// Waits for the process to exit, up to `limit`, collecting the rest of stdout.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stdout.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "the demo did not finish within {limit:?}; stdout:\n{}",
                        self.stdout.join("\n")
                    );
                }
            }
        }
        let status = self.child.wait().expect("the demo exits");
        (status, self.stdout.join("\n"))
    }
}

/// The value column of the summary row `name`.
pub fn row<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no summary row {name:?} in:\n{stdout}"))
        .trim()
}

/// The first number in `text`.
pub fn first_number(text: &str) -> u64 {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number in {text:?}"))
}

/// Runs `test` on a current-thread runtime with `recorder` as the recorder of this
/// thread, handing it the recorder's handle to render what was recorded.
pub fn with_recorder<F: std::future::Future>(
    recorder: metrics_exporter_prometheus::PrometheusRecorder,
    test: impl FnOnce(metrics_exporter_prometheus::PrometheusHandle) -> F,
) -> F::Output {
    let handle = recorder.handle();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || rt.block_on(test(handle)))
}

/// The value of the Prometheus sample whose name and labels are exactly `series`.
pub fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}
