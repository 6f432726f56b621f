//! Fair sharing in the lease loop: announcing our demand and reading the others'.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use events_core::EventName;
use tokio::time::Instant;

use super::{ANNOUNCE_GAP, Engine, Op, QUICK_LISTS};
use crate::fair::fair_share;
use crate::{LeaseError, LeaseId, Member};

/// What this instance knows about the others' demand.
#[derive(Debug)]
pub(super) struct Fairness {
    /// Our identity in announcements.
    pub(super) member: String,
    /// Our fair share, when other instances want partitions too.
    pub(super) share: Option<u32>,
    /// The demand we last announced.
    pub(super) announced: Option<u32>,
    pub(super) last_announce: Option<Instant>,
    pub(super) next_list: Instant,
    pub(super) syncing: bool,
    /// A withdrawal is on its way; no sync starts meanwhile, so that it cannot remove an
    /// announcement made after it.
    pub(super) withdrawing: bool,
    /// Quick follow-up reads left after we started wanting partitions, to see the
    /// instances that started wanting at about the same time.
    pub(super) quick_lists: u8,
    /// After the storage was silent: how much longer than usual an instance may have been
    /// silent and still count as alive, and until when. Nobody could announce while the
    /// storage was silent, so for a while after it answers again everyone's announcement
    /// is older than usual, and taking the others for gone would only make the instances
    /// take partitions from each other (each move costs a rate window of capacity).
    pub(super) grace: Option<(Duration, Instant)>,
}

impl Engine {
    pub(super) fn sync_interval(&self) -> Duration {
        self.timing.lease_duration / 3
    }

    /// Announces a changed demand and reads the others' on schedule.
    pub(super) fn sync(&mut self, now: Instant) {
        if self.fair.syncing {
            return;
        }
        let wanted = self.shared.wanted.load(Ordering::Acquire);
        if wanted == 0 {
            self.fair.share = None;
            if self.fair.announced.take().is_some() {
                self.fair.syncing = true;
                self.fair.withdrawing = true;
                let placeholder = LeaseId::random(&mut self.rng);
                self.spawn_op(Op::Withdraw, 0, placeholder);
            }
            return;
        }
        let gap_over = self
            .fair
            .last_announce
            .is_none_or(|t| now >= t + ANNOUNCE_GAP);
        let stale = self
            .fair
            .last_announce
            .is_none_or(|t| now >= t + self.timing.lease_duration);
        let announce = gap_over && (self.fair.announced != Some(wanted) || stale);
        if !announce && now < self.fair.next_list {
            return;
        }
        let payload = if announce {
            if self.fair.announced.is_none() {
                self.fair.quick_lists = QUICK_LISTS;
            }
            self.fair.announced = Some(wanted);
            self.fair.last_announce = Some(now);
            wanted
        } else {
            u32::MAX
        };
        self.fair.syncing = true;
        let placeholder = LeaseId::random(&mut self.rng);
        self.spawn_op(Op::Sync, payload, placeholder);
    }

    pub(super) fn synced(
        &mut self,
        now: Instant,
        sent: Instant,
        result: Result<Option<Vec<Member>>, LeaseError>,
    ) {
        self.fair.syncing = false;
        self.fair.next_list = now + self.sync_interval();
        match result {
            Ok(Some(members)) => {
                if self.fair.announced.is_some()
                    && !members.is_empty()
                    && !members.iter().any(|m| m.id == self.fair.member)
                {
                    // We announced and nobody withdrew us, yet others are listed (a store
                    // without membership lists nobody): the storage forgot us.
                    return self.data_lost(now, "our announcement is gone");
                }
                self.rejoined(now, sent);
                let wanted = self.shared.wanted.load(Ordering::Acquire);
                let partitions = self.shared.partitions.load(Ordering::Acquire);
                let lease_secs = self.timing.lease_duration.as_secs().max(1);
                // A live instance announces at least every lease duration, late by up to one
                // sync interval; one silent for longer (stopped, cut off) no longer counts,
                // so that the others can take its partitions soon after its leases lapse.
                let mut alive =
                    self.timing.lease_duration + self.sync_interval() + Duration::from_secs(2);
                match self.fair.grace {
                    Some((extra, until)) if now < until => alive += extra,
                    Some(_) => self.fair.grace = None,
                    None => {}
                }
                let epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() / (2 * lease_secs));
                let share = fair_share(
                    &self.fair.member,
                    wanted,
                    &members,
                    partitions,
                    alive,
                    epoch,
                );
                if share != self.fair.share {
                    tracing::debug!(?share, members = members.len(), "fair share changed");
                }
                self.fair.share = share;
                if self.fair.quick_lists > 0 {
                    self.fair.quick_lists -= 1;
                    self.fair.next_list = now + self.jitter();
                }
                if share.is_some_and(|share| share < wanted) {
                    // Capped by others' demand: watch it as often as a starved instance
                    // would try to acquire, so that capacity freed by a stopping or
                    // shrinking instance is taken within one attempt interval.
                    self.fair.next_list = now + self.jitter();
                }
            }
            Ok(None) => {}
            Err(err) => {
                // Announce again after the gap.
                self.fair.announced = None;
                if err.is_data_loss() {
                    self.data_lost(now, "the container is gone");
                }
                tracing::warn!(error = %err, "could not share demand with the other instances");
                self.shared
                    .emitter
                    .emit_msg(EventName::Error, 0, err.to_string());
            }
        }
    }
}
