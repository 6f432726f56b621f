//! Project automation for flowgate: `cargo xtask <command>`.
//!
//! * `test [--long]`: formatting, lints, every test (with a local Azurite), docs.
//! * `bench [--quick] [FILTER]`: criterion and scenario benchmarks, one table of medians.
//! * `demo [ARGS]`: the main job; `cargo xtask demo --help` lists its options.
//! * `azurite [-- COMMAND ...]`: runs a command with a local Azurite emulator.

mod azurite;
mod bench;
mod cmd;
mod demo;
mod test;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::azurite::Azurite;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  test [--long]             fmt check, clippy, all tests (Azurite started and stopped
                            automatically), docs with warnings denied; --long also runs
                            the slow soak and fault tests (#[ignore]d tests)
  bench [--quick] [FILTER]  criterion benches and scenario benches, then one table of
                            medians; FILTER keeps benches whose name contains it
  demo [ARGS]               the main job: BBS events -> batcher -> rate-limited datastore;
                            `cargo xtask demo --help` lists ARGS (e.g. --limiter azure);
                            builds with progress shown, exits with the demo's status
  azurite [-- CMD ...]      run CMD with a local Azurite (env AZURE_STORAGE_CONNECTION_STRING)
";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root()?;
    std::env::set_current_dir(&root)?;
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        bail!("no command given");
    };
    match command.as_str() {
        // The demo's exit status is its own: 0 green, 1 a check failed, 2 bad arguments.
        "demo" => return demo::run(&root, rest),
        "test" => test::run(&root, rest),
        "bench" => bench::run(&root, rest),
        "azurite" => with_azurite(&root, rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown command `{other}`")
        }
    }
    .map(|()| ExitCode::SUCCESS)
}

/// The workspace root, found from this crate's manifest directory.
fn project_root() -> Result<PathBuf> {
    let dir = env!("CARGO_MANIFEST_DIR");
    Path::new(dir)
        .parent()
        .map(Path::to_owned)
        .context("xtask must live one level below the workspace root")
}

fn with_azurite(root: &Path, args: &[String]) -> Result<()> {
    let azurite = Azurite::start(root)?;
    let command: Vec<&String> = args.iter().skip_while(|a| *a == "--").collect();
    let Some((program, rest)) = command.split_first() else {
        for (k, v) in azurite.env() {
            println!("export {k}='{v}'");
        }
        bail!("no command given; usage: cargo xtask azurite -- COMMAND [ARGS]");
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    azurite.configure(&mut cmd);
    cmd::run(&mut cmd, program)
}
