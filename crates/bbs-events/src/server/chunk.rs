//! The data of one HTTP chunk: the SSE events a subscriber has been handed in one go, each its
//! own `id:` line followed by the frame lines every subscriber shares.
//!
//! A woken subscriber's events go out in one write. Small events (the usual ones: a crash or an
//! ActualLRP change is a few hundred bytes) are copied into one buffer with their `id:` lines, so
//! that the write is one contiguous slice however many events it carries: copying a few hundred
//! bytes the cache already holds costs less than the kernel's walk over two slices per event,
//! and lifts the limit a vectored write puts on events per write. Large events are not copied
//! but referenced, so that a chunk never duplicates a big event per subscriber.

use std::io::IoSlice;
use std::sync::Arc;

use bytes::{Buf, Bytes};

use crate::models::Version;
use crate::server::encoded::EncodedEvent;

/// The most bytes of events in one HTTP chunk of an event stream: a chunk takes no more events
/// once it holds this many (an event is never split, so a chunk may exceed it by its last one).
///
/// Enough for the events of a busy wake-up (at 2,000 events/s and the default
/// [notify interval](crate::server::DEFAULT_NOTIFY_INTERVAL), about 140 small ones, so that
/// one write carries them all: a write costs more than the bytes it copies), little enough
/// that a peer that stops reading holds little (with its connection's buffer,
/// [`ServerBuilder::connection_buffer`](crate::server::ServerBuilder::connection_buffer)).
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// An event's shared lines at most this long are copied into the chunk; longer ones are
/// referenced.
const COPY_AT_MOST: usize = 2 * 1024;

/// The most slices in one chunk: with hyper's chunk-size line and trailing CRLF, they fill one
/// vectored write of 64 slices.
const MAX_SEGMENTS: usize = 60;

/// The most a chunk copies: below the bound before its last event, then that event's `id:` line
/// and lines. Its copy buffer is made this large at its first event, so that filling it never
/// moves it, and trimmed to what it holds when done (which shrinks it in place).
const MOST_COPIED: usize = MAX_CHUNK_BYTES + COPY_AT_MOST + 32;

/// One response body frame: whole SSE events (each its `id:` line, then its shared lines) or
/// plain bytes.
///
/// Chunk boundaries are not event boundaries to an SSE client (a proxy may re-chunk a stream),
/// so one chunk carries every event a woken subscriber drains, which costs one write instead of
/// one per event.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    /// The copied bytes, which [`Segment::Copied`] ranges point into.
    copied: Vec<u8>,
    segments: Vec<Segment>,
    events: usize,
    /// The first segment not yet written in full, and how much of it was written.
    next: usize,
    written: usize,
    remaining: usize,
}

/// A run of a chunk's bytes.
#[derive(Debug)]
enum Segment {
    /// `copied[start..end]`.
    Copied { start: usize, end: usize },
    /// A large event's shared lines, referenced (holding them costs one reference count).
    Shared(Arc<EncodedEvent>, Version),
    /// Bytes that are not an event (an error page).
    Plain(Bytes),
}

impl Chunk {
    /// An empty chunk; it takes no memory until its first event.
    pub(crate) fn new() -> Chunk {
        Chunk::default()
    }

    /// Adds `event` after this connection's `id_line` (an [`IdLine`](crate::sse::IdLine)), its
    /// shared lines in the model `version`; returns whether the chunk has room for more.
    pub(crate) fn push_event(
        &mut self,
        id_line: &[u8],
        event: &Arc<EncodedEvent>,
        version: Version,
    ) -> bool {
        let fields = event.fields_in(version);
        if self.copied.capacity() == 0 {
            self.copied.reserve_exact(MOST_COPIED);
        }
        let start = self.copied.len();
        self.copied.extend_from_slice(id_line);
        if fields.len() <= COPY_AT_MOST {
            self.copied.extend_from_slice(fields);
            self.copied_from(start);
        } else {
            self.copied_from(start);
            self.remaining += fields.len();
            self.segments
                .push(Segment::Shared(Arc::clone(event), version));
        }
        self.events += 1;
        self.has_room()
    }

    /// Counts the copy buffer's bytes from `start` on, extending the last segment when it
    /// ends there.
    fn copied_from(&mut self, start: usize) {
        let end = self.copied.len();
        self.remaining += end - start;
        match self.segments.last_mut() {
            Some(Segment::Copied { end: last, .. }) if *last == start => *last = end,
            _ => self.segments.push(Segment::Copied { start, end }),
        }
    }

    /// Whether another event may be added.
    pub(crate) fn has_room(&self) -> bool {
        self.remaining < MAX_CHUNK_BYTES && self.segments.len() + 2 <= MAX_SEGMENTS
    }

    /// Bytes that are not an event (an error page).
    pub(crate) fn plain(bytes: Bytes) -> Chunk {
        Chunk {
            remaining: bytes.len(),
            segments: vec![Segment::Plain(bytes)],
            ..Chunk::default()
        }
    }

    /// The chunk as it goes into the connection's write queue: room it did not use is given
    /// back, so that a peer that stops reading holds only what its queued chunks carry.
    pub(crate) fn trimmed(mut self) -> Chunk {
        self.copied.shrink_to_fit();
        self.segments.shrink_to_fit();
        self
    }

    /// The number of events in the chunk.
    pub(crate) fn len(&self) -> usize {
        self.events
    }

    /// Whether the chunk holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    fn bytes_of<'a>(&'a self, segment: &'a Segment) -> &'a [u8] {
        match segment {
            Segment::Copied { start, end } => &self.copied[*start..*end],
            Segment::Shared(event, version) => &event.fields_in(*version)[..],
            Segment::Plain(bytes) => &bytes[..],
        }
    }
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.segments.get(self.next).map_or(&[], |segment| {
            self.bytes_of(segment)
                .get(self.written..)
                .unwrap_or_default()
        })
    }

    fn advance(&mut self, cnt: usize) {
        // Never past the end, whatever `cnt` says.
        let mut cnt = cnt.min(self.remaining);
        self.remaining -= cnt;
        while let Some(segment) = self.segments.get(self.next) {
            let left = self.bytes_of(segment).len() - self.written;
            if cnt < left {
                self.written += cnt;
                break;
            }
            cnt -= left;
            self.next += 1;
            self.written = 0;
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for (i, segment) in self.segments.iter().enumerate().skip(self.next) {
            let Some(slot) = dst.get_mut(filled) else {
                break;
            };
            let bytes = self.bytes_of(segment);
            let from = if i == self.next { self.written } else { 0 };
            *slot = IoSlice::new(bytes.get(from..).unwrap_or_default());
            filled += 1;
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::Event;
    use crate::models::TaskRemovedEvent;
    use crate::sse::IdLine;

    fn task_removed() -> (Arc<EncodedEvent>, Bytes) {
        let event = Arc::new(EncodedEvent::new(
            0,
            Event::TaskRemoved(TaskRemovedEvent::default()),
        ));
        let fields = event.fields_in(Version::V3).clone();
        (event, fields)
    }

    /// A DesiredLRP event whose shared lines are longer than [`COPY_AT_MOST`].
    fn large() -> Arc<EncodedEvent> {
        use crate::models::{DesiredLrp, DesiredLrpCreatedEvent};
        let lrp = DesiredLrp {
            process_guid: "g".repeat(COPY_AT_MOST).into(),
            ..DesiredLrp::default()
        };
        let event = Event::DesiredLrpCreated(DesiredLrpCreatedEvent {
            desired_lrp: Some(Box::new(lrp)),
            ..DesiredLrpCreatedEvent::default()
        });
        Arc::new(EncodedEvent::new(1, event))
    }

    #[test]
    fn small_events_are_copied_into_one_slice_and_large_ones_referenced() {
        let (event, fields) = task_removed();
        let big = large();
        let big_fields = big.fields_in(Version::V3).clone();
        assert!(big_fields.len() > COPY_AT_MOST);
        let mut chunk = Chunk::new();
        assert!(chunk.is_empty());
        assert!(chunk.push_event(IdLine::new(3).as_bytes(), &event, Version::V3));
        assert!(chunk.push_event(IdLine::new(4).as_bytes(), &event, Version::V3));
        assert!(chunk.push_event(IdLine::new(5).as_bytes(), &big, Version::V3));
        assert!(chunk.push_event(IdLine::new(6).as_bytes(), &event, Version::V3));
        assert_eq!(chunk.len(), 4);
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(chunk.chunks_vectored(&mut slices), 3);
        let mut two = b"id: 3\n".to_vec();
        two.extend_from_slice(&fields);
        two.extend_from_slice(b"id: 4\n");
        two.extend_from_slice(&fields);
        two.extend_from_slice(b"id: 5\n");
        assert_eq!(&*slices[0], &two[..]);
        assert!(std::ptr::eq(slices[1].as_ptr(), big_fields.as_ptr()));
        // A short slice array takes what fits.
        let mut few = [IoSlice::new(&[]); 2];
        assert_eq!(chunk.chunks_vectored(&mut few), 2);
        let bytes = chunk.copy_to_bytes(chunk.remaining());
        let mut want = two.clone();
        want.extend_from_slice(&big_fields);
        want.extend_from_slice(b"id: 6\n");
        want.extend_from_slice(&fields);
        assert_eq!(&bytes[..], &want[..]);
        chunk.advance(usize::MAX);
        assert_eq!(chunk.remaining(), 0);
        let plain = Chunk::plain(Bytes::from_static(b"404 page not found\n"));
        assert_eq!(plain.chunk(), b"404 page not found\n");
    }

    #[test]
    fn a_chunk_is_full_at_its_byte_bound_or_its_slice_bound() {
        let (event, _) = task_removed();
        let mut chunk = Chunk::new();
        let mut pushed = 1;
        while chunk.push_event(IdLine::new(pushed).as_bytes(), &event, Version::V3) {
            pushed += 1;
        }
        assert!(chunk.remaining() >= MAX_CHUNK_BYTES);
        assert!(chunk.remaining() < MAX_CHUNK_BYTES + 64);
        assert_eq!(chunk.len() as u64, pushed);
        let big = large();
        let mut chunk = Chunk::new();
        let mut slices = 0;
        while chunk.push_event(IdLine::new(0).as_bytes(), &big, Version::V3) {
            slices += 1;
        }
        let mut all = [IoSlice::new(&[]); 64];
        assert!(chunk.chunks_vectored(&mut all) <= MAX_SEGMENTS);
        assert!(slices > 0);
    }

    #[test]
    fn partial_writes_resume_mid_frame() {
        let (event, fields) = task_removed();
        let mut chunk = Chunk::new();
        let big = large();
        for id in 0..3 {
            chunk.push_event(IdLine::new(id).as_bytes(), &event, Version::V3);
            chunk.push_event(IdLine::new(id + 10).as_bytes(), &big, Version::V3);
        }
        let whole = {
            let mut all = Vec::new();
            for id in 0..3 {
                all.extend_from_slice(format!("id: {id}\n").as_bytes());
                all.extend_from_slice(&fields);
                all.extend_from_slice(format!("id: {}\n", id + 10).as_bytes());
                all.extend_from_slice(big.fields_in(Version::V3));
            }
            all
        };
        // Written in odd-sized pieces, through chunk() and advance() as a writer does.
        let mut got = Vec::new();
        while chunk.has_remaining() {
            let piece = chunk.chunk().len().min(7);
            got.extend_from_slice(&chunk.chunk()[..piece]);
            chunk.advance(piece);
            assert_eq!(chunk.remaining(), whole.len() - got.len());
        }
        assert_eq!(got, whole);
    }
}
