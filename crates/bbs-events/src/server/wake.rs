//! Coalesced wake-ups: the ring is appended to at once, but a waiting subscriber is woken at most
//! once per notify interval under load, so that a woken subscriber drains many events per wake-up
//! instead of one task wake-up (and one write) per event per subscriber.
//!
//! An emit never wakes a subscriber itself: it marks a wake-up as owed and tells the hub's ticker
//! task. After a quiet spell (no wake-up for a whole interval) the ticker wakes every waiting
//! subscriber at once, so that a lone event keeps a low latency. Under load it wakes the
//! subscribers in turn instead: they are spread over [`NEWS_SHARDS`] shards, and each step of the
//! interval wakes the next shard if it is owed news, so that every subscriber is woken once per
//! interval and no event waits longer than an interval. Staggered, the wake-ups (and the
//! server's writes) of thousands of subscribers are spread over the interval rather than all
//! queued behind one another at its end, which would add their time to the latency of the last
//! ones. The first round after a quiet spell wakes each shard a second time within the interval,
//! at its step, which is what spreads them. Waiting is never what makes a subscriber fall behind:
//! once the shard woken longest ago has half a ring of news, the emit wakes every waiting
//! subscriber itself ([`Wakes::news`]). Without a ticker (no tokio runtime at the first
//! subscription, or a zero interval) emit wakes them itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::server::hub::{Shared, lock};
use crate::server::ring::Ring;

/// The default [notify interval](crate::server::HubBuilder::notify_interval).
pub const DEFAULT_NOTIFY_INTERVAL: Duration = Duration::from_millis(70);

/// The longest notify interval; a longer one is lowered to it.
pub const MAX_NOTIFY_INTERVAL: Duration = Duration::from_secs(1);

/// What a hub shares with its subscriptions, which outlives the hub's own state: the ring,
/// the wake-ups and the counters.
#[derive(Debug)]
pub(crate) struct Signal {
    /// The events, encoded once.
    pub(crate) ring: Ring,
    /// Wakes every waiting subscriber: the ring has news (events, or it closed).
    pub(crate) news: News,
    /// Tells the ticker that a wake-up is owed or that the hub went away.
    due: Notify,
    /// Events handed to subscribers (counted once per batch).
    pub(crate) delivered: AtomicU64,
    /// Subscribers cut off as slow.
    pub(crate) cut_offs: AtomicU64,
    /// When the last cut-off warning was logged (milliseconds after `created`, plus one).
    pub(crate) last_cut_off_warning: AtomicU64,
    pub(crate) created: std::time::Instant,
}

impl Signal {
    /// A signal with a ring of `length` events.
    pub(crate) fn new(length: usize) -> Signal {
        Signal {
            ring: Ring::new(length),
            news: News::default(),
            due: Notify::new(),
            delivered: AtomicU64::new(0),
            cut_offs: AtomicU64::new(0),
            last_cut_off_warning: AtomicU64::new(0),
            created: std::time::Instant::now(),
        }
    }

    /// Counts `events` handed to a subscriber.
    pub(crate) fn delivered(&self, events: usize) {
        if events > 0 {
            self.delivered.fetch_add(events as u64, Ordering::Relaxed);
        }
    }

    /// Tells the ticker to look again (the hub closed or went away).
    pub(crate) fn stop_ticker(&self) {
        self.due.notify_one();
    }
}

/// How many [`Notify`]s the waiting subscribers are spread over.
const NEWS_SHARDS: usize = 16;

/// Wakes every waiting subscriber at once. The waiters are spread over several [`Notify`]s
/// by subscription id: a `Notify` keeps its waiters in one locked list, which every subscriber
/// enters and leaves once per wake-up, and with thousands of subscribers on several threads
/// one list is a contended lock.
#[derive(Debug, Default)]
pub(crate) struct News {
    shards: [Notify; NEWS_SHARDS],
}

impl News {
    /// The wake-up for the subscription `id` to wait on.
    pub(crate) fn notified(&self, id: u64) -> tokio::sync::futures::Notified<'_> {
        // The remainder is below NEWS_SHARDS, so the cast keeps it.
        self.shards[(id % NEWS_SHARDS as u64) as usize].notified()
    }

    /// Wakes the subscribers of one shard waiting now.
    fn notify_shard(&self, shard: usize) {
        if let Some(shard) = self.shards.get(shard) {
            shard.notify_waiters();
        }
    }

    /// Wakes every subscriber waiting now.
    pub(crate) fn notify_waiters(&self) {
        for shard in &self.shards {
            shard.notify_waiters();
        }
    }
}

/// The coalescing state, kept under the hub's lock.
#[derive(Debug)]
pub(crate) struct Wakes {
    interval: Duration,
    /// A wake-up is owed: the ticker has been told and will wake them.
    owed: bool,
    /// Whether a ticker task is running for this hub.
    ticker: bool,
    /// The ring's end at the last news.
    end: u64,
    /// The ring's end when each shard was last woken.
    woken_at: [u64; NEWS_SHARDS],
    /// Half the ring's length: no waiting subscriber is left with more news than this.
    most_news: u64,
    /// The ring's end at which the oldest shard's news reaches `most_news`.
    wake_all_at: u64,
}

/// What to do about news once the hub's lock is released.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing: a wake-up is already owed, or there is no one to wake.
    Nothing,
    /// Wake the waiting subscribers now.
    Now,
    /// Tell the ticker.
    Ticker,
}

impl Wake {
    /// Carries out the decision.
    pub(crate) fn apply(self, signal: &Signal) {
        match self {
            Wake::Nothing => {}
            Wake::Now => signal.news.notify_waiters(),
            Wake::Ticker => signal.due.notify_one(),
        }
    }
}

impl Wakes {
    /// The state of a hub whose ring holds `ring_length` events.
    pub(crate) fn new(interval: Duration, ring_length: u64) -> Wakes {
        let most_news = (ring_length / 2).max(1);
        Wakes {
            interval: interval.min(MAX_NOTIFY_INTERVAL),
            owed: false,
            ticker: false,
            end: 0,
            woken_at: [0; NEWS_SHARDS],
            most_news,
            wake_all_at: most_news,
        }
    }

    /// The ring, now ending at `end`, has news for the subscribers.
    ///
    /// Coalescing must not be what makes a subscriber that keeps up fall a ring's length
    /// behind and be cut off (at a high rate, or with a short ring): once the shard woken
    /// longest ago has half a ring of news, every waiting subscriber is woken at once.
    pub(crate) fn news(&mut self, end: u64) -> Wake {
        self.end = end;
        if !self.ticker || end >= self.wake_all_at {
            self.woken(ALL_SHARDS);
            Wake::Now
        } else if self.owed {
            Wake::Nothing
        } else {
            self.owed = true;
            Wake::Ticker
        }
    }

    /// Records the shards of `mask` as woken now.
    fn woken(&mut self, mask: u32) {
        for (shard, at) in self.woken_at.iter_mut().enumerate() {
            if mask & (1 << shard) != 0 {
                *at = self.end;
            }
        }
        let oldest = self.woken_at.iter().copied().min().unwrap_or(self.end);
        self.wake_all_at = oldest.saturating_add(self.most_news);
    }

    /// Whether a ticker should be started (a subscription is being added).
    pub(crate) fn wants_ticker(&self) -> bool {
        !self.ticker && !self.interval.is_zero()
    }

    /// Records whether a ticker is running.
    pub(crate) fn set_ticker(&mut self, running: bool) {
        self.ticker = running;
    }
}

/// Starts the ticker of `shared` on the current tokio runtime, if there is one; `false` when
/// there is none (emits then wake subscribers themselves).
pub(crate) fn spawn_ticker(shared: &Arc<Shared>) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    let ticker = Ticker {
        shared: Arc::downgrade(shared),
        signal: Arc::clone(&shared.signal),
        pending: 0,
    };
    runtime.spawn(ticker.run());
    true
}

/// The task that wakes a hub's waiting subscribers: at once after a quiet spell, then a shard per
/// step of the interval.
struct Ticker {
    shared: Weak<Shared>,
    signal: Arc<Signal>,
    /// The shards of [`News`] owed a wake-up (one bit each).
    pending: u32,
}

/// Every shard's bit.
const ALL_SHARDS: u32 = (1 << NEWS_SHARDS) - 1;

impl Ticker {
    /// Takes the hub's owed wake-up and decides which shards to wake of those `due` (all at once
    /// when `quiet`), recording them as woken: `None` once the hub is gone or closed, else the
    /// shards to wake and the interval.
    fn step(&mut self, due: u32, quiet: bool) -> Option<(u32, Duration)> {
        let shared = self.shared.upgrade()?;
        let mut state = lock(&shared);
        if state.closed {
            return None;
        }
        if std::mem::take(&mut state.wakes.owed) {
            self.pending = ALL_SHARDS;
        }
        let wake = if quiet && self.pending != 0 {
            ALL_SHARDS
        } else {
            self.pending & due
        };
        self.pending &= !wake;
        state.wakes.woken(wake);
        Some((wake, state.wakes.interval))
    }

    async fn run(mut self) {
        loop {
            // Quiet: every shard was last woken at least an interval ago.
            self.signal.due.notified().await;
            let Some((woken, interval)) = self.step(0, true) else {
                return;
            };
            if woken == 0 {
                continue;
            }
            // After a quiet spell every waiting subscriber is woken at once; from then on the
            // shards are woken in turn, one step of the interval apart.
            self.signal.news.notify_waiters();
            let steps = steps_per_interval(interval);
            let per_step = NEWS_SHARDS / steps;
            let step = interval / steps as u32;
            let mut at = Instant::now();
            let mut quiet_steps = 0;
            let mut shard = 0;
            while quiet_steps < steps {
                at = at.checked_add(step).unwrap_or(at);
                tokio::time::sleep_until(at).await;
                // A late step (a busy runtime) keeps the schedule, so that the shards after it
                // are not all later too; only a stall of a whole interval starts it afresh.
                let now = Instant::now();
                if now > at.checked_add(interval).unwrap_or(at) {
                    at = now;
                }
                // This step's shards.
                let due = ((1u32 << per_step) - 1) << shard;
                shard = (shard + per_step) % NEWS_SHARDS;
                let Some((woken, _)) = self.step(due, false) else {
                    return;
                };
                for s in (0..NEWS_SHARDS).filter(|s| woken & (1 << s) != 0) {
                    self.signal.news.notify_shard(s);
                }
                quiet_steps = if woken != 0 { 0 } else { quiet_steps + 1 };
            }
        }
    }
}

/// How many steps an interval is cut into: as many as there are shards, but none shorter than
/// the timer's millisecond; a power of two, so that each step wakes as many shards.
fn steps_per_interval(interval: Duration) -> usize {
    let millis = usize::try_from(interval.as_millis()).unwrap_or(usize::MAX);
    let most = millis.clamp(1, NEWS_SHARDS);
    // The largest power of two not above `most`.
    1 << most.ilog2()
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // Ended with its hub, or with its runtime: emits wake subscribers themselves from now on
        // (a later subscription on a runtime starts a new ticker), and nothing owed is left owed.
        let owed = self.shared.upgrade().is_some_and(|shared| {
            let mut state = lock(&shared);
            state.wakes.ticker = false;
            std::mem::take(&mut state.wakes.owed)
        });
        if owed || self.pending != 0 {
            self.signal.news.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_is_cut_into_whole_milliseconds_a_power_of_two_of_steps() {
        let steps = |ms| steps_per_interval(Duration::from_millis(ms));
        assert_eq!(steps(0), 1);
        assert_eq!(steps(1), 1);
        assert_eq!(steps(5), 4);
        assert_eq!(steps(16), 16);
        assert_eq!(steps(70), 16);
        assert_eq!(steps_per_interval(Duration::MAX), 16);
        for ms in 0..100 {
            assert_eq!(NEWS_SHARDS % steps(ms), 0);
        }
    }
}
