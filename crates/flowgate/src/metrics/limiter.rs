//! Rate limiter metrics: capacity, target, partitions held, lease outcomes and storage
//! call latency.

use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge, Histogram, Label};

use super::{EventCounters, Sample, labels, with};
use crate::events::{Event, EventName, RateLimiter};

/// The metrics of one rate limiter (see `docs/metrics.md`).
pub struct LimiterMetrics {
    limiter: Arc<dyn RateLimiter>,
    capacity: Gauge,
    max_capacity: Gauge,
}

impl std::fmt::Debug for LimiterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimiterMetrics").finish_non_exhaustive()
    }
}

struct Leases {
    held: Gauge,
    allocated: Counter,
    released: Counter,
    failed: Counter,
    error: Counter,
    target: Gauge,
    capacity: Gauge,
}

/// `flowgate_limiter_storage_call_seconds{operation, outcome}`: one histogram handle per
/// pair seen, registered on its first call (a handful of pairs; each later call costs a
/// short scan and the histogram's own record).
struct StorageCalls {
    base: Vec<Label>,
    seen: Mutex<Vec<(String, &'static str, Histogram)>>,
}

impl StorageCalls {
    fn record(&self, event: &Event) {
        let (operation, outcome) = call_labels(event);
        let seconds = event.val().max(0) as f64 / 1e6;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, h)) = seen
            .iter()
            .find(|(op, out, _)| op == operation && *out == outcome)
        {
            return h.record(seconds);
        }
        let mut labels = self.base.clone();
        labels.push(Label::new("operation", operation.to_owned()));
        labels.push(Label::new("outcome", outcome));
        let h = metrics::histogram!("flowgate_limiter_storage_call_seconds", labels);
        h.record(seconds);
        seen.push((operation.to_owned(), outcome, h));
    }
}

/// The operation and outcome of a `storage-call` event: from its metadata when an Azure
/// limiter raised it, else the operation from its `msg` and an `unknown` outcome.
fn call_labels(event: &Event) -> (&str, &'static str) {
    #[cfg(feature = "azure")]
    if let Some(call) = event.metadata::<limiter_azure::StorageCall>() {
        return (call.operation.as_str(), call.outcome.as_str());
    }
    (event.msg().unwrap_or("unknown"), "unknown")
}

impl LimiterMetrics {
    /// Starts counting `limiter`'s events and returns the sampler of its state; `pairs`
    /// are added as labels to every metric.
    pub fn observe(limiter: Arc<dyn RateLimiter>, pairs: &[(&str, &str)]) -> LimiterMetrics {
        let base = labels(pairs);
        let outcome = |o| {
            metrics::counter!(
                "flowgate_limiter_lease_outcomes_total",
                with(&base, "outcome", o)
            )
        };
        let leases = Leases {
            held: metrics::gauge!("flowgate_limiter_partitions_held", base.clone()),
            allocated: outcome("allocated"),
            released: outcome("released"),
            failed: outcome("failed"),
            error: outcome("error"),
            target: metrics::gauge!("flowgate_limiter_target", base.clone()),
            capacity: metrics::gauge!("flowgate_limiter_capacity", base.clone()),
        };
        let calls = StorageCalls {
            base: base.clone(),
            seen: Mutex::new(Vec::new()),
        };
        use EventName as N;
        let events = EventCounters::new(
            "limiter",
            &base,
            &[
                N::Capacity,
                N::Target,
                N::Allocated,
                N::Released,
                N::Failed,
                N::Error,
                N::CreatedContainer,
                N::VerifiedContainer,
                N::CreatedBlob,
                N::VerifiedBlob,
                N::StorageCall,
                N::Shutdown,
            ],
        );
        limiter.emitter().add_listener(move |event| {
            events.count(event.name());
            let val = event.val() as f64;
            match event.name() {
                EventName::Capacity => leases.capacity.set(val),
                EventName::Target => leases.target.set(val),
                EventName::Allocated => {
                    leases.held.increment(1.0);
                    leases.allocated.increment(1);
                }
                EventName::Released => {
                    leases.held.decrement(1.0);
                    leases.released.increment(1);
                }
                EventName::Failed => leases.failed.increment(1),
                EventName::Error => leases.error.increment(1),
                EventName::StorageCall => calls.record(event),
                _ => {}
            }
        });
        LimiterMetrics {
            capacity: metrics::gauge!("flowgate_limiter_capacity", base.clone()),
            max_capacity: metrics::gauge!("flowgate_limiter_max_capacity", base),
            limiter,
        }
    }
}

impl Sample for LimiterMetrics {
    fn sample(&self) {
        self.capacity.set(f64::from(self.limiter.capacity()));
        self.max_capacity
            .set(f64::from(self.limiter.max_capacity()));
    }
}
