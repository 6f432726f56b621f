//! A subscriber's cursor on the hub's ring: its filter, its replay backlog, and how it ends.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

use crate::server::encoded::EncodedEvent;
use crate::server::error::HubError;
use crate::server::filter::Filter;
use crate::server::hub::{Shared, record_cut_off, unregister};
use crate::server::ring::Read;
use crate::server::wake::Signal;

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
    signal: Arc<Signal>,
    capacity: usize,
    /// The position in the hub's ring of the next event to look at.
    cursor: u64,
    ending: Arc<Ending>,
    backlog: VecDeque<Arc<EncodedEvent>>,
    filter: Filter,
}

impl fmt::Debug for HubSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSubscription")
            .field("id", &self.id)
            .field(
                "queued",
                &(self.signal.ring.pending(self.cursor) as usize + self.backlog.len()),
            )
            .finish_non_exhaustive()
    }
}

/// Where a batch ended.
enum Taken {
    /// The ring has nothing more for this subscriber (for now).
    Empty,
    /// The batch is full.
    Full,
    /// The subscription ended with this error (the events before it are in the batch).
    Ended(HubError),
}

impl HubSubscription {
    #[allow(clippy::too_many_arguments)] // One call site, in the hub.
    pub(crate) fn new(
        id: u64,
        hub: Weak<Shared>,
        signal: Arc<Signal>,
        capacity: usize,
        cursor: u64,
        ending: Arc<Ending>,
        backlog: VecDeque<Arc<EncodedEvent>>,
        filter: Filter,
    ) -> HubSubscription {
        HubSubscription {
            id,
            hub,
            signal,
            capacity,
            cursor,
            ending,
            backlog,
            filter,
        }
    }

    /// The hub's id of this subscription.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Counts events handed to the subscriber from elsewhere (a server's preloaded events) in
    /// the hub's [`delivered`](crate::server::HubStats::delivered) count.
    pub(crate) fn count_delivered(&self, events: usize) {
        self.signal.delivered(events);
    }

    /// Waits for the next event this subscription's filter accepts.
    ///
    /// Events already in the ring are taken without waiting, so a caller that loops drains
    /// everything available at once; [`recv_many`](Self::recv_many) takes them in batches.
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
        let mut slot = None;
        self.next_batch(|event| {
            slot = Some(Arc::clone(event));
            false
        })
        .await?;
        // A batch without error holds at least one event.
        slot.ok_or(HubError::Closed)
    }

    /// Waits until this subscription has events, then appends to `buffer` every event the ring
    /// holds for it (those its filter accepts), at most `limit` (at least one); returns how many.
    ///
    /// This is how a server drains a subscriber's events in one go after one wake-up.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv); an error comes only once the events before it were returned.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no event is lost when the future is dropped.
    pub async fn recv_many(
        &mut self,
        buffer: &mut Vec<Arc<EncodedEvent>>,
        limit: usize,
    ) -> Result<usize, HubError> {
        let (start, limit) = (buffer.len(), limit.max(1));
        self.next_batch(|event| {
            buffer.push(Arc::clone(event));
            buffer.len() - start < limit
        })
        .await
    }

    /// Hands events to `push` until it says no more fit (by returning `false`), waiting only
    /// while there are none; `Ok` means at least one was handed.
    pub(crate) async fn next_batch(
        &mut self,
        mut push: impl FnMut(&Arc<EncodedEvent>) -> bool,
    ) -> Result<usize, HubError> {
        let mut taken = 0;
        loop {
            if let Some(result) = self.batch_result(&mut taken, &mut push) {
                return result;
            }
            // Nothing yet: wait for the hub's next wake-up. The waiter is registered before
            // the ring is looked at again, so that a wake-up in between is not missed.
            let signal = Arc::clone(&self.signal);
            let news = signal.news.notified(self.id);
            tokio::pin!(news);
            news.as_mut().enable();
            if let Some(result) = self.batch_result(&mut taken, &mut push) {
                return result;
            }
            let ended = self.ending.woken.notified();
            tokio::select! {
                biased;
                () = ended => {}
                () = news => {}
            }
        }
    }

    /// What the batch gives so far: `None` when it is empty and the subscription goes on.
    fn batch_result(
        &mut self,
        taken: &mut usize,
        push: &mut impl FnMut(&Arc<EncodedEvent>) -> bool,
    ) -> Option<Result<usize, HubError>> {
        let end = self.take(taken, push);
        if *taken > 0 {
            // One count per batch, for the hub's statistics.
            self.signal.delivered(*taken);
            return Some(Ok(*taken));
        }
        match end {
            Taken::Ended(error) => Some(Err(error)),
            Taken::Empty | Taken::Full => None,
        }
    }

    /// Takes what is available without waiting, until `push` says no more fit.
    fn take(
        &mut self,
        taken: &mut usize,
        push: &mut impl FnMut(&Arc<EncodedEvent>) -> bool,
    ) -> Taken {
        let ending = self.ending.get();
        let mut room = true;
        while room {
            let Some(event) = self.backlog.pop_front() else {
                break;
            };
            if let Some(error) = ending_at(&event, ending.as_ref()) {
                return Taken::Ended(self.finish(error));
            }
            match self.filter.accepts(&event.event) {
                Ok(true) => {
                    room = push(&event);
                    *taken += 1;
                }
                Ok(false) => {}
                Err(error) => return Taken::Ended(self.finish(HubError::CellFilter(error))),
            }
        }
        if !room {
            return Taken::Full;
        }
        // The ring's lock is held while the events are looked at, so nothing in here may take
        // the hub's lock: what ends the subscription is done after.
        let mut stop = None;
        let filter = &self.filter;
        let read = self.signal.ring.read(&mut self.cursor, |event| {
            if let Some(error) = ending_at(event, ending.as_ref()) {
                stop = Some(error);
                return false;
            }
            match filter.accepts(&event.event) {
                Ok(true) => {
                    *taken += 1;
                    push(event)
                }
                Ok(false) => true,
                Err(error) => {
                    stop = Some(HubError::CellFilter(error));
                    false
                }
            }
        });
        if let Some(error) = stop {
            return Taken::Ended(self.finish(error));
        }
        match read {
            Read::Stopped => Taken::Full,
            Read::Lagged => Taken::Ended(self.cut_off()),
            Read::Closed => Taken::Ended(self.finish(HubError::Closed)),
            Read::Empty => match ending {
                Some((error, _)) => Taken::Ended(self.finish(error)),
                None => Taken::Empty,
            },
        }
    }

    /// The one place a subscriber is cut off as slow.
    fn cut_off(&mut self) -> HubError {
        let error = HubError::SlowSubscriber {
            capacity: self.capacity,
        };
        if self.ending.get().is_none() {
            record_cut_off(&self.signal, self.capacity);
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

/// The error that ends a subscription at `event`: the event comes at or after the end it was
/// given (events emitted before an outside end are still delivered).
fn ending_at(event: &EncodedEvent, ending: Option<&(HubError, u64)>) -> Option<HubError> {
    ending
        .filter(|(_, until)| event.seq >= *until)
        .map(|(error, _)| error.clone())
}

impl Drop for HubSubscription {
    fn drop(&mut self) {
        if let Some(shared) = self.hub.upgrade() {
            unregister(&shared, self.id);
        }
    }
}
