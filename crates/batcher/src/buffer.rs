//! [`Buffer`]: admission and room, the one place the buffered counters live.
//!
//! Room is a [`Semaphore`] with one permit per operation the buffer may hold. An
//! enqueue takes a permit (or waits for one); the permit is given back when its
//! operation leaves the buffer for good: handed to a callback, received by a stream's
//! consumer, or taken back with `take_unsent`. Operations released to a stream and not
//! yet received keep their permits, so a consumer that falls behind holds producers
//! back instead of growing memory.
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

use tokio::sync::{Notify, Semaphore};

use crate::resources::{Costs, MAX_RESOURCES};

/// The buffer was full, or closed because the batcher stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRoom {
    Full,
    Closed,
}

/// Keeps the hot counters on their own cache line so producers on different cores do
/// not invalidate unrelated data.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Buffer {
    room: Semaphore,
    /// Per resource, indexed as in [`Resources`](crate::resources::Resources).
    cost: [AtomicU64; MAX_RESOURCES],
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
            cost: Default::default(),
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

    #[inline]
    fn add_cost(&self, costs: &Costs) {
        for (counter, c) in self.cost.iter().zip(costs.iter()) {
            if c != 0 {
                counter.fetch_add(c, Ordering::AcqRel);
            }
        }
    }

    #[inline]
    fn sub_cost(&self, costs: &Costs) {
        for (counter, c) in self.cost.iter().zip(costs.iter()) {
            if c != 0 {
                counter.fetch_sub(c, Ordering::AcqRel);
            }
        }
    }

    /// Takes room for one operation of `cost` if there is some now; returns whether the
    /// buffer is full after it.
    #[inline]
    pub(crate) fn try_admit(&self, cost: &Costs) -> Result<bool, NoRoom> {
        match self.room.try_acquire() {
            Ok(permit) => {
                permit.forget();
                self.add_cost(cost);
                Ok(self.room.available_permits() == 0)
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => Err(NoRoom::Full),
            Err(tokio::sync::TryAcquireError::Closed) => Err(NoRoom::Closed),
        }
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

    /// Gives back room and cost of operations that left the buffer (or were admitted
    /// and then refused).
    pub(crate) fn release(&self, ops: usize, cost: &Costs) {
        self.sub_cost(cost);
        self.room.add_permits(ops);
        self.wake_waiters();
    }

    /// Operations released to a stream: their cost is inflight now, their room is held
    /// until the consumer receives them.
    pub(crate) fn hold_for_delivery(&self, ops: usize, cost: &Costs) {
        self.delivering.fetch_add(ops, Ordering::AcqRel);
        self.sub_cost(cost);
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
        self.add_cost(cost);
    }

    /// Operations holding room: buffered, or on their way to a stream's consumer.
    pub(crate) fn ops(&self) -> usize {
        self.size.saturating_sub(self.room.available_permits())
    }

    /// Cost in resource `r` of the operations not yet released.
    pub(crate) fn cost(&self, r: usize) -> u64 {
        self.cost[r].load(Ordering::Acquire)
    }

    /// Operations that `take_unsent` can take back: those holding room, less those on
    /// their way to a stream's consumer.
    pub(crate) fn unsent(&self) -> usize {
        self.ops()
            .saturating_sub(self.delivering.load(Ordering::Acquire))
    }

    /// Whether no room is left.
    pub(crate) fn is_full(&self) -> bool {
        self.room.available_permits() == 0
    }

    /// Refuses every later admission and wakes the waiting ones with
    /// [`NoRoom::Closed`]; room can still be given back, so the counters stay right.
    pub(crate) fn close(&self) {
        self.room.close();
        self.wake_waiters();
    }
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
