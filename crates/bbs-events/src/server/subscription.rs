//! A subscriber's cursor on the hub's ring: its filter, its replay backlog, and how it ends.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Notify, broadcast};

use crate::server::encoded::EncodedEvent;
use crate::server::error::HubError;
use crate::server::filter::Filter;
use crate::server::hub::{Shared, record_cut_off, unregister};

/// How a subscription was ended from outside its stream (a server shutting down), or by itself.
#[derive(Debug, Default)]
pub(crate) struct Ending {
    /// Set once `why` is, so that the hot path checks a flag rather than a lock.
    ended: AtomicBool,
    /// The error to end with, and the first sequence number not delivered any more.
    why: Mutex<Option<(HubError, u64)>>,
    woken: Notify,
}

impl Ending {
    /// Ends the subscription with `error` once it has received the events before `until`.
    pub(crate) fn end(&self, error: HubError, until: u64) {
        let mut why = self.why.lock().unwrap_or_else(|e| e.into_inner());
        if why.is_none() {
            *why = Some((error, until));
            self.ended.store(true, Ordering::Release);
        }
        drop(why);
        self.woken.notify_one();
    }

    fn get(&self) -> Option<(HubError, u64)> {
        if !self.ended.load(Ordering::Acquire) {
            return None;
        }
        self.why.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A subscriber's end of a [`Hub`](crate::server::Hub); dropping it unsubscribes.
pub struct HubSubscription {
    id: u64,
    hub: Weak<Shared>,
    capacity: usize,
    rx: broadcast::Receiver<Arc<EncodedEvent>>,
    ending: Arc<Ending>,
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

/// What the ring gave.
enum Next {
    Event(Arc<EncodedEvent>),
    Empty,
    Lagged,
    Closed,
}

impl HubSubscription {
    pub(crate) fn new(
        id: u64,
        hub: Weak<Shared>,
        capacity: usize,
        rx: broadcast::Receiver<Arc<EncodedEvent>>,
        ending: Arc<Ending>,
        backlog: VecDeque<Arc<EncodedEvent>>,
        filter: Filter,
    ) -> HubSubscription {
        HubSubscription {
            id,
            hub,
            capacity,
            rx,
            ending,
            backlog,
            filter,
        }
    }

    /// The hub's id of this subscription.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Waits for the next event this subscription's filter accepts.
    ///
    /// Events already in the ring are taken without waiting, so a caller that loops drains
    /// everything available at once.
    ///
    /// # Errors
    ///
    /// [`HubError::SlowSubscriber`] at once when this subscriber fell more than the ring's
    /// length behind (the events it missed are gone); after the events emitted before the end:
    /// [`HubError::Closed`] when the hub closed or the server is shutting down; and
    /// [`HubError::CellFilter`] when an event could not be filtered. The subscription has then
    /// left the hub, and every later call gives the same error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no event is lost when the future is dropped.
    pub async fn recv(&mut self) -> Result<Arc<EncodedEvent>, HubError> {
        while let Some(event) = self.backlog.pop_front() {
            if let Some(result) = self.keep(event) {
                return result;
            }
        }
        loop {
            let next = match self.rx.try_recv() {
                Ok(event) => Next::Event(event),
                Err(broadcast::error::TryRecvError::Empty) => Next::Empty,
                Err(broadcast::error::TryRecvError::Lagged(_)) => Next::Lagged,
                Err(broadcast::error::TryRecvError::Closed) => Next::Closed,
            };
            match next {
                Next::Event(event) => {
                    if let Some(result) = self.keep(event) {
                        return result;
                    }
                }
                Next::Lagged => return Err(self.cut_off()),
                Next::Closed => return Err(self.finish(HubError::Closed)),
                Next::Empty => {
                    if let Some((error, _)) = self.ending.get() {
                        return Err(self.finish(error));
                    }
                    let woken = self.ending.woken.notified();
                    tokio::select! {
                        biased;
                        () = woken => {}
                        event = self.rx.recv() => match event {
                            Ok(event) => {
                                if let Some(result) = self.keep(event) {
                                    return result;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => return Err(self.cut_off()),
                            Err(broadcast::error::RecvError::Closed) => {
                                return Err(self.finish(HubError::Closed));
                            }
                        },
                    }
                }
            }
        }
    }

    /// What to do with `event`: `None` to skip it (filtered out), or what `recv` returns.
    fn keep(&mut self, event: Arc<EncodedEvent>) -> Option<Result<Arc<EncodedEvent>, HubError>> {
        if let Some((error, until)) = self.ending.get() {
            if event.seq >= until {
                return Some(Err(self.finish(error)));
            }
        }
        match self.filter.accepts(&event.event) {
            Ok(true) => Some(Ok(event)),
            Ok(false) => None,
            Err(error) => Some(Err(self.finish(HubError::CellFilter(error)))),
        }
    }

    /// The one place a subscriber is cut off as slow.
    fn cut_off(&mut self) -> HubError {
        let error = HubError::SlowSubscriber {
            capacity: self.capacity,
        };
        if self.ending.get().is_none() {
            if let Some(shared) = self.hub.upgrade() {
                record_cut_off(&shared);
            }
        }
        self.finish(error)
    }

    /// Ends this subscription with `error` (unless it already ended) and leaves the hub.
    fn finish(&mut self, error: HubError) -> HubError {
        self.ending.end(error, 0);
        if let Some(shared) = self.hub.upgrade() {
            unregister(&shared, self.id);
        }
        self.ending
            .get()
            .map_or(HubError::Closed, |(error, _)| error)
    }
}

impl Drop for HubSubscription {
    fn drop(&mut self) {
        if let Some(shared) = self.hub.upgrade() {
            unregister(&shared, self.id);
        }
    }
}
