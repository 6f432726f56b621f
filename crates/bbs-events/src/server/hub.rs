//! The fan-out hub: every emitted event goes to every matching subscriber's bounded queue.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use base64::Engine as _;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::models::Version;
use crate::server::error::HubError;
use crate::server::filter::Filter;
use crate::{Event, EventType};

/// The default per-subscriber queue length, as in the BBS.
pub const DEFAULT_SUBSCRIBER_CAPACITY: usize = 1024;

/// An event encoded once for all subscribers.
#[derive(Debug, PartialEq)]
pub struct EncodedEvent {
    /// The hub's sequence number of the event (from 0).
    pub seq: u64,
    /// The decoded event, for filtering.
    pub event: Event,
    /// The protobuf payload in standard base64.
    pub payload_b64: Bytes,
    /// The V0 payload, encoded on first use by a subscriber of a route without `.r1`.
    v0_b64: OnceLock<Bytes>,
}

impl EncodedEvent {
    /// Encodes `event` (protobuf, then base64).
    pub fn new(seq: u64, event: Event) -> EncodedEvent {
        let payload_b64 = encode_b64(&event);
        EncodedEvent {
            seq,
            event,
            payload_b64,
            v0_b64: OnceLock::new(),
        }
    }

    /// The base64 payload in the model `version` (see [`Version`]); the V0 form is encoded once
    /// per event, whatever the number of its subscribers.
    pub fn payload_b64_in(&self, version: Version) -> &Bytes {
        if version == Version::V3 {
            return &self.payload_b64;
        }
        self.v0_b64
            .get_or_init(|| match self.event.version_down_to(version) {
                Cow::Borrowed(_) => self.payload_b64.clone(),
                Cow::Owned(v0) => encode_b64(&v0),
            })
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }
}

fn encode_b64(event: &Event) -> Bytes {
    Bytes::from(base64::engine::general_purpose::STANDARD.encode(event.encode_to_vec()))
}

type CountCallback = Arc<dyn Fn(usize) + Send + Sync>;

struct Shared {
    state: Mutex<HubState>,
    capacity: usize,
    replay_window: usize,
    on_count: Option<CountCallback>,
}

#[derive(Default)]
struct HubState {
    subscribers: HashMap<u64, Subscriber>,
    next_id: u64,
    next_seq: u64,
    closed: bool,
    replay: VecDeque<Arc<EncodedEvent>>,
}

struct Subscriber {
    tx: mpsc::Sender<Arc<EncodedEvent>>,
    filter: Filter,
    ended: Arc<Mutex<Option<HubError>>>,
}

/// A fan-out hub of BBS events with bounded per-subscriber queues.
///
/// [`emit`](Hub::emit) encodes an event once and queues it for every subscriber whose
/// [`Filter`] accepts it. A subscriber whose queue is full (by default
/// [`DEFAULT_SUBSCRIBER_CAPACITY`] events behind) is disconnected with
/// [`HubError::SlowSubscriber`]; the others are never slowed down. Cloning a hub gives another
/// handle to the same hub.
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
            .finish_non_exhaustive()
    }
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

/// Builds a [`Hub`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct HubBuilder {
    capacity: usize,
    replay_window: usize,
    on_count: Option<CountCallback>,
}

impl fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubBuilder")
            .field("capacity", &self.capacity)
            .field("replay_window", &self.replay_window)
            .finish_non_exhaustive()
    }
}

impl HubBuilder {
    /// The per-subscriber queue length (default 1024; at least 1).
    pub fn subscriber_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Keeps the last `events` emitted events so that a subscriber can resume after a sequence
    /// number ([`Hub::subscribe_after`]). Off (0) by default, as in the BBS.
    pub fn replay_window(mut self, events: usize) -> Self {
        self.replay_window = events;
        self
    }

    /// Calls `callback` with the new number of subscribers whenever it changes.
    pub fn on_subscriber_count(mut self, callback: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_count = Some(Arc::new(callback));
        self
    }

    /// Builds the hub.
    pub fn build(self) -> Hub {
        Hub {
            shared: Arc::new(Shared {
                state: Mutex::new(HubState::default()),
                capacity: self.capacity,
                replay_window: self.replay_window,
                on_count: self.on_count,
            }),
        }
    }
}

impl Hub {
    /// A hub with the default settings.
    pub fn new() -> Hub {
        Hub::builder().build()
    }

    /// A builder for a hub with a queue length, a replay window or a subscriber-count callback.
    pub fn builder() -> HubBuilder {
        HubBuilder {
            capacity: DEFAULT_SUBSCRIBER_CAPACITY,
            replay_window: 0,
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

    /// The number of current subscribers.
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
        let (tx, rx) = mpsc::channel(self.shared.capacity);
        let ended = Arc::new(Mutex::new(None));
        let mut backlog = VecDeque::new();
        let count = {
            let mut state = self.lock();
            if state.closed {
                return Err(HubError::Closed);
            }
            if let Some(last_seq) = replay_from {
                for event in &state.replay {
                    if last_seq.is_none_or(|last| event.seq > last) {
                        backlog.push_back(Arc::clone(event));
                    }
                }
            }
            let id = state.next_id;
            state.next_id += 1;
            state.subscribers.insert(
                id,
                Subscriber {
                    tx,
                    filter: filter.clone(),
                    ended: Arc::clone(&ended),
                },
            );
            (id, state.subscribers.len())
        };
        tracing::debug!(subscribers = count.1, "hub subscriber added");
        self.notify(count.1);
        Ok(HubSubscription {
            id: count.0,
            hub: Arc::downgrade(&self.shared),
            rx,
            ended,
            backlog,
            filter,
        })
    }

    /// Emits an event to every subscriber whose filter accepts it, encoding it once; returns its
    /// sequence number.
    ///
    /// Never waits: a subscriber whose queue is full is disconnected with
    /// [`HubError::SlowSubscriber`].
    ///
    /// # Errors
    ///
    /// [`HubError::Closed`] when the hub is closed (the event is not sent).
    pub fn emit(&self, event: Event) -> Result<u64, HubError> {
        // Encoding happens before taking the lock; the sequence number is patched in below.
        let mut encoded = EncodedEvent::new(0, event);
        let (seq, removed, count) = {
            let mut state = self.lock();
            if state.closed {
                return Err(HubError::Closed);
            }
            let seq = state.next_seq;
            state.next_seq += 1;
            encoded.seq = seq;
            let encoded = Arc::new(encoded);
            let mut removed = Vec::new();
            for (&id, sub) in &state.subscribers {
                let end = match sub.filter.accepts(&encoded.event) {
                    Ok(false) => continue,
                    Ok(true) => match sub.tx.try_send(Arc::clone(&encoded)) {
                        Ok(()) => continue,
                        Err(mpsc::error::TrySendError::Full(_)) => HubError::SlowSubscriber {
                            capacity: self.shared.capacity,
                        },
                        Err(mpsc::error::TrySendError::Closed(_)) => HubError::Closed,
                    },
                    Err(e) => HubError::CellFilter(e),
                };
                *lock_ended(&sub.ended) = Some(end);
                removed.push(id);
            }
            for id in &removed {
                state.subscribers.remove(id);
            }
            if self.shared.replay_window > 0 {
                if state.replay.len() == self.shared.replay_window {
                    state.replay.pop_front();
                }
                state.replay.push_back(encoded);
            }
            (seq, removed.len(), state.subscribers.len())
        };
        if removed > 0 {
            tracing::warn!(
                seq,
                disconnected = removed,
                subscribers = count,
                "hub disconnected subscribers that fell behind or failed the cell filter"
            );
            self.notify(count);
        }
        Ok(seq)
    }

    /// Closes the hub: subscribers receive what is queued, then [`HubError::Closed`]; later emits
    /// and subscribes fail.
    pub fn close(&self) {
        let had = {
            let mut state = self.lock();
            state.closed = true;
            let had = state.subscribers.len();
            state.subscribers.clear();
            had
        };
        tracing::debug!(subscribers = had, "hub closed");
        if had > 0 {
            self.notify(0);
        }
    }

    /// Ends the given subscriptions as if the hub had closed for them: each receives what is
    /// queued, then [`HubError::Closed`].
    pub(crate) fn disconnect(&self, ids: impl IntoIterator<Item = u64>) {
        let count = {
            let mut state = self.lock();
            let before = state.subscribers.len();
            for id in ids {
                state.subscribers.remove(&id);
            }
            (state.subscribers.len() != before).then_some(state.subscribers.len())
        };
        if let Some(count) = count {
            self.notify(count);
        }
    }

    /// Whether the hub is closed.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn notify(&self, count: usize) {
        if let Some(callback) = &self.shared.on_count {
            callback(count);
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, HubState> {
    // A panic while holding the lock leaves consistent state (every update is a single step).
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_ended(ended: &Mutex<Option<HubError>>) -> MutexGuard<'_, Option<HubError>> {
    ended.lock().unwrap_or_else(|e| e.into_inner())
}

/// A subscriber's end of a [`Hub`]; dropping it unsubscribes.
pub struct HubSubscription {
    id: u64,
    hub: Weak<Shared>,
    rx: mpsc::Receiver<Arc<EncodedEvent>>,
    ended: Arc<Mutex<Option<HubError>>>,
    backlog: VecDeque<Arc<EncodedEvent>>,
    filter: Filter,
}

impl fmt::Debug for HubSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSubscription")
            .field("id", &self.id)
            .field("queued", &(self.rx.len() + self.backlog.len()))
            .finish_non_exhaustive()
    }
}

impl HubSubscription {
    /// The hub's id of this subscription.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether the hub cut this subscriber off as slow (its queue may still hold events).
    pub(crate) fn was_cut_off(&self) -> bool {
        matches!(
            *lock_ended(&self.ended),
            Some(HubError::SlowSubscriber { .. })
        )
    }

    /// Waits for the next event.
    ///
    /// # Errors
    ///
    /// After every queued event has been received: [`HubError::Closed`] when the hub closed,
    /// [`HubError::SlowSubscriber`] when this subscriber fell behind, or
    /// [`HubError::CellFilter`] when an event could not be filtered.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no event is lost when the future is dropped.
    pub async fn recv(&mut self) -> Result<Arc<EncodedEvent>, HubError> {
        while let Some(event) = self.backlog.pop_front() {
            match self.filter.accepts(&event.event) {
                Ok(true) => return Ok(event),
                Ok(false) => {}
                Err(e) => return Err(HubError::CellFilter(e)),
            }
        }
        match self.rx.recv().await {
            Some(event) => Ok(event),
            None => Err(lock_ended(&self.ended).clone().unwrap_or(HubError::Closed)),
        }
    }
}

impl Drop for HubSubscription {
    fn drop(&mut self) {
        let Some(shared) = self.hub.upgrade() else {
            return;
        };
        let count = {
            let mut state = lock(&shared);
            if state.subscribers.remove(&self.id).is_none() {
                return;
            }
            state.subscribers.len()
        };
        tracing::debug!(subscribers = count, "hub subscriber left");
        if let Some(callback) = &shared.on_count {
            callback(count);
        }
    }
}
