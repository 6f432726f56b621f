//! The end of a run: the summary table, the capacity check, and the plot.

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::{Context, Result};
use plotters::prelude::*;

use crate::LimiterKind;
use crate::pipeline::{Config, Run};
use crate::record::Release;

const BUCKET: Duration = Duration::from_millis(100);
/// Operations waiting, in all instances, from which a sample counts as backlogged.
const BACKLOG_OPS: u64 = 100;

/// The figures the summary table shows.
#[derive(Debug)]
pub(crate) struct Summary {
    rows: Vec<(String, String)>,
    shares: Vec<(usize, f64, f64, u64)>,
    pub(crate) exceeded: bool,
}

/// The most cost released in any one-second window (ending at a release), over `releases`.
fn max_window(releases: &[Release]) -> u64 {
    let mut sorted: Vec<&Release> = releases.iter().collect();
    sorted.sort_by_key(|r| r.at);
    let (mut max, mut sum, mut tail) = (0, 0u64, 0);
    for (head, r) in sorted.iter().enumerate() {
        sum += r.cost;
        while sorted[tail].at + Duration::from_secs(1) <= r.at {
            sum -= sorted[tail].cost;
            tail += 1;
        }
        debug_assert!(tail <= head);
        max = max.max(sum);
    }
    max
}

/// Released cost per 100 ms bucket, from time zero to `end`.
fn buckets(releases: &[Release], end: Duration) -> Vec<u64> {
    let n = (end.as_millis() / BUCKET.as_millis()) as usize + 1;
    let mut out = vec![0u64; n];
    for r in releases {
        let i = (r.at.as_millis() / BUCKET.as_millis()) as usize;
        out[i.min(n - 1)] += r.cost;
    }
    out
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
    for s in &samples {
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
    let rows = vec![
        (
            "BBS events emitted".into(),
            rec.emitted.load(Relaxed).to_string(),
        ),
        (
            "events received".into(),
            rec.total(|c| &c.received).to_string(),
        ),
        (
            "stream errors".into(),
            rec.total(|c| &c.stream_errors).to_string(),
        ),
        (
            "operations enqueued".into(),
            rec.total(|c| &c.enqueued).to_string(),
        ),
        (
            "operations refused".into(),
            rec.total(|c| &c.refused).to_string(),
        ),
        (
            "operations delivered".into(),
            rec.total(|c| &c.delivered).to_string(),
        ),
        ("operations left at stop".into(), run.unsent.to_string()),
        ("batches".into(), rec.total(|c| &c.batches).to_string()),
        (
            "max capacity per instance".into(),
            run.max_capacity
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
        ),
        ("cost delivered".into(), delivered_cost.to_string()),
        (
            "max cost in any 1-s window".into(),
            format!(
                "{max} (limit {limit}{})",
                if max > limit { ", EXCEEDED" } else { "" }
            ),
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
            "traffic / total time".into(),
            format!(
                "{:.1} s / {:.1} s",
                run.traffic_end.as_secs_f64(),
                run.end.as_secs_f64()
            ),
        ),
    ];
    Summary {
        rows,
        shares,
        exceeded: max > limit,
    }
}

pub(crate) fn print(config: &Config, summary: &Summary) {
    let limiter = match config.limiter {
        LimiterKind::Provisioned => "provisioned",
        LimiterKind::Azure => "azure (blob leases)",
    };
    println!(
        "\nflowgate demo: {limiter}, {} instance(s), capacity {}/s, mean rate {} events/s",
        config.instances, config.capacity, config.rate
    );
    println!("{:-<60}", "");
    for (name, value) in &summary.rows {
        println!("{name:<32} {value:>27}");
    }
    println!("{:-<60}", "");
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
    println!(
        "{}",
        if summary.exceeded {
            "result: capacity EXCEEDED"
        } else {
            "result: capacity never exceeded"
        }
    );
}

pub(crate) fn plot(config: &Config, run: &Run, path: &Path) -> Result<()> {
    let dir = path.parent().context("the plot path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let releases = run.recorder.releases.lock().unwrap().clone();
    let samples = run.recorder.samples.lock().unwrap().clone();
    let per_bucket = buckets(&releases, run.end);
    let secs = |i: usize| i as f64 * BUCKET.as_secs_f64();
    let rolling: Vec<(f64, f64)> = (0..per_bucket.len())
        .map(|i| {
            let from = i.saturating_sub(9);
            (secs(i + 1), per_bucket[from..=i].iter().sum::<u64>() as f64)
        })
        .collect();
    let limit = config.limit() as f64;
    let y_max = per_bucket
        .iter()
        .map(|&c| c as f64 * 10.0)
        .fold(limit, f64::max)
        * 1.15;
    let x_max = run.end.as_secs_f64().max(1.0);

    let root = SVGBackend::new(path, (1100, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "flowgate demo: delivered cost vs capacity ({}, {} instance(s))",
        match config.limiter {
            LimiterKind::Provisioned => "provisioned",
            LimiterKind::Azure => "azure",
        },
        config.instances
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("cost units per second")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    let light = RGBColor(150, 190, 230);
    chart
        .draw_series(AreaSeries::new(
            per_bucket
                .iter()
                .enumerate()
                .map(|(i, &c)| (secs(i), c as f64 * 10.0)),
            0.0,
            light.mix(0.5),
        ))?
        .label("delivered per 100 ms (as a rate)")
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 16, y + 5)], light.mix(0.5).filled())
        });
    let blue = RGBColor(30, 80, 170);
    chart
        .draw_series(LineSeries::new(rolling, blue.stroke_width(2)))?
        .label("delivered in the last second")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(2)));
    let palette = [
        RGBColor(0, 150, 90),
        RGBColor(220, 130, 0),
        RGBColor(150, 60, 180),
        RGBColor(90, 90, 90),
    ];
    for i in 0..config.instances {
        let color = palette[i % palette.len()];
        chart
            .draw_series(LineSeries::new(
                samples
                    .iter()
                    .map(|s| (s.at.as_secs_f64(), f64::from(s.capacity[i]))),
                color.stroke_width(1),
            ))?
            .label(format!("instance {i} capacity"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(1)));
    }
    if config.instances > 1 {
        let grey = RGBColor(60, 60, 60);
        chart
            .draw_series(LineSeries::new(
                samples.iter().map(|s| {
                    (
                        s.at.as_secs_f64(),
                        s.capacity.iter().map(|&c| f64::from(c)).sum::<f64>(),
                    )
                }),
                grey.stroke_width(2),
            ))?
            .label("total capacity")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], grey.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, limit), (x_max, limit)],
            RED.stroke_width(2),
        ))?
        .label("limit")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    root.present()?;
    Ok(())
}
