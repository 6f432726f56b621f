//! Recovery after the storage lost its data, and forgetting lease ids no longer needed.
//!
//! A storage that lost its data (an emulator restarted empty, a container deleted) has
//! forgotten every lease, but other instances may still count theirs until they lapse
//! locally. So the first sign of the loss, by any path, starts a quarantine of one full
//! lease duration plus the safety margin in which this instance acquires nothing and
//! counts nothing new. The container is recreated at once (so that the instances can
//! announce their demand again), the partition blobs only when the quarantine is over (so
//! that no instance, not even one that has not noticed the loss, can lease one earlier:
//! its acquire finds the blob missing and starts its own quarantine). Then one round of
//! fair sharing, read after the blobs are back, must complete before this instance
//! acquires, so that it never takes more than its share of a freshly empty store.

use events_core::EventName;
use tokio::time::Instant;

use super::{Engine, Op, Slot};
use crate::LeaseId;

/// Where the lease loop stands after a sign that the storage lost its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Recovery {
    /// No loss seen, or recovered from it.
    Normal,
    /// A loss was first seen; no partition is acquired before `until`.
    Quarantine { until: Instant },
    /// The quarantine is over and the partition blobs are being recreated.
    Rebuilding,
    /// The blobs are back; a members list sent at or after `since` must complete before
    /// anything is acquired.
    Rejoining { since: Instant },
}

impl Recovery {
    pub(super) fn may_acquire(self) -> bool {
        self == Recovery::Normal
    }
}

impl Engine {
    /// Reacts to a sign that the storage lost its data; `why` names the sign.
    pub(super) fn data_lost(&mut self, now: Instant, why: &'static str) {
        if matches!(
            self.recovery,
            Recovery::Quarantine { .. } | Recovery::Rebuilding
        ) {
            // The quarantine runs from the first sign; later ones belong to the same loss.
            return;
        }
        let quarantine = self.timing.lease_duration + self.timing.safety_margin;
        tracing::warn!(
            sign = why,
            quarantine_ms = quarantine.as_millis() as u64,
            "the storage lost its data: no partition is acquired until every lease it forgot \
             has lapsed"
        );
        self.shared.emitter.emit_msg(
            EventName::Error,
            0,
            format!(
                "the storage lost its data ({why}); no partition is acquired for {quarantine:?}, \
                 until every lease it forgot has lapsed"
            ),
        );
        self.recovery = Recovery::Quarantine {
            until: now + quarantine,
        };
        // The ids we remember were forgotten with the rest.
        for slot in &mut self.slots {
            if let Slot::Free { known, .. } = slot {
                *known = None;
            }
        }
        // The announcements went with the data: announce again as soon as possible.
        self.fair.announced = None;
        self.fair.last_announce = None;
        self.fair.next_list = now;
        if !self.repairing {
            self.repairing = true;
            let placeholder = LeaseId::random(&mut self.rng);
            self.spawn_op(Op::Repair, 0, placeholder);
        }
    }

    /// Moves through the recovery once its time has come.
    pub(super) fn recover(&mut self, now: Instant) {
        let due = match self.recovery {
            Recovery::Quarantine { until } => now >= until,
            Recovery::Rebuilding => now >= self.next_attempt,
            Recovery::Normal | Recovery::Rejoining { .. } => false,
        };
        if due && !self.repairing {
            tracing::info!("quarantine over: recreating the partition blobs");
            self.recovery = Recovery::Rebuilding;
            self.repairing = true;
            let placeholder = LeaseId::random(&mut self.rng);
            self.spawn_op(Op::Repair, 1, placeholder);
        }
    }

    /// A repair finished (`blobs`: the partition blobs too, not only the container).
    pub(super) fn repaired(&mut self, now: Instant, blobs: bool, ok: bool) {
        self.repairing = false;
        if self.recovery != Recovery::Rebuilding || !blobs {
            return;
        }
        if ok {
            tracing::info!("recreated the partition blobs; sharing fairly before acquiring");
            self.recovery = Recovery::Rejoining { since: now };
            self.fair.next_list = now;
        } else {
            self.next_attempt = now + self.jitter();
        }
    }

    /// A members list sent at `sent` completed: the end of the recovery if it was read
    /// after the blobs were back.
    pub(super) fn rejoined(&mut self, now: Instant, sent: Instant) {
        if let Recovery::Rejoining { since } = self.recovery {
            if sent >= since {
                tracing::info!("recovered from the data loss: acquiring again");
                self.recovery = Recovery::Normal;
                self.next_attempt = now;
            }
        }
    }

    /// When the recovery next needs the loop.
    pub(super) fn recovery_deadline(&self) -> Option<Instant> {
        match self.recovery {
            Recovery::Quarantine { until } if !self.repairing => Some(until),
            Recovery::Rebuilding if !self.repairing => Some(self.next_attempt),
            _ => None,
        }
    }

    /// Gives back leases the storage may hold for us once we no longer want them, so that
    /// other instances need not wait for them to lapse.
    pub(super) fn forget(&mut self) {
        if self.deficit() > 0 {
            return;
        }
        let mut unwanted = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Slot::Free { known, .. } = slot {
                if let Some(lease) = known.take() {
                    unwanted.push((i as u32, lease));
                }
            }
        }
        for (i, lease) in unwanted {
            tracing::debug!(
                partition = i,
                "giving back a lease whose call went unanswered"
            );
            self.spawn_op(Op::Release, i, lease);
        }
    }
}
