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
            self.retire_front();
        }
        if item.is_some() {
            self.len -= 1;
        }
        item
    }

    /// Moves items from the front to the end of `out`, each mapped by `map`, while
    /// fewer than `limit` have moved and `take` admits the next one; returns how many
    /// moved. `take` is asked once per item, in order, and not again after it refuses.
    ///
    /// A run moves a chunk's part at a time, with none of the per-item checks of
    /// [`pop_front`](Self::pop_front).
    pub(crate) fn pop_front_while<U>(
        &mut self,
        limit: usize,
        mut take: impl FnMut(&T) -> bool,
        out: &mut Vec<U>,
        mut map: impl FnMut(T) -> U,
    ) -> usize {
        let mut moved = 0;
        while moved < limit {
            let Some(first) = self.chunks.front_mut() else {
                break;
            };
            let room = limit - moved;
            let (a, b) = first.as_slices();
            let n = a.iter().chain(b).take(room).take_while(|x| take(x)).count();
            let refused = n < room && n < first.len();
            out.extend(first.drain(..n).map(&mut map));
            moved += n;
            if first.is_empty() {
                self.retire_front();
            }
            if refused {
                break;
            }
        }
        self.len -= moved;
        moved
    }

    /// Drops the emptied front chunk, or keeps it as the spare.
    fn retire_front(&mut self) {
        let emptied = self.chunks.pop_front();
        if self.spare.is_none() && !self.chunks.is_empty() {
            self.spare = emptied;
        }
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

    #[test]
    fn a_run_moves_across_chunks_and_stops_where_it_is_told() {
        let chunk = Chunked::<u64>::CHUNK;
        let mut q = Chunked::<u64>::default();
        let n = chunk * 3;
        for i in 0..n as u64 {
            q.push_back(i);
        }
        let mut out = Vec::new();
        // A limit ends a run, even one across a chunk's end.
        let limit = chunk + 3;
        assert_eq!(
            q.pop_front_while(limit, |_| true, &mut out, |x| x * 10),
            limit
        );
        assert_eq!(out.len(), limit);
        assert!(out.iter().enumerate().all(|(i, &x)| x == i as u64 * 10));
        assert_eq!((q.len(), q.front()), (n - limit, Some(&(limit as u64))));
        // A refusal ends it too, and the refused item is asked once and stays.
        let mut asked = Vec::new();
        let stop = 2 * chunk as u64 + 1;
        let moved = q.pop_front_while(
            usize::MAX,
            |&x| {
                asked.push(x);
                x < stop
            },
            &mut out,
            |x| x * 10,
        );
        assert_eq!(moved, stop as usize - limit);
        assert_eq!(asked.last(), Some(&stop));
        assert_eq!(asked.len(), moved + 1);
        assert_eq!((q.front(), q.len()), (Some(&stop), n - stop as usize));
        // What is left moves whole, and then nothing is there to move.
        let before = out.len();
        assert_eq!(
            q.pop_front_while(usize::MAX, |_| true, &mut out, |x| x * 10),
            n - stop as usize
        );
        assert_eq!(out[before], stop * 10);
        assert!(out.iter().enumerate().all(|(i, &x)| x == i as u64 * 10));
        assert!(q.is_empty());
        assert_eq!(q.pop_front_while(5, |_| true, &mut out, |x| x), 0);
        // A queue emptied this way takes new items as before.
        q.push_back(7);
        assert_eq!((q.len(), q.pop_front(), q.pop_front()), (1, Some(7), None));
    }
}
