//! [`Inflight`]: batches handed out and not yet done, and the [`Ticket`] that marks
//! each one done exactly once.
//!
//! The audit may find the accounting stuck (batches never marked done) and reset it;
//! the epoch then changes, so that a ticket from before the reset does not subtract
//! twice.

use std::sync::{Arc, Mutex};

use events_core::Emitter;
use tokio::time::Instant;

use crate::core::{Core, lock};
use crate::delivery::Delivery;
use crate::resources::Costs;

#[derive(Debug, Default)]
struct State {
    batches: usize,
    cost: Costs,
    epoch: u64,
    /// When the last batch was handed out.
    last_batch: Option<Instant>,
}

#[derive(Debug, Default)]
pub(crate) struct Inflight(Mutex<State>);

impl Inflight {
    /// Counts a batch of `cost` handed out at `now`; returns the epoch for its ticket.
    pub(crate) fn begin(&self, cost: &Costs, now: Instant) -> u64 {
        let mut s = lock(&self.0);
        s.batches += 1;
        s.cost.add(cost);
        s.last_batch = Some(now);
        s.epoch
    }

    pub(crate) fn finish(&self, epoch: u64, cost: &Costs) {
        let mut s = lock(&self.0);
        if s.epoch == epoch {
            s.batches = s.batches.saturating_sub(1);
            s.cost.sub(cost);
        }
    }

    pub(crate) fn batches(&self) -> usize {
        lock(&self.0).batches
    }

    /// Cost in resource `r` of the batches handed out and not yet done.
    pub(crate) fn cost(&self, r: usize) -> u64 {
        lock(&self.0).cost.get(r)
    }

    pub(crate) fn last_batch(&self) -> Option<Instant> {
        lock(&self.0).last_batch
    }

    /// Forgets every batch handed out (the audit found them stuck) if `buffered` plus
    /// their cost is above zero; returns that target and how many batches there were.
    ///
    /// Only the primary resource's target is reported; every resource's is reset.
    pub(crate) fn reset(&self, buffered: u64) -> Option<(u64, usize)> {
        let mut s = lock(&self.0);
        let target = s.cost.get(0) + buffered;
        if target == 0 && s.cost.is_zero() {
            return None;
        }
        let batches = std::mem::take(&mut s.batches);
        s.cost = Costs::default();
        s.epoch += 1;
        Some((target, batches))
    }
}

/// Marks a batch done exactly once: when its callback finishes or times out, or when
/// its guard is dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    core: Arc<Core>,
    cost: Costs,
    epoch: u64,
    done: bool,
    /// Whether the batch's cost is pending in the dispatcher's window, to be settled
    /// when the batch starts or is given up.
    claimed: bool,
}

impl Ticket {
    pub(crate) fn new(core: Arc<Core>, cost: Costs, epoch: u64, claimed: bool) -> Self {
        Ticket {
            core,
            cost,
            epoch,
            done: false,
            claimed,
        }
    }

    /// The datastore sees the batch now: its callback starts, or its stream's consumer
    /// receives it. From here its cost counts in the window for a second.
    pub(crate) fn start(&mut self) {
        if std::mem::take(&mut self.claimed) {
            self.core.settle_claim(Some(Instant::now()), self.cost);
        }
    }

    pub(crate) fn finish(&mut self) {
        if std::mem::take(&mut self.claimed) {
            // Done without having started: its operations were handed back.
            self.core.settle_claim(None, self.cost);
        }
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.core.finish_batch(self.epoch, &self.cost);
    }

    pub(crate) fn emitter(&self) -> &Emitter {
        self.core.emitter()
    }

    /// The batcher's callback batches, this one among them if it went to a callback.
    pub(crate) fn delivery(&self) -> &Delivery {
        self.core.delivery()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.finish();
    }
}
