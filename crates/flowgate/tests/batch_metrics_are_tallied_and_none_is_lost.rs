//! The batcher bridge tallies batch events and publishes the tally on the first batch of
//! each millisecond, on every sample and at shutdown: a lone batch shows at once, a burst
//! shows whole after a sample or after the batcher stops, and nothing is counted twice.

#![cfg(all(feature = "metrics", feature = "batcher", feature = "provisioned"))]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate::batcher::{BatchMetadata, OperationInfo, ResourceCosts, WatcherKind};
use flowgate::events::EventName;
use flowgate::metrics::{BatcherMetrics, Sample};
use flowgate::prelude::*;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use support::{value, with_recorder};

/// What the bridge has published: batch events, callback and stream batches, operations,
/// cost, the bytes resource's cost, and the window gauge.
fn published(handle: &PrometheusHandle) -> [f64; 7] {
    let body = handle.render();
    let l = r#"{instance="3"}"#;
    [
        value(
            &body,
            r#"flowgate_events_total{instance="3",component="batcher",event="batch"}"#,
        ),
        value(
            &body,
            r#"flowgate_batcher_batches_total{instance="3",watcher="callback"}"#,
        ),
        value(
            &body,
            r#"flowgate_batcher_batches_total{instance="3",watcher="stream"}"#,
        ),
        value(
            &body,
            &format!("flowgate_batcher_released_operations_total{l}"),
        ),
        value(&body, &format!("flowgate_batcher_released_cost_total{l}")),
        value(
            &body,
            r#"flowgate_batcher_resource_released_cost_total{instance="3",resource="bytes"}"#,
        ),
        value(&body, &format!("flowgate_batcher_window_cost{l}")),
    ]
}

/// Raises a batch event of `ops` operations of cost 2 (and 5 bytes each) on `batcher`'s
/// emitter, as the batcher would.
fn raise(batcher: &Batcher, kind: WatcherKind, ops: usize) {
    let meta = BatchMetadata {
        watcher: 1,
        kind,
        operations: vec![
            OperationInfo {
                cost: 2,
                attempts: 1,
                batchable: true,
            };
            ops
        ],
        resources: vec![
            ResourceCosts {
                resource: "primary",
                costs: vec![2; ops],
            },
            ResourceCosts {
                resource: "bytes",
                costs: vec![5; ops],
            },
        ],
    };
    batcher
        .emitter()
        .emit_with(EventName::Batch, ops as i64, |e| {
            e.with_static_msg(kind.as_str()).with_metadata(meta)
        });
}

#[test]
fn a_lone_batch_shows_at_once_and_a_burst_shows_whole_after_a_sample_or_a_stop() {
    with_recorder(
        PrometheusBuilder::new().build_recorder(),
        |handle| async move {
            let bytes = Arc::new(ProvisionedResource::new(1_000_000));
            let batcher = Batcher::builder()
                .resource("bytes", bytes)
                .emit_batch(true)
                .build()
                .unwrap();
            let sampler = BatcherMetrics::observe(&batcher, &[("instance", "3")]);
            assert_eq!(published(&handle), [0.0; 7]);

            // The first batch of a millisecond is published as it is raised.
            raise(&batcher, WatcherKind::Callback, 4);
            assert_eq!(published(&handle), [1.0, 1.0, 0.0, 4.0, 8.0, 20.0, 8.0]);
            // A millisecond later, so is the next.
            let later = Instant::now() + Duration::from_millis(2);
            while Instant::now() < later {
                std::hint::spin_loop();
            }
            raise(&batcher, WatcherKind::Stream, 1);
            assert_eq!(published(&handle), [2.0, 1.0, 1.0, 5.0, 10.0, 25.0, 10.0]);

            // A burst: whatever part of it is published so far is never more than it
            // holds, and a sample publishes the rest.
            for i in 0..3_000 {
                let kind = if i % 3 == 0 {
                    WatcherKind::Stream
                } else {
                    WatcherKind::Callback
                };
                raise(&batcher, kind, 10);
            }
            let so_far = published(&handle);
            let whole = [
                3_002.0, 2_001.0, 1_001.0, 30_005.0, 60_010.0, 150_025.0, 60_010.0,
            ];
            for (part, all) in so_far.iter().zip(whole) {
                assert!(*part <= all, "{so_far:?} against {whole:?}");
            }
            sampler.sample();
            assert_eq!(published(&handle), whole);
            // A sample with nothing new changes nothing.
            sampler.sample();
            assert_eq!(published(&handle), whole);

            // Another burst, then the batcher stops: its shutdown publishes the tally.
            for _ in 0..2_000 {
                raise(&batcher, WatcherKind::Callback, 1);
            }
            batcher.start().unwrap();
            batcher.stop().await;
            let after = published(&handle);
            assert_eq!(
                after[..6],
                [5_002.0, 4_001.0, 1_001.0, 32_005.0, 64_010.0, 160_025.0]
            );
            // The window holds at most the last second's cost (this test runs in less
            // than a second unless the machine stalls).
            assert!(after[6] <= 64_010.0, "{after:?}");
        },
    );
}
