//! [`Scheduler`]: which watcher's batch goes next, and when.
//!
//! It owns the flush-tick grid, the paced allowance and exact window ([`Pacer`]) and
//! the rotation of watcher queues; it knows the queues only through the [`Queue`]
//! trait and the batcher only through the arguments of [`Scheduler::pass`], so it is
//! tested here with plain queues and no runtime. The dispatcher loop (`loops`) feeds
//! it time, capacity and batch starts, and sleeps until what it says is next.
//!
//! The capacities a pass works with are what the caller passes, one per resource, read
//! from each resource's limiter at every pass; an adjusted effective capacity (say, one
//! cut after the datastore throttled) is a different number passed here. Each resource
//! has its own [`Pacer`] (paced allowance and exact window), and an operation is
//! admitted when every resource's [`Allowance`](crate::pacing::Allowance) admits its
//! cost in that resource (see [`Allowances`]).
//!
//! Rotation: a watcher whose operation waits for the window keeps its turn (so cheaper
//! operations behind it cannot starve it); one whose backlog used up the slice yields
//! the next turn to the others; after a full pass the next queue goes first.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::core::after;
use crate::pacing::{Allowances, Pacer};
use crate::queue::{Queue, Step};
use crate::resources::Costs;

/// What one pass came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    /// Operations released.
    pub(crate) released: usize,
    /// When something will next be ready (besides the next tick).
    pub(crate) wake_at: Option<Instant>,
    /// Whether cost released and not yet started held a release back: the next start
    /// should wake the dispatcher.
    pub(crate) awaits_starts: bool,
}

pub(crate) struct Scheduler {
    queues: VecDeque<Arc<dyn Queue>>,
    /// One per resource, indexed as in [`Resources`](crate::resources::Resources).
    pacers: Vec<Pacer>,
    flush_every: Duration,
    next_tick: Instant,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("queues", &self.queues.len())
            .field("pacers", &self.pacers)
            .field("next_tick", &self.next_tick)
            .finish()
    }
}

impl Scheduler {
    /// A scheduler for `resources` resources (at most
    /// [`MAX_RESOURCES`](crate::MAX_RESOURCES)).
    pub(crate) fn new(flush_every: Duration, now: Instant, resources: usize) -> Self {
        Scheduler {
            queues: VecDeque::new(),
            pacers: (0..resources).map(|_| Pacer::new(flush_every)).collect(),
            flush_every,
            next_tick: after(now, flush_every),
        }
    }

    /// Whether a flush tick is due at `now`; if so, the next one is set.
    ///
    /// Ticks stay on their grid rather than drifting by each wake-up's lateness, so
    /// that a second holds as many slices as it should.
    pub(crate) fn tick(&mut self, now: Instant) -> bool {
        if now < self.next_tick {
            return false;
        }
        self.next_tick = after(self.next_tick, self.flush_every);
        if self.next_tick <= now {
            self.next_tick = after(now, self.flush_every);
        }
        true
    }

    pub(crate) fn next_tick(&self) -> Instant {
        self.next_tick
    }

    /// Queues that became non-empty.
    pub(crate) fn add(&mut self, queues: impl IntoIterator<Item = Arc<dyn Queue>>) {
        self.queues.extend(queues);
    }

    /// Batches released earlier started at the given moments (`None`: never will).
    pub(crate) fn settle(&mut self, starts: impl IntoIterator<Item = (Option<Instant>, Costs)>) {
        for (at, cost) in starts {
            for (r, pacer) in self.pacers.iter_mut().enumerate() {
                pacer.settle(at, cost.get(r));
            }
        }
    }

    /// Releases what is ready within the paced allowances, the windows (`capacities`:
    /// one per resource, `None` for one without a limiter) and `room`, which says
    /// whether another batch may leave now (the concurrency limit, no pause). `ticked` says whether this pass is a flush tick, which grants a slice;
    /// `forced` releases partial batches; `before` runs before each batch is handed out.
    pub(crate) async fn pass(
        &mut self,
        now: Instant,
        capacities: &[Option<u64>],
        ticked: bool,
        forced: bool,
        room: &(dyn Fn() -> bool + Sync),
        before: &mut (dyn FnMut() + Send),
    ) -> Pass {
        let Scheduler { queues, pacers, .. } = self;
        for (pacer, capacity) in pacers.iter_mut().zip(capacities) {
            if let Some(capacity) = *capacity {
                pacer.refill(now, capacity, ticked);
            }
        }
        let mut out = Pass {
            released: 0,
            wake_at: None,
            awaits_starts: false,
        };
        let earliest = |at: Instant, wake_at: &mut Option<Instant>| {
            *wake_at = Some(wake_at.map_or(at, |w| w.min(at)));
        };
        let mut i = 0;
        'queues: while i < queues.len() {
            // Whether queue `i` has released a batch in this pass.
            let mut served = false;
            loop {
                if !room() {
                    // A finishing batch wakes the dispatcher; the end of a pause is
                    // waited out before the next pass.
                    break 'queues;
                }
                let mut allowances = Allowances::default();
                for (r, (pacer, capacity)) in pacers.iter().zip(capacities).enumerate() {
                    allowances.set(r, capacity.map(|c| pacer.allowance(c)));
                }
                match queues[i].release(now, forced, &allowances, before) {
                    Step::Released { ops, cost } => {
                        out.released += ops;
                        served = true;
                        // Pending in each limited resource's window until its callback
                        // starts or its consumer receives it, then for a second after.
                        for (r, (pacer, capacity)) in pacers.iter_mut().zip(capacities).enumerate()
                        {
                            if capacity.is_some() {
                                pacer.release(cost.get(r));
                            }
                        }
                        // Each batch spawns a task or wakes a stream; let them run now
                        // and then rather than piling up behind a long pass.
                        tokio::task::consume_budget().await;
                    }
                    Step::Held => {
                        i += 1;
                        continue 'queues;
                    }
                    Step::Lingering { until } => {
                        earliest(until, &mut out.wake_at);
                        i += 1;
                        continue 'queues;
                    }
                    Step::Blocked { cost } => {
                        // Held back by a window: wake when every window has room (the
                        // latest of their times). Held back by a paced allowance only:
                        // the next tick grants more.
                        let mut at_latest: Option<Instant> = None;
                        for (r, (pacer, capacity)) in pacers.iter().zip(capacities).enumerate() {
                            if let Some(at) =
                                capacity.and_then(|c| pacer.window_fits_later(cost.get(r), c))
                            {
                                at_latest = Some(at_latest.map_or(at, |l| l.max(at)));
                            }
                        }
                        if let Some(at) = at_latest {
                            earliest(at, &mut out.wake_at);
                        }
                        out.awaits_starts = pacers.iter().any(|p| p.pending() > 0);
                        if allowances.exhausted() && served {
                            // The slice ran out while this queue was served: the next
                            // queue goes first next time, so that one backlog cannot
                            // keep the others waiting.
                            queues.rotate_left((i + 1) % queues.len());
                        } else {
                            // The blocked operation goes first next time so that
                            // cheaper ones behind it cannot starve it.
                            queues.rotate_left(i);
                        }
                        return out;
                    }
                    Step::Empty => {
                        if queues[i].unschedule() {
                            i += 1;
                        } else {
                            queues.remove(i);
                        }
                        continue 'queues;
                    }
                }
            }
        }
        if !queues.is_empty() {
            queues.rotate_left(1);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Mutex;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::pacing::Allowances;

    /// Runs a pass to completion without a runtime (it never waits on anything).
    fn run<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    /// A queue of operation costs, one operation per batch, named for the record.
    struct Plain {
        name: char,
        costs: Mutex<VecDeque<Costs>>,
        log: Arc<Mutex<Vec<char>>>,
    }

    impl Queue for Plain {
        fn release(
            &self,
            _now: Instant,
            _forced: bool,
            allowance: &Allowances,
            before: &mut dyn FnMut(),
        ) -> Step {
            let mut costs = self.costs.lock().unwrap();
            let Some(&cost) = costs.front() else {
                return Step::Empty;
            };
            if !allowance.admits(&Costs::default(), &cost) {
                return Step::Blocked { cost };
            }
            before();
            costs.pop_front();
            self.log.lock().unwrap().push(self.name);
            Step::Released { ops: 1, cost }
        }

        fn unschedule(&self) -> bool {
            false
        }
    }

    type Log = Arc<Mutex<Vec<char>>>;

    fn queues(spec: &[(char, &[u64])]) -> (Vec<Arc<dyn Queue>>, Log) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let qs = spec
            .iter()
            .map(|&(name, costs)| {
                Arc::new(Plain {
                    name,
                    costs: Mutex::new(costs.iter().map(|c| Costs::primary(*c)).collect()),
                    log: log.clone(),
                }) as Arc<dyn Queue>
            })
            .collect();
        (qs, log)
    }

    const TICK: Duration = Duration::from_millis(100);

    #[test]
    fn a_backlog_that_used_up_the_slice_yields_the_next_turn() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(TICK, t0, 1);
        let (qs, log) = queues(&[('a', &[1; 30]), ('b', &[1; 30])]);
        s.add(qs);
        // Capacity 100/s: a slice of 10 per tick.
        let mut order = Vec::new();
        for k in 0..4u32 {
            let now = t0 + TICK * k;
            let ticked = s.tick(now);
            let pass = run(s.pass(
                now,
                &[Some(100)],
                ticked || k == 0,
                true,
                &|| true,
                &mut || {},
            ));
            assert_eq!(pass.released, 10, "pass {k}");
            assert!(pass.awaits_starts, "nothing was reported started");
            s.settle(std::iter::repeat_n((Some(now), Costs::primary(1)), 10));
            order.push(std::mem::take(&mut *log.lock().unwrap()));
        }
        // The slice goes to one queue, and the other has the next turn.
        let firsts: String = order.iter().map(|o| o[0]).collect();
        assert_eq!(firsts, "abab");
        assert!(order.iter().all(|o| o.iter().all(|c| *c == o[0])));
    }

    #[test]
    fn the_concurrency_limit_ends_a_pass_and_unlimited_releases_everything() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(TICK, t0, 1);
        let (qs, log) = queues(&[('a', &[5, 5]), ('b', &[5])]);
        s.add(qs);
        let pass = run(s.pass(t0, &[None], false, true, &|| false, &mut || {}));
        assert_eq!((pass.released, log.lock().unwrap().len()), (0, 0));
        let mut announced = 0;
        let pass = run(s.pass(t0, &[None], false, true, &|| true, &mut || announced += 1));
        assert_eq!((pass.released, announced), (3, 3));
        assert_eq!(pass.wake_at, None);
        // Empty queues are dropped from the rotation.
        assert_eq!(s.queues.len(), 0);
    }

    #[test]
    fn ticks_keep_their_grid_and_skip_what_was_missed() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(TICK, t0, 1);
        assert!(!s.tick(t0 + TICK / 2));
        assert!(s.tick(t0 + TICK + Duration::from_millis(3)));
        assert_eq!(
            s.next_tick(),
            t0 + TICK * 2,
            "lateness does not shift the grid"
        );
        assert!(s.tick(t0 + TICK * 7));
        assert_eq!(s.next_tick(), t0 + TICK * 8);
    }

    #[test]
    fn an_operation_waiting_for_the_window_keeps_its_turn_and_says_when() {
        // Capacity 100/s, a slice of 10.
        let t0 = Instant::now();
        let mut s = Scheduler::new(TICK, t0, 1);
        let (qs, log) = queues(&[('a', &[60, 60]), ('b', &[1])]);
        s.add(qs);
        let pass = run(s.pass(t0, &[Some(100)], true, true, &|| true, &mut || {}));
        assert_eq!(pass.released, 1, "the 60 overdraws the slice of 10");
        assert!(pass.awaits_starts);
        s.settle([(Some(t0), Costs::primary(60))]);
        let later = t0 + TICK * 6;
        s.tick(later);
        let pass = run(s.pass(later, &[Some(100)], true, true, &|| true, &mut || {}));
        // a used up the slice, so b went first; then a's second 60 waits for the
        // window and keeps its turn, and the pass says when the window has room.
        assert_eq!(pass.released, 1);
        assert_eq!(pass.wake_at, Some(t0 + Duration::from_secs(1)));
        assert_eq!(*log.lock().unwrap(), vec!['a', 'b']);
        let (qs, _) = queues(&[('c', &[1])]);
        s.add(qs);
        let pass = run(s.pass(later, &[Some(100)], false, true, &|| true, &mut || {}));
        assert_eq!(pass.released, 0, "c waits behind a's blocked operation");
    }

    #[test]
    fn an_operation_waits_until_every_resource_window_has_room() {
        // Two resources of 100/s; the op costs 60 in each, after 60 in the first and
        // 60 in the second started half a second apart.
        let t0 = Instant::now();
        let mut s = Scheduler::new(TICK, t0, 2);
        let two = |a, b| {
            let mut c = Costs::primary(a);
            c.set(1, b);
            c
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        s.add([Arc::new(Plain {
            name: 'a',
            costs: Mutex::new([two(60, 0), two(0, 60), two(60, 60)].into()),
            log: log.clone(),
        }) as Arc<dyn Queue>]);
        let caps = [Some(100), Some(100)];
        let pass = run(s.pass(t0, &caps, true, true, &|| true, &mut || {}));
        // Each of the first two overdraws one resource's slice and costs nothing in the
        // other, so both go; the third waits.
        assert_eq!(pass.released, 2);
        assert_eq!(*log.lock().unwrap(), vec!['a', 'a']);
        // The second one's callback starts half a second late.
        let half = t0 + TICK * 5;
        s.settle([(Some(t0), two(60, 0)), (Some(half), two(0, 60))]);
        let later = t0 + TICK * 7;
        s.tick(later);
        let pass = run(s.pass(later, &caps, true, true, &|| true, &mut || {}));
        assert_eq!(pass.released, 0);
        // The first window has room at t0 + 1 s, the second only half a second later.
        assert_eq!(pass.wake_at, Some(half + Duration::from_secs(1)));
        let early = t0 + Duration::from_secs(1);
        s.tick(early);
        let pass = run(s.pass(early, &caps, true, true, &|| true, &mut || {}));
        assert_eq!(pass.released, 0, "one window with room is not enough");
        let at = half + Duration::from_secs(1);
        s.tick(at);
        let pass = run(s.pass(at, &caps, true, true, &|| true, &mut || {}));
        assert_eq!(pass.released, 1);
    }
}
