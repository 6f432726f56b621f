//! Batcher metrics: buffer, inflight, needs-capacity, released cost, the rate window, and
//! throttling: pauses and the effective capacity.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Label};

use super::{EventCounters, Sample, labels, with};
use crate::batcher::{BatchMetadata, Batcher, EnqueueErrorKind, WatcherKind};
use crate::events::EventName;

/// The metrics of one batcher (see `docs/metrics.md`).
///
/// Batch metrics need the batcher built with
/// [`emit_batch(true)`](crate::batcher::BatcherBuilder::emit_batch). Enqueue refusals are
/// not events (the caller gets the error back), so count them with
/// [`refused`](Self::refused).
pub struct BatcherMetrics {
    batcher: Batcher,
    base: Vec<Label>,
    window: Arc<Window>,
    buffered: Gauge,
    needs_capacity: Gauge,
    inflight: Gauge,
    /// Per resource of the batcher (the primary one first): its name, needs-capacity
    /// and capacity gauges.
    resources: Vec<(&'static str, Gauge, Gauge)>,
    capacity: Gauge,
    effective: Gauge,
}

impl std::fmt::Debug for BatcherMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatcherMetrics").finish_non_exhaustive()
    }
}

/// The cost released in the last second, as the bridge saw the batch events.
struct Window {
    releases: Mutex<Releases>,
    cost: Gauge,
}

/// Releases of the last second and their running total, so that a batch costs O(1).
#[derive(Default)]
struct Releases {
    queue: VecDeque<(Instant, u64)>,
    total: u64,
}

impl Window {
    fn add(&self, at: Instant, cost: u64) {
        let mut releases = self.releases.lock().unwrap_or_else(|e| e.into_inner());
        releases.queue.push_back((at, cost));
        releases.total += cost;
        self.publish(&mut releases, at);
    }

    fn refresh(&self) {
        let mut releases = self.releases.lock().unwrap_or_else(|e| e.into_inner());
        self.publish(&mut releases, Instant::now());
    }

    fn publish(&self, releases: &mut Releases, now: Instant) {
        while let Some(&(at, cost)) = releases.queue.front() {
            if now.saturating_duration_since(at) < Duration::from_secs(1) {
                break;
            }
            releases.queue.pop_front();
            releases.total -= cost;
        }
        self.cost.set(releases.total as f64);
    }
}

impl BatcherMetrics {
    /// Starts counting `batcher`'s events and returns the sampler of its state; `pairs`
    /// are added as labels to every metric.
    pub fn observe(batcher: &Batcher, pairs: &[(&str, &str)]) -> BatcherMetrics {
        let base = labels(pairs);
        use EventName as N;
        let events = EventCounters::new(
            "batcher",
            &base,
            &[
                N::Request,
                N::FlushStart,
                N::FlushDone,
                N::Batch,
                N::AuditPass,
                N::AuditFail,
                N::AuditSkip,
                N::Pause,
                N::Resume,
                N::Throttled,
                N::CapacityCut,
                N::CapacityRaise,
                N::Shutdown,
                N::Error,
            ],
        );
        let window = Arc::new(Window {
            releases: Mutex::new(Releases::default()),
            cost: metrics::gauge!("flowgate_batcher_window_cost", base.clone()),
        });
        let resource_cost: Vec<Counter> = batcher
            .resources()
            .map(|r| {
                metrics::counter!(
                    "flowgate_batcher_resource_released_cost_total",
                    with(&base, "resource", r)
                )
            })
            .collect();
        let batches_of = |kind: WatcherKind| {
            metrics::counter!(
                "flowgate_batcher_batches_total",
                with(&base, "watcher", kind.as_str())
            )
        };
        let (callback_batches, stream_batches): (Counter, Counter) = (
            batches_of(WatcherKind::Callback),
            batches_of(WatcherKind::Stream),
        );
        let operations =
            metrics::counter!("flowgate_batcher_released_operations_total", base.clone());
        let cost = metrics::counter!("flowgate_batcher_released_cost_total", base.clone());
        let pauses = metrics::counter!("flowgate_batcher_pauses_total", base.clone());
        let last_pause = metrics::gauge!("flowgate_batcher_last_pause_seconds", base.clone());
        let throttled = metrics::counter!("flowgate_batcher_throttled_batches_total", base.clone());
        let change = |d| {
            metrics::counter!(
                "flowgate_batcher_capacity_changes_total",
                with(&base, "direction", d)
            )
        };
        let (cuts, raises): (Counter, Counter) = (change("cut"), change("raise"));
        let effective = metrics::gauge!("flowgate_batcher_effective_capacity", base.clone());
        let effective_on_change = effective.clone();
        let audit =
            |o| metrics::counter!("flowgate_batcher_audits_total", with(&base, "outcome", o));
        let (pass, fail, skip): (Counter, Counter, Counter) =
            (audit("pass"), audit("fail"), audit("skip"));
        let win = window.clone();
        batcher.emitter().add_listener(move |event| {
            events.count(event.name());
            match event.name() {
                EventName::Batch => {
                    let meta = event.metadata::<BatchMetadata>();
                    // The kind is in the metadata and, for listeners without it, the msg.
                    let stream = match meta {
                        Some(meta) => meta.kind == WatcherKind::Stream,
                        None => event.msg() == Some(WatcherKind::Stream.as_str()),
                    };
                    if stream {
                        stream_batches.increment(1);
                    } else {
                        callback_batches.increment(1);
                    }
                    if let Some(meta) = meta {
                        let c: u64 = meta.operations.iter().map(|o| u64::from(o.cost)).sum();
                        operations.increment(meta.operations.len() as u64);
                        cost.increment(c);
                        win.add(event.at(), c);
                        for (counter, r) in resource_cost.iter().zip(&meta.resources) {
                            counter.increment(r.costs.iter().map(|c| u64::from(*c)).sum());
                        }
                    }
                }
                EventName::Pause => {
                    pauses.increment(1);
                    last_pause.set(event.val() as f64 / 1_000.0);
                }
                EventName::Throttled => throttled.increment(1),
                EventName::CapacityCut | EventName::CapacityRaise => {
                    if event.name() == EventName::CapacityCut {
                        cuts.increment(1);
                    } else {
                        raises.increment(1);
                    }
                    effective_on_change.set(event.val() as f64);
                }
                EventName::AuditPass => pass.increment(1),
                EventName::AuditFail => fail.increment(1),
                EventName::AuditSkip => skip.increment(1),
                _ => {}
            }
        });
        BatcherMetrics {
            batcher: batcher.clone(),
            window,
            buffered: metrics::gauge!("flowgate_batcher_buffered_operations", base.clone()),
            needs_capacity: metrics::gauge!("flowgate_batcher_needs_capacity", base.clone()),
            inflight: metrics::gauge!("flowgate_batcher_inflight_batches", base.clone()),
            capacity: metrics::gauge!("flowgate_batcher_window_capacity", base.clone()),
            effective,
            resources: batcher
                .resources()
                .map(|r| {
                    let labels = with(&base, "resource", r);
                    (
                        r,
                        metrics::gauge!("flowgate_batcher_resource_needs_capacity", labels.clone()),
                        metrics::gauge!("flowgate_batcher_resource_capacity", labels),
                    )
                })
                .collect(),
            base,
        }
    }

    /// Counts an enqueue refusal in `flowgate_batcher_enqueue_refusals_total{kind}`.
    pub fn refused(&self, kind: &EnqueueErrorKind) {
        let kind = match kind {
            EnqueueErrorKind::TooExpensive { .. } => "too_expensive",
            EnqueueErrorKind::TooManyAttempts { .. } => "too_many_attempts",
            EnqueueErrorKind::UnknownResource { .. } => "unknown_resource",
            EnqueueErrorKind::BufferFull { .. } => "buffer_full",
            EnqueueErrorKind::Closed => "closed",
            EnqueueErrorKind::Stopped => "stopped",
            _ => "other",
        };
        metrics::counter!(
            "flowgate_batcher_enqueue_refusals_total",
            with(&self.base, "kind", kind)
        )
        .increment(1);
    }
}

impl Sample for BatcherMetrics {
    fn sample(&self) {
        self.buffered
            .set(self.batcher.operations_in_buffer() as f64);
        self.needs_capacity
            .set(self.batcher.needs_capacity() as f64);
        self.inflight.set(self.batcher.inflight() as f64);
        if let Some(limiter) = self.batcher.rate_limiter() {
            self.capacity.set(f64::from(limiter.capacity()));
        }
        if let Some(effective) = self.batcher.effective_capacity() {
            self.effective.set(effective as f64);
        }
        for (name, needs, capacity) in &self.resources {
            if let Some(n) = self.batcher.needs_capacity_of(name) {
                needs.set(n as f64);
            }
            if let Some(limiter) = self.batcher.resource_limiter(name) {
                capacity.set(f64::from(limiter.capacity()));
            }
        }
        self.window.refresh();
    }
}
