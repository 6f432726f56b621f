//! The batcher's loops: dispatch (flush), capacity and audit.

use std::sync::Arc;

use events_core::EventName;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until};

use crate::core::{Core, after};
use crate::lifecycle::LoopGuard;
use crate::resources::MAX_RESOURCES;
use crate::scheduler::Scheduler;

/// Waits until the pause (if any) is over; returns `false` if the batcher stopped.
async fn wait_out_pause(core: &Core, emit_resume: bool) -> bool {
    let mut paused = false;
    loop {
        let until = core.lifecycle().paused_until();
        match until {
            Some(until) if Instant::now() < until => {
                paused = true;
                tokio::select! {
                    _ = core.lifecycle().cancelled() => return false,
                    _ = sleep_until(until) => {}
                }
            }
            _ => break,
        }
    }
    if paused && emit_resume && core.lifecycle().resume(Instant::now()) {
        tracing::debug!("batcher resumed");
        core.emitter().emit(EventName::Resume, 0);
    }
    true
}

/// The capacity of resource `r` for this pass: what its limiter reports now (`None`:
/// the resource has no limiter). The one place the dispatcher reads capacity, so that
/// an effective capacity (one adjusted after the datastore throttled) wraps it here.
fn capacity_of(core: &Core, r: usize, now: Instant) -> Option<u64> {
    let capacity = u64::from(core.resources().limiter(r)?.capacity());
    // The datastore's throttling feedback adjusts the primary resource.
    Some(if r == 0 {
        core.effective_capacity(now, capacity)
    } else {
        capacity
    })
}

pub(crate) async fn dispatch(core: Arc<Core>) {
    // Stops the batcher and ends every stream when the loop ends, even by a panic.
    let _guard = LoopGuard::new(core.clone(), "dispatch");
    let resources = core.resources().len();
    let limited = core.resources().any_limited();
    let mut scheduler = Scheduler::new(core.options().flush_interval, Instant::now(), resources);
    let mut capacities = [None; MAX_RESOURCES];
    loop {
        if core.lifecycle().is_cancelled() || !wait_out_pause(&core, true).await {
            break;
        }
        let now = Instant::now();
        let ticked = scheduler.tick(now);
        let requested = core.signals().take_flush_request();
        let forced = ticked || requested;
        scheduler.add(core.signals().take_scheduled());
        for (r, capacity) in capacities[..resources].iter_mut().enumerate() {
            *capacity = capacity_of(&core, r, now);
        }
        if limited {
            scheduler.settle(core.signals().take_starts());
        }

        // A flush is a pass that is forced or releases something; announce it when
        // one of those becomes known.
        let mut flush = Flush {
            emit: core.options().emit_flush,
            announced: false,
            buffered: core.buffer().ops(),
        };
        if forced {
            flush.announce(&core);
        }
        let pass = scheduler
            .pass(
                now,
                &capacities[..resources],
                ticked,
                forced,
                // A pause that a callback started during the pass (throttled) holds
                // the rest back at once.
                &|| core.has_batch_room() && !core.lifecycle().is_paused(now),
                &mut || flush.announce(&core),
            )
            .await;
        if flush.emit && flush.announced {
            core.emitter()
                .emit(EventName::FlushDone, pass.released as i64);
        }
        if pass.released > 0 {
            // More may have arrived while we released: look again before sleeping.
            tokio::task::yield_now().await;
            continue;
        }
        if pass.awaits_starts {
            // Batches released and not yet started hold the window: the next start
            // wakes us to learn when it expires. A start reported since we looked
            // wakes us at once.
            core.signals().await_start();
        }
        let next_tick = scheduler.next_tick();
        let deadline = pass.wake_at.map_or(next_tick, |w| w.min(next_tick));
        tokio::select! {
            _ = core.lifecycle().cancelled() => break,
            _ = core.signals().rung() => {}
            _ = sleep_until(deadline) => {}
        }
    }
}

struct Flush {
    emit: bool,
    announced: bool,
    buffered: usize,
}

impl Flush {
    fn announce(&mut self, core: &Core) {
        if self.emit && !self.announced {
            self.announced = true;
            core.emitter()
                .emit(EventName::FlushStart, self.buffered as i64);
        }
    }
}

pub(crate) async fn capacity(core: Arc<Core>) {
    if !core.resources().any_limited() {
        return;
    }
    let _guard = LoopGuard::new(core.clone(), "capacity");
    let every = core.options().capacity_interval;
    let mut ticks = interval_at(after(Instant::now(), every), every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = core.lifecycle().cancelled() => return,
            _ = ticks.tick() => {}
        }
        if core.lifecycle().is_paused(Instant::now()) {
            continue;
        }
        // Each limiter is asked for what is enqueued in its own resource.
        for r in 0..core.resources().len() {
            let Some(limiter) = core.resources().limiter(r) else {
                continue;
            };
            let target = u32::try_from(core.needs(r)).unwrap_or(u32::MAX);
            limiter.give_me(target);
            if core.options().emit_request {
                core.emitter().emit_msg(
                    EventName::Request,
                    i64::from(target),
                    core.resources().name(r),
                );
            }
        }
    }
}

pub(crate) async fn audit(core: Arc<Core>) {
    let _guard = LoopGuard::new(core.clone(), "audit");
    let every = core.options().audit_interval;
    let mut ticks = interval_at(after(Instant::now(), every), every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = core.lifecycle().cancelled() => return,
            _ = ticks.tick() => {}
        }
        let now = Instant::now();
        if core.lifecycle().is_paused(now) {
            continue;
        }
        audit_once(&core, now);
    }
}

fn audit_once(core: &Core, now: Instant) {
    let max_time = core.options().max_operation_time;
    let empty = core.buffer().ops() == 0;
    let quiet = core
        .inflight()
        .last_batch()
        .is_none_or(|at| now.duration_since(at) >= max_time);
    if !(empty && quiet) {
        core.emitter().emit(EventName::AuditSkip, 0);
        return;
    }
    let reset = core.inflight().reset(core.buffer().cost(0));
    match reset {
        Some((target, batches)) => {
            core.emitter().emit_msg(
                EventName::AuditFail,
                i64::try_from(target).unwrap_or(i64::MAX),
                format!(
                    "the target was {target} with nothing buffered and no batch released for \
                     {max_time:?}; {batches} batches were never marked done. The target was \
                     reset to 0; drop or finish every batch"
                ),
            );
            core.signals().ring();
        }
        None => core.emitter().emit(EventName::AuditPass, 0),
    }
}
