//! What a subscription delivers: events, and the routine notice that it reconnected.

use crate::Event;

/// One event received from the stream, with the SSE id it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// The SSE id of the event (the last id seen when the event had none).
    pub id: Option<String>,
    /// The decoded event.
    pub event: Event,
}

/// The connection dropped and was re-established by the subscription itself.
///
/// This is routine, not a failure: the subscription carries on. But a real BBS does not replay
/// events, so events sent while the connection was down may be missing: resynchronise (list the
/// current desired and actual LRPs or tasks) and go on reading.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resync {
    /// The `Last-Event-ID` sent on reconnecting: the id of the last event delivered.
    pub last_event_id: Option<String>,
    /// How many connection attempts it took.
    pub attempts: u32,
}

/// An item of an [`EventSubscription`](crate::client::EventSubscription): an event, or a
/// [`Resync`] notice after a reconnect.
///
/// Failures are the `Err` side of a read; a reconnect is not one, so a `try_next()?` consumer
/// keeps going across reconnects and sees the notice as data.
///
/// # Examples
///
/// ```
/// use bbs_events::client::{ReceivedEvent, Resync, StreamItem};
///
/// fn handle(item: StreamItem) {
///     match item {
///         StreamItem::Event(ReceivedEvent { event, .. }) => println!("{}", event.key()),
///         StreamItem::Resync(Resync { last_event_id, .. }) => {
///             println!("reconnected after {last_event_id:?}: list the current state again");
///         }
///         _ => {}
///     }
/// }
/// # let _ = handle;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamItem {
    /// An event.
    Event(ReceivedEvent),
    /// The stream reconnected; events may have been missed.
    Resync(Resync),
}

impl StreamItem {
    /// The event, if this item is one.
    pub fn into_event(self) -> Option<ReceivedEvent> {
        match self {
            StreamItem::Event(event) => Some(event),
            StreamItem::Resync(_) => None,
        }
    }

    /// A reference to the event, if this item is one.
    pub fn as_event(&self) -> Option<&ReceivedEvent> {
        match self {
            StreamItem::Event(event) => Some(event),
            StreamItem::Resync(_) => None,
        }
    }

    /// The resync notice, if this item is one.
    pub fn as_resync(&self) -> Option<&Resync> {
        match self {
            StreamItem::Resync(resync) => Some(resync),
            StreamItem::Event(_) => None,
        }
    }
}
