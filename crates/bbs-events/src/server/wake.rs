//! Coalesced wake-ups: the ring is appended to at once, but waiting subscribers are woken at most
//! once per notify interval, so that a woken subscriber drains many events per wake-up instead of
//! one task wake-up (and one write) per event per subscriber.
//!
//! An emit never wakes a subscriber itself: it marks a wake-up as owed and tells the hub's ticker
//! task, which wakes every waiting subscriber at once when the interval since the last wake-up has
//! passed (at once after a quiet spell, so that a lone event keeps a low latency). Without a
//! ticker (no tokio runtime at the first subscription, or a zero interval) emit wakes them itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::server::hub::{Shared, lock};
use crate::server::ring::Ring;

/// The default [notify interval](crate::server::HubBuilder::notify_interval).
pub const DEFAULT_NOTIFY_INTERVAL: Duration = Duration::from_millis(50);

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
    /// When waiting subscribers were last woken.
    last: Option<Instant>,
    /// A wake-up is owed: the ticker has been told and will wake them.
    owed: bool,
    /// Whether a ticker task is running for this hub.
    ticker: bool,
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
    pub(crate) fn new(interval: Duration) -> Wakes {
        Wakes {
            interval: interval.min(MAX_NOTIFY_INTERVAL),
            last: None,
            owed: false,
            ticker: false,
        }
    }

    /// The ring has news for `subscribers` subscribers.
    pub(crate) fn news(&mut self, subscribers: usize) -> Wake {
        if subscribers == 0 || self.owed {
            Wake::Nothing
        } else if self.ticker {
            self.owed = true;
            Wake::Ticker
        } else {
            Wake::Now
        }
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
    };
    runtime.spawn(ticker.run());
    true
}

/// The task that wakes a hub's waiting subscribers at most once per interval.
struct Ticker {
    shared: Weak<Shared>,
    signal: Arc<Signal>,
}

impl Ticker {
    async fn run(self) {
        loop {
            self.signal.due.notified().await;
            // The hub's state is held only for a moment, never across a wait.
            let deadline = {
                let Some(shared) = self.shared.upgrade() else {
                    return;
                };
                let state = lock(&shared);
                if state.closed {
                    return;
                }
                if !state.wakes.owed {
                    continue;
                }
                state.wakes.last.map(|last| last + state.wakes.interval)
            };
            if let Some(deadline) = deadline {
                tokio::time::sleep_until(deadline).await;
            }
            let Some(shared) = self.shared.upgrade() else {
                return;
            };
            let owed = {
                let mut state = lock(&shared);
                state.wakes.last = Some(Instant::now());
                std::mem::take(&mut state.wakes.owed)
            };
            if owed {
                self.signal.news.notify_waiters();
            }
        }
    }
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
        if owed {
            self.signal.news.notify_waiters();
        }
    }
}
