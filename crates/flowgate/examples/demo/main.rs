//! The flowgate demo: BBS lifecycle events → consumers → batchers → a datastore whose
//! capacity is rate limited, with a live view, a summary table and a plot.
//!
//! Run it with `cargo xtask demo` (provisioned capacity, nothing external) or
//! `cargo xtask demo --limiter azure` (three instances sharing one capacity through blob
//! leases on a local Azurite that xtask starts).

mod pipeline;
mod record;
mod report;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Which rate limiter guards the datastore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LimiterKind {
    /// A fixed capacity per instance (no external service).
    Provisioned,
    /// One capacity shared by all instances through Azure Blob leases.
    Azure,
}

/// Streams synthetic Cloud Foundry BBS events through flowgate's batcher into a
/// rate-limited datastore, and checks that the capacity is never exceeded.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask demo", version, about, long_about = None)]
struct Args {
    /// The rate limiter: `provisioned` (embedded) or `azure` (blob leases on Azurite).
    #[arg(long, value_enum, default_value_t = LimiterKind::Provisioned)]
    limiter: LimiterKind,
    /// How long BBS traffic runs, in seconds (the queue then drains for up to 10 s more).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Mean BBS events per second; traffic swings between 20% and 180% of it, so at the
    /// default rate and capacity demand rises above the capacity for a while.
    #[arg(long, default_value_t = 450)]
    rate: u32,
    /// The datastore's capacity in cost units per second (shared by all instances).
    #[arg(long, default_value_t = 1000)]
    capacity: u32,
    /// Consumer instances, each with its own batcher and limiter
    /// [default: 1 with provisioned, 3 with azure].
    #[arg(long)]
    instances: Option<usize>,
    /// Where the plot is written.
    #[arg(long, default_value = "target/flowgate-demo")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let instances = args.instances.unwrap_or(match args.limiter {
        LimiterKind::Provisioned => 1,
        LimiterKind::Azure => 3,
    });
    anyhow::ensure!(
        (1..=16).contains(&instances),
        "--instances must be between 1 and 16"
    );
    anyhow::ensure!(args.capacity >= 10, "--capacity must be at least 10");
    anyhow::ensure!(args.rate >= 1, "--rate must be at least 1");
    let config = pipeline::Config {
        limiter: args.limiter,
        instances,
        capacity: args.capacity,
        rate: args.rate,
        duration: Duration::from_secs(args.duration.max(1)),
    };
    let run = pipeline::run(&config).await?;
    let summary = report::summarize(&config, &run);
    report::print(&config, &summary);
    let svg = args.out.join("capacity.svg");
    report::plot(&config, &run, &svg)?;
    println!("plot: {}", svg.display());
    if summary.exceeded {
        eprintln!("demo: FAILED: the capacity was exceeded");
    }
    Ok(!summary.exceeded)
}
