//! The [`Emitter`] every component embeds, with callback listeners and stream subscriptions.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::subscription::Subscription;
use crate::{Event, EventName};

/// How many events a subscription may fall behind before it loses the oldest ones.
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 1024;

type ListenerFn = dyn Fn(&Event) + Send + Sync;

/// Identifies a listener added with [`Emitter::add_listener`], for removing it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(u64);

#[derive(Clone)]
struct Entry {
    id: ListenerId,
    listener: Arc<ListenerFn>,
}

struct Inner {
    component: &'static str,
    /// Copy-on-write list: an emit clones the `Arc` and calls listeners without holding the
    /// lock, so a listener may add or remove listeners without deadlocking.
    listeners: RwLock<Arc<[Entry]>>,
    /// Listeners plus live subscriptions; zero means an emit only has to trace.
    observers: Arc<AtomicUsize>,
    /// Live subscriptions; zero means an emit skips the broadcast channel.
    subscribers: Arc<AtomicUsize>,
    next_id: AtomicU64,
    tx: broadcast::Sender<Event>,
    capacity: usize,
    /// Cancelled by [`Emitter::close`]: subscriptions end once they have yielded what
    /// was raised before.
    closed: CancellationToken,
    /// The same as `closed.is_cancelled()`, without the token's lock, for every emit.
    is_closed: AtomicBool,
}

/// Raises [`Event`]s to callback listeners, stream subscribers and `tracing`.
///
/// Cloning an `Emitter` is cheap and gives another handle to the same listeners, so a
/// component can hand clones to the tasks it spawns.
///
/// * Listeners are called synchronously, in the order they were added, on the task that
///   emits. Keep them short; hand work to a channel or use [`Emitter::subscribe`] for
///   anything slow.
/// * A listener may add or remove listeners, including itself, while it runs. The change
///   applies from the next emit on.
/// * A listener that panics is contained: the panic is logged with `tracing`, the other
///   listeners still run, and the emitter keeps working.
/// * With no listener and no subscription, an emit costs one `tracing` interest check
///   and one atomic load.
/// * Every event is also a `tracing` event with target `flowgate::events` and fields
///   `component`, `event`, `val` and `msg`; [`EventName::Error`] is logged at error level,
///   [`EventName::AuditFail`] at warn level and the rest at debug level.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use events_core::{Emitter, EventName};
///
/// let emitter = Emitter::new("example");
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let id = emitter.add_listener(move |e| sink.lock().unwrap().push((e.name(), e.val())));
///
/// emitter.emit(EventName::Capacity, 1000);
/// assert!(emitter.remove_listener(id));
/// emitter.emit(EventName::Capacity, 2000);
///
/// assert_eq!(*seen.lock().unwrap(), vec![(EventName::Capacity, 1000)]);
/// ```
#[derive(Clone)]
pub struct Emitter {
    inner: Arc<Inner>,
}

impl Emitter {
    /// Creates an emitter for the component named `component` (used in `tracing` output).
    pub fn new(component: &'static str) -> Self {
        Self::with_subscription_capacity(component, DEFAULT_SUBSCRIPTION_CAPACITY)
    }

    /// Creates an emitter whose subscriptions hold up to `capacity` unread events
    /// (at least 1) before they lose the oldest.
    pub fn with_subscription_capacity(component: &'static str, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (tx, _) = broadcast::channel(capacity);
        Emitter {
            inner: Arc::new(Inner {
                component,
                listeners: RwLock::new(Arc::from(Vec::new())),
                observers: Arc::new(AtomicUsize::new(0)),
                subscribers: Arc::new(AtomicUsize::new(0)),
                next_id: AtomicU64::new(0),
                tx,
                capacity,
                closed: CancellationToken::new(),
                is_closed: AtomicBool::new(false),
            }),
        }
    }

    /// The component name given at construction.
    pub fn component(&self) -> &'static str {
        self.inner.component
    }

    /// Adds a listener called for every later event; returns its id for
    /// [`remove_listener`](Emitter::remove_listener).
    pub fn add_listener<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&Event) + Send + Sync + 'static,
    {
        let id = ListenerId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let listener: Arc<ListenerFn> = Arc::new(listener);
        self.update_listeners(|old| {
            let mut list = old.to_vec();
            list.push(Entry {
                id,
                listener: listener.clone(),
            });
            Some(list)
        });
        self.inner.observers.fetch_add(1, Ordering::AcqRel);
        id
    }

    /// Removes a listener. Returns `false` if it was already removed.
    ///
    /// An emit that is already running may still call the listener once.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        let removed = self.update_listeners(|old| {
            if !old.iter().any(|e| e.id == id) {
                return None;
            }
            Some(old.iter().filter(|e| e.id != id).cloned().collect())
        });
        if removed {
            self.inner.observers.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    /// How many listeners are registered.
    pub fn listener_count(&self) -> usize {
        self.read_listeners().len()
    }

    /// Opens a stream of every later event.
    ///
    /// The stream is bounded by the emitter's subscription capacity: a subscriber that
    /// falls further behind loses the oldest events and receives
    /// [`Lagged`](crate::Lagged) with the number it missed. The emitter never waits for a
    /// subscriber. Dropping the [`Subscription`] unsubscribes. The stream ends when the
    /// emitter is [closed](Emitter::close) (at once if it is closed already) or every
    /// handle of it is dropped.
    pub fn subscribe(&self) -> Subscription {
        let rx = self.inner.tx.subscribe();
        Subscription::new(
            rx,
            self.inner.observers.clone(),
            self.inner.subscribers.clone(),
            self.inner.closed.clone(),
        )
    }

    /// Ends every subscription, now and later, once it has yielded the events raised
    /// before; a component calls it when it stops, so that a
    /// `while let Some(event) = subscription.next().await` loop ends with it.
    ///
    /// Events raised after the close reach listeners (and `tracing`) only: listeners
    /// are not affected.
    pub fn close(&self) {
        self.inner.is_closed.store(true, Ordering::Release);
        self.inner.closed.cancel();
    }

    /// Whether [`close`](Emitter::close) was called on any handle of this emitter.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed.load(Ordering::Acquire)
    }

    /// How many events a subscription can fall behind before losing the oldest.
    pub fn subscription_capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Whether any listener or subscription would see an event now.
    ///
    /// Use it to skip building costly metadata; [`emit_with`](Emitter::emit_with) does so
    /// for you.
    #[inline]
    pub fn is_observed(&self) -> bool {
        self.inner.observers.load(Ordering::Acquire) != 0
    }

    /// Raises an event with a name and value.
    #[inline]
    pub fn emit(&self, name: EventName, val: i64) {
        self.trace(name, val, None);
        if self.is_observed() {
            self.dispatch(Event::new(name, val));
        }
    }

    /// Raises an event with a name, value and message.
    pub fn emit_msg(&self, name: EventName, val: i64, msg: impl Into<Arc<str>>) {
        let msg = msg.into();
        self.trace(name, val, Some(&msg));
        if self.is_observed() {
            self.dispatch(Event::new(name, val).with_msg(msg));
        }
    }

    /// Raises an event, letting `build` add a message or metadata only when someone
    /// listens.
    pub fn emit_with(&self, name: EventName, val: i64, build: impl FnOnce(Event) -> Event) {
        self.emit_with_reuse(name, val, build);
    }

    /// Raises an event like [`emit_with`](Emitter::emit_with) and gives it back once
    /// every listener has returned, so that the caller can reuse what it carries (see
    /// [`Event::into_metadata`]) for the next one.
    ///
    /// Returns `None` when nobody listens (`build` did not run) or a subscription took
    /// the event. A listener may have kept a clone: check before reusing shared
    /// metadata in place (`Arc::get_mut`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use events_core::{Emitter, EventName, Metadata};
    ///
    /// let emitter = Emitter::new("example");
    /// emitter.add_listener(|_| {});
    /// let mut spare: Option<Metadata> = Some(Arc::new(vec![0u32; 100]));
    /// let back = emitter.emit_with_reuse(EventName::Batch, 100, |e| match spare.take() {
    ///     Some(meta) => e.with_shared_metadata(meta),
    ///     None => e,
    /// });
    /// spare = back.and_then(|e| e.into_metadata());
    /// let mut meta = spare.expect("nobody kept it").downcast::<Vec<u32>>().unwrap();
    /// assert!(Arc::get_mut(&mut meta).is_some());
    /// ```
    pub fn emit_with_reuse(
        &self,
        name: EventName,
        val: i64,
        build: impl FnOnce(Event) -> Event,
    ) -> Option<Event> {
        if !self.is_observed() {
            self.trace(name, val, None);
            return None;
        }
        let event = build(Event::new(name, val));
        self.trace(event.name(), event.val(), event.msg());
        self.dispatch(event)
    }

    /// Raises an event built by the caller.
    pub fn emit_event(&self, event: Event) {
        self.trace(event.name(), event.val(), event.msg());
        if self.is_observed() {
            self.dispatch(event);
        }
    }

    /// Calls every listener, then sends the event to the subscriptions if there are any;
    /// gives it back if it was not sent.
    fn dispatch(&self, event: Event) -> Option<Event> {
        let listeners = self.read_listeners();
        for entry in listeners.iter() {
            let listener = &entry.listener;
            if catch_unwind(AssertUnwindSafe(|| listener(&event))).is_err() {
                tracing::error!(
                    target: "flowgate::events",
                    component = self.inner.component,
                    event = event.name().as_str(),
                    listener = entry.id.0,
                    "an event listener panicked; the panic was contained"
                );
            }
        }
        if self.inner.subscribers.load(Ordering::Acquire) != 0 && !self.is_closed() {
            // No receiver is not a failure: a subscription may have just been dropped.
            let _ = self.inner.tx.send(event);
            return None;
        }
        Some(event)
    }

    #[inline]
    fn trace(&self, name: EventName, val: i64, msg: Option<&str>) {
        let component = self.inner.component;
        let event = name.as_str();
        match name {
            EventName::Error => {
                tracing::error!(target: "flowgate::events", component, event, val, msg)
            }
            EventName::AuditFail => {
                tracing::warn!(target: "flowgate::events", component, event, val, msg)
            }
            _ => tracing::debug!(target: "flowgate::events", component, event, val, msg),
        }
    }

    fn read_listeners(&self) -> Arc<[Entry]> {
        self.inner
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the listener list with what `f` returns; `None` leaves it unchanged.
    fn update_listeners(&self, f: impl FnOnce(&[Entry]) -> Option<Vec<Entry>>) -> bool {
        let mut guard = self
            .inner
            .listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match f(&guard) {
            Some(list) => {
                *guard = Arc::from(list);
                true
            }
            None => false,
        }
    }
}

impl Default for Emitter {
    fn default() -> Self {
        Emitter::new("flowgate")
    }
}

impl fmt::Debug for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("component", &self.inner.component)
            .field("listeners", &self.listener_count())
            .field("subscription_capacity", &self.inner.capacity)
            .finish()
    }
}
