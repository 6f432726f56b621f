//! The plot: delivered cost in every one-second window against the limit, with the demand
//! that caused it and the backlog it left.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::LimiterKind;
use crate::pipeline::{Config, Run};
use crate::record::Sample;
use crate::report::{BUCKET, buckets, limit_explained};

/// Demand as a rate: cost received in the second before each sample.
fn demand_rate(samples: &[Sample]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(samples.len());
    let mut tail = 0;
    for s in samples {
        while s.at.saturating_sub(samples[tail].at).as_secs_f64() > 1.0 {
            tail += 1;
        }
        let span = s.at.saturating_sub(samples[tail].at).as_secs_f64();
        if span >= 0.5 {
            let cost = (s.demand_cost - samples[tail].demand_cost) as f64;
            out.push((s.at.as_secs_f64(), cost / span));
        }
    }
    out
}

/// The series the two panels share.
struct Series {
    per_bucket: Vec<u64>,
    rolling: Vec<(f64, f64)>,
    demand: Vec<(f64, f64)>,
    samples: Vec<Sample>,
    limit: f64,
    x_max: f64,
    traffic_end: f64,
}

fn secs(i: usize) -> f64 {
    i as f64 * BUCKET.as_secs_f64()
}

/// Draws the plot: above, what was delivered against the limit; below, the demand that
/// caused it and the backlog it left.
pub(crate) fn draw(config: &Config, run: &Run, path: &Path) -> Result<()> {
    let dir = path.parent().context("the plot path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let releases = run.recorder.releases.lock().unwrap().clone();
    let samples = run.recorder.samples.lock().unwrap().clone();
    let per_bucket = buckets(&releases, run.end);
    // The cost released in the second ending at each bucket's end: the quantity the limit
    // bounds.
    let rolling = (0..per_bucket.len())
        .map(|i| {
            let from = i.saturating_sub(9);
            (secs(i + 1), per_bucket[from..=i].iter().sum::<u64>() as f64)
        })
        .collect();
    let x_max = secs(per_bucket.len()).max(1.0);
    let series = Series {
        per_bucket,
        rolling,
        demand: demand_rate(&samples),
        samples,
        limit: config.limit() as f64,
        x_max,
        traffic_end: run.traffic_end.as_secs_f64(),
    };

    let root = SVGBackend::new(path, (1200, 860)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "flowgate demo: {}, {} instance(s), capacity {}/s, mean rate {} events/s",
        match config.limiter {
            LimiterKind::Provisioned => "provisioned",
            LimiterKind::Azure => "azure",
        },
        config.instances,
        config.capacity,
        config.rate
    );
    let root = root.titled(&title, ("sans-serif", 22))?;
    let (top, bottom) = root.split_vertically(470);
    delivery(config, &series, &top)?;
    demand(config, &series, &bottom)?;
    root.present()?;
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// The upper panel: the cost delivered in the last second against the limit, the 100 ms
/// rate faint behind it, and each instance's capacity.
fn delivery(config: &Config, s: &Series, area: &Area<'_>) -> Result<()> {
    // The 100 ms rate is bursty by design (pacing in slices); let it leave the chart rather
    // than squash the series that matter.
    let y_max = s.rolling.iter().map(|&(_, v)| v).fold(s.limit, f64::max) * 1.35;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "delivered: the cost in every one-second window stays within the limit",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .right_y_label_area_size(72)
        .build_cartesian_2d(0f64..s.x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .y_desc("cost units per second")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    let faint = RGBColor(150, 190, 230);
    chart
        .draw_series(LineSeries::new(
            s.per_bucket
                .iter()
                .enumerate()
                .map(|(i, &c)| (secs(i), (c as f64 * 10.0).min(y_max))),
            faint.mix(0.7).stroke_width(1),
        ))?
        .label("delivered per 100 ms, as a rate (paced bursts, not bounded)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], faint.stroke_width(1)));
    let palette = [
        RGBColor(0, 150, 90),
        RGBColor(150, 60, 180),
        RGBColor(0, 160, 170),
        RGBColor(90, 90, 90),
    ];
    for i in 0..config.instances {
        let color = palette[i % palette.len()];
        // Wide and translucent, so that a capacity equal to the limit shows under its line.
        chart
            .draw_series(LineSeries::new(
                s.samples
                    .iter()
                    .map(|p| (p.at.as_secs_f64(), f64::from(p.capacity[i]))),
                color.mix(0.45).stroke_width(6),
            ))?
            .label(format!("instance {i} capacity"))
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 16, y)], color.mix(0.45).stroke_width(6))
            });
    }
    if config.instances > 1 {
        let grey = RGBColor(60, 60, 60);
        chart
            .draw_series(LineSeries::new(
                s.samples.iter().map(|p| {
                    (
                        p.at.as_secs_f64(),
                        p.capacity.iter().map(|&c| f64::from(c)).sum::<f64>(),
                    )
                }),
                grey.stroke_width(1),
            ))?
            .label("capacity of all instances")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], grey.stroke_width(1)));
    }
    let blue = RGBColor(30, 80, 170);
    chart
        .draw_series(LineSeries::new(s.rolling.clone(), blue.stroke_width(3)))?
        .label("delivered in the last second")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(3)));
    limit_and_end(config, s, &mut chart, y_max)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// The red limit line and the end-of-traffic marker, on either panel.
fn limit_and_end(
    config: &Config,
    s: &Series,
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    y_max: f64,
) -> Result<()> {
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, s.limit), (s.x_max, s.limit)],
            10,
            5,
            RED.stroke_width(2),
        ))?
        .label(format!("limit {}", limit_explained(config)))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
    chart
        .draw_series(DashedLineSeries::new(
            [(s.traffic_end, 0.0), (s.traffic_end, y_max)],
            3,
            3,
            BLACK.mix(0.5).stroke_width(1),
        ))?
        .label("traffic ends; the queue drains")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.5)));
    Ok(())
}

/// The lower panel: the demand against the limit, and the backlog on the right axis.
fn demand(config: &Config, s: &Series, area: &Area<'_>) -> Result<()> {
    let y_max = s.demand.iter().map(|&(_, v)| v).fold(s.limit, f64::max) * 1.15;
    let backlog_max = s
        .samples
        .iter()
        .map(|p| p.backlog_cost as f64)
        .fold(10.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            "demand: what arrived, and the backlog waiting for capacity",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .right_y_label_area_size(72)
        .build_cartesian_2d(0f64..s.x_max, 0f64..y_max)?
        .set_secondary_coord(0f64..s.x_max, 0f64..backlog_max);
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("cost units per second")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("backlog (cost units waiting)")
        .label_style(
            ("sans-serif", 12)
                .into_font()
                .color(&RGBColor(140, 110, 60)),
        )
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let sand = RGBColor(200, 170, 110);
    chart
        .draw_secondary_series(AreaSeries::new(
            s.samples
                .iter()
                .map(|p| (p.at.as_secs_f64(), p.backlog_cost as f64)),
            0.0,
            sand.mix(0.3),
        ))?
        .label("backlog (right axis)")
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 16, y + 5)], sand.mix(0.5).filled())
        });
    let orange = RGBColor(230, 120, 0);
    chart
        .draw_series(LineSeries::new(s.demand.clone(), orange.stroke_width(2)))?
        .label("demand (cost received in the last second)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], orange.stroke_width(2)));
    limit_and_end(config, s, &mut chart, y_max)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
