//! [`Buffer`]: admission and room, the one place the buffered counters live.
//!
//! Room is a [`Semaphore`] with one permit per operation the buffer may hold. An
//! enqueue takes a permit (or waits for one); the permit is given back when its
//! operation leaves the buffer for good: handed to a callback, received by a stream's
//! consumer, or taken back with `take_unsent`. Operations released to a stream and not
//! yet received keep their permits, so a consumer that falls behind holds producers
//! back instead of growing memory.
//!
//! Producers on different threads would otherwise update the same two counters for
//! every operation (the permits and the buffered cost), and a counter shared between
//! cores costs more than the rest of an enqueue. So each producing thread's
//! [lane](crate::shard::lane_hint) has a slot of its own: the cost it added, and a
//! small reserve of permits taken from the semaphore a few at a time (at most a
//! 1,024th of the buffer, so that small buffers are exact). A producer that finds the
//! semaphore empty takes the other lanes' reserves back before it calls the buffer
//! full, so no enqueue is refused while room is left. Everything else (releases,
//! deliveries) is counted once per batch in the shared counters.
//!
//! Producers waiting for room are woken once a slice of the buffer (an eighth, at most
//! 8,192 operations) is free rather than for every batch that leaves, so that a full
//! buffer does not wake every waiting producer per batch; they then take room without
//! waiting.
//!
//! The buffered cost counts what is not yet released (released cost is inflight, see
//! [`Core`](crate::core::Core)); `delivering` counts operations released to a stream
//! and not yet received, so that "unsent" (what `take_unsent` can take) is the rest.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};

use tokio::sync::{Notify, Semaphore, TryAcquireError};

use crate::core::Padded;
use crate::resources::{Costs, MAX_RESOURCES};
use crate::shard::{lane_count, lane_hint};

/// The buffer was full, or closed because the batcher stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRoom {
    Full,
    Closed,
}

/// One lane's part of the counters, on a cache line of its own.
#[derive(Debug, Default)]
struct Slot {
    /// Permits taken from the semaphore and not yet used.
    reserve: AtomicUsize,
    /// Cost this lane admitted, wrapping; see [`Buffer::cost`].
    added: [AtomicU64; MAX_RESOURCES],
}

#[derive(Debug)]
pub(crate) struct Buffer {
    room: Semaphore,
    slots: Box<[Padded<Slot>]>,
    /// Permits a lane takes at a time.
    chunk: usize,
    /// Cost released or restored, wrapping: what the slots added, less this, is the
    /// buffered cost.
    taken: Padded<[AtomicU64; MAX_RESOURCES]>,
    delivering: AtomicUsize,
    size: usize,
    /// Wakes producers waiting for room, once `slice` permits are free.
    space: Notify,
    waiters: AtomicUsize,
    slice: usize,
}

impl Buffer {
    /// A buffer of `size` operations (at most [`MAX_BUFFER_SIZE`](crate::MAX_BUFFER_SIZE),
    /// well within what a semaphore holds).
    pub(crate) fn new(size: usize) -> Self {
        Buffer {
            room: Semaphore::new(size),
            slots: (0..lane_count()).map(|_| Padded::default()).collect(),
            chunk: (size / 1024).clamp(1, 256),
            taken: Padded::default(),
            delivering: AtomicUsize::new(0),
            size,
            space: Notify::new(),
            waiters: AtomicUsize::new(0),
            slice: (size / 8).clamp(1, 8192),
        }
    }

    /// The configured size.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Takes room for one operation of `cost` if there is some now; returns whether the
    /// buffer is full after it.
    #[inline]
    pub(crate) fn try_admit(&self, cost: &Costs) -> Result<bool, NoRoom> {
        let slot = &self.slots[lane_hint()].0;
        let full = if take_one(&slot.reserve) {
            false
        } else {
            self.refill(slot)?
        };
        for (counter, c) in slot.added.iter().zip(cost.iter()) {
            if c != 0 {
                counter.fetch_add(c, Ordering::Release);
            }
        }
        Ok(full)
    }

    /// Takes one permit for the caller and up to a chunk more for `slot`'s reserve;
    /// returns whether the semaphore is empty after it.
    #[cold]
    fn refill(&self, slot: &Slot) -> Result<bool, NoRoom> {
        if self.chunk > 1 {
            if let Ok(permits) = self.room.try_acquire_many(self.chunk as u32) {
                permits.forget();
                slot.reserve.fetch_add(self.chunk - 1, Ordering::AcqRel);
                if self.room.is_closed() {
                    // Closed meanwhile: what is reserved admits nothing more.
                    self.reclaim();
                }
                return Ok(self.room.available_permits() == 0);
            }
        }
        let take = || match self.room.try_acquire() {
            Ok(permit) => {
                permit.forget();
                Ok(self.room.available_permits() == 0)
            }
            Err(TryAcquireError::Closed) => Err(NoRoom::Closed),
            Err(TryAcquireError::NoPermits) => Err(NoRoom::Full),
        };
        match take() {
            // Room may be left in the other lanes' reserves: take it back first.
            Err(NoRoom::Full) if self.reclaim() > 0 => take(),
            taken => taken,
        }
    }

    /// Gives every lane's reserve back to the semaphore; returns how many permits.
    fn reclaim(&self) -> usize {
        let back: usize = self
            .slots
            .iter()
            .map(|s| s.0.reserve.swap(0, Ordering::AcqRel))
            .sum();
        if back > 0 {
            self.room.add_permits(back);
        }
        back
    }

    /// Waits for room for one operation of `cost`; returns whether the buffer is full
    /// after it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: room is taken only when the future completes.
    pub(crate) async fn admit(&self, cost: &Costs) -> Result<bool, NoRoom> {
        loop {
            match self.try_admit(cost) {
                Err(NoRoom::Full) => {}
                done => return done,
            }
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.waiters.fetch_add(1, Ordering::SeqCst);
            if self.room.available_permits() == 0 && !self.room.is_closed() {
                notified.await;
            }
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Wakes the waiting producers if a slice of the buffer is free (or it closed).
    fn wake_waiters(&self) {
        // Pairs with the waiter's count-then-check in `admit`: either it sees the
        // permits or we see it waiting.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) != 0
            && (self.room.available_permits() >= self.slice || self.room.is_closed())
        {
            self.space.notify_waiters();
        }
    }

    #[inline]
    fn take_cost(&self, costs: &Costs) {
        for (counter, c) in self.taken.0.iter().zip(costs.iter()) {
            if c != 0 {
                counter.fetch_add(c, Ordering::AcqRel);
            }
        }
    }

    #[inline]
    fn untake_cost(&self, costs: &Costs) {
        for (counter, c) in self.taken.0.iter().zip(costs.iter()) {
            if c != 0 {
                counter.fetch_sub(c, Ordering::AcqRel);
            }
        }
    }

    /// Gives back room and cost of operations that left the buffer (or were admitted
    /// and then refused).
    pub(crate) fn release(&self, ops: usize, cost: &Costs) {
        self.take_cost(cost);
        self.room.add_permits(ops);
        self.wake_waiters();
    }

    /// Operations released to a stream: their cost is inflight now, their room is held
    /// until the consumer receives them.
    pub(crate) fn hold_for_delivery(&self, ops: usize, cost: &Costs) {
        self.delivering.fetch_add(ops, Ordering::AcqRel);
        self.take_cost(cost);
    }

    /// A stream's consumer received `ops` operations: their room is free.
    pub(crate) fn delivered(&self, ops: usize) {
        self.delivering.fetch_sub(ops, Ordering::AcqRel);
        self.room.add_permits(ops);
        self.wake_waiters();
    }

    /// A batch released to a stream never reached its consumer: its operations are
    /// buffered again (their room was held all along).
    pub(crate) fn undelivered(&self, ops: usize, cost: &Costs) {
        self.delivering.fetch_sub(ops, Ordering::AcqRel);
        self.untake_cost(cost);
    }

    /// Operations holding room: buffered, or on their way to a stream's consumer.
    pub(crate) fn ops(&self) -> usize {
        let reserved: usize = self
            .slots
            .iter()
            .map(|s| s.0.reserve.load(Ordering::Acquire))
            .sum();
        self.size
            .saturating_sub(self.room.available_permits())
            .saturating_sub(reserved)
    }

    /// Cost in resource `r` of the operations not yet released.
    pub(crate) fn cost(&self, r: usize) -> u64 {
        // What was taken is read first: every cost taken was added before, so the
        // slots read after show at least as much, and the difference never wraps
        // below zero (it may count an admission made meanwhile).
        let taken = self.taken.0[r].load(Ordering::Acquire);
        let added = self.slots.iter().fold(0u64, |sum, s| {
            sum.wrapping_add(s.0.added[r].load(Ordering::Acquire))
        });
        added.wrapping_sub(taken)
    }

    /// Operations that `take_unsent` can take back: those holding room, less those on
    /// their way to a stream's consumer.
    pub(crate) fn unsent(&self) -> usize {
        self.ops()
            .saturating_sub(self.delivering.load(Ordering::Acquire))
    }

    /// Whether no room is left to take from the semaphore (a lane's reserve, at most a
    /// 1,024th of the buffer, may still admit a few).
    pub(crate) fn is_full(&self) -> bool {
        self.room.available_permits() == 0
    }

    /// Refuses every later admission and wakes the waiting ones with
    /// [`NoRoom::Closed`]; room can still be given back, so the counters stay right.
    pub(crate) fn close(&self) {
        self.room.close();
        self.reclaim();
        self.wake_waiters();
    }
}

/// Takes one permit from a lane's reserve if it has one.
#[inline]
fn take_one(reserve: &AtomicUsize) -> bool {
    let mut have = reserve.load(Ordering::Relaxed);
    while have > 0 {
        match reserve.compare_exchange_weak(have, have - 1, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => have = now,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn room_is_held_until_the_consumer_receives() {
        let b = Buffer::new(3);
        assert_eq!(b.try_admit(&Costs::primary(5)), Ok(false));
        assert_eq!(b.try_admit(&Costs::primary(5)), Ok(false));
        assert_eq!(b.try_admit(&Costs::primary(5)), Ok(true));
        assert_eq!(b.try_admit(&Costs::primary(5)), Err(NoRoom::Full));
        assert_eq!((b.ops(), b.cost(0), b.unsent()), (3, 15, 3));
        b.hold_for_delivery(2, &Costs::primary(10));
        assert_eq!(
            (b.ops(), b.cost(0), b.unsent(), b.is_full()),
            (3, 5, 1, true)
        );
        b.undelivered(1, &Costs::primary(5));
        b.delivered(1);
        assert_eq!((b.ops(), b.cost(0), b.unsent()), (2, 10, 2));
        assert_eq!(b.admit(&Costs::primary(1)).await, Ok(true));
        b.release(3, &Costs::primary(11));
        assert_eq!((b.ops(), b.cost(0)), (0, 0));
    }

    #[test]
    fn room_reserved_by_one_thread_is_taken_back_before_another_is_refused() {
        let b = std::sync::Arc::new(Buffer::new(4096));
        assert_eq!(b.chunk, 4);
        // This thread takes a chunk and keeps three permits in reserve.
        assert_eq!(b.try_admit(&Costs::primary(2)), Ok(false));
        assert_eq!((b.ops(), b.cost(0)), (1, 2));
        let other = std::thread::spawn({
            let b = b.clone();
            move || {
                let admitted = (0..5000)
                    .take_while(|_| b.try_admit(&Costs::primary(1)).is_ok())
                    .count();
                (admitted, b.try_admit(&Costs::primary(1)))
            }
        });
        let (admitted, then) = other.join().unwrap();
        assert_eq!((admitted, then), (4095, Err(NoRoom::Full)));
        assert!(b.is_full());
        assert_eq!((b.ops(), b.cost(0), b.unsent()), (4096, 4097, 4096));
        assert_eq!(b.try_admit(&Costs::primary(1)), Err(NoRoom::Full));
        b.release(4096, &Costs::primary(4097));
        assert_eq!((b.ops(), b.cost(0)), (0, 0));
        b.close();
        assert_eq!(b.try_admit(&Costs::primary(1)), Err(NoRoom::Closed));
        assert_eq!(b.ops(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn closing_wakes_the_waiting_and_refuses_the_rest() {
        let b = std::sync::Arc::new(Buffer::new(1));
        b.try_admit(&Costs::primary(1)).unwrap();
        let waiting = tokio::spawn({
            let b = b.clone();
            async move { b.admit(&Costs::primary(1)).await }
        });
        tokio::task::yield_now().await;
        b.close();
        assert_eq!(waiting.await.unwrap(), Err(NoRoom::Closed));
        assert_eq!(b.try_admit(&Costs::primary(1)), Err(NoRoom::Closed));
        b.release(1, &Costs::primary(1));
        assert_eq!(b.ops(), 0);
    }
}
