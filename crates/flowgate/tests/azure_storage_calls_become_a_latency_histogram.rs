//! The metrics bridge turns the Azure limiter's `storage-call` events into the histogram
//! `flowgate_limiter_storage_call_seconds{operation, outcome}` (real Prometheus recorder,
//! real limiter, an in-memory lease store that answers after 2 ms and refuses partition 0).

#![cfg(all(feature = "metrics", feature = "azure"))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use flowgate::events::{BoxFuture, RateLimiter};
use flowgate::limiter::azure::{
    AzureSharedResource, LeaseError, LeaseId, LeaseManager, Member, Provisioned,
};
use flowgate::metrics::{LimiterMetrics, STORAGE_CALL_BUCKETS};
use futures::FutureExt;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use support::{value, with_recorder};

/// Answers every call after 2 ms; partition 0 is always leased by someone else.
#[derive(Debug)]
struct SlowStore;

fn after<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        value
    }
    .boxed()
}

impl LeaseManager for SlowStore {
    fn location(&self) -> String {
        "http://memory/container".to_owned()
    }
    fn ensure_container(&self) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        after(Ok(Provisioned::Created))
    }
    fn ensure_partition(&self, _: u32) -> BoxFuture<'static, Result<Provisioned, LeaseError>> {
        after(Ok(Provisioned::Created))
    }
    fn acquire(
        &self,
        partition: u32,
        _: LeaseId,
        _: Duration,
    ) -> BoxFuture<'static, Result<(), LeaseError>> {
        if partition == 0 {
            after(Err(LeaseError::Conflict { partition }))
        } else {
            after(Ok(()))
        }
    }
    fn renew(&self, _: u32, _: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>> {
        after(Ok(()))
    }
    fn release(&self, _: u32, _: LeaseId) -> BoxFuture<'static, Result<(), LeaseError>> {
        after(Ok(()))
    }
    fn members(&self) -> BoxFuture<'static, Result<Vec<Member>, LeaseError>> {
        after(Ok(Vec::new()))
    }
}

#[test]
fn every_storage_call_is_recorded_by_operation_and_outcome() {
    with_recorder(
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("flowgate_limiter_storage_call_seconds".to_owned()),
                STORAGE_CALL_BUCKETS,
            )
            .unwrap()
            .build_recorder(),
        |handle| async move {
            let limiter = Arc::new(
                AzureSharedResource::builder()
                    .shared_capacity(3)
                    .seed(3)
                    .build_with_manager(Arc::new(SlowStore))
                    .unwrap(),
            );
            let _metrics = LimiterMetrics::observe(limiter.clone(), &[("instance", "3")]);
            limiter.provision().await.unwrap();
            limiter.start().await.unwrap();
            limiter.give_me(2);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while limiter.capacity() < 2 {
                assert!(tokio::time::Instant::now() < deadline, "never held 2");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Let partition 0 be refused at least once more while the others are held.
            limiter.give_me(3);
            let body = loop {
                let body = handle.render();
                let conflict = r#"flowgate_limiter_storage_call_seconds_count{instance="3",operation="acquire",outcome="conflict"}"#;
                if body.contains(conflict) {
                    break body;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no conflict:\n{body}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            limiter.stop().await.unwrap();

            let series = |op: &str, outcome: &str, part: &str| {
                format!(
                    r#"flowgate_limiter_storage_call_seconds_{part}{{instance="3",operation="{op}",outcome="{outcome}"}}"#
                )
            };
            assert_eq!(
                value(&body, &series("create_container", "ok", "count")),
                1.0
            );
            assert_eq!(
                value(&body, &series("create_partition", "ok", "count")),
                3.0
            );
            let acquired = value(&body, &series("acquire", "ok", "count"));
            assert!(acquired >= 2.0, "{acquired} acquires");
            // Each call took at least the store's 2 ms, and well under a second.
            let sum = value(&body, &series("acquire", "ok", "sum"));
            assert!(
                sum >= 0.002 * acquired && sum < acquired,
                "{sum} s over {acquired} acquires"
            );
            // In the buckets given, none faster than 1 ms.
            let fastest = r#"flowgate_limiter_storage_call_seconds_bucket{instance="3",operation="acquire",outcome="ok",le="0.001"}"#;
            assert_eq!(value(&body, fastest), 0.0);
            let storage_calls = value(
                &body,
                r#"flowgate_events_total{instance="3",component="limiter",event="storage-call"}"#,
            );
            assert!(storage_calls >= 4.0 + acquired, "{storage_calls} events");
        },
    );
}
