//! State shared between the limiter handle and its lease loop: atomics only, so that
//! `capacity()` and `give_me()` never block.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use events_core::{Emitter, EventName};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{ConfigError, MAX_PARTITIONS};

/// Timing settings of the lease loop, validated by the builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) lease_duration: Duration,
    pub(crate) max_attempt_interval: Duration,
    pub(crate) safety_margin: Duration,
    pub(crate) renew_ahead: Duration,
    pub(crate) call_timeout: Duration,
    pub(crate) max_concurrent_acquires: u32,
    /// How long a partition stays held, uncounted, after this instance stops counting
    /// it and before any other instance can start counting it.
    pub(crate) rate_window: Duration,
}

impl Timing {
    /// How long a lease may be counted, measured from when its request was sent: the
    /// lease duration minus the safety margin minus the rate window, so that a lease that
    /// lapses locally has been uncounted for a whole rate window before the storage lets
    /// another instance take it.
    pub(crate) fn counted_for(&self) -> Duration {
        self.lease_duration
            .saturating_sub(self.safety_margin)
            .saturating_sub(self.rate_window)
    }
}

/// How many partitions a shared capacity is cut into, or why it cannot be.
pub(crate) fn partition_count(shared: u32, factor: u32) -> Result<u32, ConfigError> {
    if factor == 0 {
        return Err(ConfigError::ZeroFactor);
    }
    let partitions = shared.div_ceil(factor);
    if partitions > MAX_PARTITIONS {
        return Err(ConfigError::TooManyPartitions {
            shared,
            factor,
            partitions,
            max: MAX_PARTITIONS,
            min_factor: shared.div_ceil(MAX_PARTITIONS),
        });
    }
    Ok(partitions)
}

/// A callback told `(partition, counted)` whenever this instance starts (`true`) or stops
/// (`false`) counting a partition's capacity.
#[derive(Clone)]
pub(crate) struct CountingHook(pub(crate) Arc<dyn Fn(u32, bool) + Send + Sync>);

impl std::fmt::Debug for CountingHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CountingHook")
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) emitter: Emitter,
    pub(crate) shared_capacity: AtomicU32,
    pub(crate) reserved: AtomicU32,
    pub(crate) factor: AtomicU32,
    pub(crate) partitions: AtomicU32,
    /// The capacity of the partitions counted as held now.
    pub(crate) held_capacity: AtomicU32,
    /// When the first counted lease stops being counted, in nanoseconds after `base`:
    /// from then on `capacity()` leaves the held capacity out even if the lease loop has
    /// not run yet (a paused process, a starved runtime), so that a stale value is never
    /// reported.
    counted_until: AtomicU64,
    base: Instant,
    /// The last `give_me` target.
    pub(crate) target: AtomicU32,
    /// Partitions the loop works to hold.
    pub(crate) wanted: AtomicU32,
    /// Wakes the lease loop after a change of target or settings.
    pub(crate) wake: Notify,
    /// Told when a partition starts or stops being counted.
    pub(crate) counting_hook: Option<CountingHook>,
}

impl Shared {
    pub(crate) fn new(
        emitter: Emitter,
        shared: u32,
        reserved: u32,
        factor: u32,
        partitions: u32,
    ) -> Self {
        Shared {
            emitter,
            shared_capacity: AtomicU32::new(shared),
            reserved: AtomicU32::new(reserved),
            factor: AtomicU32::new(factor),
            partitions: AtomicU32::new(partitions),
            held_capacity: AtomicU32::new(0),
            counted_until: AtomicU64::new(u64::MAX),
            base: Instant::now(),
            target: AtomicU32::new(0),
            wanted: AtomicU32::new(0),
            wake: Notify::new(),
            counting_hook: None,
        }
    }

    pub(crate) fn capacity(&self) -> u32 {
        let reserved = self.reserved.load(Ordering::Acquire);
        let now = Instant::now()
            .saturating_duration_since(self.base)
            .as_nanos();
        if now >= u128::from(self.counted_until.load(Ordering::Acquire)) {
            return reserved;
        }
        self.held_capacity
            .load(Ordering::Acquire)
            .saturating_add(reserved)
    }

    /// Publishes when the first counted lease stops being counted (`None`: none is).
    pub(crate) fn set_counted_until(&self, until: Option<Instant>) {
        let nanos = until.map_or(u64::MAX, |t| {
            u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
        });
        self.counted_until.store(nanos, Ordering::Release);
    }

    pub(crate) fn max_capacity(&self) -> u32 {
        self.shared_capacity
            .load(Ordering::Acquire)
            .saturating_add(self.reserved.load(Ordering::Acquire))
    }

    /// The capacity of partition `index`: `factor`, except a smaller last one when the
    /// shared capacity is not a multiple of the factor, so that all partitions together
    /// never exceed the shared capacity.
    pub(crate) fn partition_size(&self, index: u32) -> u32 {
        let factor = self.factor.load(Ordering::Acquire);
        let shared = self.shared_capacity.load(Ordering::Acquire);
        shared
            .saturating_sub(index.saturating_mul(factor))
            .min(factor)
    }

    /// Recomputes how many partitions the target needs; raises `target` when that changes
    /// and wakes the loop.
    pub(crate) fn update_wanted(&self) {
        let target = self.target.load(Ordering::Acquire);
        let reserved = self.reserved.load(Ordering::Acquire);
        let factor = self.factor.load(Ordering::Acquire).max(1);
        let partitions = self.partitions.load(Ordering::Acquire);
        let wanted = target
            .saturating_sub(reserved)
            .div_ceil(factor)
            .min(partitions);
        let before = self.wanted.swap(wanted, Ordering::AcqRel);
        if before != wanted {
            self.emitter.emit(EventName::Target, i64::from(wanted));
            self.wake.notify_one();
        }
    }

    /// Tells the counting hook, if any, that `partition` starts or stops being counted.
    pub(crate) fn counting(&self, partition: u32, counted: bool) {
        tracing::trace!(partition, counted, "partition counting changed");
        if let Some(hook) = &self.counting_hook {
            (hook.0)(partition, counted);
        }
    }

    pub(crate) fn emit_capacity(&self) {
        self.emitter
            .emit(EventName::Capacity, i64::from(self.capacity()));
    }
}
