//! Demand five times the capacity: the backlog grows, the delivered cost stays at the
//! capacity, and at the end what is still queued is handed back and counted.

mod support;

use std::time::Duration;

use support::{Demo, first_number, out_dir, row};

#[test]
fn overload_hands_back_the_backlog_and_exits_green() {
    let out = out_dir("overload");
    let demo = Demo::start(&[
        "--capacity",
        "200",
        "--rate",
        "1000",
        "--duration",
        "3",
        "--drain",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (status, stdout) = demo.finish(Duration::from_secs(60));
    assert!(status.success(), "exit {status}; stdout:\n{stdout}");
    assert!(
        stdout.contains("result: capacity never exceeded, every event accounted for"),
        "{stdout}"
    );

    let emitted = first_number(row(&stdout, "BBS events emitted"));
    let received = row(&stdout, "events received");
    assert_eq!(received, format!("{emitted} of {emitted} sent"));
    let enqueued = first_number(row(&stdout, "operations enqueued"));
    let delivered = first_number(row(&stdout, "operations delivered"));
    let handed_back = first_number(row(&stdout, "handed back at stop"));
    assert_eq!(
        enqueued, emitted,
        "nothing refused with a buffer sized for the run"
    );
    assert!(handed_back > 0, "five times the capacity leaves a backlog");
    assert_eq!(enqueued, delivered + handed_back);
    // The window is full but never over the limit.
    let max = first_number(row(&stdout, "max cost in any 1-s window"));
    assert!((150..=200).contains(&max), "max window {max}");
    assert!(row(&stdout, "traffic / drain / total").starts_with("3.0 s / 1.0 s"));

    let svg = out.join("capacity.svg");
    assert!(stdout.contains(&format!("plot: {}", svg.display())));
    let plot = std::fs::read_to_string(&svg).expect("the plot is written");
    assert!(plot.starts_with("<svg"));
    assert!(plot.contains("capacity 200/s, mean rate 1000 events/s"));
    for series in [
        "delivered in the last second",
        "demand",
        "backlog",
        "limit 200",
    ] {
        assert!(plot.contains(series), "the plot has no {series:?} series");
    }
    let _ = std::fs::remove_dir_all(&out);
}
