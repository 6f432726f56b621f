//! The flowgate demo: BBS lifecycle events → consumers → batchers → a datastore whose
//! capacity is rate limited, with a live view, a summary table and a plot.
//!
//! Run it with `cargo xtask demo` (provisioned capacity, nothing external) or
//! `cargo xtask demo --limiter azure` (three instances sharing one capacity through blob
//! leases on a local Azurite that xtask starts).

mod consumer;
mod pipeline;
mod plot;
mod record;
mod report;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio_util::sync::CancellationToken;

/// Which rate limiter guards the datastore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LimiterKind {
    /// A fixed capacity per instance, the capacity split evenly (no external service).
    Provisioned,
    /// Instances share the capacity through Azure Blob partition leases, each also holding
    /// a reserved 2% of it of its own.
    Azure,
}

const AFTER_HELP: &str = "\
The run: traffic for --duration seconds, then up to --drain seconds for the batchers to \
deliver what is queued; whatever is still queued then is handed back and counted. SIGINT \
(Ctrl-C) or SIGTERM ends the traffic early and skips the drain; the summary and plot are \
still written. A second signal quits at once.

Exit status: 0 when the capacity was never exceeded and every event is accounted for, 1 when \
a check failed or the run could not complete, 2 for invalid arguments.";

/// Streams synthetic Cloud Foundry BBS events through flowgate's batcher into a
/// rate-limited datastore, and checks that the capacity is never exceeded and that
/// nothing is lost.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask demo",
    version,
    about,
    long_about = None,
    after_help = AFTER_HELP,
    allow_negative_numbers = true
)]
struct Args {
    /// The rate limiter: `provisioned` (embedded) or `azure` (blob leases on Azurite).
    #[arg(long, value_enum, default_value_t = LimiterKind::Provisioned)]
    limiter: LimiterKind,
    /// How long BBS traffic runs, in seconds (1 to 3600).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration: u64,
    /// How long, after the traffic, the batchers may deliver what is still queued, in
    /// seconds (0 to 3600); what is left then is handed back and counted.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    drain: u64,
    /// Mean BBS events per second (1 to 1000000); traffic swings between 20% and 180% of
    /// it, so at the default rate and capacity demand rises above the capacity for a while.
    #[arg(long, default_value_t = 450, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate: u32,
    /// The datastore's capacity in cost units per second (at least 10). With `provisioned`
    /// it is split evenly between the instances. With `azure` the instances share it
    /// through partition leases and each may also spend a reserved 2% of it, so the limit
    /// is capacity + 2% per instance (1,060 for 1,000 and 3 instances).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(10..))]
    capacity: u32,
    /// Consumer instances (1 to 16), each with its own batcher and limiter
    /// [default: 1 with provisioned, 3 with azure].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=16))]
    instances: Option<u64>,
    /// Serve Prometheus metrics at http://ADDR/metrics while the demo runs (a loopback
    /// address, e.g. 127.0.0.1:9000; docs/metrics.md lists them).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
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
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    match run(args, &shutdown).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM, and quits on the second.
async fn stop_on_signal(shutdown: CancellationToken) {
    for count in 0.. {
        let name = match next_signal().await {
            Ok(name) => name,
            Err(e) => {
                eprintln!("demo: cannot listen for signals: {e}");
                return;
            }
        };
        if count > 0 {
            eprintln!("demo: {name} again: quitting at once");
            std::process::exit(130);
        }
        eprintln!(
            "demo: {name}: ending the traffic and handing back what is queued \
             (send it again to quit at once)"
        );
        shutdown.cancel();
    }
}

/// Installs the Prometheus recorder with its HTTP endpoint on `addr` (loopback only: the
/// endpoint has no authentication).
fn serve_metrics(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "--metrics {addr}: use a loopback address (127.0.0.1 or [::1]); the endpoint has no \
         authentication"
    );
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(
                "flowgate_limiter_storage_call_seconds".to_owned(),
            ),
            flowgate::metrics::STORAGE_CALL_BUCKETS,
        )
        .map_err(|e| anyhow::anyhow!("histogram buckets: {e}"))?
        .install()
        .map_err(|e| anyhow::anyhow!("serving metrics on {addr}: {e}"))?;
    println!("metrics: http://{addr}/metrics");
    Ok(())
}

#[cfg(unix)]
async fn next_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

#[cfg(not(unix))]
async fn next_signal() -> std::io::Result<&'static str> {
    tokio::signal::ctrl_c().await.map(|()| "Ctrl-C")
}

async fn run(args: Args, shutdown: &CancellationToken) -> anyhow::Result<bool> {
    let instances = args.instances.map_or(
        match args.limiter {
            LimiterKind::Provisioned => 1,
            LimiterKind::Azure => 3,
        },
        |n| n as usize,
    );
    let config = pipeline::Config {
        limiter: args.limiter,
        instances,
        capacity: args.capacity,
        rate: args.rate,
        duration: Duration::from_secs(args.duration),
        drain: Duration::from_secs(args.drain),
    };
    if let Some(addr) = args.metrics {
        serve_metrics(addr)?;
    }
    let run = pipeline::run(&config, shutdown).await?;
    let summary = report::summarize(&config, &run);
    report::print(&config, &run, &summary);
    let svg = args.out.join("capacity.svg");
    plot::draw(&config, &run, &svg)?;
    println!("plot: {}", svg.display());
    for failure in &summary.failures {
        eprintln!("demo: FAILED: {failure}");
    }
    Ok(summary.failures.is_empty())
}
