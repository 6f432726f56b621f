//! The end of a run: the summary table and its checks (capacity and accounting).

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::LimiterKind;
use crate::pipeline::{Config, Run};
use crate::record::Release;

pub(crate) const BUCKET: Duration = Duration::from_millis(100);
/// Operations waiting, in all instances, from which a sample counts as backlogged.
const BACKLOG_OPS: u64 = 100;

/// The figures the summary table shows, and the checks that failed.
#[derive(Debug)]
pub(crate) struct Summary {
    rows: Vec<(String, String)>,
    shares: Vec<(usize, f64, f64, u64)>,
    notes: Vec<String>,
    /// What went wrong, one sentence each; empty for a green run.
    pub(crate) failures: Vec<String>,
}

/// The most cost released in any one-second window (ending at a release), over `releases`.
pub(crate) fn max_window(releases: &[Release]) -> u64 {
    let mut sorted: Vec<&Release> = releases.iter().collect();
    sorted.sort_by_key(|r| r.at);
    let (mut max, mut sum, mut tail) = (0, 0u64, 0);
    for r in &sorted {
        sum += r.cost;
        while sorted[tail].at + Duration::from_secs(1) <= r.at {
            sum -= sorted[tail].cost;
            tail += 1;
        }
        max = max.max(sum);
    }
    max
}

/// Released cost per 100 ms bucket, from time zero to `end` or the last release if later
/// (batches may still leave while the batchers stop).
pub(crate) fn buckets(releases: &[Release], end: Duration) -> Vec<u64> {
    let end = releases.iter().map(|r| r.at).fold(end, Duration::max);
    let n = (end.as_millis() / BUCKET.as_millis()) as usize + 1;
    let mut out = vec![0u64; n];
    for r in releases {
        let i = (r.at.as_millis() / BUCKET.as_millis()) as usize;
        out[i.min(n - 1)] += r.cost;
    }
    out
}

/// How the limit is made up, in words.
pub(crate) fn limit_explained(config: &Config) -> String {
    match config.limiter {
        LimiterKind::Provisioned if config.instances > 1 => format!(
            "{} = {} instances × {}",
            config.limit(),
            config.instances,
            config.capacity / config.instances as u32
        ),
        LimiterKind::Provisioned => config.limit().to_string(),
        LimiterKind::Azure => format!(
            "{} = shared {} + {} × reserved {}",
            config.limit(),
            config.capacity,
            config.instances,
            config.reserved()
        ),
    }
}

pub(crate) fn summarize(config: &Config, run: &Run) -> Summary {
    let rec = &run.recorder;
    let releases = rec.releases.lock().unwrap().clone();
    let samples = rec.samples.lock().unwrap().clone();
    let max = max_window(&releases);
    let limit = config.limit();
    let delivered_cost: u64 = releases.iter().map(|r| r.cost).sum();

    // Capacity-seconds from the 100 ms samples, in all and while operations were waiting.
    let per_bucket = buckets(&releases, run.end);
    let (mut cap_secs, mut busy_cap, mut busy_used) = (0.0, 0.0, 0u64);
    let mut inst_cap_secs = vec![0.0; config.instances];
    for s in samples.iter().filter(|s| s.at <= run.end) {
        let cap: f64 = s.capacity.iter().map(|&c| f64::from(c)).sum::<f64>() * BUCKET.as_secs_f64();
        cap_secs += cap;
        for (i, c) in s.capacity.iter().enumerate() {
            inst_cap_secs[i] += f64::from(*c) * BUCKET.as_secs_f64();
        }
        // Backlogged: more than a couple of full batches waiting, not just a partial
        // batch lingering for company.
        if s.queued.iter().sum::<u64>() >= BACKLOG_OPS {
            busy_cap += cap;
            let i = (s.at.as_millis() / BUCKET.as_millis()) as usize;
            busy_used += per_bucket.get(i + 1).copied().unwrap_or(0);
        }
    }
    let total_cap_secs: f64 = inst_cap_secs.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut inst_cost = vec![0u64; config.instances];
    for r in &releases {
        inst_cost[r.instance] += r.cost;
    }
    let shares = (0..config.instances)
        .map(|i| {
            (
                i,
                inst_cost[i] as f64 / delivered_cost.max(1) as f64,
                inst_cap_secs[i] / total_cap_secs,
                inst_cost[i],
            )
        })
        .collect();

    let pct = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.1}%", 100.0 * a / b)
        } else {
            "-".into()
        }
    };
    let total =
        |f: fn(&crate::record::InstanceCounters) -> &std::sync::atomic::AtomicU64| rec.total(f);
    let emitted = rec.emitted.load(Relaxed);
    let expected = total(|c| &c.expected);
    let received = total(|c| &c.received);
    let enqueued = total(|c| &c.enqueued);
    let refused_full = total(|c| &c.refused_full);
    let refused_other = total(|c| &c.refused_other);
    let delivered = total(|c| &c.delivered);
    let handed_back = total(|c| &c.handed_back);
    let traffic = run.traffic_end.saturating_sub(run.traffic_start);
    let drain = run.end.saturating_sub(run.traffic_end);
    let rows = vec![
        ("BBS events emitted".into(), emitted.to_string()),
        (
            "events received".into(),
            format!("{received} of {expected} sent"),
        ),
        (
            "stream errors".into(),
            total(|c| &c.stream_errors).to_string(),
        ),
        ("operations enqueued".into(), enqueued.to_string()),
        (
            "refused: buffer full / other".into(),
            format!("{refused_full} / {refused_other}"),
        ),
        ("operations delivered".into(), delivered.to_string()),
        (
            "handed back at stop".into(),
            format!("{handed_back} (cost {})", total(|c| &c.handed_back_cost)),
        ),
        ("batches".into(), total(|c| &c.batches).to_string()),
        (
            "max capacity per instance".into(),
            run.max_capacity
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
        ),
        (
            "demand (cost of events received)".into(),
            total(|c| &c.demand_cost).to_string(),
        ),
        ("cost delivered".into(), delivered_cost.to_string()),
        ("limit (cost per second)".into(), limit_explained(config)),
        (
            "max cost in any 1-s window".into(),
            format!("{max}{}", if max > limit { " EXCEEDED" } else { "" }),
        ),
        (
            "mean utilisation".into(),
            pct(delivered_cost as f64, cap_secs),
        ),
        (
            "utilisation while backlogged".into(),
            pct(busy_used as f64, busy_cap),
        ),
        (
            "traffic / drain / total".into(),
            format!(
                "{:.1} s / {:.1} s / {:.1} s",
                traffic.as_secs_f64(),
                drain.as_secs_f64(),
                run.end.as_secs_f64()
            ),
        ),
    ];

    let mut notes = Vec::new();
    if config.instances > 1 {
        notes.push(format!(
            "Each instance subscribes to its own cell: a desired-LRP event belongs to no cell and \
             reaches all {} subscriptions, an actual-LRP event only its cell's, so more events \
             are received than emitted.",
            config.instances
        ));
    }
    if config.limiter == LimiterKind::Azure {
        notes.push(format!(
            "With azure, instances share {} through partition leases and each may spend its \
             reserved {} on top, so the limit is {}.",
            config.capacity,
            config.reserved(),
            limit
        ));
    }
    if handed_back > 0 {
        notes.push(format!(
            "{handed_back} operations were still queued when the batchers stopped; they were \
             taken back with Watcher::take_unsent and counted (a real service would persist or \
             retry them)."
        ));
    }
    if run.interrupted {
        notes.push("The run was ended early by a signal; the drain was skipped.".into());
    } else if !run.drained && handed_back > 0 {
        notes.push(format!(
            "The queue did not drain within --drain {} s.",
            config.drain.as_secs()
        ));
    }

    let mut failures = Vec::new();
    if max > limit {
        failures.push(format!(
            "{max} cost units were released in one second, above the limit of {limit}"
        ));
    }
    if received != expected {
        failures.push(format!(
            "the consumers received {received} events but the BBS sent them {expected}"
        ));
    }
    if received != enqueued + refused_full + refused_other {
        failures.push(format!(
            "{received} events received but {enqueued} enqueued and {} refused",
            refused_full + refused_other
        ));
    }
    if enqueued != delivered + handed_back {
        failures.push(format!(
            "{enqueued} operations enqueued but {delivered} delivered and {handed_back} handed back"
        ));
    }
    Summary {
        rows,
        shares,
        notes,
        failures,
    }
}

pub(crate) fn print(config: &Config, run: &Run, summary: &Summary) {
    let limiter = match config.limiter {
        LimiterKind::Provisioned => "provisioned",
        LimiterKind::Azure => "azure (blob leases)",
    };
    println!(
        "\nflowgate demo: {limiter}, {} instance(s), capacity {}/s, mean rate {} events/s{}",
        config.instances,
        config.capacity,
        config.rate,
        if run.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    println!("{:-<72}", "");
    for (name, value) in &summary.rows {
        println!("{name:<34} {value:>37}");
    }
    println!("{:-<72}", "");
    println!(
        "{:<12} {:>14} {:>16} {:>14}",
        "instance", "cost", "share of cost", "share of cap"
    );
    for (i, cost_share, cap_share, cost) in &summary.shares {
        println!(
            "{:<12} {:>14} {:>15.1}% {:>13.1}%",
            i,
            cost,
            100.0 * cost_share,
            100.0 * cap_share
        );
    }
    for note in &summary.notes {
        println!("note: {note}");
    }
    println!(
        "{}",
        if summary.failures.is_empty() {
            "result: capacity never exceeded, every event accounted for"
        } else {
            "result: FAILED"
        }
    );
}
