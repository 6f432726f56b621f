//! The lease loop: acquires, renews, sheds and releases partition leases to follow the
//! wanted count, and counts only capacity the storage still guarantees.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use events_core::{BoxFuture, EventName};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::shared::{Shared, Timing};

mod acquire;
mod complete;
mod drain;
mod recovery;
mod silence;
mod sync;

use self::recovery::Recovery;
use self::sync::Fairness;
use crate::{LeaseError, LeaseId, LeaseManager, Member, Provisioned};

/// The shortest gap between two announcements of our demand.
const ANNOUNCE_GAP: Duration = Duration::from_secs(1);

/// How many times demand is read again quickly after this instance starts wanting.
const QUICK_LISTS: u8 = 3;

/// Our view of one partition.
#[derive(Debug)]
enum Slot {
    Free {
        failed_at: Option<Instant>,
        /// A lease id the storage may hold for us although we do not count it: the
        /// outcome of its last call is unknown (it timed out, or the lease lapsed here
        /// while its renewal was unanswered). The next acquire of this partition proposes
        /// it again, which the storage treats as a renewal if the id holds the lease.
        known: Option<LeaseId>,
    },
    Acquiring(LeaseId),
    Held(Held),
    /// No longer counted, but the lease is kept until `until` (one rate window after we
    /// stopped counting it) so that no other instance spends the partition in the same
    /// window as we did; then it is released. Demand that returns meanwhile counts it
    /// again (we never gave it up, so that is safe).
    Draining {
        held: Held,
        until: Instant,
    },
    Releasing(LeaseId),
}

impl Slot {
    fn free() -> Slot {
        Slot::Free {
            failed_at: None,
            known: None,
        }
    }

    /// A free slot that remembers `lease`, whose fate at the storage is unknown.
    fn unknown(lease: LeaseId) -> Slot {
        Slot::Free {
            failed_at: None,
            known: Some(lease),
        }
    }
}

#[derive(Debug)]
struct Held {
    lease: LeaseId,
    /// When we stop counting the partition unless renewed: the send time of the last
    /// successful acquire or renew, plus the lease duration, minus the safety margin.
    expires: Instant,
    renew_at: Instant,
    renewing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Acquire,
    Renew,
    Release,
    /// Recreates a missing container (and, with `partition` 1, every partition blob)
    /// after the storage lost its data, so that the loop recovers by itself.
    Repair,
    /// Announces our demand (if it changed) and reads everyone's, for fair sharing.
    Sync,
    /// Removes our announcement when we want nothing.
    Withdraw,
    /// Asks a silent storage whether it answers again.
    Probe,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Acquire => "acquire lease",
            Op::Renew => "renew lease",
            Op::Release => "release lease",
            Op::Repair => "recreate partition blobs",
            Op::Sync => "share partitions fairly",
            Op::Withdraw => "withdraw demand",
            Op::Probe => "probe the storage",
        }
    }
}

#[derive(Debug)]
struct Done {
    op: Op,
    partition: u32,
    lease: LeaseId,
    sent: Instant,
    result: Result<Option<Vec<Member>>, LeaseError>,
}

enum Wake {
    Cancelled,
    Done(Done),
    Poke,
}

/// The lease loop's state; owned by one task.
pub(crate) struct Engine {
    shared: Arc<Shared>,
    manager: Arc<dyn LeaseManager>,
    timing: Timing,
    rng: fastrand::Rng,
    slots: Vec<Slot>,
    ops: FuturesUnordered<BoxFuture<'static, Done>>,
    acquiring: u32,
    next_attempt: Instant,
    contended: bool,
    repairing: bool,
    recovery: Recovery,
    fair: Fairness,
    /// When the storage stopped answering (a call timed out), until any call is answered.
    silent_since: Option<Instant>,
    /// The one probe is in flight.
    probing: bool,
}

impl Engine {
    pub(crate) fn new(
        shared: Arc<Shared>,
        manager: Arc<dyn LeaseManager>,
        timing: Timing,
        mut rng: fastrand::Rng,
    ) -> Self {
        let now = Instant::now();
        let fair = Fairness {
            member: LeaseId::random(&mut rng).to_string(),
            share: None,
            announced: None,
            last_announce: None,
            next_list: now,
            syncing: false,
            withdrawing: false,
            quick_lists: 0,
            grace: None,
        };
        Engine {
            shared,
            manager,
            timing,
            rng,
            slots: Vec::new(),
            ops: FuturesUnordered::new(),
            acquiring: 0,
            next_attempt: Instant::now(),
            contended: false,
            repairing: false,
            recovery: Recovery::Normal,
            fair,
            silent_since: None,
            probing: false,
        }
    }

    /// Runs until `cancel`, then releases everything; returns the first release failure.
    pub(crate) async fn run(mut self, cancel: CancellationToken) -> Result<(), LeaseError> {
        loop {
            let now = Instant::now();
            self.step(now);
            let deadline = self.next_deadline(now);
            let wake = tokio::select! {
                biased;
                () = cancel.cancelled() => Wake::Cancelled,
                Some(done) = self.ops.next(), if !self.ops.is_empty() => Wake::Done(done),
                () = self.shared.wake.notified() => Wake::Poke,
                () = sleep_until(deadline) => Wake::Poke,
            };
            match wake {
                Wake::Cancelled => break,
                Wake::Done(done) => self.complete(done),
                Wake::Poke => {}
            }
        }
        self.shutdown().await
    }

    fn step(&mut self, now: Instant) {
        let n = self.shared.partitions.load(Ordering::Acquire) as usize;
        while self.slots.len() < n {
            self.slots.push(Slot::free());
        }
        self.refresh_capacity();
        self.publish_counted_until();
        // Local bookkeeping goes on while the storage is silent; calls wait for its answer.
        let speaking = !self.is_silent();
        if speaking {
            self.recover(now);
        }
        self.expire(now);
        if speaking {
            self.sync(now);
        }
        self.shed(n, now);
        self.reclaim(now, n);
        if speaking {
            self.end_drains(now);
            self.renew(now, n);
            self.acquire(now, n);
            self.forget();
        } else {
            self.probe();
        }
    }

    fn spawn_op(&mut self, op: Op, partition: u32, lease: LeaseId) {
        let sent = Instant::now();
        let after = if op == Op::Probe {
            self.probe_timeout()
        } else {
            self.timing.call_timeout
        };
        let none = |r: Result<(), LeaseError>| r.map(|()| None);
        let call: BoxFuture<'static, Result<Option<Vec<Member>>, LeaseError>> = match op {
            Op::Acquire => self
                .manager
                .acquire(partition, lease.clone(), self.timing.lease_duration)
                .map(none)
                .boxed(),
            Op::Renew => self
                .manager
                .renew(partition, lease.clone())
                .map(none)
                .boxed(),
            Op::Release => self
                .manager
                .release(partition, lease.clone())
                .map(none)
                .boxed(),
            Op::Withdraw => self
                .manager
                .withdraw(self.fair.member.clone())
                .map(none)
                .boxed(),
            Op::Probe => self.manager.probe().map(none).boxed(),
            Op::Sync => {
                let manager = Arc::clone(&self.manager);
                let member = self.fair.member.clone();
                // `partition` carries the demand to announce, or u32::MAX for none.
                let announce = (partition != u32::MAX).then_some(partition);
                async move {
                    if let Some(wanted) = announce {
                        manager.announce(member, wanted).await?;
                    }
                    manager.members().await.map(Some)
                }
                .boxed()
            }
            Op::Repair => {
                let manager = Arc::clone(&self.manager);
                let shared = Arc::clone(&self.shared);
                let blobs = partition == 1;
                async move {
                    let container = manager.ensure_container().await?;
                    if container == Provisioned::Created {
                        shared
                            .emitter
                            .emit_msg(EventName::CreatedContainer, 0, manager.location());
                    }
                    if !blobs {
                        return Ok(None);
                    }
                    // Data loss takes every blob with it: recreate them all, a few at a time.
                    let n = shared.partitions.load(Ordering::Acquire);
                    let mut results = futures::stream::iter(0..n)
                        .map(|i| manager.ensure_partition(i).map(move |r| (i, r)))
                        .buffered(16);
                    while let Some((i, result)) = results.next().await {
                        let name = match result? {
                            Provisioned::Created => EventName::CreatedBlob,
                            Provisioned::Existed => EventName::VerifiedBlob,
                        };
                        shared.emitter.emit(name, i64::from(i));
                    }
                    Ok(None)
                }
                .boxed()
            }
        };
        self.ops.push(
            async move {
                let result = match timeout(after, call).await {
                    Ok(result) => result,
                    Err(_) => Err(LeaseError::Timeout {
                        operation: op.name(),
                        after,
                    }),
                };
                Done {
                    op,
                    partition,
                    lease,
                    sent,
                    result,
                }
            }
            .boxed(),
        );
    }

    /// Recomputes the held capacity and raises `capacity`.
    fn capacity_changed(&self) {
        self.publish_counted_until();
        self.shared
            .held_capacity
            .store(self.held_capacity(), Ordering::Release);
        self.shared.emit_capacity();
    }

    /// Tells `capacity()` when the first counted lease lapses. Published before a larger
    /// held capacity and after a smaller one is never needed: a stale deadline is earlier.
    fn publish_counted_until(&self) {
        self.shared.set_counted_until(self.first_lapse());
    }

    /// When the first counted lease stops being counted.
    fn first_lapse(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::Held(h) => Some(h.expires),
                _ => None,
            })
            .min()
    }

    /// Picks up partition sizes changed by a new shared capacity.
    fn refresh_capacity(&self) {
        if self.held_capacity() != self.shared.held_capacity.load(Ordering::Acquire) {
            self.capacity_changed();
        }
    }

    fn held_capacity(&self) -> u32 {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Held(_)))
            .map(|(i, _)| self.shared.partition_size(i as u32))
            .sum()
    }

    fn held_count(&self) -> u32 {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Held(_)))
            .count() as u32
    }

    fn emit_error(&self, partition: u32, err: &LeaseError) {
        tracing::warn!(partition, error = %err, "lease operation failed");
        self.shared
            .emitter
            .emit_msg(EventName::Error, i64::from(partition), err.to_string());
    }

    fn jitter(&mut self) -> Duration {
        let max = self.timing.max_attempt_interval.as_nanos() as u64;
        Duration::from_nanos(self.rng.u64(0..max.max(1)))
    }

    /// Stops counting leases whose guaranteed time is over.
    fn expire(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            if let Slot::Held(held) = &self.slots[i] {
                if held.expires <= now {
                    tracing::warn!(partition = i, "lease lapsed before it could be renewed");
                    // Its renewal may still reach the storage: remember the id.
                    self.slots[i] = Slot::unknown(held.lease.clone());
                    self.shared.counting(i as u32, false);
                    self.shared.emitter.emit(EventName::Released, i as i64);
                    self.capacity_changed();
                }
            }
        }
    }

    fn next_deadline(&self, now: Instant) -> Instant {
        let mut deadline = now + Duration::from_secs(3600);
        if self.is_silent() {
            // Only lapses are due while the storage is silent (the probe's answer wakes us).
            return self.first_lapse().map_or(deadline, |t| t.min(deadline));
        }
        for slot in &self.slots {
            match slot {
                Slot::Held(held) => {
                    deadline = deadline.min(held.expires);
                    if !held.renewing {
                        deadline = deadline.min(held.renew_at);
                    }
                }
                Slot::Draining { until, .. } => deadline = deadline.min(*until),
                _ => {}
            }
        }
        if !self.fair.syncing && self.shared.wanted.load(Ordering::Acquire) > 0 {
            deadline = deadline.min(self.fair.next_list.max(now));
            if let Some(t) = self.fair.last_announce {
                if self.fair.announced != Some(self.shared.wanted.load(Ordering::Acquire)) {
                    deadline = deadline.min((t + ANNOUNCE_GAP).max(now));
                }
            }
        }
        if let Some(at) = self.recovery_deadline() {
            deadline = deadline.min(at.max(now));
        }
        let n = self.shared.partitions.load(Ordering::Acquire) as usize;
        if self.recovery.may_acquire()
            && self.deficit() > 0
            && self.room() > 0
            && !self.candidates(now, n.min(self.slots.len())).is_empty()
        {
            deadline = deadline.min(self.next_attempt.max(now));
        }
        deadline
    }
}
