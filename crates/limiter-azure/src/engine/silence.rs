//! Silence: once a storage call times out, the lease loop sends no other call and keeps
//! one probe in flight until the storage answers again.
//!
//! A call abandoned at a hung server is not gone: its request waits in the server's
//! queue (a stopped process still accepts connections in the kernel) and is served when
//! the server resumes, before any fresh one. Retrying every renewal and acquire on its
//! usual schedule while the storage is silent therefore piles up requests (over a hundred
//! in a 20-s hang of four instances) that take or renew leases nobody counts and delay
//! the calls that matter. So after the first time-out the loop only waits: counted leases
//! lapse locally on time as always (their ids are kept, see `Slot::Free::known`), and a
//! single cheap probe with a long timeout stands in the queue. Its answer (or any other
//! call's) means the storage serves again; the loop then resumes at once, re-proposing the
//! ids whose calls went unanswered, which the storage treats as renewals where they hold.

use std::time::Duration;

use events_core::EventName;
use tokio::time::Instant;

use super::{Engine, Op};
use crate::{LeaseError, LeaseId};

impl Engine {
    /// Whether the storage is silent: only the probe may be sent.
    pub(super) fn is_silent(&self) -> bool {
        self.silent_since.is_some()
    }

    /// How long a probe may wait for its answer: long, since every probe that gives up
    /// leaves one more request queued at a hung server, but short enough that a probe
    /// lost with its connection (a network partition) is sent again well within a lease.
    pub(super) fn probe_timeout(&self) -> Duration {
        (self.timing.lease_duration / 3).max(self.timing.call_timeout)
    }

    /// Learns from how a call ended whether the storage is silent.
    pub(super) fn heard(&mut self, now: Instant, result: &Result<(), &LeaseError>) {
        let timed_out = matches!(result, Err(LeaseError::Timeout { .. }));
        match (timed_out, self.silent_since) {
            (true, None) => {
                tracing::warn!(
                    probe_timeout_ms = self.probe_timeout().as_millis() as u64,
                    "the storage did not answer in time: no call but one probe until it answers"
                );
                self.silent_since = Some(now);
            }
            (false, Some(since)) => {
                tracing::info!(
                    silent_ms = (now - since).as_millis() as u64,
                    "the storage answers again: resuming, re-proposing unanswered lease ids"
                );
                self.silent_since = None;
                // Everyone's announcement aged through a long silence: none of it means
                // gone. (A short one leaves the announcements fresh enough.)
                if now - since >= self.sync_interval() {
                    let until = now + self.timing.lease_duration + self.sync_interval();
                    self.fair.grace = Some((now - since, until));
                }
                // What waited during the silence is due now (the pause after the last
                // failed acquire still applies), and the failures were the silence's, not
                // contention: acquire at full concurrency again.
                self.contended = false;
            }
            _ => {}
        }
    }

    /// Sends the probe while the storage is silent, unless one is in flight (also one
    /// sent in an earlier silence).
    pub(super) fn probe(&mut self) {
        if !self.is_silent() || self.probing {
            return;
        }
        self.probing = true;
        let placeholder = LeaseId::random(&mut self.rng);
        self.spawn_op(Op::Probe, 0, placeholder);
    }

    /// A probe finished (its answer, if any, already ended the silence).
    pub(super) fn probed(&mut self, now: Instant, result: Result<(), LeaseError>) {
        self.probing = false;
        match result {
            Ok(()) => {}
            Err(err) => {
                tracing::warn!(error = %err, "the storage probe failed");
                self.shared
                    .emitter
                    .emit_msg(EventName::Error, 0, err.to_string());
                if err.is_data_loss() {
                    self.data_lost(now, "the container is gone");
                }
            }
        }
    }
}
