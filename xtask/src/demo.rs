//! `cargo xtask demo`: builds the demo with cargo's progress shown, then runs it (with a
//! local Azurite for `--limiter azure`) and exits with the demo's own status.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};

use crate::azurite::Azurite;
use crate::cmd;

pub(crate) fn run(root: &Path, args: &[String]) -> Result<ExitCode> {
    let wants_azure = args
        .windows(2)
        .any(|w| w[0] == "--limiter" && w[1] == "azure")
        || args.iter().any(|a| a == "--limiter=azure");
    let binary = build()?;
    let mut demo = Command::new(binary);
    demo.args(args).current_dir(root);
    if !wants_azure {
        return exec(demo);
    }
    let azurite = Azurite::start(root)?;
    azurite.configure(&mut demo);
    let status = demo
        .status()
        .with_context(|| format!("could not start the demo ({demo:?})"))?;
    drop(azurite);
    Ok(exit_code(status))
}

/// Builds the demo example, letting cargo show its progress, and returns its path.
fn build() -> Result<PathBuf> {
    eprintln!(
        "xtask: building the demo (the first run compiles the workspace and takes a few minutes)"
    );
    let mut cargo = cmd::cargo();
    cargo
        .args([
            "build",
            "--package",
            "flowgate",
            "--example",
            "demo",
            "--features",
            "metrics",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let output = cargo
        .output()
        .with_context(|| format!("could not start cargo ({cargo:?})"))?;
    if !output.status.success() {
        bail!("building the demo failed ({})", output.status);
    }
    executable(&String::from_utf8_lossy(&output.stdout))
        .context("cargo did not report the demo's executable")
}

/// The demo's executable, from cargo's JSON messages.
fn executable(messages: &str) -> Option<PathBuf> {
    const KEY: &str = "\"executable\":\"";
    let line = messages
        .lines()
        .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("\"name\":\"demo\""))
        .find(|l| l.contains(KEY))?;
    let start = line.find(KEY)? + KEY.len();
    let end = start + line[start..].find('"')?;
    Some(PathBuf::from(line[start..end].replace("\\\\", "\\")))
}

/// Runs the demo in place of xtask, so that its exit status and signals (Ctrl-C,
/// SIGTERM) are the demo's own.
#[cfg(unix)]
fn exec(mut demo: Command) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let err = demo.exec();
    Err(err).with_context(|| format!("could not start the demo ({demo:?})"))
}

#[cfg(not(unix))]
fn exec(mut demo: Command) -> Result<ExitCode> {
    let status = demo
        .status()
        .with_context(|| format!("could not start the demo ({demo:?})"))?;
    Ok(exit_code(status))
}

/// The same exit status as the child's (1 when it died from a signal).
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_is_read_from_the_artifact_message() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"flowgate"},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"kind":["example"],"name":"demo"},"executable":"/t/debug/examples/demo"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        assert_eq!(
            executable(messages),
            Some(PathBuf::from("/t/debug/examples/demo"))
        );
        assert_eq!(executable("{}"), None);
    }

    #[test]
    fn the_exit_status_is_passed_through() {
        let status = Command::new("sh").args(["-c", "exit 2"]).status().unwrap();
        assert_eq!(exit_code(status), ExitCode::from(2));
    }
}
