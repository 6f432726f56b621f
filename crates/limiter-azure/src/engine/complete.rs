//! Completing storage calls, and giving every lease back at shutdown.

use std::sync::Arc;
use std::time::Duration;

use events_core::EventName;
use futures::stream::FuturesUnordered;
use tokio::time::{Instant, timeout};

use super::{ANNOUNCE_GAP, Done, Engine, Held, Op, Slot};
use crate::LeaseError;

impl Engine {
    pub(super) fn complete(&mut self, done: Done) {
        let now = Instant::now();
        let Done {
            op,
            partition,
            lease,
            sent,
            result,
        } = done;
        let result = match op {
            Op::Sync => return self.synced(now, result),
            Op::Withdraw => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "could not withdraw our demand; it ages out");
                }
                return;
            }
            _ => result.map(|_| ()),
        };
        let i = partition as usize;
        let ours = |slot: &Slot| match slot {
            Slot::Acquiring(l) | Slot::Releasing(l) => *l == lease,
            Slot::Held(h) | Slot::Draining { held: h, .. } => h.lease == lease,
            Slot::Free { .. } => false,
        };
        let is_ours = ours(&self.slots[i]);
        match op {
            Op::Acquire => {
                self.acquiring = self.acquiring.saturating_sub(1);
                match result {
                    Ok(()) if is_ours => {
                        let expires = sent + self.timing.counted_for();
                        self.slots[i] = Slot::Held(Held {
                            lease,
                            expires,
                            renew_at: expires - self.timing.renew_ahead,
                            renewing: false,
                        });
                        tracing::debug!(partition, "lease acquired");
                        self.shared.counting(partition, true);
                        self.shared
                            .emitter
                            .emit(EventName::Allocated, i64::from(partition));
                        self.capacity_changed();
                        self.contended = false;
                        self.next_attempt = now;
                    }
                    Ok(()) => self.spawn_op(Op::Release, partition, lease),
                    Err(err) => {
                        if is_ours {
                            self.slots[i] = Slot::Free {
                                failed_at: err.is_conflict().then_some(now),
                            };
                        }
                        let mut pause = self.jitter();
                        if err.is_conflict() {
                            tracing::debug!(partition, "partition is leased by another instance");
                            // Others hold what we want: learn their demand soon.
                            self.fair.next_list = self.fair.next_list.min(now + ANNOUNCE_GAP);
                            self.shared
                                .emitter
                                .emit(EventName::Failed, i64::from(partition));
                        } else {
                            self.emit_error(partition, &err);
                            if err.is_throttled() {
                                pause += self.timing.max_attempt_interval;
                            }
                        }
                        if matches!(err, LeaseError::Timeout { .. }) {
                            // The storage may have granted the lease after all: give it back.
                            self.spawn_op(Op::Release, partition, lease);
                        } else if matches!(err, LeaseError::NotFound { .. }) && !self.repairing {
                            self.repairing = true;
                            self.spawn_op(Op::Repair, partition, lease);
                        }
                        self.contended = true;
                        self.next_attempt = now + pause;
                    }
                }
            }
            Op::Renew => {
                let draining = matches!(self.slots[i], Slot::Draining { .. });
                let (Slot::Held(held) | Slot::Draining { held, .. }) = &mut self.slots[i] else {
                    if result.is_ok() && !is_ours {
                        // Renewed after we stopped counting it: give it back to the others.
                        self.spawn_op(Op::Release, partition, lease);
                    }
                    return;
                };
                if held.lease != lease {
                    return;
                }
                match result {
                    Ok(()) => {
                        held.expires = sent + self.timing.counted_for();
                        held.renew_at = held.expires - self.timing.renew_ahead;
                        held.renewing = false;
                    }
                    Err(err) if err.is_lost() || err.is_conflict() => {
                        tracing::warn!(partition, "lease was lost before its renewal");
                        self.slots[i] = Slot::Free { failed_at: None };
                        if !draining {
                            self.shared.counting(partition, false);
                        }
                        self.shared
                            .emitter
                            .emit(EventName::Released, i64::from(partition));
                        self.capacity_changed();
                    }
                    Err(err) => {
                        held.renewing = false;
                        held.renew_at =
                            now + (self.timing.renew_ahead / 4).max(Duration::from_millis(50));
                        self.emit_error(partition, &err);
                    }
                }
            }
            Op::Repair => {
                self.repairing = false;
                match result {
                    Ok(()) => {
                        tracing::info!("recreated missing partition blobs");
                        self.next_attempt = now;
                    }
                    Err(err) => self.emit_error(partition, &err),
                }
            }
            // Handled before the partition bookkeeping.
            Op::Sync | Op::Withdraw => {}
            Op::Release => {
                let planned = matches!(&self.slots[i], Slot::Releasing(l) if *l == lease);
                if planned {
                    self.slots[i] = Slot::Free { failed_at: None };
                }
                match result {
                    Ok(()) => {}
                    Err(err) if err.is_lost() => {}
                    Err(err) if planned => self.emit_error(partition, &err),
                    Err(err) => {
                        tracing::debug!(partition, error = %err, "best-effort release failed");
                    }
                }
            }
        }
    }

    /// Stops counting everything at once, then gives every lease back one rate window
    /// later (sooner for leases never counted).
    pub(super) async fn shutdown(mut self) -> Result<(), LeaseError> {
        let now = Instant::now();
        let window = self.timing.rate_window;
        let mut releases = Vec::new();
        let mut held_any = false;
        for i in 0..self.slots.len() {
            match std::mem::replace(&mut self.slots[i], Slot::Free { failed_at: None }) {
                Slot::Held(held) => {
                    held_any = true;
                    self.shared.counting(i as u32, false);
                    releases.push((i as u32, held.lease, Some(now + window)));
                }
                Slot::Draining { held, until } => {
                    releases.push((i as u32, held.lease, Some(until)));
                }
                // Never counted by us: safe to give back at once.
                Slot::Acquiring(lease) | Slot::Releasing(lease) => {
                    releases.push((i as u32, lease, None));
                }
                Slot::Free { .. } => {}
            }
        }
        if held_any {
            self.capacity_changed();
        }
        // In-flight calls are abandoned; their leases are released below.
        self.ops = FuturesUnordered::new();
        let after = self.timing.call_timeout;
        let manager = Arc::clone(&self.manager);
        // Withdraw first so that the others stop deferring to us as soon as possible.
        if self.fair.announced.is_some() {
            if let Err(err) = timeout(after, manager.withdraw(self.fair.member.clone())).await {
                tracing::debug!(error = %err, "withdrawing our demand timed out; it ages out");
            }
        }
        let emitter = self.shared.emitter.clone();
        let results = futures::future::join_all(releases.into_iter().map(|(i, lease, until)| {
            let manager = Arc::clone(&manager);
            let emitter = emitter.clone();
            let held = until.is_some();
            async move {
                if let Some(until) = until {
                    // Counted until now: keep it for a rate window before others may take it.
                    tokio::time::sleep_until(until).await;
                    emitter.emit(EventName::Released, i64::from(i));
                }
                let call = manager.release(i, lease);
                let result = match timeout(after, call).await {
                    Ok(result) => result,
                    Err(_) => Err(LeaseError::Timeout {
                        operation: "release lease",
                        after,
                    }),
                };
                (i, held, result)
            }
        }))
        .await;
        let mut first = None;
        for (i, held, result) in results {
            match result {
                Err(err) if held && !err.is_lost() => {
                    self.emit_error(i, &err);
                    first.get_or_insert(err);
                }
                _ => {}
            }
        }
        first.map_or(Ok(()), Err)
    }
}
