//! Batcher metrics: buffer, inflight, needs-capacity, released cost, the rate window, and
//! throttling: pauses and the effective capacity.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Label};

use super::{EventCounters, Sample, labels, with};
use crate::batcher::{BatchMetadata, Batcher, EnqueueErrorKind, WatcherKind};
use crate::events::{Event, EventName};

/// The metrics of one batcher (see `docs/metrics.md`).
///
/// Batch metrics need the batcher built with
/// [`emit_batch(true)`](crate::batcher::BatcherBuilder::emit_batch). Enqueue refusals are
/// not events (the caller gets the error back), so count them with
/// [`refused`](Self::refused).
pub struct BatcherMetrics {
    batcher: Batcher,
    base: Vec<Label>,
    released: Arc<Released>,
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

/// What the batch events say: the released batches, operations and cost, and the cost
/// released in the last second.
///
/// A batch is tallied here under one lock and published to the metrics when it is the
/// first of a [`SLOT`]; the batches after it in the same slot are published with the
/// next slot's first, by every sample and at shutdown. So below a thousand batches a
/// second every batch is published as it leaves, and above it a batch costs a few
/// additions instead of a handful of atomic metric updates.
struct Released {
    tally: Mutex<Tally>,
    /// `flowgate_events_total{event="batch"}`.
    events: Counter,
    /// `flowgate_batcher_batches_total`, by watcher kind: callback, stream.
    batches: [Counter; 2],
    operations: Counter,
    cost: Counter,
    /// Per resource of the batcher, the primary one first.
    resources: Vec<Counter>,
    window: Gauge,
}

/// How close together releases share an entry of the window and a publication; an entry
/// leaves the window a second after its first release, so the gauge may leave out the
/// last slot's worth of an ending second, never count more than the second held.
const SLOT: Duration = Duration::from_millis(1);

#[derive(Default)]
struct Tally {
    /// Releases of the last second, one entry per slot, and their total: a batch costs
    /// O(1) and the queue holds at most about a thousand entries.
    queue: VecDeque<(Instant, u64)>,
    total: u64,
    /// Not yet published: batch events, batches by kind, operations, cost, and cost
    /// per resource.
    events: u64,
    batches: [u64; 2],
    operations: u64,
    cost: u64,
    resources: Vec<u64>,
}

impl Released {
    fn add(&self, event: &Event) {
        let meta = event.metadata::<BatchMetadata>();
        // The kind is in the metadata and, for events without it, the msg.
        let stream = match meta {
            Some(meta) => meta.kind == WatcherKind::Stream,
            None => event.msg() == Some(WatcherKind::Stream.as_str()),
        };
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        let t = &mut *tally;
        t.events += 1;
        t.batches[usize::from(stream)] += 1;
        let Some(meta) = meta else {
            // Nothing to add to the window: published now, as a batch without cost.
            return self.publish(t, event.at());
        };
        let sum = |costs: &[u32]| costs.iter().map(|&c| u64::from(c)).sum::<u64>();
        // The operations' costs are the primary resource's, the first list, which holds
        // them side by side (quicker to add up than the operations themselves).
        let cost = match meta.resources.first() {
            Some(primary) => sum(&primary.costs),
            None => meta.operations.iter().map(|o| u64::from(o.cost)).sum(),
        };
        t.operations += meta.operations.len() as u64;
        t.cost += cost;
        t.resources.resize(self.resources.len(), 0);
        for (r, (total, costs)) in t.resources.iter_mut().zip(&meta.resources).enumerate() {
            *total += if r == 0 { cost } else { sum(&costs.costs) };
        }
        t.total += cost;
        let at = event.at();
        match t.queue.back_mut() {
            Some((opened, sum)) if at.saturating_duration_since(*opened) < SLOT => *sum += cost,
            _ => {
                t.queue.push_back((at, cost));
                self.publish(t, at);
            }
        }
    }

    /// Publishes what is tallied, the window as of now included.
    fn refresh(&self) {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        self.publish(&mut tally, Instant::now());
    }

    fn publish(&self, t: &mut Tally, now: Instant) {
        while let Some(&(at, cost)) = t.queue.front() {
            if now.saturating_duration_since(at) < Duration::from_secs(1) {
                break;
            }
            t.queue.pop_front();
            t.total -= cost;
        }
        self.window.set(t.total as f64);
        let take = |n: &mut u64, counter: &Counter| {
            if *n != 0 {
                counter.increment(std::mem::take(n));
            }
        };
        take(&mut t.events, &self.events);
        for (n, counter) in t.batches.iter_mut().zip(&self.batches) {
            take(n, counter);
        }
        take(&mut t.operations, &self.operations);
        take(&mut t.cost, &self.cost);
        for (n, counter) in t.resources.iter_mut().zip(&self.resources) {
            take(n, counter);
        }
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
        let batches_of = |kind: WatcherKind| {
            metrics::counter!(
                "flowgate_batcher_batches_total",
                with(&base, "watcher", kind.as_str())
            )
        };
        let released = Arc::new(Released {
            tally: Mutex::new(Tally::default()),
            events: events.counter(N::Batch),
            batches: [
                batches_of(WatcherKind::Callback),
                batches_of(WatcherKind::Stream),
            ],
            operations: metrics::counter!(
                "flowgate_batcher_released_operations_total",
                base.clone()
            ),
            cost: metrics::counter!("flowgate_batcher_released_cost_total", base.clone()),
            resources: batcher
                .resources()
                .map(|r| {
                    metrics::counter!(
                        "flowgate_batcher_resource_released_cost_total",
                        with(&base, "resource", r)
                    )
                })
                .collect(),
            window: metrics::gauge!("flowgate_batcher_window_cost", base.clone()),
        });
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
        let tally = released.clone();
        batcher.emitter().add_listener(move |event| {
            if event.name() == EventName::Batch {
                // Counted in the tally, with the batch's other figures.
                return tally.add(event);
            }
            events.count(event.name());
            match event.name() {
                // What is tallied is published before the batcher goes.
                EventName::Shutdown => tally.refresh(),
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
            released,
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
        self.released.refresh();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batcher::{OperationInfo, ResourceCosts};

    fn released() -> Released {
        Released {
            tally: Mutex::new(Tally::default()),
            events: Counter::noop(),
            batches: [Counter::noop(), Counter::noop()],
            operations: Counter::noop(),
            cost: Counter::noop(),
            resources: vec![Counter::noop()],
            window: Gauge::noop(),
        }
    }

    fn batch() -> Event {
        let info = OperationInfo {
            cost: 3,
            attempts: 1,
            batchable: true,
        };
        Event::new(EventName::Batch, 2).with_metadata(BatchMetadata {
            watcher: 1,
            kind: WatcherKind::Callback,
            operations: vec![info; 2],
            resources: vec![ResourceCosts {
                resource: "primary",
                costs: vec![3; 2],
            }],
        })
    }

    #[test]
    fn the_window_holds_an_entry_per_millisecond_not_per_batch() {
        let released = released();
        let started = Instant::now();
        for _ in 0..20_000 {
            released.add(&batch());
        }
        let elapsed = started.elapsed();
        let tally = released.tally.lock().unwrap();
        // At most one entry per slot begun since the first batch.
        let slots = elapsed.as_micros() / SLOT.as_micros() + 1;
        assert!(
            tally.queue.len() as u128 <= slots,
            "{} entries in {elapsed:?}",
            tally.queue.len()
        );
        // Coalesced, not lost: the window holds every batch's cost (the loop takes far
        // less than a second unless the machine stalls).
        if elapsed < Duration::from_millis(900) {
            assert_eq!(tally.total, 20_000 * 6);
            assert_eq!(tally.queue.iter().map(|e| e.1).sum::<u64>(), 20_000 * 6);
        }
    }
}
