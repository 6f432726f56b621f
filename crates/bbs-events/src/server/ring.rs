//! The hub's shared ring of encoded events, which every subscriber reads at its own cursor.
//!
//! A reader takes the ring's read lock once per batch and clones out only the events it keeps,
//! so a delivery costs one reference-count increment, not a lock and a counter per event.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::server::encoded::EncodedEvent;

/// A fixed-length ring of the last events emitted.
#[derive(Debug)]
pub(crate) struct Ring {
    slots: RwLock<Slots>,
    /// The ring's length minus one (the length is a power of two).
    mask: u64,
}

#[derive(Debug)]
struct Slots {
    events: Box<[Option<Arc<EncodedEvent>>]>,
    /// The position of the next event written: the number of events written so far.
    end: u64,
    closed: bool,
}

/// Where a read stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// The reader has everything written so far.
    Empty,
    /// The reader's callback asked to stop.
    Stopped,
    /// The reader fell more than the ring's length behind: the events it missed are gone.
    Lagged,
    /// The reader has everything, and the ring is closed.
    Closed,
}

impl Ring {
    /// A ring of `length` events (a power of two, at least 1).
    pub(crate) fn new(length: usize) -> Ring {
        let length = length.max(1).next_power_of_two();
        Ring {
            slots: RwLock::new(Slots {
                events: (0..length).map(|_| None).collect(),
                end: 0,
                closed: false,
            }),
            mask: length as u64 - 1,
        }
    }

    fn read_lock(&self) -> RwLockReadGuard<'_, Slots> {
        // Every update is a single step: a panic elsewhere leaves the slots consistent.
        self.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, Slots> {
        self.slots.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `event`, overwriting the oldest one when the ring is full; returns the position
    /// of the next event to be written.
    pub(crate) fn push(&self, event: Arc<EncodedEvent>) -> u64 {
        let mut slots = self.write_lock();
        let at = (slots.end & self.mask) as usize;
        // The event overwritten is dropped after the lock is released.
        let old = slots.events[at].replace(event);
        slots.end += 1;
        let end = slots.end;
        drop(slots);
        drop(old);
        end
    }

    /// The ring's length.
    pub(crate) fn len(&self) -> u64 {
        self.mask + 1
    }

    /// Closes the ring: readers get what is left for them, then [`Read::Closed`].
    pub(crate) fn close(&self) {
        self.write_lock().closed = true;
    }

    /// The position of the next event to be written (a new reader's cursor).
    pub(crate) fn end(&self) -> u64 {
        self.read_lock().end
    }

    /// Hands the events from `cursor` on to `each`, advancing the cursor past each one handed,
    /// until `each` returns `false`, the reader has everything, or it fell too far behind.
    pub(crate) fn read(
        &self,
        cursor: &mut u64,
        mut each: impl FnMut(&Arc<EncodedEvent>) -> bool,
    ) -> Read {
        let slots = self.read_lock();
        if slots.end.saturating_sub(*cursor) > self.mask + 1 {
            return Read::Lagged;
        }
        while *cursor < slots.end {
            let at = (*cursor & self.mask) as usize;
            *cursor += 1;
            if let Some(event) = &slots.events[at] {
                if !each(event) {
                    return Read::Stopped;
                }
            }
        }
        if slots.closed {
            Read::Closed
        } else {
            Read::Empty
        }
    }

    /// How many events are in the ring for a reader at `cursor` (at most the ring's length).
    pub(crate) fn pending(&self, cursor: u64) -> u64 {
        self.end().saturating_sub(cursor).min(self.mask + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::models::TaskRemovedEvent;

    fn event(seq: u64) -> Arc<EncodedEvent> {
        Arc::new(EncodedEvent::new(
            seq,
            Event::TaskRemoved(TaskRemovedEvent::default()),
        ))
    }

    #[test]
    fn a_reader_gets_each_event_once_and_lags_past_the_length() {
        let ring = Ring::new(3); // rounded to 4
        let mut cursor = ring.end();
        for seq in 0..4 {
            ring.push(event(seq));
        }
        let mut seen = Vec::new();
        assert_eq!(
            ring.read(&mut cursor, |e| {
                seen.push(e.seq);
                seen.len() < 2
            }),
            Read::Stopped
        );
        assert_eq!(ring.pending(cursor), 2);
        assert_eq!(
            ring.read(&mut cursor, |e| {
                seen.push(e.seq);
                true
            }),
            Read::Empty
        );
        assert_eq!(seen, [0, 1, 2, 3]);
        // Five more: the oldest the reader needs (4) is overwritten by 8.
        for seq in 4..9 {
            ring.push(event(seq));
        }
        assert_eq!(ring.read(&mut cursor, |_| true), Read::Lagged);
        let mut fresh = ring.end();
        ring.push(event(9));
        ring.close();
        let mut last = None;
        assert_eq!(
            ring.read(&mut fresh, |e| {
                last = Some(e.seq);
                true
            }),
            Read::Closed
        );
        assert_eq!(last, Some(9));
    }
}
