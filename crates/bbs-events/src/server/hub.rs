//! The fan-out hub: each event is encoded once into one shared ring that every subscriber reads
//! at its own cursor, so that an emit costs the same for one subscriber or ten thousand.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::Event;
use crate::server::encoded::EncodedEvent;
use crate::server::error::HubError;
use crate::server::filter::Filter;
use crate::server::subscription::{Ending, HubSubscription};
use crate::server::wake::{
    DEFAULT_NOTIFY_INTERVAL, MAX_NOTIFY_INTERVAL, Signal, Wake, Wakes, spawn_ticker,
};

/// The default ring length, that is how far behind a subscriber may fall, as in the BBS.
pub const DEFAULT_SUBSCRIBER_CAPACITY: usize = 1024;

/// The longest ring a hub keeps (a million events); a larger capacity is lowered to it.
pub const MAX_SUBSCRIBER_CAPACITY: usize = 1 << 20;

type CountCallback = Arc<dyn Fn(usize) + Send + Sync>;

pub(crate) struct Shared {
    state: Mutex<HubState>,
    capacity: usize,
    replay_window: usize,
    on_count: Option<CountCallback>,
    notify_interval: Duration,
    /// Wake-ups and counters, shared with the subscriptions.
    pub(crate) signal: Arc<Signal>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: end every subscription as a close would (the ring's writing
        // end goes first, so that woken subscribers find it closed).
        self.state
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .closed = true;
        self.signal.ring.close();
        self.signal.news.notify_waiters();
        self.signal.stop_ticker();
    }
}

/// At most one cut-off warning per this long, so that many slow subscribers cannot flood the log.
const CUT_OFF_WARNING_INTERVAL: Duration = Duration::from_secs(1);

pub(crate) struct HubState {
    /// Whether the hub is closed (and its ring with it).
    pub(crate) closed: bool,
    /// When waiting subscribers are woken.
    pub(crate) wakes: Wakes,
    /// How to end each current subscription early (shutdown); its length is the subscriber count.
    subscribers: HashMap<u64, Arc<Ending>>,
    next_id: u64,
    next_seq: u64,
    replay: VecDeque<Arc<EncodedEvent>>,
}

/// A fan-out hub of BBS events with one shared, bounded ring of encoded events.
///
/// [`emit`](Hub::emit) encodes an event once and puts it in the ring, whatever the number of
/// subscribers; each [`HubSubscription`] reads the ring at its own cursor and keeps the events its
/// [`Filter`] accepts. A subscriber that falls more than the ring's length behind (by default
/// [`DEFAULT_SUBSCRIBER_CAPACITY`] events, counting the events its filter skips) is the slow
/// one: its next [`recv`](HubSubscription::recv) fails with [`HubError::SlowSubscriber`] and it
/// is disconnected; the others are never slowed down. Cloning a hub gives another handle to the
/// same hub.
///
/// # Examples
///
/// ```
/// use bbs_events::server::{Filter, Hub};
/// # use bbs_events::{Event, models};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let hub = Hub::new();
/// let mut sub = hub.subscribe(Filter::all()).unwrap();
/// hub.emit(Event::TaskRemoved(models::TaskRemovedEvent::default())).unwrap();
/// assert_eq!(sub.recv().await.unwrap().seq, 0);
/// # }
/// ```
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.subscriber_count())
            .field("capacity", &self.shared.capacity)
            .field("replay_window", &self.shared.replay_window)
            .field("notify_interval", &self.shared.notify_interval)
            .finish_non_exhaustive()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

/// A snapshot of a hub's counters ([`Hub::stats`]); the counts only grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HubStats {
    /// Events accepted by [`Hub::emit`].
    pub emitted: u64,
    /// Events handed to subscribers: returned by [`HubSubscription::recv`] or
    /// [`recv_many`](HubSubscription::recv_many), which a server does when it writes them to
    /// a connection (preloaded events included).
    pub delivered: u64,
    /// Subscribers cut off as slow ([`HubError::SlowSubscriber`]).
    pub cut_off: u64,
    /// Current subscribers, as [`Hub::subscriber_count`].
    pub subscribers: usize,
}

/// Builds a [`Hub`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct HubBuilder {
    capacity: usize,
    replay_window: usize,
    notify_interval: Duration,
    on_count: Option<CountCallback>,
}

impl fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubBuilder")
            .field("capacity", &self.capacity)
            .field("replay_window", &self.replay_window)
            .field("notify_interval", &self.notify_interval)
            .finish_non_exhaustive()
    }
}

impl HubBuilder {
    /// How far behind a subscriber may fall before it is cut off as slow: the length of the
    /// shared ring (default 1024). It is rounded up to a power of two, at least 1 and at most
    /// [`MAX_SUBSCRIBER_CAPACITY`]; the ring is allocated once, for all subscribers.
    pub fn subscriber_capacity(mut self, capacity: usize) -> Self {
        self.capacity = ring_length(capacity);
        self
    }

    /// Keeps the last `events` emitted events so that a subscriber can resume after a sequence
    /// number ([`Hub::subscribe_after`]). Off (0) by default, as in the BBS.
    pub fn replay_window(mut self, events: usize) -> Self {
        self.replay_window = events;
        self
    }

    /// How often, at most, waiting subscribers are woken (default [`DEFAULT_NOTIFY_INTERVAL`],
    /// at most [`MAX_NOTIFY_INTERVAL`](crate::server::MAX_NOTIFY_INTERVAL)).
    ///
    /// Every event goes into the ring at once, but under load a subscriber waiting for one is
    /// woken at most once per interval, so that each wake-up drains (and a server writes) many
    /// events instead of one task wake-up per event and subscriber; no event waits longer than
    /// the interval. The subscribers are woken in turn, a sixteenth of them at each sixteenth of
    /// the interval (steps of at least a millisecond), so that thousands of them are not all
    /// woken, and written to, at the same moment. After a quiet spell (no wake-up for a whole
    /// interval) the next event wakes every waiting subscriber at once, so a lone event is not
    /// delayed; in the interval after that, each is woken once more at its turn. Waiting for
    /// the interval never gets a subscriber cut off: once half the ring
    /// ([`subscriber_capacity`](Self::subscriber_capacity)) is news to the subscribers woken
    /// longest ago, the emit wakes them all. Zero wakes them on every emit. The wake-ups are
    /// timed by a task on the tokio runtime of the first subscription; without a runtime there,
    /// every emit wakes them.
    pub fn notify_interval(mut self, interval: Duration) -> Self {
        self.notify_interval = interval;
        self
    }

    /// Calls `callback` with the new number of subscribers whenever it changes.
    pub fn on_subscriber_count(mut self, callback: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_count = Some(Arc::new(callback));
        self
    }

    /// Builds the hub.
    pub fn build(self) -> Hub {
        let signal = Arc::new(Signal::new(self.capacity));
        Hub {
            shared: Arc::new(Shared {
                state: Mutex::new(HubState {
                    closed: false,
                    wakes: Wakes::new(self.notify_interval, signal.ring.len()),
                    subscribers: HashMap::new(),
                    next_id: 0,
                    next_seq: 0,
                    replay: VecDeque::new(),
                }),
                capacity: self.capacity,
                replay_window: self.replay_window,
                on_count: self.on_count,
                notify_interval: self.notify_interval.min(MAX_NOTIFY_INTERVAL),
                signal,
            }),
        }
    }
}

/// The ring length for a requested capacity (see [`HubBuilder::subscriber_capacity`]).
fn ring_length(capacity: usize) -> usize {
    capacity
        .clamp(1, MAX_SUBSCRIBER_CAPACITY)
        .next_power_of_two()
}

impl Hub {
    /// A hub with the default settings.
    pub fn new() -> Hub {
        Hub::builder().build()
    }

    /// A builder for a hub with a ring length, a replay window or a subscriber-count callback.
    pub fn builder() -> HubBuilder {
        HubBuilder {
            capacity: DEFAULT_SUBSCRIBER_CAPACITY,
            replay_window: 0,
            notify_interval: DEFAULT_NOTIFY_INTERVAL,
            on_count: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        lock(&self.shared)
    }

    /// Whether a replay window is configured.
    pub fn has_replay_window(&self) -> bool {
        self.shared.replay_window > 0
    }

    /// The number of current subscribers. A subscriber that fell behind counts until its stream
    /// next looks at the ring and finds itself cut off.
    pub fn subscriber_count(&self) -> usize {
        self.lock().subscribers.len()
    }

    /// Subscribes to the events `filter` accepts.
    ///
    /// # Errors
    ///
    /// [`HubError::Closed`] when the hub is closed.
    pub fn subscribe(&self, filter: Filter) -> Result<HubSubscription, HubError> {
        self.subscribe_inner(filter, None)
    }

    /// Subscribes and first receives the events of the replay window that came after sequence
    /// number `last_seq` (all of the window for `None`).
    ///
    /// # Errors
    ///
    /// [`HubError::Closed`] when the hub is closed.
    pub fn subscribe_after(
        &self,
        filter: Filter,
        last_seq: Option<u64>,
    ) -> Result<HubSubscription, HubError> {
        self.subscribe_inner(filter, Some(last_seq))
    }

    fn subscribe_inner(
        &self,
        filter: Filter,
        replay_from: Option<Option<u64>>,
    ) -> Result<HubSubscription, HubError> {
        let ending = Arc::new(Ending::default());
        let mut backlog = VecDeque::new();
        // The backlog and the cursor are taken under one lock, so that no event is in both or
        // in neither.
        let (id, cursor, count) = {
            let mut state = self.lock();
            if state.closed {
                return Err(HubError::Closed);
            }
            let cursor = self.shared.signal.ring.end();
            if let Some(last_seq) = replay_from {
                backlog.extend(
                    state
                        .replay
                        .iter()
                        .filter(|e| last_seq.is_none_or(|last| e.seq > last))
                        .cloned(),
                );
            }
            let id = state.next_id;
            state.next_id += 1;
            state.subscribers.insert(id, Arc::clone(&ending));
            if state.wakes.wants_ticker() {
                // Spawning only schedules the task, which takes this lock later.
                state.wakes.set_ticker(spawn_ticker(&self.shared));
            }
            (id, cursor, state.subscribers.len())
        };
        tracing::debug!(subscribers = count, "hub subscriber added");
        self.notify(count);
        Ok(HubSubscription::new(
            id,
            Arc::downgrade(&self.shared),
            Arc::clone(&self.shared.signal),
            self.shared.capacity,
            cursor,
            ending,
            backlog,
            filter,
        ))
    }

    /// Emits an event to every subscriber whose filter accepts it; returns its sequence number.
    ///
    /// The event is encoded once and put in the shared ring: the cost does not grow with the
    /// number of subscribers, and emit never waits for any of them. The subscribers waiting for
    /// an event are woken within the [notify interval](HubBuilder::notify_interval).
    ///
    /// # Errors
    ///
    /// [`HubError::Closed`] when the hub is closed (the event is not sent).
    pub fn emit(&self, event: Event) -> Result<u64, HubError> {
        // Encoding happens before taking the lock; the sequence number is patched in below.
        let mut encoded = EncodedEvent::new(0, event);
        let mut state = self.lock();
        if state.closed {
            return Err(HubError::Closed);
        }
        let seq = state.next_seq;
        encoded.seq = seq;
        let encoded = Arc::new(encoded);
        // An event no one is subscribed to is not kept: no later subscriber could read it.
        let end = if state.subscribers.is_empty() {
            None
        } else {
            Some(self.shared.signal.ring.push(Arc::clone(&encoded)))
        };
        state.next_seq += 1;
        if self.shared.replay_window > 0 {
            if state.replay.len() >= self.shared.replay_window {
                state.replay.pop_front();
            }
            state.replay.push_back(encoded);
        }
        let wake = end.map_or(Wake::Nothing, |end| state.wakes.news(end));
        drop(state);
        wake.apply(&self.shared.signal);
        Ok(seq)
    }

    /// Closes the hub: subscribers receive what is in the ring for them, then
    /// [`HubError::Closed`]; later emits and subscribes fail.
    pub fn close(&self) {
        let had = {
            let mut state = self.lock();
            // Closing the ring is what ends every subscription.
            state.closed = true;
            self.shared.signal.ring.close();
            let had = state.subscribers.len();
            state.subscribers.clear();
            had
        };
        // Woken at once: they find the ring closed after what is left in it for them.
        Wake::Now.apply(&self.shared.signal);
        self.shared.signal.stop_ticker();
        tracing::debug!(subscribers = had, "hub closed");
        if had > 0 {
            self.notify(0);
        }
    }

    /// Ends the given subscriptions as if the hub had closed for them: each receives the events
    /// emitted so far, then [`HubError::Closed`].
    pub(crate) fn disconnect(&self, ids: impl IntoIterator<Item = u64>) {
        let count = {
            let mut state = self.lock();
            let before = state.subscribers.len();
            let until = state.next_seq;
            for id in ids {
                if let Some(ending) = state.subscribers.remove(&id) {
                    ending.end(HubError::Closed, until);
                }
            }
            (state.subscribers.len() != before).then_some(state.subscribers.len())
        };
        if let Some(count) = count {
            self.notify(count);
        }
    }

    /// What the hub has done so far: a cheap snapshot for metrics (one short lock and two
    /// atomic loads; the counters cost the hot path one atomic add per batch, not per event).
    pub fn stats(&self) -> HubStats {
        let (emitted, subscribers) = {
            let state = self.lock();
            (state.next_seq, state.subscribers.len())
        };
        let signal = &self.shared.signal;
        HubStats {
            emitted,
            delivered: signal.delivered.load(Ordering::Relaxed),
            cut_off: signal.cut_offs.load(Ordering::Relaxed),
            subscribers,
        }
    }

    /// Whether the hub is closed.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn notify(&self, count: usize) {
        notify(&self.shared, count);
    }
}

/// Takes subscription `id` off the hub's list (once) and reports the new count.
pub(crate) fn unregister(shared: &Shared, id: u64) {
    let count = {
        let mut state = lock(shared);
        if state.subscribers.remove(&id).is_none() {
            return;
        }
        state.subscribers.len()
    };
    tracing::debug!(subscribers = count, "hub subscriber left");
    notify(shared, count);
}

/// Counts a subscriber cut off as slow, with a warning now and then.
pub(crate) fn record_cut_off(signal: &Signal, capacity: usize) {
    let total = signal.cut_offs.fetch_add(1, Ordering::Relaxed) + 1;
    let now = u64::try_from(signal.created.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
    let last = signal.last_cut_off_warning.load(Ordering::Relaxed);
    let interval = CUT_OFF_WARNING_INTERVAL.as_millis() as u64;
    let due = last == 0 || now.saturating_sub(last) >= interval;
    if due
        && signal
            .last_cut_off_warning
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            capacity,
            cut_off_in_all = total,
            "hub cut off a subscriber that fell behind; the events it missed are gone"
        );
    }
}

fn notify(shared: &Shared, count: usize) {
    if let Some(callback) = &shared.on_count {
        callback(count);
    }
}

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, HubState> {
    // A panic while holding the lock leaves consistent state (every update is a single step).
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::TaskRemovedEvent;

    fn task() -> Event {
        Event::TaskRemoved(TaskRemovedEvent::default())
    }

    #[tokio::test]
    async fn a_disconnected_subscription_gets_the_events_emitted_before_then_closed() {
        let hub = Hub::new();
        let mut sub = hub.subscribe(Filter::all()).unwrap();
        hub.emit(task()).unwrap();
        hub.emit(task()).unwrap();
        hub.disconnect([sub.id()]);
        assert_eq!(hub.subscriber_count(), 0);
        // Emitted after the end: not delivered, however long the emitter goes on.
        hub.emit(task()).unwrap();
        assert_eq!(sub.recv().await.unwrap().seq, 0);
        assert_eq!(sub.recv().await.unwrap().seq, 1);
        assert_eq!(sub.recv().await.unwrap_err(), HubError::Closed);
        assert_eq!(sub.recv().await.unwrap_err(), HubError::Closed);
    }

    #[tokio::test]
    async fn a_waiting_subscription_is_woken_by_its_disconnection() {
        let hub = Hub::new();
        let mut sub = hub.subscribe(Filter::all()).unwrap();
        let id = sub.id();
        let waiting = tokio::spawn(async move { sub.recv().await });
        tokio::task::yield_now().await;
        hub.disconnect([id]);
        assert_eq!(waiting.await.unwrap().unwrap_err(), HubError::Closed);
    }

    #[test]
    fn ring_lengths_are_powers_of_two_within_bounds() {
        use super::{MAX_SUBSCRIBER_CAPACITY, ring_length};
        assert_eq!(ring_length(0), 1);
        assert_eq!(ring_length(4), 4);
        assert_eq!(ring_length(1000), 1024);
        assert_eq!(ring_length(usize::MAX), MAX_SUBSCRIBER_CAPACITY);
    }
}
