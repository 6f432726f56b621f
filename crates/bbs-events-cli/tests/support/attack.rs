//! A `serve` process under attack: its baseline of descriptors and memory, and waits for the
//! server to close connections.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;
use tokio::process::Child;

/// A `serve` process and its baseline.
pub struct Target {
    pub child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    pub fds: usize,
    pub rss_kib: u64,
}

impl Target {
    pub async fn start(args: &[&str]) -> Target {
        let (child, addr) = super::spawn_serve(args).await;
        let pid = child.id().unwrap();
        Target {
            fds: fds(pid),
            rss_kib: rss_kib(pid),
            child,
            addr,
            pid,
        }
    }

    /// Waits (at most `secs`) until the open descriptors are back at the baseline; returns how
    /// long that took and the peak seen.
    pub async fn back_to_baseline(&self, secs: u64) -> (Duration, usize) {
        let started = Instant::now();
        let mut peak = 0;
        // A bounded poll of another process's state, which offers nothing to wait on.
        for _ in 0..secs * 20 {
            let now = fds(self.pid);
            peak = peak.max(now);
            if now <= self.fds {
                return (started.elapsed(), peak);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "serve still has {} descriptors open {secs} s later (baseline {})",
            fds(self.pid),
            self.fds
        );
    }

    pub async fn report(mut self, attack: &str, extra: &str) {
        let (took, _) = self.back_to_baseline(10).await;
        let rss = rss_kib(self.pid);
        eprintln!(
            "figure: {attack}: fds {} -> back to {} {:.1} s after the attack ended; \
             RSS {:.1} MB -> {:.1} MB{extra}",
            self.fds,
            fds(self.pid),
            took.as_secs_f64(),
            self.rss_kib as f64 / 1024.0,
            rss as f64 / 1024.0,
        );
        // Memory the allocator keeps for reuse is fine; a leak per connection is not.
        assert!(rss < self.rss_kib + 64 * 1024, "RSS grew to {rss} KiB");
        self.child.kill().await.unwrap();
    }
}

pub fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Reads until the server closes the connection (at most `secs`); the time it took.
pub async fn until_closed(stream: &mut TcpStream, secs: u64) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    super::within(secs, "the server to close", async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    started.elapsed()
}

pub fn median_and_max(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let max = times.last().unwrap().as_secs_f64();
    (median, max)
}
