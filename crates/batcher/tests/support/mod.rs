//! Helpers shared by the batcher's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{Batcher, Operation, Watcher, WatcherBuilder};
use events_core::{BoxFuture, Emitter, EventName, LimiterError, RateLimiter};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

/// A limiter whose capacity the test sets; it records every `give_me`.
#[derive(Debug)]
pub struct TestLimiter {
    capacity: AtomicU32,
    max: AtomicU32,
    pub wanted: Mutex<Vec<u32>>,
    emitter: Emitter,
}

impl TestLimiter {
    pub fn new(capacity: u32) -> Arc<Self> {
        Arc::new(TestLimiter {
            capacity: AtomicU32::new(capacity),
            max: AtomicU32::new(capacity),
            wanted: Mutex::new(Vec::new()),
            emitter: Emitter::new("test limiter"),
        })
    }

    pub fn with_max(capacity: u32, max: u32) -> Arc<Self> {
        let l = Self::new(capacity);
        l.max.store(max, Ordering::SeqCst);
        l
    }

    pub fn set_capacity(&self, capacity: u32) {
        self.capacity.store(capacity, Ordering::SeqCst);
    }
}

impl RateLimiter for TestLimiter {
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async { Ok(()) })
    }
    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async { Ok(()) })
    }
    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async { Ok(()) })
    }
    fn max_capacity(&self) -> u32 {
        self.max.load(Ordering::SeqCst)
    }
    fn capacity(&self) -> u32 {
        self.capacity.load(Ordering::SeqCst)
    }
    fn give_me(&self, target: u32) {
        self.wanted.lock().unwrap().push(target);
    }
    fn emitter(&self) -> &Emitter {
        &self.emitter
    }
}

/// One delivered batch: when, and its operations' payloads and costs.
#[derive(Debug, Clone)]
pub struct Delivered<T> {
    pub at: Instant,
    pub payloads: Vec<T>,
    pub cost: u64,
    /// The batch's cost in each additional resource that its operations name.
    pub extra: std::collections::BTreeMap<&'static str, u64>,
    pub attempts: Vec<u32>,
}

/// A callback watcher that reports every batch on a channel.
pub fn reporting_watcher<T: Clone + Send + Sync + 'static>(
    batcher: &Batcher,
    builder: WatcherBuilder,
) -> (Watcher<T>, UnboundedReceiver<Delivered<T>>) {
    let (tx, rx) = unbounded_channel();
    let watcher = builder.callback(batcher, move |ops: Vec<Operation<T>>| {
        let tx = tx.clone();
        async move {
            let mut extra = std::collections::BTreeMap::new();
            for (name, cost) in ops.iter().flat_map(|o| o.extra_costs()) {
                *extra.entry(name).or_insert(0) += u64::from(cost);
            }
            let _ = tx.send(Delivered {
                at: Instant::now(),
                cost: ops.iter().map(|o| u64::from(o.cost())).sum(),
                extra,
                attempts: ops.iter().map(|o| o.attempts()).collect(),
                payloads: ops.into_iter().map(|o| o.into_payload()).collect(),
            });
        }
    });
    (watcher, rx)
}

/// Receives the next item, failing the test if none comes within `within` (paused
/// clock time).
pub async fn next_within<T>(rx: &mut UnboundedReceiver<T>, within: Duration) -> T {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("nothing arrived in time")
        .expect("channel closed")
}

/// Asserts that nothing arrives within `within`.
pub async fn nothing_within<T: std::fmt::Debug>(rx: &mut UnboundedReceiver<T>, within: Duration) {
    if let Ok(item) = tokio::time::timeout(within, rx.recv()).await {
        panic!("expected nothing, got {item:?}");
    }
}

/// Collects every event of an emitter.
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<events_core::Event>>>);

impl Events {
    pub fn on(emitter: &Emitter) -> Self {
        let events = Events::default();
        let sink = events.0.clone();
        emitter.add_listener(move |e| sink.lock().unwrap().push(e.clone()));
        events
    }

    pub fn named(&self, name: EventName) -> Vec<events_core::Event> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.name() == name)
            .cloned()
            .collect()
    }

    pub fn count(&self, name: EventName) -> usize {
        self.named(name).len()
    }

    pub fn names(&self) -> Vec<EventName> {
        self.0.lock().unwrap().iter().map(|e| e.name()).collect()
    }
}

/// Waits (on the paused clock, in small steps) until `cond` holds, up to `within`.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "condition not met in {within:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The largest cost delivered in any half-open one-second window.
pub fn max_window_cost(deliveries: &[(Instant, u64)]) -> u64 {
    let mut max = 0;
    for (i, &(end, _)) in deliveries.iter().enumerate() {
        let sum: u64 = deliveries[..=i]
            .iter()
            .filter(|(at, _)| end.duration_since(*at) < Duration::from_secs(1))
            .map(|(_, c)| c)
            .sum();
        max = max.max(sum);
    }
    max
}

/// Receives batches until `ops` operations have arrived (30 s of paused-clock time at most).
pub async fn collect<T>(rx: &mut UnboundedReceiver<Delivered<T>>, ops: usize) -> Vec<Delivered<T>> {
    let mut out = Vec::new();
    let mut seen = 0;
    while seen < ops {
        let d = next_within(rx, Duration::from_secs(30)).await;
        seen += d.payloads.len();
        out.push(d);
    }
    out
}

/// Each delivery's start time and cost in the additional resource `name`, for
/// [`max_window_cost`].
pub fn windows_of<T>(delivered: &[Delivered<T>], name: &str) -> Vec<(Instant, u64)> {
    delivered
        .iter()
        .map(|d| (d.at, d.extra.get(name).copied().unwrap_or(0)))
        .collect()
}

/// Each delivery's release time and cost, for [`max_window_cost`].
pub fn windows<T>(delivered: &[Delivered<T>]) -> Vec<(Instant, u64)> {
    delivered.iter().map(|d| (d.at, d.cost)).collect()
}
