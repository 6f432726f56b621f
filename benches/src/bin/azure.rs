//! Scenario benchmarks of the Azure shared-capacity limiter on a real Azurite (or Azure),
//! reported as a table and as JSON lines.
//!
//! * Ramp-up: time from `give_me(everything)` to the full shared capacity of 20
//!   partitions on an idle container (median of several runs).
//! * Steady cost: storage calls per minute of one instance holding 20 partitions at
//!   steady demand, with 15 s leases (and 60 s leases, not with `--quick`).
//! * Fairness: 4 instances all demanding all 20 partitions; each one's share of the
//!   capacity-seconds.
//! * Faults (on a private Azurite from `FLOWGATE_AZURITE_BIN`, 4 instances, 10 partitions
//!   of 1,000): time to full capacity after a 20-s storage hang (median of 5 runs, 2 with
//!   `--quick`) and after the storage was killed and restarted empty (one run), each with
//!   the peak sum of capacities over the limit (sampled every 10 ms).
//!
//! Needs `AZURE_STORAGE_CONNECTION_STRING`. `--quick` shortens every run; `--only NAME`
//! (`ramp`, `steady`, `fairness`, `faults`; repeatable) runs only those scenarios. With
//! `FLOWGATE_BENCH_OUT` set, one JSON object per figure is appended to that file.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use events_core::RateLimiter;
use flowgate_benches::azure::CountingLeases;
use flowgate_benches::report::Report;
use limiter_azure::{AzureBlobLeases, AzureSharedResource, AzureStorage, Credentials};

const PARTITIONS: u32 = 20;

fn container(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!("bench-{prefix}-{}-{nanos}", std::process::id())
}

/// A limiter on `container` whose storage calls are counted.
fn instance(
    conn: &str,
    container: &str,
    lease: Duration,
) -> (Arc<AzureSharedResource>, Arc<CountingLeases>) {
    let azure = AzureBlobLeases::new(AzureStorage {
        account: None,
        container: container.to_owned(),
        credentials: Credentials::ConnectionString(conn.to_owned()),
        endpoint: None,
        max_retries: 2,
    })
    .expect("the connection string is valid");
    let counting = Arc::new(CountingLeases::new(Arc::new(azure)));
    let limiter = AzureSharedResource::builder()
        .shared_capacity(PARTITIONS)
        .lease_duration(lease)
        .build_with_manager(counting.clone())
        .expect("valid settings");
    (Arc::new(limiter), counting)
}

async fn wait_for_capacity(limiter: &AzureSharedResource, capacity: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while Instant::now() < deadline {
        if limiter.capacity() >= capacity {
            return true;
        }
        tick.tick().await;
    }
    false
}

async fn ramp_up(conn: &str, runs: usize, report: &mut Report) {
    let mut times = Vec::new();
    for _ in 0..runs {
        let (limiter, _) = instance(conn, &container("ramp"), Duration::from_secs(15));
        limiter.provision().await.expect("provisioning works");
        limiter.start().await.expect("start works");
        let asked = Instant::now();
        limiter.give_me(u32::MAX);
        assert!(
            wait_for_capacity(&limiter, PARTITIONS, Duration::from_secs(30)).await,
            "never reached full capacity"
        );
        times.push(asked.elapsed().as_secs_f64() * 1_000.0);
        limiter.stop().await.expect("stop works");
    }
    times.sort_by(f64::total_cmp);
    report.add(
        "ramp-up to 20 partitions (median)",
        times[times.len() / 2],
        "ms",
        "<= 1000 (go-batcher ~5000)",
    );
}

async fn steady_cost(conn: &str, lease: Duration, window: Duration, report: &mut Report) {
    let (limiter, counting) = instance(conn, &container("steady"), lease);
    limiter.provision().await.expect("provisioning works");
    limiter.start().await.expect("start works");
    limiter.give_me(u32::MAX);
    assert!(wait_for_capacity(&limiter, PARTITIONS, Duration::from_secs(30)).await);
    let before = counting.calls();
    let begin = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut dips = 0u32;
    let (mut held, mut last) = (0f64, begin);
    while begin.elapsed() < window {
        tick.tick().await;
        let now = Instant::now();
        held += f64::from(limiter.capacity()) * (now - last).as_secs_f64();
        last = now;
        if limiter.capacity() < PARTITIONS {
            dips += 1;
        }
    }
    let calls = counting.calls() - before;
    let per_minute = calls as f64 * 60.0 / begin.elapsed().as_secs_f64();
    let secs = lease.as_secs();
    // go-batcher acquires each partition once per lease: 80/min at its default 15 s.
    let go = f64::from(PARTITIONS) * 60.0 / 15.0;
    report.add(
        &format!("storage calls/min, 20 partitions, {secs} s leases"),
        per_minute,
        "calls/min",
        &format!("< {go:.0} (go-batcher, 15 s leases)"),
    );
    // Per minute of the 20 partitions actually held: go-batcher's 80/min buys less than
    // a full minute of capacity (a gap after every lapse), ours buys all of it.
    let per_held_minute = calls as f64 * f64::from(PARTITIONS) * 60.0 / held.max(1e-9);
    report.add(
        &format!("storage calls per 20-partition-minute held, {secs} s leases"),
        per_held_minute,
        "calls",
        "< 80 (go-batcher, with capacity gaps)",
    );
    report.add(
        &format!("samples below full capacity, {secs} s leases"),
        f64::from(dips),
        "samples",
        "0",
    );
    limiter.stop().await.expect("stop works");
}

async fn fairness(conn: &str, window: Duration, report: &mut Report) {
    let name = container("fair");
    let instances: Vec<_> = (0..4)
        .map(|_| instance(conn, &name, Duration::from_secs(15)).0)
        .collect();
    for l in &instances {
        l.provision().await.expect("provisioning works");
        l.start().await.expect("start works");
    }
    for l in &instances {
        l.give_me(u32::MAX);
    }
    let mut seconds = [0f64; 4];
    let begin = Instant::now();
    let mut last = begin;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while begin.elapsed() < window {
        tick.tick().await;
        let now = Instant::now();
        let dt = (now - last).as_secs_f64();
        last = now;
        for (i, l) in instances.iter().enumerate() {
            seconds[i] += f64::from(l.capacity()) * dt;
        }
    }
    let total: f64 = seconds.iter().sum();
    let possible = f64::from(PARTITIONS) * begin.elapsed().as_secs_f64();
    let shares: Vec<f64> = seconds.iter().map(|s| 100.0 * s / total).collect();
    for (i, share) in shares.iter().enumerate() {
        report.add(
            &format!("fairness: instance {i} share of capacity-seconds"),
            *share,
            "%",
            "22.5..27.5",
        );
    }
    let worst = shares
        .iter()
        .map(|s| (s - 25.0).abs() / 25.0 * 100.0)
        .fold(0.0, f64::max);
    report.add(
        "fairness: worst deviation from a quarter",
        worst,
        "%",
        "<= 10",
    );
    report.add(
        "fairness: utilisation of the shared capacity",
        100.0 * total / possible,
        "%",
        "high",
    );
    for l in &instances {
        l.stop().await.expect("stop works");
    }
}

/// Four instances of 10 partitions of 1,000 on a private Azurite.
async fn fault_fleet(azurite: &testkit::Azurite) -> Vec<Arc<AzureSharedResource>> {
    let name = container("fault");
    let conn = azurite.connection_string();
    let mut all = Vec::new();
    for seed in 1..=4 {
        let limiter = AzureSharedResource::builder()
            .credentials(Credentials::ConnectionString(conn.clone()))
            .container(name.as_str())
            .storage_retries(0)
            .shared_capacity(10_000)
            .factor(1_000)
            .seed(seed)
            .build()
            .expect("valid settings");
        limiter.provision().await.expect("provisioning works");
        limiter.start().await.expect("start works");
        limiter.give_me(u32::MAX);
        all.push(Arc::new(limiter));
    }
    all
}

/// Samples the fleet's sum every 10 ms for `d`; returns the peak and the first moment at
/// or after `from` when the sum was the full 10,000.
async fn sample(
    fleet: &[Arc<AzureSharedResource>],
    d: Duration,
    from: Instant,
) -> (u32, Option<Instant>) {
    let begin = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let (mut peak, mut full) = (0, None);
    while begin.elapsed() < d {
        tick.tick().await;
        let sum: u32 = fleet.iter().map(|l| l.capacity()).sum();
        peak = peak.max(sum);
        let now = Instant::now();
        if sum == 10_000 && now >= from && full.is_none() {
            full = Some(now);
        }
    }
    (peak, full)
}

async fn faults(bin: &std::path::Path, hang_runs: usize, report: &mut Report) {
    let mut recoveries = Vec::new();
    let mut peak = 0;
    for _ in 0..hang_runs {
        let azurite = testkit::Azurite::start(bin).await.expect("Azurite starts");
        let fleet = fault_fleet(&azurite).await;
        let (p, full) = sample(&fleet, Duration::from_secs(10), Instant::now()).await;
        assert!(full.is_some(), "the fleet never reached full capacity");
        peak = peak.max(p);
        azurite.pause().expect("SIGSTOP");
        let (p, _) = sample(&fleet, Duration::from_secs(20), Instant::now()).await;
        peak = peak.max(p);
        azurite.resume().expect("SIGCONT");
        let resumed = Instant::now();
        let (p, full) = sample(&fleet, Duration::from_secs(20), resumed).await;
        peak = peak.max(p);
        recoveries.push(full.map_or(f64::INFINITY, |t| (t - resumed).as_secs_f64() * 1_000.0));
        for l in &fleet {
            let _ = l.stop().await;
        }
    }
    recoveries.sort_by(f64::total_cmp);
    report.add(
        &format!("full capacity after a 20-s storage hang (median of {hang_runs})"),
        recoveries[recoveries.len() / 2],
        "ms",
        "<= 3000 (before: 18800)",
    );
    report.add(
        "peak sum / limit, storage hung 20 s",
        f64::from(peak) / 10_000.0,
        "ratio",
        "<= 1",
    );

    let mut azurite = testkit::Azurite::start(bin).await.expect("Azurite starts");
    let fleet = fault_fleet(&azurite).await;
    let (p1, _) = sample(&fleet, Duration::from_secs(10), Instant::now()).await;
    azurite.kill().await.expect("SIGKILL");
    azurite.restart().await.expect("Azurite restarts");
    let back = Instant::now();
    // Leases first lapse (within 13.4 s), then the quarantine ends 15.5 s after each
    // instance saw the loss: wait for the sum to fall before looking for full capacity.
    let (p2, _) = sample(&fleet, Duration::from_secs(14), Instant::now()).await;
    let (p3, full) = sample(&fleet, Duration::from_secs(30), back).await;
    report.add(
        "full capacity after storage restarted empty",
        full.map_or(f64::INFINITY, |t| (t - back).as_secs_f64() * 1_000.0),
        "ms",
        ">= 15500 (quarantine), before: at once with a double count",
    );
    report.add(
        "peak sum / limit, storage killed and restarted empty",
        f64::from(p1.max(p2).max(p3)) / 10_000.0,
        "ratio",
        "<= 1 (before: 1.8)",
    );
    for l in &fleet {
        let _ = l.stop().await;
    }
}

const SCENARIOS: &[&str] = &["ramp", "steady", "fairness", "faults"];

const USAGE: &str = "usage: scenario-azure [--quick] [--only ramp|steady|fairness|faults]...
  --quick   shorter runs (2 hangs instead of 5, 20-s windows instead of 60-s ones)
  --only    run only the named scenarios (repeatable; default: all)
needs AZURE_STORAGE_CONNECTION_STRING; the fault figures also FLOWGATE_AZURITE_BIN";

/// The scenarios asked for with `--only` (all without it), or the usage on a bad argument.
fn selected() -> Result<Vec<&'static str>, String> {
    let mut only = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" | "--bench" => {}
            "--help" | "-h" => return Err(USAGE.to_owned()),
            "--only" => {
                let name = args.next().unwrap_or_default();
                match SCENARIOS.iter().find(|s| **s == name) {
                    Some(s) => only.push(*s),
                    None => return Err(format!("unknown scenario {name:?}\n{USAGE}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(if only.is_empty() {
        SCENARIOS.to_vec()
    } else {
        only
    })
}

fn main() {
    let quick = flowgate_benches::report::quick();
    let only = match selected() {
        Ok(only) => only,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(if usage == USAGE { 0 } else { 2 });
        }
    };
    let Ok(conn) = std::env::var("AZURE_STORAGE_CONNECTION_STRING") else {
        eprintln!(
            "azure bench: AZURE_STORAGE_CONNECTION_STRING is not set; start Azurite (or point it \
             at a storage account) and set it, e.g. via `cargo xtask bench`"
        );
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (runs, steady, fair) = if quick {
        (3, Duration::from_secs(20), Duration::from_secs(20))
    } else {
        (7, Duration::from_secs(60), Duration::from_secs(60))
    };
    let mut report = Report::new("azure");
    println!("{:<52} {:>10} {:<14} goal", "metric", "value", "unit");
    rt.block_on(async {
        if only.contains(&"ramp") {
            ramp_up(&conn, runs, &mut report).await;
        }
        if only.contains(&"steady") {
            steady_cost(&conn, Duration::from_secs(15), steady, &mut report).await;
            if !quick {
                // A 60 s lease renews about once a minute: only a long window measures it.
                steady_cost(&conn, Duration::from_secs(60), steady * 2, &mut report).await;
            }
        }
        if only.contains(&"fairness") {
            fairness(&conn, fair, &mut report).await;
        }
        if only.contains(&"faults") {
            match testkit::bin_from_env() {
                Some(bin) => faults(&bin, if quick { 2 } else { 5 }, &mut report).await,
                None => {
                    eprintln!("azure bench: FLOWGATE_AZURITE_BIN is not set; fault figures skipped")
                }
            }
        }
    });
    report.write_json();
}
