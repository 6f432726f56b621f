//! [`Lane`]: one producing thread's part of a watcher's queue, and the [`Shard`]s it
//! is kept in.
//!
//! Operations are kept in order as [`Stored`], without their extra costs; the few that
//! have extra costs have them kept aside, each with its position in the shard, so that
//! a batcher with one resource buffers each operation in the payload and one word.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use tokio::time::Instant;

use crate::Operation;
use crate::chunked::Chunked;
use crate::core::{Padded, lock};
use crate::operation::{ExtraCosts, Stored};

/// How many lanes each watcher's queue (and the buffer's admission) is split into:
/// producers on different threads use different lanes, so that one busy watcher does
/// not serialise its producers on one lock or one counter.
pub(crate) fn lane_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cpus * 2).clamp(2, 16)
    })
}

/// The calling thread's lane, below [`lane_count`].
#[inline]
pub(crate) fn lane_hint() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HINT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % lane_count();
    }
    HINT.with(|h| *h)
}

/// One producing thread's operations for one watcher, in order.
///
/// Producers push to the `live` shard; the dispatcher selects batches from the `taken`
/// shard, which holds the older operations and is refilled by swapping `live` out
/// whole once it is empty. A producer so waits for the dispatcher only for that swap,
/// never while the dispatcher selects and accounts a batch.
pub(crate) struct Lane<T> {
    live: Padded<Mutex<Shard<T>>>,
    taken: Padded<Mutex<Shard<T>>>,
}

impl<T> Lane<T> {
    pub(crate) fn new(now: Instant) -> Self {
        Lane {
            live: Padded(Mutex::new(Shard::new(now))),
            taken: Padded(Mutex::new(Shard::new(now))),
        }
    }

    /// Appends `op`; returns whether the live shard was empty, and its length after.
    #[inline]
    pub(crate) fn push(&self, op: Operation<T>) -> (bool, usize) {
        let mut live = lock(&self.live.0);
        let was_empty = live.push(op);
        (was_empty, live.len())
    }

    /// The lane's oldest operations, for the dispatcher to select from: refilled from
    /// the live shard if empty. Every operation of the lane is in it or behind it.
    pub(crate) fn taken(&self) -> MutexGuard<'_, Shard<T>> {
        let mut taken = lock(&self.taken.0);
        self.refill_taken(&mut taken);
        taken
    }

    /// Refills `taken` (this lane's, already locked) from the live shard if empty;
    /// returns whether it holds anything after.
    pub(crate) fn refill_taken(&self, taken: &mut Shard<T>) -> bool {
        if taken.is_empty() {
            let mut live = lock(&self.live.0);
            if !live.is_empty() {
                std::mem::swap(taken, &mut *live);
            }
        }
        !taken.is_empty()
    }

    /// Operations in the live shard, behind those taken.
    pub(crate) fn live_len(&self) -> usize {
        lock(&self.live.0).len()
    }

    /// Whether the lane holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.taken.0).is_empty() && lock(&self.live.0).is_empty()
    }

    /// Moves every operation, in order, to the end of `out`.
    pub(crate) fn drain_into(&self, out: &mut Vec<Operation<T>>) {
        let mut taken = lock(&self.taken.0);
        taken.drain_into(out);
        lock(&self.live.0).drain_into(out);
    }
}

pub(crate) struct Shard<T> {
    ops: Chunked<Stored<T>>,
    /// Extra costs of the operations that have some, in order, by position.
    extras: VecDeque<(u64, Box<ExtraCosts>)>,
    /// Positions of the next operation pushed and of the front one.
    pushed: u64,
    popped: u64,
    /// When the shard last went from empty to non-empty.
    since: Instant,
}

/// The front operation of a shard: as stored, and its extra costs.
pub(crate) struct Head<'a, T> {
    pub(crate) op: &'a Stored<T>,
    pub(crate) extra: Option<&'a ExtraCosts>,
}

impl<T> Head<'_, T> {
    /// The extra costs, as [`Operation::extra_costs`] gives them.
    pub(crate) fn extra_costs(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.extra.into_iter().flat_map(|e| e.iter())
    }
}

impl<T> Shard<T> {
    pub(crate) fn new(now: Instant) -> Self {
        Shard {
            ops: Chunked::default(),
            extras: VecDeque::new(),
            pushed: 0,
            popped: 0,
            since: now,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// When the shard last went from empty to non-empty.
    pub(crate) fn since(&self) -> Instant {
        self.since
    }

    /// Appends `op`; returns whether the shard was empty.
    #[inline]
    pub(crate) fn push(&mut self, op: Operation<T>) -> bool {
        let was_empty = self.ops.is_empty();
        if was_empty {
            self.since = Instant::now();
        }
        let (stored, extra) = op.split();
        if let Some(extra) = extra {
            self.extras.push_back((self.pushed, extra));
        }
        self.ops.push_back(stored);
        self.pushed += 1;
        was_empty
    }

    #[inline]
    pub(crate) fn front(&self) -> Option<Head<'_, T>> {
        let op = self.ops.front()?;
        let extra = match self.extras.front() {
            Some((at, extra)) if *at == self.popped => Some(&**extra),
            _ => None,
        };
        Some(Head { op, extra })
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<Operation<T>> {
        let stored = self.ops.pop_front()?;
        let extra = match self.extras.front() {
            Some((at, _)) if *at == self.popped => self.extras.pop_front().map(|(_, e)| e),
            _ => None,
        };
        self.popped += 1;
        Some(Operation::join(stored, extra))
    }

    /// Moves plain operations (batchable, with no extra costs) from the front to the
    /// end of `out` while fewer than `limit` have moved and `fits` admits each one's
    /// cost; returns how many moved. It stops at the first other operation, which the
    /// caller takes with [`front`](Self::front) and [`pop_front`](Self::pop_front).
    #[inline]
    pub(crate) fn pop_plain(
        &mut self,
        out: &mut Vec<Operation<T>>,
        limit: usize,
        mut fits: impl FnMut(u64) -> bool,
    ) -> usize {
        // Operations before the next one with extra costs have none.
        let limit = match self.extras.front() {
            Some((at, _)) => {
                let plain = at.saturating_sub(self.popped);
                limit.min(usize::try_from(plain).unwrap_or(usize::MAX))
            }
            None => limit,
        };
        let moved = self.ops.pop_front_while(
            limit,
            |op| op.is_batchable() && fits(u64::from(op.cost())),
            out,
            |op| Operation::join(op, None),
        );
        self.popped += moved as u64;
        moved
    }

    /// Moves every operation, in order, to the end of `out`.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<Operation<T>>) {
        let mut stored = Vec::new();
        self.ops.drain_into(&mut stored);
        out.reserve(stored.len());
        for op in stored {
            let extra = match self.extras.front() {
                Some((at, _)) if *at == self.popped => self.extras.pop_front().map(|(_, e)| e),
                _ => None,
            };
            self.popped += 1;
            out.push(Operation::join(op, extra));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn extra_costs_come_back_with_their_own_operations() {
        let mut shard = Shard::new(Instant::now());
        assert!(shard.push(Operation::new(0u32, 1)));
        assert!(!shard.push(Operation::new(1, 2).with_cost("bytes", 10)));
        shard.push(Operation::new(2, 3));
        shard.push(
            Operation::new(3, 4)
                .with_cost("bytes", 30)
                .with_cost("cpu", 1),
        );
        let head = shard.front().unwrap();
        assert_eq!((head.op.cost(), head.extra_costs().count()), (1, 0));
        let first = shard.pop_front().unwrap();
        assert_eq!((first.cost(), first.extra_costs().count()), (1, 0));
        let head = shard.front().unwrap();
        assert_eq!(head.extra_costs().collect::<Vec<_>>(), vec![("bytes", 10)]);
        assert_eq!(
            shard.pop_front().unwrap(),
            Operation::new(1, 2).with_cost("bytes", 10)
        );
        let mut rest = Vec::new();
        shard.drain_into(&mut rest);
        assert_eq!(
            rest,
            vec![
                Operation::new(2, 3),
                Operation::new(3, 4)
                    .with_cost("cpu", 1)
                    .with_cost("bytes", 30),
            ]
        );
        assert!(shard.is_empty() && shard.front().is_none());
    }
}
