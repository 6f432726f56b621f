//! Draining: partitions no longer needed stop being counted at once and are released one
//! rate window later; demand that returns meanwhile counts them again.

use std::sync::atomic::Ordering;

use events_core::EventName;
use tokio::time::Instant;

use super::{Engine, Op, Slot};

impl Engine {
    /// Stops counting what is no longer wanted (and partitions beyond a reduced count);
    /// the leases are released one rate window later.
    pub(super) fn shed(&mut self, n: usize, now: Instant) {
        let wanted = self.to_keep(now);
        let mut held: Vec<(usize, bool, Instant)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Held(h) => Some((i, h.renewing, h.expires)),
                _ => None,
            })
            .collect();
        // Partitions past the end go first, then idle ones closest to expiry.
        held.sort_by_key(|&(i, renewing, expires)| (i < n, renewing, expires));
        let mut count = held.len() as u32;
        for (i, _, _) in held {
            if count <= wanted && i < n {
                break;
            }
            self.drain(i, now);
            count -= 1;
        }
    }

    /// How many partitions to keep: what is wanted, capped at our fair share, except
    /// right after the storage was silent. Then capacity comes back first: every instance
    /// keeps what it could re-acquire (a share that moved meanwhile would cost a rate
    /// window of capacity per partition moved), and shares apply again after the grace.
    fn to_keep(&self, now: Instant) -> u32 {
        match self.fair.grace {
            Some((_, until)) if now < until => self.shared.wanted.load(Ordering::Acquire),
            _ => self.wanted(),
        }
    }

    /// Stops counting partition `i` at once and keeps its lease for one rate window.
    fn drain(&mut self, i: usize, now: Instant) {
        let slot = std::mem::replace(&mut self.slots[i], Slot::free());
        let Slot::Held(held) = slot else {
            self.slots[i] = slot;
            return;
        };
        // Stop counting long before the storage hears of it: once released, others may
        // take it, and they must not spend it in the window we may have spent it in.
        let until = now + self.timing.rate_window;
        tracing::debug!(partition = i, "draining lease no longer needed");
        self.slots[i] = Slot::Draining { held, until };
        self.shared.counting(i as u32, false);
        self.capacity_changed();
    }

    /// Counts draining partitions again when demand came back: we never gave them up.
    pub(super) fn reclaim(&mut self, now: Instant, n: usize) {
        for i in 0..n.min(self.slots.len()) {
            if self.deficit() == 0 {
                return;
            }
            let reusable =
                matches!(&self.slots[i], Slot::Draining { held, .. } if now < held.expires);
            if !reusable {
                continue;
            }
            let slot = std::mem::replace(&mut self.slots[i], Slot::free());
            if let Slot::Draining { held, .. } = slot {
                tracing::debug!(
                    partition = i,
                    "demand returned: counting a draining lease again"
                );
                self.slots[i] = Slot::Held(held);
                self.shared.counting(i as u32, true);
                self.shared.emitter.emit(EventName::Allocated, i as i64);
                self.capacity_changed();
            }
        }
    }

    /// Releases the leases whose rate window is over.
    pub(super) fn end_drains(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let over = matches!(&self.slots[i], Slot::Draining { until, .. } if *until <= now);
            if !over {
                continue;
            }
            let slot = std::mem::replace(&mut self.slots[i], Slot::free());
            if let Slot::Draining { held, .. } = slot {
                tracing::debug!(partition = i, "releasing drained lease");
                self.slots[i] = Slot::Releasing(held.lease.clone());
                self.shared.emitter.emit(EventName::Released, i as i64);
                self.spawn_op(Op::Release, i as u32, held.lease);
            }
        }
    }
}
