//! Rate limiter metrics: capacity, target, partitions held and lease outcomes.

use std::sync::Arc;

use metrics::{Counter, Gauge};

use super::{EventCounters, Sample, labels, with};
use crate::events::{EventName, RateLimiter};

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
