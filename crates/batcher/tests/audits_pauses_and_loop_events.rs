//! The audit, pause and capacity loops and the events they raise.

mod support;

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use events_core::EventName;
use support::{Events, TestLimiter, next_within, nothing_within, reporting_watcher};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn an_idle_consistent_batcher_passes_its_audit() {
    let batcher = Batcher::builder()
        .audit_interval(Duration::from_secs(1))
        .max_operation_time(Duration::from_secs(2))
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(events.count(EventName::AuditPass), 3);
    assert_eq!(events.count(EventName::AuditFail), 0);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_recent_batch_or_a_busy_buffer_skips_the_audit() {
    let batcher = Batcher::builder()
        .audit_interval(Duration::from_secs(1))
        .max_operation_time(Duration::from_secs(5))
        .rate_limiter(TestLimiter::with_max(0, 10))
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, _rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    watcher.try_enqueue(Operation::new(1, 1)).unwrap();
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(events.count(EventName::AuditSkip), 2);
    assert_eq!(events.count(EventName::AuditPass), 0);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_never_marked_done_fails_the_audit_and_resets_the_target() {
    let batcher = Batcher::builder()
        .audit_interval(Duration::from_secs(1))
        .max_operation_time(Duration::from_secs(3))
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut batches) = Watcher::builder().stream::<u8>(&batcher);
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 7)).await.unwrap();
    let batch = batches.next().await.unwrap();
    // A leaked guard is the accounting bug the audit exists for.
    std::mem::forget(batch);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(events.count(EventName::AuditSkip), 2);
    assert_eq!(batcher.needs_capacity(), 7);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fail = events.named(EventName::AuditFail);
    assert_eq!(fail.len(), 1);
    assert_eq!(fail[0].val(), 7);
    assert!(fail[0].msg().unwrap().contains("reset to 0"));
    assert_eq!((batcher.needs_capacity(), batcher.inflight()), (0, 0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(events.count(EventName::AuditPass), 1);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pause_holds_everything_for_the_pause_time_then_resumes() {
    let limiter = TestLimiter::new(1_000);
    let batcher = Batcher::builder()
        .pause_time(Duration::from_millis(700))
        .rate_limiter(limiter.clone())
        .emit_request(true)
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t0 = Instant::now();
    batcher.pause();
    watcher.enqueue(Operation::new(1, 1)).await.unwrap();
    let requests_before = events.count(EventName::Request);
    nothing_within(&mut rx, Duration::from_millis(650)).await;
    assert_eq!(
        events.count(EventName::Request),
        requests_before,
        "no capacity asks while paused"
    );
    let got = next_within(&mut rx, Duration::from_millis(100)).await;
    assert_eq!(got.at - t0, Duration::from_millis(700));
    let pause = events.named(EventName::Pause);
    assert_eq!((pause.len(), pause[0].val()), (1, 700));
    assert_eq!(events.count(EventName::Resume), 1);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn request_events_report_the_target_every_capacity_interval() {
    let limiter = TestLimiter::with_max(0, 100);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .capacity_interval(Duration::from_millis(250))
        .emit_request(true)
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, _rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    for _ in 0..3 {
        watcher.try_enqueue(Operation::new(0, 5)).unwrap();
    }
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let requests: Vec<i64> = events
        .named(EventName::Request)
        .iter()
        .map(|e| e.val())
        .collect();
    assert_eq!(requests, vec![15; 4]);
    assert_eq!(*limiter.wanted.lock().unwrap(), vec![15; 4]);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn flush_events_report_the_buffer_and_what_was_released() {
    let batcher = Batcher::builder().emit_flush(true).build().unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    for i in 0..3 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    next_within(&mut rx, Duration::from_millis(150)).await;
    let starts = events.named(EventName::FlushStart);
    let dones = events.named(EventName::FlushDone);
    assert_eq!(starts[0].val(), 3);
    assert_eq!(dones[0].val(), 3);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn events_stay_quiet_unless_enabled() {
    let batcher = Batcher::builder()
        .rate_limiter(TestLimiter::new(100))
        .audit_interval(Duration::from_secs(100))
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    watcher.try_enqueue(Operation::new(0, 1)).unwrap();
    batcher.start().unwrap();
    next_within(&mut rx, Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    batcher.stop().await;
    assert_eq!(events.names(), vec![EventName::Shutdown]);
}
