//! [`Chunked`]: a FIFO queue kept in fixed-size chunks.

use std::collections::VecDeque;

/// A FIFO queue stored as a list of chunks of at most [`Chunked::CHUNK`] items.
///
/// A plain `VecDeque` doubles as it grows, copying everything each time and briefly
/// holding both copies; with a million buffered operations that is the difference
/// between a few and many tens of megabytes at peak. Here only the last chunk grows,
/// and an emptied chunk is kept for reuse, so memory follows the length closely.
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: VecDeque<VecDeque<T>>,
    spare: Option<VecDeque<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: VecDeque::new(),
            spare: None,
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    /// Items per chunk: about 16 KiB worth, and at least 64.
    pub(crate) const CHUNK: usize = {
        let by_bytes = match (16 * 1024usize).checked_div(std::mem::size_of::<T>()) {
            Some(n) => n,
            None => 1024,
        };
        if by_bytes < 64 { 64 } else { by_bytes }
    };

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push_back(&mut self, item: T) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < Self::CHUNK => last.push_back(item),
            _ => {
                // The first chunk starts small and grows, so that a queue holding a few
                // items stays small; later chunks are full-sized from the start.
                let mut chunk = match (self.spare.take(), self.chunks.is_empty()) {
                    (Some(spare), _) => spare,
                    (None, true) => VecDeque::new(),
                    (None, false) => VecDeque::with_capacity(Self::CHUNK),
                };
                chunk.push_back(item);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    pub(crate) fn front(&self) -> Option<&T> {
        self.chunks.front().and_then(|c| c.front())
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let first = self.chunks.front_mut()?;
        let item = first.pop_front();
        if first.is_empty() {
            let emptied = self.chunks.pop_front();
            if self.spare.is_none() && !self.chunks.is_empty() {
                self.spare = emptied;
            }
        }
        if item.is_some() {
            self.len -= 1;
        }
        item
    }

    /// Moves every item, in order, to the end of `out`.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<T>) {
        out.reserve(self.len);
        for chunk in self.chunks.drain(..) {
            out.extend(chunk);
        }
        self.len = 0;
        self.spare = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_is_first_in_first_out_across_chunks() {
        let mut q = Chunked::<u64>::default();
        let n = Chunked::<u64>::CHUNK * 3 + 5;
        for i in 0..n as u64 {
            q.push_back(i);
        }
        assert_eq!(q.len(), n);
        for i in 0..(Chunked::<u64>::CHUNK + 7) as u64 {
            assert_eq!(q.front(), Some(&i));
            assert_eq!(q.pop_front(), Some(i));
        }
        q.push_back(u64::MAX);
        let mut rest = Vec::new();
        q.drain_into(&mut rest);
        let expected: Vec<u64> = ((Chunked::<u64>::CHUNK + 7) as u64..n as u64)
            .chain([u64::MAX])
            .collect();
        assert_eq!(rest, expected);
        assert!(q.is_empty());
        assert_eq!(q.pop_front(), None);
    }
}
