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
        self.heard(now, &result.as_ref().map(|_| ()));
        let result = match op {
            Op::Probe => return self.probed(now, result.map(|_| ())),
            Op::Sync => return self.synced(now, sent, result),
            Op::Withdraw => {
                self.fair.syncing = false;
                self.fair.withdrawing = false;
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
                    Ok(()) if is_ours && self.recovery.may_acquire() => {
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
                    Ok(()) => {
                        if is_ours {
                            // Granted while recovering from a data loss: not safe to count.
                            self.slots[i] = Slot::free();
                        }
                        self.spawn_op(Op::Release, partition, lease);
                    }
                    Err(err) => {
                        if is_ours {
                            // After a timeout or a network failure the storage may have
                            // granted it: keep the id to ask again with it.
                            let unknown = matches!(
                                err,
                                LeaseError::Timeout { .. } | LeaseError::Storage { .. }
                            );
                            self.slots[i] = Slot::Free {
                                failed_at: err.is_conflict().then_some(now),
                                known: unknown.then(|| lease.clone()),
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
                        if err.is_data_loss() {
                            self.data_lost(now, "acquire found no partition blob");
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
                    Err(err) if err.is_lost() || err.is_conflict() || err.is_data_loss() => {
                        tracing::warn!(partition, "lease was lost before its renewal");
                        self.slots[i] = Slot::free();
                        if !draining {
                            self.shared.counting(partition, false);
                        }
                        self.shared
                            .emitter
                            .emit(EventName::Released, i64::from(partition));
                        self.capacity_changed();
                        if err.is_data_loss() {
                            self.data_lost(now, "the storage no longer knows a counted lease");
                        }
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
                if let Err(err) = &result {
                    self.emit_error(partition, err);
                }
                self.repaired(now, partition == 1, result.is_ok());
            }
            // Handled before the partition bookkeeping.
            Op::Sync | Op::Withdraw | Op::Probe => {}
            Op::Release => {
                let planned = matches!(&self.slots[i], Slot::Releasing(l) if *l == lease);
                if planned {
                    let unknown = matches!(
                        result,
                        Err(LeaseError::Timeout { .. } | LeaseError::Storage { .. })
                    );
                    // An unanswered release may not have happened: keep the id.
                    self.slots[i] = if unknown {
                        Slot::unknown(lease.clone())
                    } else {
                        Slot::free()
                    };
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
            match std::mem::replace(&mut self.slots[i], Slot::free()) {
                Slot::Held(held) => {
                    held_any = true;
                    self.shared.counting(i as u32, false);
                    releases.push((i as u32, held.lease, Some(now + window)));
                }
                Slot::Draining { held, until } => {
                    releases.push((i as u32, held.lease, Some(until)));
                }
                // Never counted by us: safe to give back at once.
                Slot::Acquiring(lease)
                | Slot::Releasing(lease)
                | Slot::Free {
                    known: Some(lease), ..
                } => {
                    releases.push((i as u32, lease, None));
                }
                Slot::Free { known: None, .. } => {}
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
                // A lease the storage forgot (or lost with its data) needs no release.
                Err(err) if held && !err.is_lost() && !err.is_data_loss() => {
                    self.emit_error(i, &err);
                    first.get_or_insert(err);
                }
                _ => {}
            }
        }
        first.map_or(Ok(()), Err)
    }
}
