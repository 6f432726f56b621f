//! Scenario benchmarks of the batcher, W1–W4, reported as a table and as JSON lines.
//!
//! * W1: 2,000,000 cost-1 ops from 4 tasks to one counting watcher (max batch 100), with
//!   a 1,000,000 and the default 10,000 buffer: throughput, CPU seconds per million ops,
//!   peak RSS.
//! * W2: a provisioned 10,000/s limiter, 60,000 queued ops, max batch 100, cost 1 and
//!   cost 250: delivered cost per second, the largest sliding one-second window,
//!   utilisation once running, and smoothness: the largest cost released in any 100 ms
//!   flush interval (ideal: a tenth of the capacity, plus at most one op).
//! * W3: one op every millisecond (6,000 in all, 2,000 with `--quick`) with no
//!   limiter, linger 0 and default: latency p50/p99.
//! * W4: W1 with a listener and batch events on, relative to W1: the median of the
//!   ratios of back-to-back pairs run in alternating order.
//! * W1 with the metrics bridge on (a Prometheus recorder installed), relative to W1
//!   (`--only metrics` runs just that).
//! * Multi-resource: request units and payload bytes, each with its own provisioned
//!   limiter, a backlog of ops heavy in one or the other, run twice so that each
//!   resource is the bottleneck once: each resource's largest one-second window at
//!   callback start, and the bottleneck's utilisation (`--only resources` runs just that).
//!
//! `--quick` shortens every run. With `FLOWGATE_BENCH_OUT` set, one JSON object per
//! figure is appended to that file.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use batcher::{BatchMetadata, Batcher, Operation, Watcher};
use events_core::RateLimiter;
use flowgate_benches::batcher::{Throughput, max_window, runtime};
use flowgate_benches::report::Report;
use limiter_provisioned::ProvisionedResource;
use tokio::runtime::Runtime;

/// CPU time of the whole process: the sum over its threads of the time they ran, read
/// from `/proc/self/task/*/schedstat` (nanoseconds). The runtime's threads live for the
/// whole program, so differences between two readings are exact.
fn cpu_time() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// Peak resident set size of this process in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

struct W1 {
    ops_per_s: f64,
    cpu_per_m: f64,
}

/// Peak RSS of W1 run once in a fresh process (this program with `--peak-rss-child`),
/// so that memory an earlier run left with the allocator does not count; the median
/// of `runs` children.
fn w1_peak_rss(ops: u64, runs: usize) -> f64 {
    let exe = std::env::current_exe().expect("own path");
    let peaks = (0..runs)
        .map(|_| {
            let out = std::process::Command::new(&exe)
                .args(["--peak-rss-child", &ops.to_string()])
                .output()
                .expect("child runs");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<f64>()
                .expect("child prints its peak RSS")
        })
        .collect();
    median(peaks)
}

fn w1(rt: &Runtime, workload: Throughput, runs: usize) -> W1 {
    let mut rates = Vec::new();
    let mut cpus = Vec::new();
    // One unmeasured run first, so that the allocator and the runtime are warm.
    workload.run(rt);
    for _ in 0..runs {
        let cpu0 = cpu_time();
        let took = workload.run(rt);
        let cpu = cpu_time() - cpu0;
        rates.push(workload.ops as f64 / took.as_secs_f64());
        cpus.push(cpu.as_secs_f64() / (workload.ops as f64 / 1e6));
    }
    W1 {
        ops_per_s: median(rates),
        cpu_per_m: median(cpus),
    }
}

struct W2 {
    per_second: Vec<u64>,
    window_max: u64,
    callback_window_max: u64,
    utilisation: f64,
    /// The largest cost released in one 100 ms bucket, buckets aligned to the first
    /// release (which comes on a flush tick).
    flush_max: u64,
}

/// The largest cost in one `bucket`-long interval, intervals counted from `first`.
fn max_bucket(d: &[(Instant, u64)], first: Instant, bucket: Duration) -> u64 {
    let mut sums = std::collections::HashMap::<u128, u64>::new();
    for &(at, c) in d {
        *sums
            .entry(at.duration_since(first).as_nanos() / bucket.as_nanos())
            .or_default() += c;
    }
    sums.into_values().max().unwrap_or(0)
}

/// W2: releases are timed by the batch events (stamped as the batcher hands a batch
/// out); callback starts are timed too, and include the runtime's scheduling delay.
/// The batcher's window counts callback starts, so the second figure is the bound.
fn w2(rt: &Runtime, cost: u32, ops: u32, run_for: Duration) -> W2 {
    const CAPACITY: u32 = 10_000;
    rt.block_on(async move {
        let limiter = Arc::new(ProvisionedResource::new(CAPACITY));
        limiter.start().await.expect("starts");
        let batcher = Batcher::builder()
            .rate_limiter(limiter.clone())
            .buffer_size(ops as usize)
            .emit_batch(true)
            .build()
            .expect("valid options");
        let releases = Arc::new(Mutex::new(Vec::<(Instant, u64)>::new()));
        batcher.emitter().add_listener({
            let releases = releases.clone();
            move |e| {
                if let Some(meta) = e.metadata::<BatchMetadata>() {
                    let cost = meta.operations.iter().map(|o| u64::from(o.cost)).sum();
                    releases.lock().unwrap().push((e.at(), cost));
                }
            }
        });
        let callbacks = Arc::new(Mutex::new(Vec::<(Instant, u64)>::new()));
        let watcher = Watcher::builder().max_batch_size(100).callback(&batcher, {
            let callbacks = callbacks.clone();
            move |batch: Vec<Operation<u32>>| {
                let cost = batch.iter().map(|o| u64::from(o.cost())).sum();
                callbacks.lock().unwrap().push((Instant::now(), cost));
                std::future::ready(())
            }
        });
        for i in 0..ops {
            watcher
                .try_enqueue(Operation::new(i, cost))
                .expect("room for all");
        }
        let total_cost = u64::from(ops) * u64::from(cost);
        batcher.start().expect("inside a runtime");
        let start = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let delivered: u64 = callbacks.lock().unwrap().iter().map(|d| d.1).sum();
            if delivered == total_cost || start.elapsed() >= run_for {
                break;
            }
        }
        batcher.stop().await;
        limiter.stop().await.expect("stops");
        let d = releases.lock().unwrap().clone();
        let callback_window_max = max_window(callbacks.lock().unwrap().clone());
        let window_max = max_window(d.clone());
        let first = d.first().map_or(start, |x| x.0);
        let last = d.last().map_or(first, |x| x.0);
        let full_seconds = last.duration_since(first).as_secs().max(1);
        let mut per_second = vec![0u64; full_seconds as usize + 1];
        for &(at, c) in &d {
            let s = at.duration_since(first).as_secs() as usize;
            per_second[s.min(full_seconds as usize)] += c;
        }
        // Utilisation over the complete seconds since the first release.
        let used: u64 = per_second[..full_seconds as usize].iter().sum();
        let utilisation = used as f64 / (f64::from(CAPACITY) * full_seconds as f64);
        let flush_max = max_bucket(&d, first, Duration::from_millis(100));
        W2 {
            flush_max,
            per_second,
            window_max,
            callback_window_max,
            utilisation,
        }
    })
}

/// W3: one op per millisecond for `samples` ops; latency p50 and p99.
fn w3(rt: &Runtime, linger: Option<Duration>, samples: usize) -> (Duration, Duration) {
    rt.block_on(async move {
        let mut builder = Batcher::builder();
        if let Some(linger) = linger {
            builder = builder.linger(linger);
        }
        let batcher = builder.build().expect("valid options");
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let watcher = Watcher::builder().max_batch_size(100).callback(&batcher, {
            let latencies = latencies.clone();
            move |batch: Vec<Operation<Instant>>| {
                let now = Instant::now();
                let mut l = latencies.lock().unwrap();
                l.extend(batch.iter().map(|o| now - *o.payload()));
                std::future::ready(())
            }
        });
        batcher.start().expect("inside a runtime");
        let mut ticks = tokio::time::interval(Duration::from_millis(1));
        let mut sent = 0;
        while sent < samples {
            ticks.tick().await;
            watcher
                .enqueue(Operation::new(Instant::now(), 1))
                .await
                .expect("enqueued");
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        batcher.stop().await;
        let mut l = latencies.lock().unwrap().clone();
        assert_eq!(l.len(), sent, "every op delivered");
        l.sort();
        (percentile(&l, 0.5), percentile(&l, 0.99))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--peak-rss-child") {
        let ops = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(2_000_000);
        Throughput {
            ops,
            ..Throughput::W1
        }
        .run(&runtime());
        println!("{}", peak_rss_mb());
        return;
    }
    let quick = flowgate_benches::report::quick();
    // `--only w1` (or w2, w3) runs one group, for profiling.
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_default();
    let wants = |w: &str| only.is_empty() || only == w;
    let rt = runtime();
    let mut report = Report::new("batcher");
    let runs = if quick { 3 } else { 7 };
    let ops = if quick { 500_000 } else { 2_000_000 };
    println!(
        "batcher scenarios ({} mode)",
        if quick { "quick" } else { "full" }
    );

    if wants("w1") {
        throughput_figures(&rt, &mut report, ops, runs);
    }
    if wants("w1") || only == "metrics" {
        metrics_figures(&rt, &mut report, ops, runs);
    }
    if wants("w2") {
        rate_figures(&rt, &mut report, quick);
    }
    if wants("w3") {
        latency_figures(&rt, &mut report, quick);
    }
    if wants("resources") {
        resource_figures(&rt, &mut report, quick);
    }
    report.write_json();
}

fn throughput_figures(rt: &Runtime, report: &mut Report, ops: u64, runs: usize) {
    let big = w1(
        rt,
        Throughput {
            ops,
            ..Throughput::W1
        },
        runs,
    );
    report.add("W1 throughput", big.ops_per_s / 1e6, "M ops/s", ">= 16");
    report.add("W1 CPU per M ops", big.cpu_per_m, "CPU-s", "<= 0.1");
    let peak = w1_peak_rss(ops, runs.min(3));
    report.add("W1 peak RSS (fresh process)", peak, "MB", "<= 50");
    let small = w1(
        rt,
        Throughput {
            ops,
            buffer: 10_000,
            ..Throughput::W1
        },
        runs,
    );
    report.add(
        "W1 throughput, 10k buffer",
        small.ops_per_s / 1e6,
        "M ops/s",
        ">= 5",
    );
    report.add(
        "W1 CPU per M ops, 10k buffer",
        small.cpu_per_m,
        "CPU-s",
        "-",
    );
    // W4 against W1 in pairs run in alternating order (see `paired`).
    let with_events = Throughput {
        ops,
        events: true,
        ..Throughput::W1
    };
    let without = Throughput {
        ops,
        ..Throughput::W1
    };
    let pairs = paired(rt, without, with_events, runs);
    report.add(
        "W4 throughput with batch events",
        median(pairs.iter().map(|&(_, with)| ops as f64 / with).collect()) / 1e6,
        "M ops/s",
        "-",
    );
    report.add(
        "W4 slowdown vs W1 (median of pairs in alternating order)",
        median(pairs.iter().map(|&(plain, with)| with / plain).collect()),
        "x",
        "<= 1.05",
    );
}

fn rate_figures(rt: &Runtime, report: &mut Report, quick: bool) {
    let run_for = if quick {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(8)
    };
    let w2_ops = if quick { 30_000 } else { 60_000 };
    for cost in [1u32, 250] {
        let r = w2(rt, cost, w2_ops, run_for);
        println!(
            "W2 cost {cost}: delivered cost per second {:?}",
            r.per_second
        );
        report.add(
            &format!("W2 cost {cost} max in a 1-s window"),
            r.window_max as f64,
            "cost",
            "<= 10000",
        );
        report.add(
            &format!("W2 cost {cost} same, timed at callback start"),
            r.callback_window_max as f64,
            "cost",
            "<= 10000",
        );
        report.add(
            &format!("W2 cost {cost} max released in a 100-ms flush"),
            r.flush_max as f64,
            "cost",
            "ideal 1000 (cap/10), <= 1000 + 1 op + timer lateness",
        );
        let goal = if cost == 1 { ">= 99" } else { ">= 97.5" };
        report.add(
            &format!("W2 cost {cost} utilisation"),
            r.utilisation * 100.0,
            "%",
            goal,
        );
    }
}

fn latency_figures(rt: &Runtime, report: &mut Report, quick: bool) {
    // The p99 of at least 5,000 samples is stable from run to run.
    let samples = if quick { 2_000 } else { 6_000 };
    println!("W3: {samples} samples per setting, one per millisecond");
    let (p50, p99) = w3(rt, Some(Duration::ZERO), samples);
    report.add(
        "W3 latency p50, linger 0",
        p50.as_secs_f64() * 1e3,
        "ms",
        "< 1",
    );
    report.add(
        "W3 latency p99, linger 0",
        p99.as_secs_f64() * 1e3,
        "ms",
        "< 5",
    );
    let (p50, p99) = w3(rt, None, samples);
    report.add(
        "W3 latency p50, default",
        p50.as_secs_f64() * 1e3,
        "ms",
        "<= 100",
    );
    report.add(
        "W3 latency p99, default",
        p99.as_secs_f64() * 1e3,
        "ms",
        "<= 100",
    );
}

/// Runs `plain` and `with` back to back, `3 × runs` times, after one warm-up run of `with`,
/// and returns each pair's seconds (plain, with). Each pair runs in the other order than
/// the one before, so that whatever the first run of a pair pays (or gains) falls on
/// both sides alike, and drift in machine load hits both sides of a pair alike.
///
/// Three pairs are run per W1 run: one pair's ratio varies by several percent on a busy
/// machine, and the median of a score of them is steady to about one.
fn paired(rt: &Runtime, plain: Throughput, with: Throughput, runs: usize) -> Vec<(f64, f64)> {
    let pairs = 3 * runs;
    with.run(rt);
    (0..pairs)
        .map(|pair| {
            if pair % 2 == 0 {
                let p = plain.run(rt).as_secs_f64();
                (p, with.run(rt).as_secs_f64())
            } else {
                let w = with.run(rt).as_secs_f64();
                (plain.run(rt).as_secs_f64(), w)
            }
        })
        .collect()
}

/// W1 with the metrics bridge on (a Prometheus recorder installed, batch events on and the
/// bridge's listener attached) against plain W1, in back-to-back pairs.
fn metrics_figures(rt: &Runtime, report: &mut Report, ops: u64, runs: usize) {
    if let Err(e) = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        eprintln!("batcher: no metrics recorder ({e}); skipping the metrics figures");
        return;
    }
    fn observe(batcher: &batcher::Batcher) {
        // The sampler reads state on an interval, off the hot path; the listener is what
        // every batch pays for.
        // The listener stays attached to the emitter; the sampler handle is not needed.
        flowgate::metrics::BatcherMetrics::observe(batcher, &[("instance", "0")]);
    }
    let with_metrics = Throughput {
        ops,
        events: true,
        observe: Some(observe),
        ..Throughput::W1
    };
    let without = Throughput {
        ops,
        ..Throughput::W1
    };
    let pairs = paired(rt, without, with_metrics, runs);
    report.add(
        "W1 with metrics on vs off (median of pairs in alternating order)",
        median(pairs.iter().map(|&(plain, with)| with / plain).collect()),
        "x",
        "<= 1.05",
    );
}

/// Two resources, each the bottleneck in one run (see `flowgate_benches::resources`).
fn resource_figures(rt: &Runtime, report: &mut Report, quick: bool) {
    let run_for = Duration::from_secs(if quick { 4 } else { 8 });
    for (bytes_capacity, expected) in [(1_500_000, "ru"), (1_200_000, "bytes")] {
        let r = flowgate_benches::resources::two_resources(rt, bytes_capacity, run_for);
        assert_eq!(r.duplicates, 0, "an operation was delivered twice");
        let label = format!("resources, {expected}-bound");
        for f in r.resources {
            report.add(
                &format!("{label}: {} max in a 1-s window", f.name),
                f.window_max as f64,
                f.name,
                &format!("<= {}", f.capacity),
            );
        }
        let b = r.bottleneck();
        report.add(
            &format!("{label}: bottleneck ({}) utilisation", b.name),
            b.utilisation * 100.0,
            "%",
            ">= 97",
        );
    }
}
