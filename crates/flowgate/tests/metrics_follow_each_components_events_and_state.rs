//! The metrics bridge against a real Prometheus recorder: batcher, limiter, BBS client and BBS
//! server metrics follow what the components do.

#![cfg(all(
    feature = "metrics",
    feature = "batcher",
    feature = "provisioned",
    feature = "bbs"
))]

mod support;

use std::sync::Arc;

use flowgate::bbs::client::SubscriptionError;
use flowgate::metrics::{
    BatcherMetrics, BbsClientMetrics, BbsServerMetrics, LimiterMetrics, Sample,
};
use flowgate::prelude::*;
use metrics_exporter_prometheus::PrometheusBuilder;
use support::{value, with_recorder};

#[test]
fn batcher_limiter_and_client_metrics_follow_the_components() {
    with_recorder(
        PrometheusBuilder::new().build_recorder(),
        |handle| async move {
            let labels = [("instance", "7")];
            let limiter = Arc::new(ProvisionedResource::new(100));
            let limiter_metrics = LimiterMetrics::observe(limiter.clone(), &labels);
            limiter.start().await.unwrap();
            let bytes = Arc::new(ProvisionedResource::new(1_000));
            bytes.start().await.unwrap();
            let batcher = Batcher::builder()
                .rate_limiter(limiter.clone())
                .resource("bytes", bytes.clone())
                .emit_batch(true)
                .build()
                .unwrap();
            let batcher_metrics = BatcherMetrics::observe(&batcher, &labels);
            batcher.start().unwrap();
            let (tx, mut done) = tokio::sync::mpsc::unbounded_channel();
            let watcher = Watcher::builder().max_batch_size(5).callback(
                &batcher,
                move |batch: Vec<Operation<u32>>| {
                    let tx = tx.clone();
                    async move {
                        let _ = tx.send(batch.len());
                    }
                },
            );
            for i in 0..10 {
                let op = Operation::new(i, 3).with_cost("bytes", 4);
                watcher.enqueue(op).await.unwrap();
            }
            let refused = watcher.try_enqueue(Operation::new(99, 101)).unwrap_err();
            batcher_metrics.refused(&refused.kind());
            let mut delivered = 0;
            while delivered < 10 {
                delivered += done.recv().await.unwrap();
            }
            batcher_metrics.sample();
            limiter_metrics.sample();

            let client = BbsClientMetrics::new(&labels);
            client.resync();
            client.error(&SubscriptionError::EndOfStream);

            let body = handle.render();
            let l = r#"{instance="7"}"#;
            assert_eq!(
                value(&body, &format!("flowgate_batcher_released_cost_total{l}")),
                30.0
            );
            assert_eq!(
                value(
                    &body,
                    &format!("flowgate_batcher_released_operations_total{l}")
                ),
                10.0
            );
            // Pacing may split the ten operations into more than two batches.
            let batches = value(
                &body,
                r#"flowgate_batcher_batches_total{instance="7",watcher="callback"}"#,
            );
            assert!(batches >= 2.0, "{batches} batches");
            // By watcher kind: no stream watcher here, its series reads 0.
            assert_eq!(
                value(
                    &body,
                    r#"flowgate_batcher_batches_total{instance="7",watcher="stream"}"#
                ),
                0.0
            );
            assert_eq!(
                value(&body, &format!("flowgate_batcher_window_cost{l}")),
                30.0
            );
            assert_eq!(
                value(&body, &format!("flowgate_batcher_window_capacity{l}")),
                100.0
            );
            // Every resource, the primary one included, by name.
            for (resource, released, capacity) in
                [("primary", 30.0, 100.0), ("bytes", 40.0, 1_000.0)]
            {
                let r = format!(r#"{{instance="7",resource="{resource}"}}"#);
                let series =
                    |name: &str| value(&body, &format!("flowgate_batcher_resource_{name}{r}"));
                assert_eq!(series("released_cost_total"), released, "{resource}");
                assert_eq!(series("capacity"), capacity, "{resource}");
                assert_eq!(series("needs_capacity"), 0.0, "{resource}");
            }
            assert_eq!(
                value(&body, &format!("flowgate_batcher_buffered_operations{l}")),
                0.0
            );
            assert_eq!(
                value(
                    &body,
                    r#"flowgate_batcher_enqueue_refusals_total{instance="7",kind="too_expensive"}"#
                ),
                1.0
            );
            assert_eq!(
                value(
                    &body,
                    r#"flowgate_events_total{instance="7",component="batcher",event="batch"}"#
                ),
                batches
            );
            assert_eq!(
                value(&body, &format!("flowgate_limiter_capacity{l}")),
                100.0
            );
            assert_eq!(
                value(&body, &format!("flowgate_limiter_max_capacity{l}")),
                100.0
            );
            assert_eq!(
                value(
                    &body,
                    r#"flowgate_events_total{instance="7",component="limiter",event="capacity"}"#
                ),
                1.0
            );
            assert_eq!(
                value(&body, &format!("flowgate_bbs_client_reconnects_total{l}")),
                1.0
            );
            assert_eq!(
                value(
                    &body,
                    &format!("flowgate_bbs_client_missed_events_notices_total{l}")
                ),
                1.0
            );
            assert_eq!(
                value(
                    &body,
                    r#"flowgate_bbs_client_errors_total{instance="7",kind="end_of_stream"}"#
                ),
                1.0
            );
            batcher.stop().await;
            limiter.stop().await.unwrap();
        },
    );
}

#[test]
fn throttling_metrics_follow_pauses_and_the_effective_capacity() {
    use flowgate::batcher::AdaptiveCapacity;
    use std::time::Duration;

    with_recorder(
        PrometheusBuilder::new().build_recorder(),
        |handle| async move {
            let labels = [("instance", "8")];
            let limiter = Arc::new(ProvisionedResource::new(1_000));
            limiter.start().await.unwrap();
            let batcher = Batcher::builder()
                .rate_limiter(limiter.clone())
                .pause_time(Duration::from_millis(250))
                .adaptive_capacity(AdaptiveCapacity::new().decrease(0.5))
                .emit_batch(true)
                .build()
                .unwrap();
            let batcher_metrics = BatcherMetrics::observe(&batcher, &labels);
            let (watcher, mut batches) = Watcher::builder().stream(&batcher);
            batcher.start().unwrap();
            watcher.enqueue(Operation::new(1u32, 10)).await.unwrap();
            batcher.flush();
            let mut batch = batches.next().await.unwrap();
            batch.throttled(None);
            assert!(batch.retry().is_empty());
            batcher_metrics.sample();

            let body = handle.render();
            let l = r#"{instance="8"}"#;
            let series = |name: &str| value(&body, &format!("{name}{l}"));
            assert_eq!(series("flowgate_batcher_throttled_batches_total"), 1.0);
            let by_kind = |kind: &str| {
                value(
                    &body,
                    &format!(r#"flowgate_batcher_batches_total{{instance="8",watcher="{kind}"}}"#),
                )
            };
            assert!(by_kind("stream") >= 1.0, "a stream batch counted as such");
            assert_eq!(by_kind("callback"), 0.0);
            assert_eq!(series("flowgate_batcher_last_pause_seconds"), 0.25);
            assert_eq!(series("flowgate_batcher_effective_capacity"), 500.0);
            assert_eq!(
                value(
                    &body,
                    r#"flowgate_batcher_capacity_changes_total{instance="8",direction="cut"}"#
                ),
                1.0
            );
            assert_eq!(
                value(
                    &body,
                    r#"flowgate_events_total{instance="8",component="batcher",event="capacity-cut"}"#
                ),
                1.0
            );
            batcher.stop().await;
        },
    );
}

#[test]
fn bbs_server_metrics_follow_the_hubs_deliveries_and_cut_offs() {
    use flowgate::bbs::server::{Filter, Hub, HubError};
    use flowgate::bbs::{Event, models};

    with_recorder(
        PrometheusBuilder::new().build_recorder(),
        |handle| async move {
            let hub = Hub::builder().subscriber_capacity(4).build();
            let server = BbsServerMetrics::observe(&hub, &[("instance", "9")]);
            let mut reading = hub.subscribe(Filter::all()).unwrap();
            let mut slow = hub.subscribe(Filter::all()).unwrap();
            let mut batch = Vec::new();
            for _ in 0..10 {
                hub.emit(Event::TaskRemoved(models::TaskRemovedEvent::default()))
                    .unwrap();
                reading.recv_many(&mut batch, 8).await.unwrap();
            }
            assert_eq!(batch.len(), 10);
            assert_eq!(
                slow.recv().await.unwrap_err(),
                HubError::SlowSubscriber { capacity: 4 }
            );
            server.sample();

            let body = handle.render();
            let l = r#"{instance="9"}"#;
            for (series, want) in [
                ("flowgate_bbs_server_emitted_total", 10.0),
                ("flowgate_bbs_server_delivered_total", 10.0),
                ("flowgate_bbs_server_slow_cutoffs_total", 1.0),
                ("flowgate_bbs_server_subscribers", 1.0),
            ] {
                assert_eq!(value(&body, &format!("{series}{l}")), want, "{series}");
            }
        },
    );
}
