//! SIGTERM and SIGINT end the demo's traffic early with a full summary; invalid
//! arguments exit 2 with a message that names them.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Demo, demo_binary, out_dir};

#[cfg(unix)]
fn stops_on(signal: &str) {
    let out = out_dir(&format!("signal-{signal}"));
    let mut demo = Demo::start(&["--duration", "120", "--out", out.to_str().unwrap()]);
    // Off a terminal, the demo prints a progress line every second once traffic runs.
    demo.wait_for_line(Duration::from_secs(30), |l| l.starts_with("t="));
    let pid = demo.child.id().to_string();
    let kill = Command::new("kill").args(["-s", signal, &pid]).status();
    assert!(kill.expect("kill runs").success());
    let (status, stdout) = demo.finish(Duration::from_secs(30));
    assert!(status.success(), "exit {status}; stdout:\n{stdout}");
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    assert!(
        stdout.contains("result: capacity never exceeded, every event accounted for"),
        "{stdout}"
    );
    assert!(out.join("capacity.svg").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[cfg(unix)]
#[test]
fn sigterm_ends_the_run_with_its_summary() {
    stops_on("TERM");
}

#[cfg(unix)]
#[test]
fn sigint_ends_the_run_with_its_summary() {
    stops_on("INT");
}

#[test]
fn invalid_arguments_exit_2_naming_the_value() {
    for (args, message) in [
        (&["--rate", "-3"][..], "-3 is not in 1..=1000000"),
        (&["--duration", "0"][..], "0 is not in 1..=3600"),
        (&["--capacity", "5"][..], "5 is not in 10.."),
    ] {
        let output = Command::new(demo_binary()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
