//! The data of one HTTP chunk: the SSE events a subscriber has been handed in one go, each its
//! own `id:` line followed by the frame lines every subscriber shares, written without copying.

use std::io::IoSlice;
use std::sync::Arc;

use bytes::{Buf, Bytes};

use crate::models::Version;
use crate::server::encoded::EncodedEvent;
use crate::sse::IdLine;

/// The most events in one chunk: with hyper's chunk-size line and trailing CRLF, one chunk's
/// two slices per event fill one 64-slice vectored write.
pub(crate) const MAX_EVENTS_PER_CHUNK: usize = 31;

/// One response body frame: whole SSE events (each its `id:` line, then its shared lines) or
/// plain bytes.
///
/// Chunk boundaries are not event boundaries to an SSE client (a proxy may re-chunk a stream),
/// so one chunk carries every event a woken subscriber drains, which costs one write instead of
/// one per event.
#[derive(Debug)]
pub(crate) struct Chunk {
    frames: Vec<Frame>,
    /// The room made at the first event: none is taken while a stream waits for one, so that an
    /// idle subscriber costs no memory for it.
    room: usize,
    /// The first frame not yet written in full.
    next: usize,
    remaining: usize,
}

impl Chunk {
    /// An empty chunk that makes room for `events` events at its first.
    pub(crate) fn with_capacity(events: usize) -> Chunk {
        Chunk {
            frames: Vec::new(),
            room: events,
            next: 0,
            remaining: 0,
        }
    }

    /// Adds `event` with this connection's `id`, its shared lines in the model `version`.
    pub(crate) fn push_event(&mut self, id: u64, event: Arc<EncodedEvent>, version: Version) {
        self.push(Frame {
            id: IdLine::new(id),
            body: Body::Event(event, version),
            written: 0,
        });
    }

    /// Bytes that are not an event (an error page).
    pub(crate) fn plain(bytes: Bytes) -> Chunk {
        let mut chunk = Chunk::with_capacity(1);
        chunk.push(Frame {
            id: IdLine::empty(),
            body: Body::Plain(bytes),
            written: 0,
        });
        chunk
    }

    fn push(&mut self, frame: Frame) {
        if self.frames.capacity() == 0 {
            self.frames.reserve_exact(self.room);
        }
        self.remaining += frame.remaining();
        self.frames.push(frame);
    }

    /// The chunk as it goes into the connection's write queue: room it did not use is given
    /// back, so that a peer that stops reading holds only what its queued chunks carry.
    pub(crate) fn trimmed(mut self) -> Chunk {
        self.frames.shrink_to_fit();
        self
    }

    /// The number of events (or plain parts) in the chunk.
    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the chunk holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// One event's `id:` line and its shared lines (or plain bytes), as far as not yet written.
#[derive(Debug)]
struct Frame {
    id: IdLine,
    body: Body,
    /// How much of the body has been written.
    written: usize,
}

/// What follows a frame's `id:` line: the event itself (holding it costs one reference count,
/// not a copy) or plain bytes.
#[derive(Debug)]
enum Body {
    Event(Arc<EncodedEvent>, Version),
    Plain(Bytes),
}

impl Frame {
    fn body(&self) -> &[u8] {
        let all = match &self.body {
            Body::Event(event, version) => &event.fields_in(*version)[..],
            Body::Plain(bytes) => &bytes[..],
        };
        all.get(self.written..).unwrap_or_default()
    }

    fn remaining(&self) -> usize {
        self.id.remaining() + self.body().len()
    }

    fn chunk(&self) -> &[u8] {
        if self.id.has_remaining() {
            self.id.chunk()
        } else {
            self.body()
        }
    }

    fn advance(&mut self, cnt: usize) {
        let from_id = cnt.min(self.id.remaining());
        self.id.advance(from_id);
        self.written += cnt - from_id;
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for part in [self.id.chunk(), self.body()] {
            if part.is_empty() {
                continue;
            }
            let Some(slot) = dst.get_mut(filled) else {
                break;
            };
            *slot = IoSlice::new(part);
            filled += 1;
        }
        filled
    }
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.frames
            .get(self.next)
            .map_or(&[], |frame| frame.chunk())
    }

    fn advance(&mut self, cnt: usize) {
        // Never past the end, whatever `cnt` says.
        let mut cnt = cnt.min(self.remaining);
        self.remaining -= cnt;
        while let Some(frame) = self.frames.get_mut(self.next) {
            let left = frame.remaining();
            if cnt < left {
                frame.advance(cnt);
                break;
            }
            frame.advance(left);
            cnt -= left;
            self.next += 1;
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for frame in self.frames.iter().skip(self.next) {
            if filled == dst.len() {
                break;
            }
            filled += frame.chunks_vectored(&mut dst[filled..]);
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::Event;
    use crate::models::TaskRemovedEvent;

    fn task_removed() -> (Arc<EncodedEvent>, Bytes) {
        let event = Arc::new(EncodedEvent::new(
            0,
            Event::TaskRemoved(TaskRemovedEvent::default()),
        ));
        let fields = event.fields_in(Version::V3).clone();
        (event, fields)
    }

    #[test]
    fn an_event_chunk_is_each_id_line_then_the_shared_fields_in_two_slices() {
        let (event, fields) = task_removed();
        let mut chunk = Chunk::with_capacity(2);
        chunk.push_event(3, Arc::clone(&event), Version::V3);
        chunk.push_event(4, event, Version::V3);
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(chunk.chunks_vectored(&mut slices), 4);
        assert_eq!(&*slices[1], &fields[..]);
        assert_eq!(&*slices[2], b"id: 4\n");
        // A short slice array takes what fits.
        let mut few = [IoSlice::new(&[]); 3];
        assert_eq!(chunk.chunks_vectored(&mut few), 3);
        let bytes = chunk.copy_to_bytes(chunk.remaining());
        let mut want = b"id: 3\n".to_vec();
        want.extend_from_slice(&fields);
        want.extend_from_slice(b"id: 4\n");
        want.extend_from_slice(&fields);
        assert_eq!(&bytes[..], &want[..]);
        chunk.advance(usize::MAX);
        assert_eq!(chunk.remaining(), 0);
        let plain = Chunk::plain(Bytes::from_static(b"404 page not found\n"));
        assert_eq!(plain.chunk(), b"404 page not found\n");
    }

    #[test]
    fn partial_writes_resume_mid_frame() {
        let (event, fields) = task_removed();
        let mut chunk = Chunk::with_capacity(3);
        for id in 0..3 {
            chunk.push_event(id, Arc::clone(&event), Version::V3);
        }
        let whole = {
            let mut all = Vec::new();
            for id in 0..3 {
                all.extend_from_slice(format!("id: {id}\n").as_bytes());
                all.extend_from_slice(&fields);
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
