//! `bbs-events`: tail a BBS event stream, or serve one.
//!
//! * `bbs-events tail --url URL [--route events|instances|tasks] [--cell-id ID]
//!   [--ca F --cert F --key F] [--format json|wire] [--count N] [--response-timeout D]
//!   [--max-reconnects N] [--v0]` prints one line per event; SIGTERM and SIGINT end it with exit
//!   status 0.
//! * `bbs-events serve --listen ADDR [--replay FILE] [--synthetic RATE]` serves the BBS event
//!   routes; the bound address is printed on stderr. Timeouts and caps have flags of their own
//!   (`--help`); SIGTERM and SIGINT end every stream with its terminating chunk, then exit.

/// Writes a line to stderr. A closed or broken stderr is no reason to fail, let alone panic
/// (which `eprintln!` does).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod duration;
mod serve;
mod signal;
mod tail;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tail or serve a Cloud Foundry BBS event stream.
#[derive(Debug, Parser)]
#[command(name = "bbs-events", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Subscribe to a BBS event route and print one line per event.
    Tail(tail::TailArgs),
    /// Serve the BBS event routes from a replay file and/or a synthetic stream.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!("bbs-events: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Tail(args) => tail::run(args).await,
            Command::Serve(args) => serve::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            say!("bbs-events: {message}");
            ExitCode::FAILURE
        }
    }
}
