//! On tokio's paused clock: after an abrupt drop the first reconnect waits the stream's `retry:`
//! interval, and failed attempts back off exponentially (minus at most a fifth of jitter).

#[path = "support/stream.rs"]
mod support;

use std::time::Duration;

use bbs_events::client::{Client, Resync, StreamItem, SubscriptionError};
use tokio::time::Instant;

const SENTINEL: &str = "CjQSJDM1ZTYzMzliLTllNDYtNWFjNS1hOTBlLTE3OGY5MmU1ZTgzORoKYWNtZS1iYXRjaDgE";

fn assert_between(what: &str, got: Duration, nominal_ms: u64) {
    let nominal = Duration::from_millis(nominal_ms);
    assert!(
        got >= nominal.mul_f64(0.8) && got <= nominal + Duration::from_millis(50),
        "{what}: waited {got:?}, expected {nominal:?} minus at most 20 % jitter"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_field_sets_the_first_delay_and_failures_double_it() {
    let (addr, mut conns) = support::raw_server().await;
    let client = Client::builder(&format!("http://{addr}"))
        // No connect timer may fire while the clock jumps.
        .connect_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let (sub, mut first) = tokio::join!(client.subscribe_to_task_events(), async {
        let mut conn = conns.recv().await.unwrap();
        conn.write(support::BBS_HEAD).await;
        conn
    });
    let mut sub = sub.unwrap();
    first
        .write(&support::bbs_chunk(
            format!("retry: 3000\n\nid: 0\nevent: task_removed\ndata: {SENTINEL}\n\n").as_bytes(),
        ))
        .await;
    assert_eq!(support::event(sub.next().await).id.as_deref(), Some("0"));

    let server = async {
        // Abrupt drop: no terminating chunk.
        drop(first);
        let dropped = Instant::now();
        let mut arrivals = Vec::new();
        for _ in 0..2 {
            let mut conn = conns.recv().await.unwrap();
            arrivals.push(Instant::now());
            conn.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
        let mut conn = conns.recv().await.unwrap();
        arrivals.push(Instant::now());
        assert_eq!(conn.header("last-event-id").as_deref(), Some("0"));
        conn.write(support::BBS_HEAD).await;
        conn.write(support::LAST_CHUNK).await;
        (dropped, arrivals, conn)
    };
    let (notice, (dropped, arrivals, _conn)) = tokio::join!(sub.next(), server);
    assert!(
        matches!(notice, Ok(StreamItem::Resync(Resync { attempts: 3, .. }))),
        "{notice:?}"
    );
    assert_between("first reconnect", arrivals[0] - dropped, 3000);
    assert_between("after one failure", arrivals[1] - arrivals[0], 6000);
    assert_between("after two failures", arrivals[2] - arrivals[1], 12000);
    assert!(matches!(
        sub.next().await,
        Err(SubscriptionError::EndOfStream)
    ));
}
