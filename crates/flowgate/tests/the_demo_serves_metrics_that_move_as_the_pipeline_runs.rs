//! `--metrics ADDR` serves Prometheus metrics over HTTP; scraped twice while the demo
//! runs, the counters have moved and the gauges describe the pipeline.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use support::{Demo, out_dir, value};

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One plain HTTP/1.1 GET of `/metrics`, the body as text.
fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the endpoint listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[test]
fn counters_move_and_gauges_describe_the_pipeline() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let out = out_dir("metrics");
    let mut demo = Demo::start(&[
        "--duration",
        "5",
        "--drain",
        "1",
        "--capacity",
        "200",
        "--rate",
        "400",
        "--metrics",
        &addr,
        "--out",
        out.to_str().unwrap(),
    ]);
    demo.wait_for_line(Duration::from_secs(30), |l| {
        l == format!("metrics: http://{addr}/metrics")
    });
    demo.wait_for_line(Duration::from_secs(30), |l| l.starts_with("t="));
    let first = scrape(port);
    demo.wait_for_line(Duration::from_secs(30), |l| l.starts_with("t="));
    demo.wait_for_line(Duration::from_secs(30), |l| l.starts_with("t="));
    let second = scrape(port);

    let i = r#"{instance="0"}"#;
    for counter in [
        format!("flowgate_batcher_released_cost_total{i}"),
        r#"flowgate_batcher_batches_total{instance="0",watcher="callback"}"#.to_owned(),
        "flowgate_bbs_server_emitted_total".to_owned(),
        "flowgate_bbs_server_delivered_total".to_owned(),
        r#"flowgate_events_total{instance="0",component="batcher",event="batch"}"#.to_owned(),
    ] {
        let (a, b) = (value(&first, &counter), value(&second, &counter));
        assert!(b > a, "{counter} did not move: {a} then {b}");
    }
    assert_eq!(
        value(&second, &format!("flowgate_limiter_capacity{i}")),
        200.0
    );
    assert_eq!(
        value(&second, &format!("flowgate_limiter_max_capacity{i}")),
        200.0
    );
    assert_eq!(
        value(&second, &format!("flowgate_batcher_window_capacity{i}")),
        200.0
    );
    assert_eq!(value(&second, "flowgate_bbs_server_subscribers"), 1.0);
    assert_eq!(
        value(&second, "flowgate_bbs_server_slow_cutoffs_total"),
        0.0
    );
    let window = value(&second, &format!("flowgate_batcher_window_cost{i}"));
    assert!((0.0..=200.0).contains(&window), "window {window}");
    // Twice the capacity on average: a backlog builds.
    assert!(value(&second, &format!("flowgate_batcher_needs_capacity{i}")) > 0.0);
    let received: f64 = second
        .lines()
        .filter(|l| l.starts_with(r#"flowgate_bbs_client_events_total{instance="0",type="#))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(received > 0.0);

    let (status, stdout) = demo.finish(Duration::from_secs(60));
    assert!(status.success(), "exit {status}; stdout:\n{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_metrics_address_off_loopback_is_refused() {
    let demo = Demo::start(&["--metrics", "0.0.0.0:9464", "--duration", "1"]);
    let (status, _) = demo.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
}
