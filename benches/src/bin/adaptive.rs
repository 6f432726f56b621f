//! Scenario benchmark of pauses and capacity that adapt to the datastore.
//!
//! A simulated datastore takes at most 7,000 operations in any sliding second (its true
//! capacity) while the batcher's provisioned limiter says 10,000/s. A write that would go
//! over is throttled operation by operation, as Cosmos DB's bulk mode answers 429 with
//! `x-ms-retry-after-ms`: the callback reports the batch throttled with that retry-after
//! and hands the throttled operations back for another attempt. Producers keep the buffer
//! full. Three runs of 30 s each (20 s with `--quick`; the issue asks for 60 s, halved to
//! keep the run short on a shared machine):
//!
//! * (a) fixed pause: go-batcher's 500 ms on every throttle;
//! * (b) exponential pause: 100 ms doubling to 5 s, jitter 0.2, reset after 5 s quiet;
//! * (c) AIMD: the default [`AdaptiveCapacity`] (cut to 90 %, +1 % of the limiter's
//!   capacity a second), pausing only for the datastore's retry-after;
//! * (d) AIMD cutting to 95 % instead.
//!
//! `--only c` (or `a,b`, ...) runs only those.
//!
//! Reported per run: delivered rate and share of throttled attempts over the whole run
//! and after the first 10 s, the lowest one-second rate after 10 s, and (AIMD) the first
//! second from which every second is at ≥ 90 % of the true capacity and the share of
//! seconds after 10 s that are. The datastore sees a write when the callback starts (its
//! answer comes 3 ms later), as the batcher's window assumes. Goal for (c): at
//! ≥ 90 % of the true capacity within 10 s and ≤ 1 % throttled after that.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{
    AdaptiveCapacity, Batcher, BatcherBuilder, ExponentialPause, Feedback, Operation, PausePolicy,
    Watcher,
};
use events_core::RateLimiter;
use flowgate_benches::batcher::runtime;
use flowgate_benches::report::{Report, quick};
use limiter_provisioned::ProvisionedResource;
use tokio::time::Instant;

const CONFIGURED: u32 = 10_000;
const TRUE_CAPACITY: u64 = 7_000;
const SETTLE: usize = 10;

/// The datastore: an exact sliding one-second window of accepted operations.
struct Store {
    accepted: Mutex<(VecDeque<(Instant, u64)>, u64)>,
    started: Instant,
    /// Per second of the run: operations accepted and attempts throttled.
    seconds: Vec<(AtomicU64, AtomicU64)>,
}

impl Store {
    fn new(secs: usize) -> Store {
        Store {
            accepted: Mutex::new((VecDeque::new(), 0)),
            started: Instant::now(),
            seconds: (0..secs + 1)
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Takes what fits of `n` operations now; returns how many, and the retry-after
    /// (when the window next has room) if any were throttled.
    fn write(&self, n: u64) -> (u64, Option<Duration>) {
        let now = Instant::now();
        let mut guard = self.accepted.lock().unwrap();
        let (window, sum) = &mut *guard;
        while let Some(&(at, c)) = window.front() {
            if now.duration_since(at) < Duration::from_secs(1) {
                break;
            }
            *sum -= c;
            window.pop_front();
        }
        let fits = n.min(TRUE_CAPACITY.saturating_sub(*sum));
        if fits > 0 {
            window.push_back((now, fits));
            *sum += fits;
        }
        let retry_after = (fits < n).then(|| {
            window.front().map_or(Duration::from_millis(1), |&(at, _)| {
                (at + Duration::from_secs(1)).saturating_duration_since(now)
            })
        });
        drop(guard);
        let sec = now.duration_since(self.started).as_secs() as usize;
        if let Some((a, t)) = self.seconds.get(sec) {
            a.fetch_add(fits, Ordering::Relaxed);
            t.fetch_add(n - fits, Ordering::Relaxed);
        }
        (fits, retry_after)
    }
}

/// Sets a run's pause and capacity options.
type Configure = fn(BatcherBuilder) -> BatcherBuilder;

struct Outcome {
    /// Accepted and throttled per whole second of the run.
    seconds: Vec<(u64, u64)>,
    refused: u64,
}

fn run(rt: &tokio::runtime::Runtime, secs: usize, configure: Configure) -> Outcome {
    rt.block_on(async move {
        let limiter = Arc::new(ProvisionedResource::new(CONFIGURED));
        limiter.start().await.expect("the limiter starts");
        let batcher = configure(Batcher::builder().rate_limiter(limiter.clone()))
            .build()
            .expect("valid options");
        let store = Arc::new(Store::new(secs));
        let refused = Arc::new(AtomicU64::new(0));
        let (s, r) = (store.clone(), refused.clone());
        let watcher = Watcher::builder()
            .max_batch_size(100)
            .callback_with_feedback(
                &batcher,
                move |batch: Vec<Operation<u64>>, mut feedback: Feedback<u64>| {
                    let (s, r) = (s.clone(), r.clone());
                    async move {
                        // The datastore sees the write as the callback sends it; its
                        // answer takes a few milliseconds.
                        let (fits, retry_after) = s.write(batch.len() as u64);
                        tokio::time::sleep(Duration::from_millis(3)).await;
                        if fits < batch.len() as u64 {
                            feedback.throttled(retry_after);
                            let again = batch.into_iter().skip(fits as usize);
                            let lost = feedback.retry_waiting(again).await.len();
                            r.fetch_add(lost as u64, Ordering::Relaxed);
                        }
                    }
                },
            );
        batcher.start().expect("the batcher starts");
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (w, stop) = (watcher.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut id = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if w.enqueue(Operation::new(id, 1)).await.is_err() {
                            break;
                        }
                        id += 1;
                    }
                })
            })
            .collect();
        tokio::time::sleep_until(store.started + Duration::from_secs(secs as u64)).await;
        stop.store(true, Ordering::Relaxed);
        batcher.stop().await;
        for p in producers {
            let _ = p.await;
        }
        limiter.stop().await.expect("the limiter stops");
        Outcome {
            seconds: store.seconds[..secs]
                .iter()
                .map(|(a, t)| (a.load(Ordering::Relaxed), t.load(Ordering::Relaxed)))
                .collect(),
            refused: refused.load(Ordering::Relaxed),
        }
    })
}

fn share_throttled(seconds: &[(u64, u64)]) -> f64 {
    let (a, t) = seconds
        .iter()
        .fold((0, 0), |(a, t), &(sa, st)| (a + sa, t + st));
    100.0 * t as f64 / (a + t).max(1) as f64
}

fn rate(seconds: &[(u64, u64)]) -> f64 {
    seconds.iter().map(|s| s.0).sum::<u64>() as f64 / seconds.len().max(1) as f64
}

fn main() {
    let secs = if quick() { 20 } else { 30 };
    let rt = runtime();
    let mut report = Report::new("adaptive");
    println!(
        "true capacity {TRUE_CAPACITY}/s, configured {CONFIGURED}/s, {secs} s per run \
         (first {SETTLE} s to settle)"
    );
    let runs: [(&str, Configure); 4] = [
        ("(a) fixed 500 ms pause", |b| {
            b.pause_time(Duration::from_millis(500))
        }),
        ("(b) exponential pause", |b| {
            b.pause_policy(PausePolicy::Exponential(
                ExponentialPause::new(Duration::from_millis(100), Duration::from_secs(5))
                    .factor(2.0)
                    .jitter(0.2)
                    .reset_after(Duration::from_secs(5)),
            ))
        }),
        ("(c) AIMD, defaults (decrease 0.95)", |b| {
            b.pause_time(Duration::ZERO)
                .adaptive_capacity(AdaptiveCapacity::new())
        }),
        ("(d) AIMD, decrease 0.9", |b| {
            b.pause_time(Duration::ZERO)
                .adaptive_capacity(AdaptiveCapacity::new().decrease(0.9))
        }),
    ];
    // `--only c` (or a, b, d) runs one of them.
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_default();
    for (name, configure) in runs {
        if !only.is_empty() && !only.split(',').any(|o| name.starts_with(&format!("({o})"))) {
            continue;
        }
        let out = run(&rt, secs, configure);
        let after = &out.seconds[SETTLE.min(out.seconds.len())..];
        let pct = |r: f64| 100.0 * r / TRUE_CAPACITY as f64;
        let aimd = name == "(c) AIMD";
        report.add(
            &format!("{name}: delivered, whole run"),
            pct(rate(&out.seconds)),
            "% of true",
            "",
        );
        report.add(
            &format!("{name}: delivered after {SETTLE} s"),
            pct(rate(after)),
            "% of true",
            if aimd { ">= 90" } else { "" },
        );
        let lowest = after.iter().map(|s| s.0).min().unwrap_or(0);
        report.add(
            &format!("{name}: lowest 1-s rate after {SETTLE} s"),
            pct(lowest as f64),
            "% of true",
            "",
        );
        report.add(
            &format!("{name}: throttled, whole run"),
            share_throttled(&out.seconds),
            "% of attempts",
            "",
        );
        report.add(
            &format!("{name}: throttled after {SETTLE} s"),
            share_throttled(after),
            "% of attempts",
            if aimd { "<= 1" } else { "" },
        );
        // The first second from which every second runs at >= 90 % of the true capacity.
        let floor = TRUE_CAPACITY * 9 / 10;
        let reached = (0..out.seconds.len())
            .find(|&i| out.seconds[i..].iter().all(|s| s.0 >= floor))
            .map_or(f64::NAN, |i| i as f64);
        report.add(
            &format!("{name}: at >= 90 % of true from second"),
            reached,
            "s",
            if aimd { "<= 10" } else { "" },
        );
        let good = after
            .iter()
            .filter(|s| s.0 >= TRUE_CAPACITY * 9 / 10)
            .count();
        report.add(
            &format!("{name}: seconds after {SETTLE} s at >= 90 % of true"),
            100.0 * good as f64 / after.len().max(1) as f64,
            "%",
            "",
        );
        if out.refused > 0 {
            // Retries still waiting for room when the run stopped are handed back.
            println!("{name}: {} operations handed back on retry", out.refused);
        }
        let per_second: Vec<String> = out.seconds.iter().map(|s| s.0.to_string()).collect();
        println!("{name}: accepted per second: {}", per_second.join(" "));
    }
    report.write_json();
}
