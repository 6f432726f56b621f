//! The [`Event`] value.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::EventName;

/// Extra data attached to an event, such as the operations of a batch.
///
/// Any `Send + Sync` value can be attached; listeners recover it with
/// [`Event::metadata`].
pub type Metadata = Arc<dyn Any + Send + Sync>;

/// An event's message: shared, or a constant that costs no reference count.
#[derive(Clone)]
enum Msg {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Msg {
    fn as_str(&self) -> &str {
        match self {
            Msg::Static(s) => s,
            Msg::Shared(s) => s,
        }
    }
}

/// One thing a component did: a name, an integer value, an optional message and
/// optional metadata, stamped with when it was raised.
///
/// Events are cheap to clone: the message is shared and metadata is reference counted.
#[derive(Clone)]
pub struct Event {
    name: EventName,
    val: i64,
    msg: Option<Msg>,
    metadata: Option<Metadata>,
    at: Instant,
}

impl Event {
    /// Creates an event with a name and value, stamped now.
    pub fn new(name: EventName, val: i64) -> Self {
        Event {
            name,
            val,
            msg: None,
            metadata: None,
            at: Instant::now(),
        }
    }

    /// Adds a human-readable message.
    #[must_use]
    pub fn with_msg(mut self, msg: impl Into<Arc<str>>) -> Self {
        self.msg = Some(Msg::Shared(msg.into()));
        self
    }

    /// Adds a constant human-readable message, such as a kind that every event of a
    /// sort carries; the same as [`with_msg`](Event::with_msg) without an allocation
    /// or a reference count.
    #[must_use]
    pub fn with_static_msg(mut self, msg: &'static str) -> Self {
        self.msg = Some(Msg::Static(msg));
        self
    }

    /// Attaches metadata that listeners can downcast with [`Event::metadata`].
    #[must_use]
    pub fn with_metadata<T: Any + Send + Sync>(mut self, metadata: T) -> Self {
        self.metadata = Some(Arc::new(metadata));
        self
    }

    /// Attaches metadata that is already shared.
    #[must_use]
    pub fn with_shared_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The event's name.
    pub fn name(&self) -> EventName {
        self.name
    }

    /// The event's value; its meaning depends on the name (a count, an index, a capacity).
    pub fn val(&self) -> i64 {
        self.val
    }

    /// The event's message, if any.
    pub fn msg(&self) -> Option<&str> {
        self.msg.as_ref().map(Msg::as_str)
    }

    /// The metadata as a `T`, if metadata is attached and is a `T`.
    pub fn metadata<T: Any>(&self) -> Option<&T> {
        self.metadata.as_deref()?.downcast_ref::<T>()
    }

    /// The metadata as shared, untyped data.
    pub fn raw_metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// Takes the metadata out of the event, for example to reuse it once the event has
    /// been raised (see [`Emitter::emit_with_reuse`](crate::Emitter::emit_with_reuse)).
    pub fn into_metadata(self) -> Option<Metadata> {
        self.metadata
    }

    /// When the event was raised, on the monotonic clock.
    pub fn at(&self) -> Instant {
        self.at
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("val", &self.val)
            .field("msg", &self.msg())
            .field("has_metadata", &self.metadata.is_some())
            .field("at", &self.at)
            .finish()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} val={}", self.name, self.val)?;
        if let Some(msg) = self.msg() {
            write!(f, " msg={msg:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_downcasts_to_its_own_type_only() {
        let event = Event::new(EventName::Batch, 3).with_metadata(vec![1u32, 2, 3]);
        assert_eq!(event.metadata::<Vec<u32>>(), Some(&vec![1, 2, 3]));
        assert!(event.metadata::<String>().is_none());
        assert!(
            Event::new(EventName::Batch, 0)
                .metadata::<Vec<u32>>()
                .is_none()
        );
    }

    #[test]
    fn display_shows_name_val_and_msg() {
        let event = Event::new(EventName::Error, -1).with_msg("lease lost");
        assert_eq!(event.to_string(), "error val=-1 msg=\"lease lost\"");
        assert_eq!(event.msg(), Some("lease lost"));
        assert_eq!(event.val(), -1);
        let event = Event::new(EventName::Batch, 2).with_static_msg("stream");
        assert_eq!(event.to_string(), "batch val=2 msg=\"stream\"");
        assert_eq!(event.clone().msg(), Some("stream"));
    }
}
