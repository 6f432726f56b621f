//! A batcher with several named resources holds each one to its own sliding window,
//! asks each limiter for what is enqueued in its resource, and names the resource when
//! it refuses an operation.

mod support;

use std::sync::Arc;
use std::time::Duration;

use batcher::{
    BatchMetadata, Batcher, BatcherError, EnqueueErrorKind, MAX_RESOURCES, Operation,
    ResourceCosts, Watcher,
};
use events_core::{EventName, RateLimiter};
use proptest::prelude::*;
use support::{
    Events, TestLimiter, collect, max_window_cost, reporting_watcher, windows, windows_of,
};
use tokio::time::Instant;

fn limiter(capacity: u32) -> Arc<dyn RateLimiter> {
    TestLimiter::new(capacity)
}

#[test]
fn resource_names_must_be_non_empty_distinct_and_few() {
    let err = |b: batcher::BatcherBuilder| b.build().unwrap_err();
    assert_eq!(
        err(Batcher::builder()
            .resource("bytes", limiter(1))
            .resource("bytes", limiter(1))),
        BatcherError::DuplicateResource { name: "bytes" }
    );
    let twice = err(Batcher::builder()
        .primary_resource("ru")
        .resource("ru", limiter(1)));
    assert_eq!(twice, BatcherError::DuplicateResource { name: "ru" });
    assert!(twice.to_string().contains("its own name"));
    assert_eq!(
        err(Batcher::builder().resource("", limiter(1))),
        BatcherError::EmptyResourceName
    );
    assert_eq!(
        err(Batcher::builder().primary_resource("")),
        BatcherError::EmptyResourceName
    );
    assert_eq!(
        err(Batcher::builder()
            .resource("", limiter(1))
            .resource("", limiter(1))),
        BatcherError::EmptyResourceName
    );
    const NAMES: [&str; MAX_RESOURCES] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let many = NAMES
        .iter()
        .fold(Batcher::builder(), |b, name| b.resource(name, limiter(1)));
    assert_eq!(
        err(many),
        BatcherError::TooManyResources {
            count: MAX_RESOURCES + 1,
            max: MAX_RESOURCES
        }
    );
    let batcher = Batcher::builder()
        .rate_limiter(limiter(5))
        .primary_resource("ru")
        .resource("bytes", limiter(7))
        .build()
        .unwrap();
    assert_eq!(batcher.resources().collect::<Vec<_>>(), ["ru", "bytes"]);
    assert_eq!(batcher.resource_limiter("bytes").unwrap().capacity(), 7);
    assert_eq!(batcher.resource_limiter("ru").unwrap().capacity(), 5);
    assert!(batcher.resource_limiter("cpu").is_none());
}

#[tokio::test(start_paused = true)]
async fn costs_are_checked_per_resource_and_a_refusal_names_the_resource() {
    let batcher = Batcher::builder()
        .rate_limiter(TestLimiter::with_max(10, 100))
        .primary_resource("ru")
        .resource("bytes", TestLimiter::with_max(10, 1_000))
        .build()
        .unwrap();
    let watcher = batcher.watcher(|_ops: Vec<Operation<&str>>| async {});
    let err = watcher
        .try_enqueue(Operation::new("big", 100).with_cost("bytes", 1_001))
        .unwrap_err();
    assert_eq!(
        err.kind(),
        EnqueueErrorKind::TooExpensive {
            resource: "bytes",
            cost: 1_001,
            max_capacity: 1_000
        }
    );
    assert!(err.to_string().contains("resource `bytes`"), "{err}");
    assert_eq!(err.into_operation().into_payload(), "big");
    let err = watcher
        .try_enqueue(Operation::new("big", 101).with_cost("bytes", 1))
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        EnqueueErrorKind::TooExpensive { resource: "ru", .. }
    ));
    // A misspelt resource, or the primary one by name, is not silently free.
    for name in ["byts", "ru"] {
        let err = watcher
            .enqueue(Operation::new("typo", 1).with_cost(name, 1))
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            EnqueueErrorKind::UnknownResource { resource: name }
        );
        assert_eq!(err.into_operation().cost_of(name), 1);
    }
    watcher
        .try_enqueue(Operation::new("ok", 100).with_cost("bytes", 1_000))
        .unwrap();
    watcher.try_enqueue(Operation::new("ru only", 3)).unwrap();
    assert_eq!(batcher.needs_capacity(), 103);
    assert_eq!(batcher.needs_capacity_of("ru"), Some(103));
    assert_eq!(batcher.needs_capacity_of("bytes"), Some(1_000));
    assert_eq!(batcher.needs_capacity_of("cpu"), None);
    let stopped = batcher.stop().await;
    assert_eq!(stopped.unsent, 2);
    assert_eq!(watcher.take_unsent().len(), 2);
    assert_eq!(batcher.needs_capacity_of("bytes"), Some(0));
}

/// 40 operations through a batcher whose primary resource allows `ru` per second and
/// whose "bytes" resource allows `bytes`; each op costs (`op_ru`, `op_bytes`).
async fn run_forty(ru: u32, bytes: u32, op_ru: u32, op_bytes: u32) -> Duration {
    let batcher = Batcher::builder()
        .rate_limiter(limiter(ru))
        .resource("bytes", limiter(bytes))
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(5));
    for i in 0..40u32 {
        let op = Operation::new(i, op_ru).with_cost("bytes", op_bytes);
        watcher.try_enqueue(op).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let delivered = collect(&mut rx, 40).await;
    assert!(max_window_cost(&windows(&delivered)) <= u64::from(ru));
    assert!(max_window_cost(&windows_of(&delivered, "bytes")) <= u64::from(bytes));
    let mut payloads: Vec<u32> = delivered.iter().flat_map(|d| d.payloads.clone()).collect();
    payloads.sort_unstable();
    assert_eq!(payloads, (0..40).collect::<Vec<_>>());
    batcher.stop().await;
    delivered.last().unwrap().at - t0
}

#[tokio::test(start_paused = true)]
async fn the_scarcer_resource_sets_the_pace_whichever_it_is() {
    // Bytes are scarce: 10 ops a second (a slice of 1 op per 100 ms tick).
    let took = run_forty(1_000, 100, 1, 10).await;
    assert_eq!(took, Duration::from_millis(3_900));
    // Request units are scarce, with the same numbers the other way round.
    let took = run_forty(100, 1_000, 10, 1).await;
    assert_eq!(took, Duration::from_millis(3_900));
    // Neither is scarce: everything leaves in the first slices.
    let took = run_forty(10_000, 10_000, 1, 1).await;
    assert!(took < Duration::from_millis(200), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_resource_may_be_limited_while_the_primary_one_is_not() {
    let batcher = Batcher::builder()
        .resource("bytes", limiter(100))
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(5));
    for i in 0..20u32 {
        // A primary cost with no primary limiter is unlimited.
        let op = Operation::new(i, 1_000_000).with_cost("bytes", 25);
        watcher.try_enqueue(op).unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let delivered = collect(&mut rx, 20).await;
    assert_eq!(max_window_cost(&windows_of(&delivered, "bytes")), 100);
    let last = delivered.last().unwrap().at - t0;
    assert!(last >= Duration::from_secs(4), "{last:?}");
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn each_limiter_is_asked_for_what_is_enqueued_in_its_resource() {
    // No capacity yet: nothing leaves, so the targets stay put.
    let ru = TestLimiter::with_max(0, 100);
    let bytes = TestLimiter::with_max(0, 100);
    let batcher = Batcher::builder()
        .rate_limiter(ru.clone())
        .primary_resource("ru")
        .resource("bytes", bytes.clone())
        .capacity_interval(Duration::from_millis(100))
        .emit_request(true)
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, _rx) = reporting_watcher::<u8>(&batcher, Watcher::builder());
    for _ in 0..3 {
        watcher
            .try_enqueue(Operation::new(0, 5).with_cost("bytes", 7))
            .unwrap();
    }
    watcher.try_enqueue(Operation::new(1, 2)).unwrap();
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(*ru.wanted.lock().unwrap(), vec![17, 17]);
    assert_eq!(*bytes.wanted.lock().unwrap(), vec![21, 21]);
    let requests: Vec<(i64, String)> = events
        .named(EventName::Request)
        .iter()
        .map(|e| (e.val(), e.msg().unwrap_or_default().to_owned()))
        .collect();
    let expected = [(17, "ru"), (21, "bytes")].map(|(v, n)| (v, n.to_owned()));
    assert_eq!(requests, [expected.clone(), expected].concat());
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn batch_events_carry_each_operations_cost_per_resource() {
    let batcher = Batcher::builder()
        .rate_limiter(limiter(100))
        .resource("bytes", limiter(100))
        .resource("cpu", limiter(100))
        .emit_batch(true)
        .build()
        .unwrap();
    let events = Events::on(batcher.emitter());
    let (watcher, mut rx) = reporting_watcher(&batcher, Watcher::builder());
    watcher
        .try_enqueue(Operation::new(0u8, 3).with_cost("bytes", 9))
        .unwrap();
    watcher
        .try_enqueue(Operation::new(1u8, 4).with_cost("cpu", 2))
        .unwrap();
    batcher.start().unwrap();
    collect(&mut rx, 2).await;
    let batch = events.named(EventName::Batch);
    let meta = batch[0].metadata::<BatchMetadata>().unwrap();
    let costs = |resource, costs: &[u32]| ResourceCosts {
        resource,
        costs: costs.to_vec(),
    };
    assert_eq!(
        meta.resources,
        vec![
            costs("primary", &[3, 4]),
            costs("bytes", &[9, 0]),
            costs("cpu", &[0, 2])
        ]
    );
    batcher.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_added_resource_is_charged_when_a_stream_consumer_receives() {
    let batcher = Batcher::builder()
        .resource("bytes", limiter(10))
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let (watcher, mut batches) = Watcher::builder().max_batch_size(1).stream::<u32>(&batcher);
    for i in 0..3 {
        watcher
            .try_enqueue(Operation::new(i, 0).with_cost("bytes", 10))
            .unwrap();
    }
    let t0 = Instant::now();
    batcher.start().unwrap();
    let mut at = Vec::new();
    let first = batches.next().await.unwrap();
    at.push(Instant::now() - t0);
    drop(first);
    // The consumer stalls: the second batch counts from when it is received, so the
    // third cannot follow it within the second.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 0..2 {
        let batch = batches.next().await.unwrap();
        at.push(Instant::now() - t0);
        drop(batch);
    }
    assert_eq!(at[0], Duration::ZERO);
    assert_eq!(at[1], Duration::from_secs(3));
    assert!(at[2] >= Duration::from_secs(4), "{at:?}");
    batcher.stop().await;
}

/// One random case: up to four resources (the primary one perhaps unlimited), ops with a
/// random cost in each spread over two watchers.
#[derive(Debug)]
struct Case {
    primary: Option<u32>,
    more: Vec<u32>,
    ops: Vec<Vec<u32>>,
    batch: usize,
    concurrent: Option<usize>,
}

const NAMES: [&str; 3] = ["bytes", "cpu", "disk"];

fn run_property(case: Case) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut builder = Batcher::builder();
        if let Some(c) = case.primary {
            builder = builder.rate_limiter(limiter(c));
        }
        for (name, c) in NAMES.iter().zip(&case.more) {
            builder = builder.resource(name, limiter(*c));
        }
        if let Some(n) = case.concurrent {
            builder = builder.max_concurrent_batches(n);
        }
        let batcher = builder.build().unwrap();
        let (a, mut rx_a) =
            reporting_watcher(&batcher, Watcher::builder().max_batch_size(case.batch));
        let (b, mut rx_b) = reporting_watcher(&batcher, Watcher::builder().max_batch_size(3));
        let mut counts = [0, 0];
        for (i, costs) in case.ops.iter().enumerate() {
            let mut op = Operation::new(i as u32, costs[0]).with_batchable(i % 7 != 3);
            for (name, cost) in NAMES.iter().zip(&costs[1..]) {
                if *cost > 0 || i % 2 == 0 {
                    op = op.with_cost(name, *cost);
                }
            }
            let second = i % 3 == 0;
            counts[usize::from(second)] += 1;
            if second { &b } else { &a }.try_enqueue(op).unwrap();
        }
        batcher.start().unwrap();
        let mut delivered = collect(&mut rx_a, counts[0]).await;
        delivered.extend(collect(&mut rx_b, counts[1]).await);
        delivered.sort_by_key(|d| d.at);
        let mut payloads: Vec<u32> = delivered.iter().flat_map(|d| d.payloads.clone()).collect();
        payloads.sort_unstable();
        prop_assert_eq!(payloads, (0..case.ops.len() as u32).collect::<Vec<_>>());
        prop_assert!(delivered.iter().all(|d| d.attempts.iter().all(|a| *a == 1)));
        if let Some(c) = case.primary {
            let max = max_window_cost(&windows(&delivered));
            prop_assert!(
                max <= u64::from(c),
                "primary: {} in a second, capacity {}",
                max,
                c
            );
        }
        for (name, c) in NAMES.iter().zip(&case.more) {
            let max = max_window_cost(&windows_of(&delivered, name));
            prop_assert!(
                max <= u64::from(*c),
                "{}: {} in a second, capacity {}",
                name,
                max,
                c
            );
        }
        batcher.stop().await;
        Ok(())
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::option::weighted(0.8, 1u32..200),
        prop::collection::vec(1u32..200, 1..=3),
        prop::collection::vec(prop::collection::vec(0u32..1_000, 4), 1..100),
        1usize..20,
        prop::option::of(1usize..4),
    )
        .prop_map(|(primary, more, raw, batch, concurrent)| {
            // Each cost within its resource's capacity, some of them zero.
            let caps: Vec<u32> = std::iter::once(primary.unwrap_or(1_000))
                .chain(more.iter().copied())
                .collect();
            let ops = raw
                .into_iter()
                .map(|costs| {
                    costs
                        .iter()
                        .zip(&caps)
                        .map(|(c, cap)| if c % 5 == 0 { 0 } else { c % (cap + 1) })
                        .collect()
                })
                .collect();
            Case {
                primary,
                more,
                ops,
                batch,
                concurrent,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random capacities and costs in up to four resources: no resource's window of
    /// callback starts ever holds more than its capacity, and every operation arrives
    /// exactly once.
    #[test]
    fn no_resource_window_exceeds_its_capacity_and_every_op_arrives_once(case in case()) {
        run_property(case)?;
    }
}
