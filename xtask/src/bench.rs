//! `cargo xtask bench`: criterion and scenario benchmarks, reported as one table of medians.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use crate::azurite::Azurite;
use crate::cmd;

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut filter: Option<String> = None;
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            a if a.starts_with('-') => {
                bail!("unknown option `{a}` for `cargo xtask bench` (try --quick)")
            }
            a => filter = Some(a.to_owned()),
        }
    }
    let matches = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let target = target_dir(root);
    let out_dir = target.join("flowgate-bench");
    fs::create_dir_all(&out_dir)?;
    let results = out_dir.join("results.jsonl");
    let _ = fs::remove_file(&results);
    let started = SystemTime::now();

    // Criterion benchmarks.
    let mut criterion = cmd::cargo();
    criterion.args(["bench", "--package", "flowgate-benches", "--benches", "--"]);
    if quick {
        criterion.arg("--quick");
    }
    if let Some(f) = &filter {
        criterion.arg(f);
    }
    cmd::run(&mut criterion, "cargo bench")?;

    // Scenario benchmarks: the binaries of the benches crate.
    let scenarios: Vec<String> = scenario_names(root)?
        .into_iter()
        .filter(|n| matches(n))
        .collect();
    let mut skipped = Vec::new();
    if !scenarios.is_empty() {
        cmd::run(
            cmd::cargo().args([
                "build",
                "--release",
                "--package",
                "flowgate-benches",
                "--bins",
            ]),
            "building the scenario benches",
        )?;
        let needs_azurite = scenarios.iter().any(|n| n.starts_with("azure"));
        let azurite = if needs_azurite {
            match Azurite::start(root) {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!(
                        "xtask: warning: Azurite did not start, skipping the Azure benches: {e:#}"
                    );
                    None
                }
            }
        } else {
            None
        };
        for name in &scenarios {
            if name.starts_with("azure") && azurite.is_none() {
                skipped.push(name.clone());
                continue;
            }
            eprintln!("\nxtask: == scenario bench {name} ==");
            let exe = target.join("release").join(binary_name(name));
            let mut bin = std::process::Command::new(exe);
            bin.env("FLOWGATE_BENCH_OUT", &results);
            if quick {
                bin.arg("--quick");
            }
            if let Some(a) = &azurite {
                a.configure(&mut bin);
            }
            cmd::run(&mut bin, &format!("scenario bench {name}"))?;
        }
    }

    report(&target.join("criterion"), &results, started, quick)?;
    if !skipped.is_empty() {
        eprintln!("xtask: skipped (no Azurite): {}", skipped.join(", "));
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The binary of scenario `name` (the file stem under benches/src/bin): prefixed, so that
/// no binary shares a library's name in target/doc.
fn binary_name(name: &str) -> String {
    format!("scenario-{name}")
}

fn scenario_names(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("benches").join("src").join("bin");
    let mut names = Vec::new();
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "rs") {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    names.push(stem.to_owned());
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Prints criterion medians written by this run, then the scenario figures.
fn report(criterion: &Path, results: &Path, since: SystemTime, quick: bool) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\nflowgate bench report: {cores} cores{}",
        if quick { ", --quick" } else { "" }
    );
    println!("\n{:<58} {:>14}", "criterion benchmark", "median");
    let mut rows = Vec::new();
    collect_estimates(criterion, criterion, since, &mut rows)?;
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, ns) in &rows {
        println!("{id:<58} {:>14}", human_time(*ns));
    }
    if rows.is_empty() {
        println!("(none)");
    }
    let text = fs::read_to_string(results).unwrap_or_default();
    println!(
        "\n{:<12} {:<44} {:>12} {:<12} goal",
        "scenario", "figure", "value", "unit"
    );
    let mut any = false;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        any = true;
        let field = |k: &str| json_field(line, k).unwrap_or_default();
        println!(
            "{:<12} {:<44} {:>12} {:<12} {}",
            field("bench"),
            field("metric"),
            field("value"),
            field("unit"),
            field("goal")
        );
    }
    if !any {
        println!("(none)");
    }
    Ok(())
}

fn collect_estimates(
    base: &Path,
    dir: &Path,
    since: SystemTime,
    rows: &mut Vec<(String, f64)>,
) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "report") {
                continue;
            }
            let estimates = path.join("new").join("estimates.json");
            let fresh = fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if fresh {
                let text = fs::read_to_string(&estimates)
                    .with_context(|| format!("reading {}", estimates.display()))?;
                if let Some(ns) = median_ns(&text) {
                    let id = path
                        .strip_prefix(base)
                        .unwrap_or(&path)
                        .display()
                        .to_string();
                    rows.push((id, ns));
                }
            }
            collect_estimates(base, &path, since, rows)?;
        }
    }
    Ok(())
}

/// The median point estimate (ns) from criterion's `estimates.json`.
fn median_ns(json: &str) -> Option<f64> {
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

/// A string or number field of a flat JSON object, without a JSON dependency.
fn json_field(line: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let rest = line[line.find(&pat)? + pat.len()..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(chars.next()?),
                c => out.push(c),
            }
        }
        None
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        let raw = rest[..end].trim();
        Some(match raw.parse::<f64>() {
            Ok(v) if v.abs() >= 100.0 => format!("{v:.0}"),
            Ok(v) => format!("{v:.3}"),
            Err(_) => raw.to_owned(),
        })
    }
}

fn human_time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.2} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_binary_is_named_apart_from_the_libraries() {
        let root = crate::project_root().unwrap();
        let manifest = fs::read_to_string(root.join("benches").join("Cargo.toml")).unwrap();
        for name in scenario_names(&root).unwrap() {
            let entry = format!(
                "name = \"{}\"\npath = \"src/bin/{name}.rs\"",
                binary_name(&name)
            );
            assert!(
                manifest.contains(&entry),
                "benches/Cargo.toml needs a [[bin]] entry `{entry}` for src/bin/{name}.rs"
            );
        }
    }

    #[test]
    fn criterion_medians_are_read() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.25,"standard_error":0.1}}"#;
        assert_eq!(median_ns(json), Some(1.25));
        assert_eq!(median_ns("{}"), None);
    }

    #[test]
    fn scenario_lines_are_read() {
        let line = r#"{"bench":"batcher","metric":"W1 \"throughput\"","value":12.3456,"unit":"M ops/s","goal":">= 10"}"#;
        assert_eq!(
            json_field(line, "metric").as_deref(),
            Some("W1 \"throughput\"")
        );
        assert_eq!(json_field(line, "value").as_deref(), Some("12.346"));
        assert_eq!(json_field(line, "goal").as_deref(), Some(">= 10"));
        assert_eq!(json_field(line, "missing"), None);
        assert_eq!(human_time(1500.0), "1.50 µs");
    }
}
