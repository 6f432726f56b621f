//! Acquiring and renewing: which partitions to ask for, how many at once, and when.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::{Engine, Op, Slot};
use crate::LeaseId;

impl Engine {
    pub(super) fn renew(&mut self, now: Instant, n: usize) {
        let mut due = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate().take(n) {
            if let Slot::Held(held) = slot {
                if !held.renewing && held.renew_at <= now {
                    held.renewing = true;
                    due.push((i as u32, held.lease.clone()));
                }
            }
        }
        for (i, lease) in due {
            self.spawn_op(Op::Renew, i, lease);
        }
    }

    pub(super) fn candidates(&self, now: Instant, n: usize) -> Vec<usize> {
        let free: Vec<(usize, bool)> = self.slots[..n]
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Slot::Free { failed_at, .. } => Some((
                    i,
                    failed_at.is_some_and(|t| now < t + self.timing.lease_duration),
                )),
                _ => None,
            })
            .collect();
        // Prefer partitions not recently seen held by someone else.
        let fresh: Vec<usize> = free.iter().filter(|f| !f.1).map(|f| f.0).collect();
        if fresh.is_empty() {
            free.into_iter().map(|f| f.0).collect()
        } else {
            fresh
        }
    }

    /// The partitions to hold: what was asked for, capped at our fair share when other
    /// instances want partitions too.
    pub(super) fn wanted(&self) -> u32 {
        let wanted = self.shared.wanted.load(Ordering::Acquire);
        self.fair.share.map_or(wanted, |share| wanted.min(share))
    }

    pub(super) fn deficit(&self) -> u32 {
        let wanted = self.wanted();
        wanted.saturating_sub(self.held_count() + self.acquiring)
    }

    pub(super) fn room(&self) -> u32 {
        let limit = if self.contended {
            1
        } else {
            self.timing.max_concurrent_acquires
        };
        limit.saturating_sub(self.acquiring)
    }

    pub(super) fn acquire(&mut self, now: Instant, n: usize) {
        if now < self.next_attempt || !self.recovery.may_acquire() {
            return;
        }
        let launch = self.deficit().min(self.room());
        if launch == 0 {
            return;
        }
        let mut candidates = self.candidates(now, n);
        // Partitions whose last call went unanswered come first: the storage may hold
        // them for us already, and asking with the same id confirms it at once.
        let (mut known, mut rest): (Vec<usize>, Vec<usize>) = candidates
            .drain(..)
            .partition(|&i| matches!(&self.slots[i], Slot::Free { known: Some(_), .. }));
        for _ in 0..launch {
            let pick = if let Some(pick) = known.pop() {
                pick
            } else if rest.is_empty() {
                break;
            } else {
                rest.swap_remove(self.rng.usize(0..rest.len()))
            };
            let lease = match std::mem::replace(&mut self.slots[pick], Slot::free()) {
                Slot::Free {
                    known: Some(lease), ..
                } => lease,
                _ => LeaseId::random(&mut self.rng),
            };
            self.slots[pick] = Slot::Acquiring(lease.clone());
            self.acquiring += 1;
            self.spawn_op(Op::Acquire, pick as u32, lease);
        }
    }
}
