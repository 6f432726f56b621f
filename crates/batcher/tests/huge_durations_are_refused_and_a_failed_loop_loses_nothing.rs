//! Durations the clock cannot add are refused with a typed error, and a loop that fails
//! still stops the batcher, ends every stream and hands back every operation.

mod support;

use std::sync::Arc;
use std::time::Duration;

use batcher::{Batcher, BatcherBuilder, BatcherError, MAX_DURATION, Operation, Watcher};
use events_core::{BoxFuture, Emitter, EventName, LimiterError, RateLimiter};

use support::{Events, next_within, reporting_watcher};

/// A builder method that sets a duration.
type Setter = fn(BatcherBuilder, Duration) -> BatcherBuilder;

fn setters() -> Vec<(&'static str, Setter)> {
    vec![
        ("flush_interval", BatcherBuilder::flush_interval),
        ("capacity_interval", BatcherBuilder::capacity_interval),
        ("audit_interval", BatcherBuilder::audit_interval),
        ("max_operation_time", BatcherBuilder::max_operation_time),
        ("pause_time", BatcherBuilder::pause_time),
        ("linger", BatcherBuilder::linger),
    ]
}

#[test]
fn every_duration_above_a_year_is_an_invalid_option() {
    for (name, set) in setters() {
        for huge in [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            MAX_DURATION + Duration::from_nanos(1),
        ] {
            match set(Batcher::builder(), huge).build() {
                Err(BatcherError::InvalidOption { option, reason }) => {
                    assert_eq!(option, name);
                    assert!(reason.contains("MAX_DURATION"), "{name}: {reason}");
                }
                other => panic!("{name} = {huge:?}: expected an invalid option, got {other:?}"),
            }
        }
        let message = set(Batcher::builder(), Duration::MAX)
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(name) && message.contains("at most"),
            "{message}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_year_is_accepted_and_runs_without_overflow() {
    let mut builder = Batcher::builder();
    for (_, set) in setters() {
        builder = set(builder, MAX_DURATION);
    }
    let batcher = builder.build().unwrap();
    // A watcher's own max operation time is capped at a year rather than refused.
    let (watcher, mut rx) = reporting_watcher::<u32>(
        &batcher,
        Watcher::builder().max_operation_time(Duration::MAX),
    );
    batcher.start().unwrap();
    batcher.pause();
    batcher.pause();
    watcher.try_enqueue(Operation::new(1, 1)).unwrap();
    tokio::time::advance(Duration::from_secs(3600)).await;
    // Paused for a year: nothing goes, nothing panics, and stop ends it all.
    assert!(rx.try_recv().is_err());
    let stopped = batcher.stop().await;
    assert_eq!(stopped.unsent, 1);
    assert_eq!(watcher.take_unsent()[0].payload(), &1);
}

#[tokio::test(start_paused = true)]
async fn the_longest_linger_and_flush_still_deliver_on_flush() {
    let batcher = Batcher::builder()
        .flush_interval(MAX_DURATION)
        .linger(MAX_DURATION)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher::<u32>(&batcher, Watcher::builder());
    batcher.start().unwrap();
    watcher.try_enqueue(Operation::new(5, 1)).unwrap();
    batcher.flush();
    let d = next_within(&mut rx, Duration::from_secs(1)).await;
    assert_eq!(d.payloads, vec![5]);
    batcher.stop().await;
}

/// A limiter whose capacity read panics, as a buggy limiter might.
#[derive(Debug)]
struct PanickingLimiter(Emitter);

impl RateLimiter for PanickingLimiter {
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async { Ok(()) })
    }
    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async { Ok(()) })
    }
    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async { Ok(()) })
    }
    fn max_capacity(&self) -> u32 {
        100
    }
    fn capacity(&self) -> u32 {
        panic!("this limiter is broken")
    }
    fn give_me(&self, _target: u32) {}
    fn emitter(&self) -> &Emitter {
        &self.0
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_loop_stops_the_batcher_ends_streams_and_keeps_every_operation() {
    let batcher = Batcher::builder()
        .rate_limiter(Arc::new(PanickingLimiter(Emitter::new("broken"))))
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let mut subscription = batcher.emitter().subscribe();
    let (watcher, mut batches) = Watcher::builder().stream::<u32>(&batcher);
    for i in 0..5 {
        watcher.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    // The dispatcher's first pass reads the capacity and panics: the stream ends.
    let end = tokio::time::timeout(Duration::from_secs(5), batches.next()).await;
    assert!(matches!(end, Ok(None)), "the stream ended");
    assert!(batcher.is_stopped());
    let error = events.named(EventName::Error);
    assert_eq!(error.len(), 1);
    assert!(error[0].msg().unwrap().contains("dispatch loop panicked"));
    assert_eq!(events.count(EventName::Shutdown), 1);
    let refused = watcher.try_enqueue(Operation::new(9, 1)).unwrap_err();
    assert!(refused.is_stopped());

    let stopped = batcher.stop().await;
    assert_eq!((stopped.unsent, stopped.inflight), (5, 0));
    let mut back: Vec<u32> = watcher
        .take_unsent()
        .into_iter()
        .map(|o| o.into_payload())
        .collect();
    back.sort_unstable();
    assert_eq!(back, vec![0, 1, 2, 3, 4]);
    // The event stream yields the error and the shutdown, then ends.
    let mut seen = Vec::new();
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = subscription.next().await {
            seen.push(e.unwrap().name());
        }
    })
    .await;
    assert!(drained.is_ok(), "the event stream ended");
    assert_eq!(seen, vec![EventName::Error, EventName::Shutdown]);
}
