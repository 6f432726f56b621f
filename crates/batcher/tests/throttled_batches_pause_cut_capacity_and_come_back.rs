//! The feedback path: a batch reported throttled pauses the batcher (at least the
//! datastore's retry-after), cuts an adaptive capacity, and its operations come back for
//! another attempt, delivered exactly once or handed back after max attempts.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{
    AdaptiveCapacity, Batcher, CapacityChange, EnqueueErrorKind, ExponentialPause, Feedback,
    Operation, PauseInfo, PausePolicy, PauseReason, Watcher,
};
use events_core::EventName;
use support::{Events, TestLimiter, eventually};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

/// A datastore that throttles every operation's first `throttles` attempts, answering
/// with a retry-after, and records what it accepted and when.
#[derive(Default)]
struct Store {
    throttles: u32,
    accepted: Mutex<Vec<(Instant, u32)>>,
    calls: Mutex<Vec<Instant>>,
}

impl Store {
    /// Writes a batch: `Err(retry-after)` if any operation is still to be throttled.
    fn write(&self, batch: &[Operation<u32>]) -> Result<(), Duration> {
        let now = Instant::now();
        self.calls.lock().unwrap().push(now);
        if batch.iter().any(|op| op.attempts() <= self.throttles) {
            return Err(MS * 300);
        }
        let mut accepted = self.accepted.lock().unwrap();
        accepted.extend(batch.iter().map(|op| (now, *op.payload())));
        Ok(())
    }

    fn accepted_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.accepted.lock().unwrap().iter().map(|a| a.1).collect();
        ids.sort_unstable();
        ids
    }
}

#[tokio::test(start_paused = true)]
async fn a_throttled_callback_batch_pauses_for_the_retry_after_and_is_delivered_once() {
    let batcher = Batcher::builder().pause_time(MS * 100).build().unwrap();
    let events = Events::on(batcher.emitter());
    let store = Arc::new(Store {
        throttles: 1,
        ..Store::default()
    });
    let s = store.clone();
    let watcher = Watcher::builder()
        .max_batch_size(5)
        .max_attempts(3)
        .callback_with_feedback(&batcher, move |batch, mut feedback: Feedback<u32>| {
            let s = s.clone();
            async move {
                if let Err(retry_after) = s.write(&batch) {
                    feedback.throttled(Some(retry_after));
                    assert!(feedback.retry(batch).is_empty(), "room and attempts left");
                }
            }
        });
    batcher.start().unwrap();
    for id in 0..10 {
        watcher.enqueue(Operation::new(id, 1)).await.unwrap();
    }
    eventually(Duration::from_secs(5), || store.accepted_ids().len() == 10).await;
    assert_eq!(
        store.accepted_ids(),
        (0..10).collect::<Vec<_>>(),
        "each once"
    );

    // The first write was throttled: the pause is the retry-after (above the fixed
    // 100 ms), and nothing reached the store during it.
    let pause = events.named(EventName::Pause)[0].clone();
    let info = *pause.metadata::<PauseInfo>().unwrap();
    assert_eq!(
        (info.reason, info.pause),
        (PauseReason::Throttled, MS * 300)
    );
    assert_eq!(pause.val(), 300);
    assert_eq!(pause.msg(), Some("throttled; retry-after 300ms"));
    assert!(events.count(EventName::Throttled) >= 1);
    assert_eq!(events.named(EventName::Throttled)[0].val(), 300);
    let first = store.calls.lock().unwrap()[0];
    let accepted_at = store.accepted.lock().unwrap()[0].0;
    assert!(
        accepted_at >= first + MS * 300,
        "waited out the retry-after"
    );
    assert!(events.count(EventName::Resume) >= 1);
    let stopped = batcher.stop().await;
    assert_eq!((stopped.unsent, stopped.inflight), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn stream_operations_throttled_every_time_are_handed_back_after_max_attempts() {
    let batcher = Batcher::builder().pause_time(MS * 10).build().unwrap();
    let (watcher, mut batches) = Watcher::builder()
        .max_batch_size(4)
        .max_attempts(3)
        .stream(&batcher);
    batcher.start().unwrap();
    for id in 0..8u32 {
        watcher.enqueue(Operation::new(id, 1)).await.unwrap();
    }
    // Every attempt is throttled; each operation comes back until its third attempt.
    let mut seen: HashMap<u32, u32> = HashMap::new();
    let mut given_up = Vec::new();
    while given_up.len() < 8 {
        let mut batch = tokio::time::timeout(Duration::from_secs(5), batches.next())
            .await
            .expect("a batch in time")
            .expect("the stream runs");
        for op in batch.iter() {
            let n = seen.entry(*op.payload()).or_default();
            *n += 1;
            assert_eq!(op.attempts(), *n, "attempts are counted per hand-out");
        }
        batch.throttled(None);
        for refused in batch.retry() {
            assert_eq!(
                refused.kind(),
                EnqueueErrorKind::TooManyAttempts {
                    attempts: 3,
                    max_attempts: 3
                }
            );
            given_up.push(refused.into_operation().into_payload());
        }
    }
    given_up.sort_unstable();
    assert_eq!(
        given_up,
        (0..8).collect::<Vec<_>>(),
        "each handed back once"
    );
    assert!(seen.values().all(|&n| n == 3));
    assert_eq!(batcher.operations_in_buffer(), 0);
    batcher.stop().await;
    assert!(batches.next().await.is_none(), "nothing else was left");
}

#[tokio::test(start_paused = true)]
async fn only_the_throttled_operations_of_a_batch_go_again() {
    let batcher = Batcher::builder()
        .pause_time(Duration::ZERO)
        .build()
        .unwrap();
    let (watcher, mut batches) = Watcher::builder().max_batch_size(4).stream(&batcher);
    batcher.start().unwrap();
    for id in 0..4u32 {
        watcher.enqueue(Operation::new(id, 1)).await.unwrap();
    }
    let mut batch = batches.next().await.unwrap();
    batch.throttled(None);
    let (ops, feedback) = batch.into_parts();
    let (odd, even): (Vec<_>, Vec<_>) = ops.into_iter().partition(|op| op.payload() % 2 == 1);
    assert!(feedback.retry(odd).is_empty());
    drop(even);
    let again = tokio::time::timeout(Duration::from_secs(1), batches.next())
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<u32> = again.iter().map(|op| *op.payload()).collect();
    assert_eq!(ids, vec![1, 3]);
    assert!(again.iter().all(|op| op.attempts() == 2));
    drop(again);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn exponential_pauses_grow_through_the_batcher_and_retry_after_is_the_floor() {
    let policy = PausePolicy::Exponential(
        ExponentialPause::new(MS * 100, MS * 400)
            .jitter(0.0)
            .reset_after(Duration::from_secs(5)),
    );
    let batcher = Batcher::builder().pause_policy(policy).build().unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut batches) = Watcher::builder().max_batch_size(1).stream(&batcher);
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(0u32, 1)).await.unwrap();
    let mut retry_after = None;
    for round in 0..5 {
        let mut batch = batches.next().await.unwrap();
        if round == 4 {
            retry_after = Some(MS * 900);
        }
        batch.throttled(retry_after);
        assert!(batch.retry().is_empty());
    }
    let lengths: Vec<i64> = events
        .named(EventName::Pause)
        .iter()
        .map(|e| e.val())
        .collect();
    assert_eq!(lengths, vec![100, 200, 400, 400, 900]);
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn throttling_cuts_the_effective_capacity_and_success_raises_it_back() {
    let limiter = TestLimiter::new(1_000);
    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .pause_time(Duration::ZERO)
        .adaptive_capacity(AdaptiveCapacity::new().decrease(0.5).increase(0.25))
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut batches) = Watcher::builder().max_batch_size(10).stream(&batcher);
    batcher.start().unwrap();
    assert_eq!(batcher.effective_capacity(), Some(1_000));
    watcher.enqueue(Operation::new(0u32, 10)).await.unwrap();
    batcher.flush();
    let mut batch = batches.next().await.unwrap();
    batch.throttled(None);
    assert!(batch.retry().is_empty());
    assert_eq!(batcher.effective_capacity(), Some(500));
    let cut = events.named(EventName::CapacityCut);
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].val(), 500);
    let change = *cut[0].metadata::<CapacityChange>().unwrap();
    assert_eq!(
        (change.old, change.new, change.limiter),
        (1_000, 500, 1_000)
    );

    // Written without throttling from now on: +250 a second back to the limiter's.
    let writer = tokio::spawn(async move {
        while let Some(batch) = batches.next().await {
            drop(batch);
        }
    });
    let w = watcher.clone();
    let producer = tokio::spawn(async move {
        for id in 1..=40u32 {
            if w.enqueue(Operation::new(id, 10)).await.is_err() {
                break;
            }
            tokio::time::sleep(MS * 100).await;
        }
    });
    eventually(Duration::from_secs(5), || {
        batcher.effective_capacity() == Some(1_000)
    })
    .await;
    let raised: Vec<i64> = events
        .named(EventName::CapacityRaise)
        .iter()
        .map(|e| e.val())
        .collect();
    assert_eq!(raised, vec![750, 1_000]);
    // Never above the limiter's capacity, which may fall.
    limiter.set_capacity(600);
    assert_eq!(batcher.effective_capacity(), Some(600));
    producer.await.unwrap();
    batcher.stop().await;
    writer.await.unwrap();
}

#[test]
fn pause_policies_and_adaptive_capacities_are_checked_with_typed_errors() {
    use batcher::BatcherError;
    let invalid = |b: batcher::BatcherBuilder| match b.build() {
        Err(BatcherError::InvalidOption { option, reason }) => (option, reason),
        other => panic!("expected an invalid option, got {other:?}"),
    };
    let zero = PausePolicy::Exponential(ExponentialPause::new(Duration::ZERO, MS));
    assert_eq!(
        invalid(Batcher::builder().pause_policy(zero)).0,
        "pause_policy"
    );
    let huge = PausePolicy::Exponential(ExponentialPause::new(MS, Duration::MAX));
    let (option, reason) = invalid(Batcher::builder().pause_policy(huge));
    assert_eq!(option, "pause_policy");
    assert!(reason.contains("MAX_DURATION"), "{reason}");
    let (option, reason) = invalid(
        Batcher::builder()
            .rate_limiter(TestLimiter::new(10))
            .adaptive_capacity(AdaptiveCapacity::new().decrease(1.5)),
    );
    assert_eq!(option, "adaptive_capacity");
    assert!(reason.contains("decrease"), "{reason}");
    let (option, _) = invalid(Batcher::builder().adaptive_capacity(AdaptiveCapacity::new()));
    assert_eq!(option, "adaptive_capacity");
}

#[tokio::test(start_paused = true)]
async fn callback_batches_written_after_a_throttle_raise_the_capacity_back() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let batcher = Batcher::builder()
        .rate_limiter(TestLimiter::new(1_000))
        .pause_time(Duration::ZERO)
        .adaptive_capacity(AdaptiveCapacity::new().decrease(0.5).increase(0.5))
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let first = Arc::new(AtomicBool::new(true));
    let f = first.clone();
    let watcher = Watcher::builder().callback_with_feedback(
        &batcher,
        move |batch: Vec<Operation<u32>>, mut feedback: Feedback<u32>| {
            let f = f.clone();
            async move {
                if f.swap(false, Ordering::SeqCst) {
                    feedback.throttled(None);
                    assert!(feedback.retry(batch).is_empty());
                }
            }
        },
    );
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(0, 10)).await.unwrap();
    eventually(Duration::from_secs(1), || {
        events.count(EventName::CapacityCut) == 1
    })
    .await;
    assert_eq!(batcher.effective_capacity(), Some(500));
    // The retried operation and later ones are written: one interval later, back up.
    for id in 1..30 {
        watcher.enqueue(Operation::new(id, 10)).await.unwrap();
        tokio::time::sleep(MS * 100).await;
    }
    assert_eq!(batcher.effective_capacity(), Some(1_000));
    assert_eq!(events.count(EventName::CapacityRaise), 1);
    batcher.stop().await;
}
