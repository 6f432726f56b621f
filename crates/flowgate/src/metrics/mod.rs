//! Metrics for every component through the [`metrics`](https://docs.rs/metrics) facade:
//! install any recorder (e.g. `metrics-exporter-prometheus`) and observe the components.
//!
//! Events become metrics as they are emitted (a listener on each component's
//! [`Emitter`](crate::events::Emitter); a batcher's batch events are tallied and
//! published once per millisecond, on every sample and at shutdown); state that no event carries (buffer, inflight,
//! capacity, subscribers) is read by [`Sample::sample`], which [`spawn_sampler`] calls on
//! an interval. Every metric is named `flowgate_*` and listed, with its type, labels and
//! meaning, in `docs/metrics.md`. The labels given to each `observe` call (for example
//! `instance="0"`) are added to all of that component's metrics.
//!
//! ```
//! # #[cfg(all(feature = "batcher", feature = "provisioned"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use flowgate::metrics::{self, Sample};
//! use flowgate::prelude::*;
//!
//! let limiter = Arc::new(ProvisionedResource::new(100));
//! let batcher = Batcher::builder().rate_limiter(limiter.clone()).emit_batch(true).build()?;
//! let labels = [("instance", "0")];
//! let samplers: Vec<Arc<dyn Sample>> = vec![
//!     Arc::new(metrics::BatcherMetrics::observe(&batcher, &labels)),
//!     Arc::new(metrics::LimiterMetrics::observe(limiter.clone(), &labels)),
//! ];
//! let stop = tokio_util::sync::CancellationToken::new();
//! let sampler = metrics::spawn_sampler(Duration::from_secs(1), stop.clone(), samplers);
//! // ... start and use the limiter and batcher ...
//! stop.cancel();
//! sampler.await?;
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "batcher", feature = "provisioned")))]
//! # fn main() {}
//! ```

#[cfg(feature = "batcher")]
mod batcher;
#[cfg(feature = "bbs")]
mod bbs;
mod limiter;

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Label};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::events::EventName;

#[cfg(feature = "batcher")]
#[doc(inline)]
pub use self::batcher::BatcherMetrics;
#[cfg(feature = "bbs")]
#[doc(inline)]
pub use self::bbs::{BbsClientMetrics, BbsServerMetrics};
#[doc(inline)]
pub use self::limiter::LimiterMetrics;

/// Bucket bounds in seconds that suit `flowgate_limiter_storage_call_seconds`: from 1 ms
/// (a loopback emulator) past the limiter's call timeout (1 s by default) to its probe
/// timeout (5 s by default). `metrics-exporter-prometheus` renders a histogram as a
/// summary unless it is given buckets:
/// `builder.set_buckets_for_metric(Matcher::Full("flowgate_limiter_storage_call_seconds".into()), STORAGE_CALL_BUCKETS)`.
pub const STORAGE_CALL_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A component whose state is read into gauges from time to time.
pub trait Sample: Send + Sync {
    /// Reads the component's state into its gauges; cheap and non-blocking.
    fn sample(&self);
}

/// Calls [`Sample::sample`] on each of `samplers` every `every` (at least 10 ms), until
/// `stop` is cancelled; samples once more on the way out.
pub fn spawn_sampler(
    every: Duration,
    stop: CancellationToken,
    samplers: Vec<Arc<dyn Sample>>,
) -> JoinHandle<()> {
    let every = every.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            samplers.iter().for_each(|s| s.sample());
        }
        samplers.iter().for_each(|s| s.sample());
    })
}

/// Labels as the facade wants them, from `(key, value)` pairs.
fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(k, v)| Label::new(k.to_string(), v.to_string()))
        .collect()
}

fn with(base: &[Label], key: &'static str, value: &'static str) -> Vec<Label> {
    let mut out = base.to_vec();
    out.push(Label::new(key, value));
    out
}

/// Handles for counting a component's events in `flowgate_events_total{component,
/// event}`, registered once for the events the component raises (so they read 0 before the
/// first one); any other event name is counted through a lookup.
struct EventCounters {
    base: Vec<Label>,
    known: Vec<(EventName, Counter)>,
}

impl EventCounters {
    fn new(component: &'static str, base: &[Label], names: &[EventName]) -> EventCounters {
        let base = with(base, "component", component);
        let known = names
            .iter()
            .map(|&name| (name, EventCounters::register(&base, name)))
            .collect();
        EventCounters { base, known }
    }

    fn register(base: &[Label], name: EventName) -> Counter {
        metrics::counter!("flowgate_events_total", with(base, "event", name.as_str()))
    }

    /// The counter of events named `name`.
    fn counter(&self, name: EventName) -> Counter {
        match self.known.iter().find(|(n, _)| *n == name) {
            Some((_, c)) => c.clone(),
            None => EventCounters::register(&self.base, name),
        }
    }

    fn count(&self, name: EventName) {
        match self.known.iter().find(|(n, _)| *n == name) {
            Some((_, c)) => c.increment(1),
            None => EventCounters::register(&self.base, name).increment(1),
        }
    }
}
