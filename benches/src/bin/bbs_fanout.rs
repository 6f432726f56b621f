//! BBS hub fan-out over the real HTTP endpoint on loopback.
//!
//! Phase 1 (memory): the server's RSS growth per idle subscriber, with raw TCP subscribers.
//! Phase 2 (load): `SUBSCRIBERS` clients of this crate subscribe to `/v1/events/lrp_instances.r1`
//! and a producer emits `RATE` crash events per second for `DURATION`; reports delivered
//! events/s, p50/p99 emit-to-receive latency and how many subscribers the hub cut off as slow.
//!
//! The load is then repeated with 10 subscribers, to show the latency of an unsaturated hub.
//! `--quick` runs 100 subscribers for 2 s. With `FLOWGATE_BENCH_OUT` set, one JSON object per
//! figure is appended to that file.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bbs_events::client::{Client, StreamItem, SubscriptionError};
use bbs_events::server::{Hub, Server};
use flowgate_benches::bbs::{stamp_of, stamped_crash};
use flowgate_benches::report::Report;
use tokio_util::sync::CancellationToken;

/// Latency histogram: 10 µs buckets up to 2 s, then one overflow bucket.
struct Histogram {
    buckets: Vec<AtomicU64>,
}

const BUCKET_US: u64 = 10;
const BUCKETS: usize = 200_000;

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn record(&self, micros: u64) {
        let i = ((micros / BUCKET_US) as usize).min(BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return f64::NAN;
        }
        let target = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        f64::INFINITY
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let quick = flowgate_benches::report::quick();
    let subscribers: usize = if quick { 100 } else { 1000 };
    let rate: u64 = 10_000;
    let duration = if quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    };
    println!(
        "bbs_fanout ({}): {subscribers} subscribers, {rate} events/s for {:?} on 127.0.0.1",
        if quick { "quick" } else { "full" },
        duration
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut report = Report::new("bbs_fanout");
    runtime.block_on(memory_phase(subscribers, &mut report));
    runtime.block_on(load_phase(subscribers, rate, duration, &mut report, ""));
    // The server alone, with raw TCP readers that only count events, to separate the server's
    // cost from the clients' decoding.
    runtime.block_on(server_only_phase(subscribers, rate, duration, &mut report));
    // The same load for a handful of subscribers, for the latency of an unsaturated hub.
    runtime.block_on(load_phase(10, rate, duration, &mut report, "10 subs: "));
    report.write_json();
}

async fn start_server() -> (Hub, String, CancellationToken) {
    let hub = Hub::new();
    let server = Server::builder(hub.clone())
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = server.local_addr();
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    (hub, addr.to_string(), shutdown)
}

async fn wait_for(hub: &Hub, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while hub.subscriber_count() < n {
        assert!(
            Instant::now() < deadline,
            "subscribers did not connect in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn memory_phase(subscribers: usize, report: &mut Report) {
    let (hub, addr, shutdown) = start_server().await;
    let before = rss_bytes();
    let conns: Vec<std::net::TcpStream> = (0..subscribers)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).expect("connect");
            s.write_all(b"GET /v1/events.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n")
                .expect("request");
            s
        })
        .collect();
    wait_for(&hub, subscribers).await;
    let after = rss_bytes();
    let per = after.saturating_sub(before) as f64 / subscribers as f64 / 1024.0;
    report.add("server RSS per idle subscriber", per, "KiB", "(report)");
    drop(conns);
    shutdown.cancel();
    hub.close();
}

async fn load_phase(
    subscribers: usize,
    rate: u64,
    duration: Duration,
    report: &mut Report,
    label: &str,
) {
    let (hub, addr, shutdown) = start_server().await;
    let client = Client::new(&format!("http://{addr}")).expect("client");
    let base = Instant::now();
    let histogram = Arc::new(Histogram::new());
    let delivered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..subscribers {
        let mut sub = client
            .subscribe_to_instance_events()
            .await
            .expect("subscribe");
        let histogram = Arc::clone(&histogram);
        let delivered = Arc::clone(&delivered);
        tasks.push(tokio::spawn(async move {
            loop {
                match sub.next().await {
                    Ok(StreamItem::Event(received)) => {
                        if let Some(stamp) = stamp_of(&received.event) {
                            let now = base.elapsed().as_nanos() as i64;
                            histogram.record(((now - stamp).max(0) / 1000) as u64);
                        }
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(SubscriptionError::EndOfStream) => {
                        // The hub ends a stream early only for a slow subscriber.
                        break;
                    }
                    Err(SubscriptionError::Closed) => break,
                    Ok(_) | Err(_) => {}
                }
            }
            sub.close();
        }));
    }
    wait_for(&hub, subscribers).await;
    let start = Instant::now();
    let mut seq = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while start.elapsed() < duration {
        ticker.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while seq < due {
            let stamp = base.elapsed().as_nanos() as i64;
            if hub.emit(stamped_crash(seq, stamp)).is_err() {
                break;
            }
            seq += 1;
        }
    }
    let emitted = seq;
    let remaining = hub.subscriber_count();
    // Let in-flight events drain, then end every stream.
    let drain_deadline = Instant::now() + Duration::from_secs(5);
    let target = emitted * remaining as u64;
    while delivered.load(Ordering::Relaxed) < target && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    hub.close();
    shutdown.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let delivered = delivered.load(Ordering::Relaxed) as f64;
    report.add(
        &format!("{label}events emitted per second"),
        emitted as f64 / duration.as_secs_f64(),
        "ev/s",
        "10000",
    );
    report.add(
        &format!("{label}delivered events per second (all subscribers)"),
        delivered / elapsed,
        "ev/s",
        "(report)",
    );
    report.add(
        &format!("{label}delivered / (emitted x subscribers)"),
        100.0 * delivered / (emitted as f64 * subscribers as f64),
        "%",
        "100",
    );
    report.add(
        &format!("{label}subscribers cut off as slow"),
        (subscribers - remaining) as f64,
        "count",
        "0",
    );
    report.add(
        &format!("{label}emit-to-receive latency p50"),
        histogram.quantile_ms(0.50),
        "ms",
        "(report)",
    );
    report.add(
        &format!("{label}emit-to-receive latency p99"),
        histogram.quantile_ms(0.99),
        "ms",
        "< 50",
    );
}

async fn server_only_phase(subscribers: usize, rate: u64, duration: Duration, report: &mut Report) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (hub, addr, shutdown) = start_server().await;
    let delivered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..subscribers {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        stream
            .write_all(b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n")
            .await
            .expect("request");
        let delivered = Arc::clone(&delivered);
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut last_was_lf = false;
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut events = 0;
                for &b in &buf[..n] {
                    if b == b'\n' {
                        if last_was_lf {
                            events += 1;
                        }
                        last_was_lf = true;
                    } else {
                        last_was_lf = false;
                    }
                }
                delivered.fetch_add(events, Ordering::Relaxed);
            }
        }));
    }
    wait_for(&hub, subscribers).await;
    let start = Instant::now();
    let mut seq = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while start.elapsed() < duration {
        ticker.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while seq < due {
            let _ = hub.emit(stamped_crash(seq, 0));
            seq += 1;
        }
    }
    let remaining = hub.subscriber_count();
    let elapsed = start.elapsed().as_secs_f64();
    hub.close();
    shutdown.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let delivered = delivered.load(Ordering::Relaxed) as f64;
    report.add(
        "server only: delivered events per second",
        delivered / elapsed,
        "ev/s",
        "(report)",
    );
    report.add(
        "server only: delivered / (emitted x subscribers)",
        100.0 * delivered / (seq as f64 * subscribers as f64),
        "%",
        "100",
    );
    report.add(
        "server only: subscribers cut off as slow",
        (subscribers - remaining) as f64,
        "count",
        "0",
    );
}
