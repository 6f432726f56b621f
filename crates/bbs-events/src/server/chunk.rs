//! The data of one HTTP chunk: an event's own `id:` line followed by the frame lines every
//! subscriber shares, written without allocating or copying.

use std::io::IoSlice;

use bytes::buf::Chain;
use bytes::{Buf, Bytes};

use crate::sse::IdLine;

/// One response body frame: an SSE event (its `id:` line, then the shared lines) or plain bytes.
#[derive(Debug)]
pub(crate) struct Chunk(Chain<IdLine, Bytes>);

impl Chunk {
    /// An event with this connection's `id` and the event's shared `fields`.
    pub(crate) fn event(id: u64, fields: Bytes) -> Chunk {
        Chunk(IdLine::new(id).chain(fields))
    }

    /// Bytes that are not an event (an error page).
    pub(crate) fn plain(bytes: Bytes) -> Chunk {
        Chunk(IdLine::empty().chain(bytes))
    }
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        self.0.remaining()
    }

    fn chunk(&self) -> &[u8] {
        self.0.chunk()
    }

    fn advance(&mut self, cnt: usize) {
        // Never past the end, whatever `cnt` says.
        self.0.advance(cnt.min(self.0.remaining()));
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.0.chunks_vectored(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_chunk_is_its_id_line_then_the_shared_fields_in_two_slices() {
        let fields = Bytes::from_static(b"event: task_removed\ndata: CgA=\n\n");
        let mut chunk = Chunk::event(3, fields.clone());
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(chunk.chunks_vectored(&mut slices), 2);
        assert_eq!(&*slices[1], &fields[..]);
        let bytes = chunk.copy_to_bytes(chunk.remaining());
        assert_eq!(&bytes[..], b"id: 3\nevent: task_removed\ndata: CgA=\n\n");
        chunk.advance(usize::MAX);
        let plain = Chunk::plain(Bytes::from_static(b"404 page not found\n"));
        assert_eq!(plain.chunk(), b"404 page not found\n");
    }
}
