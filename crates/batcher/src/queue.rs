//! The per-watcher queue: typed, sharded by producing thread, type-erased for the
//! dispatcher through the [`Queue`] trait.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use events_core::{Event, EventName};
use tokio::time::Instant;

use crate::core::{Core, after, lock};
use crate::delivery::Sink;
use crate::feedback::Feedback;
use crate::pacing::Allowances;
use crate::resources::Costs;
use crate::shard::{Lane, lane_count, lane_hint};
use crate::{BatchMetadata, Operation};

const TIMER_SLACK: Duration = Duration::from_millis(2);

pub(crate) struct WatcherQueue<T> {
    core: Arc<Core>,
    id: u64,
    lanes: Box<[Lane<T>]>,
    scheduled: AtomicBool,
    /// Set once a stream watcher's [`Batches`](crate::Batches) is dropped: nothing more
    /// is released to it and nothing more is accepted.
    closed: AtomicBool,
    /// Operations of batches that never reached a dropped stream, awaiting `take_all`.
    returned: Mutex<Vec<Operation<T>>>,
    rotor: AtomicUsize,
    max_batch_size: usize,
    max_attempts: Option<u32>,
    max_operation_time: Duration,
    sink: Sink<T>,
    /// This queue, for the feedback of its batches.
    me: Weak<WatcherQueue<T>>,
}

impl<T> std::fmt::Debug for WatcherQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("id", &self.id)
            .field("max_batch_size", &self.max_batch_size)
            .field("max_attempts", &self.max_attempts)
            .field("max_operation_time", &self.max_operation_time)
            .finish_non_exhaustive()
    }
}

/// What one attempt to release a batch from a queue came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A batch left: its operation count and cost in each resource.
    Released { ops: usize, cost: Costs },
    /// Operations wait for more company until `until`.
    Lingering { until: Instant },
    /// The next operation, of this cost, does not fit a paced allowance or a window now.
    Blocked { cost: Costs },
    /// Nothing is buffered.
    Empty,
    /// The watcher's stream holds as many unreceived batches as it may; its consumer
    /// wakes the dispatcher once it has received some.
    Held,
}

/// The dispatcher's view of a watcher's queue, whatever its payload type.
pub(crate) trait Queue: Send + Sync {
    /// Releases at most one batch that `allowance` admits. `before` runs just before a
    /// batch is handed out.
    fn release(
        &self,
        now: Instant,
        forced: bool,
        allowance: &Allowances,
        before: &mut dyn FnMut(),
    ) -> Step;
    /// Clears the scheduled flag if the queue is empty; returns whether it must stay
    /// scheduled.
    fn unschedule(&self) -> bool;
}

impl<T: Send + 'static> WatcherQueue<T> {
    pub(crate) fn new(
        core: Arc<Core>,
        max_batch_size: usize,
        max_attempts: Option<u32>,
        max_operation_time: Duration,
        sink: Sink<T>,
    ) -> Arc<Self> {
        let now = Instant::now();
        let id = core.signals().next_watcher_id();
        Arc::new_cyclic(|me| WatcherQueue {
            core,
            id,
            lanes: (0..lane_count()).map(|_| Lane::new(now)).collect(),
            scheduled: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            returned: Mutex::new(Vec::new()),
            rotor: AtomicUsize::new(0),
            max_batch_size,
            max_attempts,
            max_operation_time,
            sink,
            me: me.clone(),
        })
    }

    /// Pushes an operation that already has its buffer room reserved; `full` says the
    /// buffer is full after it.
    #[inline]
    pub(crate) fn push(self: &Arc<Self>, op: Operation<T>, full: bool) {
        let (was_empty, len) = self.lanes[lane_hint()].push(op);
        if was_empty && !self.scheduled.swap(true, Ordering::SeqCst) {
            self.core.signals().schedule(self.clone());
        } else if full || len == self.max_batch_size || self.core.options().linger.is_zero() {
            // A full buffer releases what it holds without waiting for a tick or a
            // full batch.
            self.core.signals().ring();
        }
    }

    /// Takes every buffered operation out, giving their buffer room back.
    pub(crate) fn take_all(&self) -> Vec<Operation<T>> {
        let mut out = std::mem::take(&mut *lock(&self.returned));
        for lane in self.lanes.iter() {
            lane.drain_into(&mut out);
        }
        let cost = self.costs(&out);
        if !out.is_empty() {
            self.core.buffer().release(out.len(), &cost);
        }
        out
    }
}

impl<T> WatcherQueue<T> {
    /// The watcher's id within its batcher.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub(crate) fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// Whether the watcher's stream was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// What `ops` cost in each resource.
    fn costs(&self, ops: &[Operation<T>]) -> Costs {
        let mut cost = Costs::default();
        for op in ops {
            cost.add(&self.core.resources().costs(op).unwrap_or_default());
        }
        cost
    }

    /// The stream's consumer received a batch of `ops` operations and `queued` batches
    /// are left: their room is free, and the dispatcher is woken if the full channel
    /// held this watcher back.
    pub(crate) fn received(&self, ops: usize, queued: usize) {
        self.core.buffer().delivered(ops);
        if self.sink.received(queued) {
            self.core.signals().ring();
        }
    }

    /// Marks a stream watcher's queue closed: its stream was dropped.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Keeps the operations of a batch that never reached its stream for `take_all`,
    /// as if they had not been handed out: buffered again, the attempt taken back.
    pub(crate) fn restore(&self, mut ops: Vec<Operation<T>>) {
        if ops.is_empty() {
            return;
        }
        for op in &mut ops {
            op.unmark_attempt();
        }
        let cost = self.costs(&ops);
        let count = ops.len();
        self.core.buffer().undelivered(count, &cost);
        lock(&self.returned).extend(ops);
        tracing::debug!(
            watcher = self.id,
            operations = count,
            "batch stream dropped; its operations are kept for take_unsent"
        );
    }
}

impl<T: Send + 'static> Queue for WatcherQueue<T> {
    fn release(
        &self,
        now: Instant,
        forced: bool,
        allowance: &Allowances,
        before: &mut dyn FnMut(),
    ) -> Step {
        if self.closed.load(Ordering::Acquire) {
            // What is buffered stays for `take_unsent`.
            return Step::Empty;
        }
        let mut total = 0usize;
        let mut oldest: Option<Instant> = None;
        let mut lone = false;
        for lane in self.lanes.iter() {
            let s = lane.taken();
            if let Some(head) = s.front() {
                total += s.len();
                if total < self.max_batch_size {
                    total += lane.live_len();
                }
                let since = s.since();
                oldest = Some(oldest.map_or(since, |o| o.min(since)));
                lone |= !head.op.is_batchable();
            }
        }
        let Some(oldest) = oldest else {
            return Step::Empty;
        };
        // Timers fire a millisecond or two late; aiming that much early keeps the wait
        // within the linger.
        let due = after(
            oldest,
            self.core.options().linger.saturating_sub(TIMER_SLACK),
        );
        let ripe = forced
            || lone
            || total >= self.max_batch_size
            || due <= now
            || self.core.buffer().is_full();
        if !ripe {
            return Step::Lingering { until: due };
        }

        if !self.sink.has_room() {
            return Step::Held;
        }
        let max = self.max_batch_size;
        let mut batch: Vec<Operation<T>> = Vec::with_capacity(total.min(max));
        let mut cost = Costs::default();
        let mut blocked = None;
        let n = self.lanes.len();
        let start = self.rotor.fetch_add(1, Ordering::Relaxed);
        let resources = self.core.resources();
        'shards: for i in 0..n {
            let lane = &self.lanes[(start + i) % n];
            let mut s = lane.taken();
            // Once every taken operation is in the batch, go on with the live ones.
            while lane.refill_taken(&mut s) {
                if batch.len() >= max {
                    break 'shards;
                }
                // Most operations are batchable and cost only in the primary resource:
                // they move in runs, counted without a cost array of their own.
                let room = max - batch.len();
                let moved = s.pop_plain(&mut batch, room, |c| {
                    let fits = allowance.admits_primary(&cost, c);
                    if fits {
                        cost.add_primary(c);
                    }
                    fits
                });
                if moved > 0 {
                    continue;
                }
                // The front one is not: taken alone, with extra costs (names were
                // checked at enqueue), or it does not fit.
                let Some(head) = s.front() else { break };
                let primary = u64::from(head.op.cost());
                let extra = head.extra.map(|_| {
                    resources
                        .costs_of(head.op.cost(), head.extra_costs())
                        .unwrap_or_default()
                });
                let alone = !head.op.is_batchable();
                if alone && !batch.is_empty() {
                    break;
                }
                let fits = match &extra {
                    None => allowance.admits_primary(&cost, primary),
                    Some(c) => allowance.admits(&cost, c),
                };
                if !fits {
                    blocked = Some(extra.unwrap_or_else(|| Costs::primary(primary)));
                    break 'shards;
                }
                match &extra {
                    None => cost.add_primary(primary),
                    Some(c) => cost.add(c),
                }
                batch.extend(s.pop_front());
                if alone {
                    break 'shards;
                }
            }
        }
        if batch.is_empty() {
            return match blocked {
                Some(cost) => Step::Blocked { cost },
                None => Step::Empty,
            };
        }
        before();
        let count = batch.len();
        for op in &mut batch {
            op.mark_attempt();
        }
        let ticket = self.core.begin_batch(cost, now);
        if self.sink.holds_room() {
            self.core.buffer().hold_for_delivery(count, &cost);
        } else {
            self.core.buffer().release(count, &cost);
        }
        if self.core.options().emit_batch {
            let kind = self.sink.kind();
            let raised = self
                .core
                .emitter()
                .emit_with_reuse(EventName::Batch, count as i64, |e| {
                    let meta = BatchMetadata::reusing(self.id, kind, &batch, self.core.resources());
                    e.with_static_msg(kind.as_str()).with_shared_metadata(meta)
                });
            if let Some(meta) = raised.and_then(Event::into_metadata) {
                BatchMetadata::recycle(meta);
            }
        }
        let feedback = Feedback::new(self.core.clone(), self.me.clone());
        if let Err(unsent) = self.sink.deliver(
            self.core.delivery(),
            self.id,
            batch,
            ticket,
            feedback,
            self.max_operation_time,
        ) {
            self.restore(unsent);
        }
        Step::Released { ops: count, cost }
    }

    fn unschedule(&self) -> bool {
        self.scheduled.store(false, Ordering::SeqCst);
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        let empty = self.lanes.iter().all(Lane::is_empty);
        if empty {
            return false;
        }
        // A producer may have found the flag set and not scheduled us; take it back
        // unless a producer scheduled us anew in the meantime.
        !self.scheduled.swap(true, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Batcher;

    #[tokio::test(start_paused = true)]
    async fn a_batch_its_stream_can_no_longer_receive_is_kept_for_take_all() {
        let batcher = Batcher::builder().build().unwrap();
        let core = batcher.core().clone();
        let (sink, rx) = Sink::stream(4);
        // The receiver is gone before the batch is sent, as when a stream is dropped
        // while the dispatcher is releasing to it.
        drop(rx);
        let queue = WatcherQueue::new(core.clone(), 10, None, Duration::from_secs(1), sink);
        for i in 0..3u8 {
            core.buffer().try_admit(&Costs::primary(2)).unwrap();
            queue.push(Operation::new(i, 2), false);
        }
        let step = queue.release(Instant::now(), true, &Allowances::default(), &mut || {});
        assert_eq!(
            step,
            Step::Released {
                ops: 3,
                cost: Costs::primary(6)
            }
        );
        assert_eq!(batcher.operations_in_buffer(), 3);
        assert_eq!(batcher.needs_capacity(), 6);
        assert_eq!(batcher.inflight(), 0);

        let back = queue.take_all();
        let payloads: Vec<u8> = back.iter().map(|o| *o.payload()).collect();
        assert_eq!(payloads, vec![0, 1, 2]);
        assert!(back.iter().all(|o| o.attempts() == 0));
        assert_eq!(batcher.operations_in_buffer(), 0);
        assert_eq!(batcher.needs_capacity(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_stream_holds_its_watcher_back_until_half_is_received() {
        let batcher = Batcher::builder().build().unwrap();
        let core = batcher.core().clone();
        let (sink, mut rx) = Sink::stream(4);
        let queue = WatcherQueue::new(core.clone(), 1, None, Duration::from_secs(1), sink);
        for i in 0..6u8 {
            core.buffer().try_admit(&Costs::primary(1)).unwrap();
            queue.push(Operation::new(i, 1), false);
        }
        let release = || queue.release(Instant::now(), true, &Allowances::default(), &mut || {});
        for _ in 0..4 {
            assert!(matches!(release(), Step::Released { ops: 1, .. }));
        }
        assert_eq!(release(), Step::Held);
        // One received: not yet half, no wake-up.
        let first = rx.recv().await.unwrap();
        assert!(!queue.sink.received(rx.len()));
        assert!(matches!(release(), Step::Released { ops: 1, .. }));
        assert_eq!(release(), Step::Held);
        let second = rx.recv().await.unwrap();
        let third = rx.recv().await.unwrap();
        assert!(
            queue.sink.received(rx.len()),
            "half received: wake the dispatcher"
        );
        assert!(!queue.sink.received(rx.len()), "once");
        assert!(matches!(release(), Step::Released { ops: 1, .. }));
        let payloads: Vec<u8> = [first, second, third]
            .iter()
            .map(|b| *b[0].payload())
            .collect();
        assert_eq!(payloads, vec![0, 1, 2]);
    }
}
