//! `cargo xtask test`: everything CI checks.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::azurite::Azurite;
use crate::cmd;

/// Optional features checked and tested along with the defaults (the metrics bridge, which
/// the demo needs).
const OPTIONAL_FEATURES: &str = "flowgate/metrics";

/// Crates that must depend on `events-core` and on no sibling.
const LEAF_CRATES: &[&str] = &[
    "batcher",
    "limiter-provisioned",
    "limiter-azure",
    "limiter-ramp",
    "bbs-events",
];
const ALL_CRATES: &[&str] = &[
    "events-core",
    "batcher",
    "limiter-provisioned",
    "limiter-azure",
    "limiter-ramp",
    "bbs-events",
    "bbs-events-cli",
    "flowgate",
    "testkit",
];
/// Test-support crates: dev-dependencies of the others, depending on no workspace crate.
const SUPPORT_CRATES: &[&str] = &["testkit"];

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut long = false;
    for arg in args {
        match arg.as_str() {
            "--long" => long = true,
            other => bail!("unknown option `{other}` for `cargo xtask test` (try --long)"),
        }
    }
    let started = Instant::now();
    let mut steps: Vec<(&str, f64)> = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        eprintln!("\nxtask: == {name} ==");
        let t = Instant::now();
        f()?;
        steps.push((name, t.elapsed().as_secs_f64()));
        Ok(())
    };

    step("cargo fmt --check", &mut || {
        cmd::run(
            cmd::cargo().args(["fmt", "--all", "--check"]),
            "cargo fmt --check (run `cargo fmt --all` to fix)",
        )
    })?;
    step("crate dependency rules", &mut || check_crate_graph())?;
    step("cargo clippy", &mut || {
        cmd::run(
            cmd::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                OPTIONAL_FEATURES,
                "--",
                "-D",
                "warnings",
            ]),
            "cargo clippy",
        )
    })?;

    let mut counts = TestCounts::default();
    step("cargo test", &mut || {
        let azurite = Azurite::start(root)?;
        let mut test = cmd::cargo();
        // Every test binary runs even after a failure, so that one run shows every failure.
        test.args([
            "test",
            "--workspace",
            "--no-fail-fast",
            "--features",
            OPTIONAL_FEATURES,
        ]);
        if long {
            test.args(["--", "--include-ignored"]);
        }
        azurite.configure(&mut test);
        test.env("FLOWGATE_REQUIRE_AZURITE", "1");
        cmd::run_tee(&mut test, "cargo test", |line| counts.read(line))
    })?;
    step("cargo doc", &mut || {
        cmd::run(
            cmd::cargo()
                .args([
                    "doc",
                    "--workspace",
                    "--no-deps",
                    "--features",
                    OPTIONAL_FEATURES,
                ])
                .env("RUSTDOCFLAGS", "-D warnings"),
            "cargo doc (warnings denied)",
        )
    })?;

    eprintln!(
        "\nxtask: all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for (name, secs) in &steps {
        eprintln!("  {name:<24} {secs:>6.1} s");
    }
    // One plain closing line for whoever reads the log.
    println!(
        "tests: {} passed, {} failed, {} skipped",
        counts.passed, counts.failed, counts.ignored
    );
    Ok(())
}

#[derive(Default)]
struct TestCounts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestCounts {
    /// Adds up libtest's `test result: ok. 3 passed; 0 failed; 1 ignored; ...` lines.
    fn read(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match kind {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// The packages `package` depends on through normal edges (itself first), as
/// `cargo tree` resolves them with the given feature arguments.
fn dependencies(package: &str, feature_args: &[&str]) -> Result<Vec<String>> {
    let out = cmd::cargo()
        .args(["tree", "--package", package])
        .args(feature_args)
        .args(["--edges", "normal", "--prefix", "none", "--format", "{p}"])
        .output()?;
    if !out.status.success() {
        bail!(
            "cargo tree -p {package} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Every implementation crate depends on `events-core` and on no sibling, and the facade
/// without its network features pulls in neither the Azure SDK nor HTTP.
fn check_crate_graph() -> Result<()> {
    for krate in LEAF_CRATES {
        let deps = dependencies(krate, &[])?;
        for name in deps.iter().skip(1) {
            if name != krate && name != "events-core" && ALL_CRATES.contains(&name.as_str()) {
                bail!(
                    "`{krate}` depends on its sibling `{name}`; implementation crates may depend only on events-core"
                );
            }
        }
        if !deps.iter().any(|n| n == "events-core") {
            bail!("`{krate}` does not depend on events-core");
        }
    }
    eprintln!("xtask: no implementation crate depends on a sibling");
    for krate in SUPPORT_CRATES {
        let deps = dependencies(krate, &[])?;
        if let Some(name) = deps
            .iter()
            .skip(1)
            .find(|n| ALL_CRATES.contains(&n.as_str()))
        {
            bail!(
                "`{krate}` depends on `{name}`; test-support crates may depend on no workspace crate"
            );
        }
    }
    eprintln!("xtask: test-support crates depend on no workspace crate");

    // The command line's dependencies stay in bbs-events-cli, out of library users' builds.
    let bbs = dependencies("bbs-events", &[])?;
    for cli_only in ["clap", "serde_json", "tracing-subscriber"] {
        if bbs.iter().any(|n| n == cli_only) {
            bail!(
                "the bbs-events library depends on `{cli_only}`; command-line dependencies belong in bbs-events-cli"
            );
        }
    }
    eprintln!("xtask: the bbs-events library builds without its command line's dependencies");

    let slim = dependencies(
        "flowgate",
        &["--no-default-features", "--features", "batcher,provisioned"],
    )?;
    for heavy in [
        "azure_core",
        "reqwest",
        "hyper",
        "limiter-azure",
        "bbs-events",
    ] {
        if slim.iter().any(|n| n == heavy) {
            bail!(
                "flowgate with only `batcher,provisioned` depends on `{heavy}`; keep it behind its feature"
            );
        }
    }
    eprintln!(
        "xtask: flowgate --features batcher,provisioned builds without the Azure and HTTP stacks"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TestCounts;

    #[test]
    fn libtest_summaries_are_added_up() {
        let mut c = TestCounts::default();
        c.read("test result: ok. 12 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        c.read("test result: FAILED. 1 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out");
        c.read("running 4 tests");
        assert_eq!((c.passed, c.failed, c.ignored), (13, 3, 2));
    }
}
