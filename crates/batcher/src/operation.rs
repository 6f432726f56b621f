//! [`Operation`]: one unit of work with a cost in each resource.

use std::fmt;
use std::sync::Arc;

use crate::resources::Resources;

/// One unit of work for a datastore: a payload, its cost in the rate limiter's units,
/// whether it may share a batch, and how often it has been handed out.
///
/// The cost given to [`new`](Operation::new) is in the batcher's primary resource (its
/// [`rate_limiter`](crate::BatcherBuilder::rate_limiter)). A batcher with more
/// resources ([`resource`](crate::BatcherBuilder::resource)) reads the operation's cost
/// in each of them from [`with_cost`](Operation::with_cost); a resource it names no
/// cost for costs nothing there.
///
/// An operation belongs to the [`Watcher`](crate::Watcher) it is enqueued on; it does not
/// store the watcher itself, so that enqueueing costs no reference-count traffic. The
/// attempt counter is raised each time the operation is handed out in a batch, so an
/// operation taken back from a batch and enqueued again carries its history and is
/// refused once its watcher's max attempts are used.
///
/// # Examples
///
/// ```
/// use batcher::Operation;
///
/// let op = Operation::new("upsert id=7", 10).with_batchable(false);
/// assert_eq!((op.cost(), op.is_batchable(), op.attempts()), (10, false, 0));
/// assert_eq!(op.into_payload(), "upsert id=7");
///
/// // 12 request units in the primary resource, 2,048 in a resource named "bytes".
/// let op = Operation::new("upsert id=8", 12).with_cost("bytes", 2_048);
/// assert_eq!((op.cost(), op.cost_of("bytes"), op.cost_of("cpu")), (12, 2_048, 0));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Operation<T> {
    payload: T,
    cost: u32,
    /// The attempt count in the low 31 bits and "not batchable" in the top bit, so that
    /// the counters take one word.
    flags: u32,
    /// Costs in additional resources, by name; behind one thin pointer, so that an
    /// operation with only a primary cost pays a word for them.
    extra: Option<Box<ExtraCosts>>,
}

/// A `Vec` of (resource, cost), boxed as a whole: a `Vec` or a boxed slice inline would
/// take two or three words in every operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExtraCosts(Vec<(&'static str, u32)>);

impl ExtraCosts {
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.0.iter().copied()
    }
}

/// An operation as a watcher's queue keeps it: without its extra costs, which the
/// queue keeps aside for the few operations that have some, so that a buffered
/// operation with only a primary cost takes the payload and one word.
#[derive(Debug)]
pub(crate) struct Stored<T> {
    payload: T,
    cost: u32,
    flags: u32,
}

impl<T> Stored<T> {
    #[inline]
    pub(crate) fn cost(&self) -> u32 {
        self.cost
    }

    #[inline]
    pub(crate) fn is_batchable(&self) -> bool {
        self.flags & NOT_BATCHABLE == 0
    }
}

const NOT_BATCHABLE: u32 = 1 << 31;
const ATTEMPTS: u32 = NOT_BATCHABLE - 1;

impl<T: fmt::Debug> fmt::Debug for Operation<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("payload", &self.payload)
            .field("cost", &self.cost)
            .field(
                "extra_costs",
                &self.extra.as_deref().map_or(&[][..], |v| &v.0[..]),
            )
            .field("attempts", &self.attempts())
            .field("batchable", &self.is_batchable())
            .finish()
    }
}

impl<T> Operation<T> {
    /// A batchable operation carrying `payload` that costs `cost` units.
    #[inline]
    pub fn new(payload: T, cost: u32) -> Self {
        Operation {
            payload,
            cost,
            flags: 0,
            extra: None,
        }
    }

    /// Sets the operation's cost in the additional resource `resource` (one added with
    /// [`BatcherBuilder::resource`](crate::BatcherBuilder::resource)); setting it again
    /// replaces it. The primary resource's cost is the one given to
    /// [`new`](Operation::new).
    ///
    /// Enqueueing on a batcher that has no resource of that name is refused with
    /// [`UnknownResource`](crate::EnqueueErrorKind::UnknownResource), so that a misspelt
    /// name is not silently free.
    #[must_use]
    pub fn with_cost(mut self, resource: &'static str, cost: u32) -> Self {
        // Kept in name order, so that operations with the same costs set in another
        // order are equal.
        let extra = &mut self.extra.get_or_insert_with(Default::default).0;
        match extra.binary_search_by(|(name, _)| (*name).cmp(resource)) {
            Ok(i) => extra[i].1 = cost,
            Err(i) => extra.insert(i, (resource, cost)),
        }
        self
    }

    /// The cost in the additional resource `resource`: 0 unless set with
    /// [`with_cost`](Operation::with_cost).
    pub fn cost_of(&self, resource: &str) -> u32 {
        self.extra_costs()
            .find(|(name, _)| *name == resource)
            .map_or(0, |(_, cost)| cost)
    }

    /// The costs in additional resources, as set with [`with_cost`](Operation::with_cost),
    /// in name order.
    pub fn extra_costs(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        self.extra.iter().flat_map(|v| v.0.iter().copied())
    }

    /// Sets whether the operation may share a batch; a non-batchable operation is always
    /// handed out alone.
    #[inline]
    #[must_use]
    pub fn with_batchable(mut self, batchable: bool) -> Self {
        if batchable {
            self.flags &= !NOT_BATCHABLE;
        } else {
            self.flags |= NOT_BATCHABLE;
        }
        self
    }

    /// The payload.
    #[inline]
    pub fn payload(&self) -> &T {
        &self.payload
    }

    /// The payload, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut T {
        &mut self.payload
    }

    /// Takes the payload out.
    #[inline]
    pub fn into_payload(self) -> T {
        self.payload
    }

    /// The cost in the primary resource (the rate limiter's units).
    #[inline]
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Whether the operation may share a batch.
    #[inline]
    pub fn is_batchable(&self) -> bool {
        self.flags & NOT_BATCHABLE == 0
    }

    /// How many times the operation has been handed out in a batch (counting stops at
    /// 2³¹ − 1).
    #[inline]
    pub fn attempts(&self) -> u32 {
        self.flags & ATTEMPTS
    }

    /// The operation as a queue stores it, and its extra costs if it has any.
    #[inline]
    pub(crate) fn split(self) -> (Stored<T>, Option<Box<ExtraCosts>>) {
        let Operation {
            payload,
            cost,
            flags,
            extra,
        } = self;
        (
            Stored {
                payload,
                cost,
                flags,
            },
            extra,
        )
    }

    /// The operation that [`split`](Self::split) took apart.
    #[inline]
    pub(crate) fn join(stored: Stored<T>, extra: Option<Box<ExtraCosts>>) -> Self {
        let Stored {
            payload,
            cost,
            flags,
        } = stored;
        Operation {
            payload,
            cost,
            flags,
            extra,
        }
    }

    #[inline]
    pub(crate) fn mark_attempt(&mut self) {
        if self.flags & ATTEMPTS != ATTEMPTS {
            self.flags += 1;
        }
    }

    /// Takes back an attempt counted for a batch that never reached its watcher.
    pub(crate) fn unmark_attempt(&mut self) {
        if self.flags & ATTEMPTS != 0 {
            self.flags -= 1;
        }
    }
}

/// What a [`Batch`](events_core::EventName::Batch) event carries about one operation of the
/// batch, without its payload (payloads belong to the watcher and need not be `Clone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationInfo {
    /// The operation's cost.
    pub cost: u32,
    /// The operation's attempts, counting this batch.
    pub attempts: u32,
    /// Whether the operation was batchable.
    pub batchable: bool,
}

/// The form of a watcher: where its batches go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatcherKind {
    /// A watcher made with [`WatcherBuilder::callback`](crate::WatcherBuilder::callback)
    /// or [`callback_with_feedback`](crate::WatcherBuilder::callback_with_feedback).
    Callback,
    /// A watcher made with [`WatcherBuilder::stream`](crate::WatcherBuilder::stream).
    Stream,
}

impl WatcherKind {
    /// `"callback"` or `"stream"`: the [`Batch`](events_core::EventName::Batch) event's
    /// msg.
    pub fn as_str(self) -> &'static str {
        match self {
            WatcherKind::Callback => "callback",
            WatcherKind::Stream => "stream",
        }
    }
}

impl fmt::Display for WatcherKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metadata of a [`Batch`](events_core::EventName::Batch) event: the operations of
/// the batch. Recover it with `event.metadata::<BatchMetadata>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMetadata {
    /// The watcher the batch went to.
    pub watcher: u64,
    /// Whether that watcher is a callback or a stream (also the event's msg).
    pub kind: WatcherKind,
    /// The batch's operations, in the order handed out.
    pub operations: Vec<OperationInfo>,
    /// The operations' costs in each resource of the batcher, the primary one first
    /// (whose costs are also in [`operations`](Self::operations)).
    pub resources: Vec<ResourceCosts>,
}

/// What the operations of a batch cost in one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceCosts {
    /// The resource's name.
    pub resource: &'static str,
    /// Each operation's cost in it, in the order handed out.
    pub costs: Vec<u32>,
}

/// The largest batch whose metadata is kept for reuse: a larger one gives its memory back.
const KEPT_OPERATIONS: usize = 1024;

thread_local! {
    /// The metadata of the last batch event raised on this thread, once nobody held it
    /// any more: the next batch event's lists reuse its memory.
    static SPARE: std::cell::Cell<Option<Arc<BatchMetadata>>> = const { std::cell::Cell::new(None) };
}

impl BatchMetadata {
    /// The metadata of a batch of `ops` to `watcher`: this thread's spare refilled, or a
    /// new one if the thread has none.
    pub(crate) fn reusing<T>(
        watcher: u64,
        kind: WatcherKind,
        ops: &[Operation<T>],
        resources: &Resources,
    ) -> Arc<BatchMetadata> {
        // `try_with`: a thread tearing down its locals has no spare, and no panic.
        let spare = SPARE.try_with(std::cell::Cell::take).ok().flatten();
        let mut meta = spare.unwrap_or_else(|| {
            Arc::new(BatchMetadata {
                watcher,
                kind,
                operations: Vec::new(),
                resources: Vec::new(),
            })
        });
        // The spare is held here alone (see `recycle`): this refills it in place.
        Arc::make_mut(&mut meta).fill(watcher, kind, ops, resources);
        meta
    }

    /// Keeps the metadata of a batch event just raised as this thread's spare, if it is
    /// a batch's, nobody else holds it and it is not too large.
    pub(crate) fn recycle(meta: events_core::Metadata) {
        let Ok(mut meta) = meta.downcast::<BatchMetadata>() else {
            return;
        };
        if Arc::get_mut(&mut meta).is_some() && meta.operations.capacity() <= KEPT_OPERATIONS {
            let _ = SPARE.try_with(|spare| spare.set(Some(meta)));
        }
    }

    /// Makes this the metadata of a batch of `ops`, reusing the lists' memory.
    fn fill<T>(
        &mut self,
        watcher: u64,
        kind: WatcherKind,
        ops: &[Operation<T>],
        resources: &Resources,
    ) {
        self.watcher = watcher;
        self.kind = kind;
        self.operations.clear();
        self.operations.extend(ops.iter().map(|op| OperationInfo {
            cost: op.cost,
            attempts: op.attempts(),
            batchable: op.is_batchable(),
        }));
        self.resources.truncate(resources.len());
        for (r, name) in resources.names().enumerate() {
            if r == self.resources.len() {
                self.resources.push(ResourceCosts {
                    resource: name,
                    costs: Vec::with_capacity(ops.len()),
                });
            }
            let costs = &mut self.resources[r];
            costs.resource = name;
            costs.costs.clear();
            // The primary costs are those just listed, at hand.
            if r == 0 {
                costs.costs.extend(self.operations.iter().map(|op| op.cost));
            } else {
                costs.costs.extend(ops.iter().map(|op| op.cost_of(name)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(ops: usize) -> Arc<BatchMetadata> {
        let info = OperationInfo {
            cost: 1,
            attempts: 1,
            batchable: true,
        };
        Arc::new(BatchMetadata {
            watcher: 1,
            kind: WatcherKind::Callback,
            operations: vec![info; ops],
            resources: Vec::new(),
        })
    }

    #[test]
    fn only_metadata_that_nobody_holds_and_of_a_kept_size_becomes_the_spare() {
        // Each test runs on a thread of its own: the spare starts empty.
        assert!(SPARE.take().is_none());
        let kept = metadata(KEPT_OPERATIONS);
        let ptr = Arc::as_ptr(&kept);
        BatchMetadata::recycle(kept);
        let spare = SPARE.take().expect("kept");
        assert_eq!(Arc::as_ptr(&spare), ptr);

        // One operation more: its memory goes back.
        BatchMetadata::recycle(metadata(KEPT_OPERATIONS + 1));
        assert!(SPARE.take().is_none());

        // Held elsewhere too: never reused in place.
        let held = metadata(3);
        BatchMetadata::recycle(held.clone());
        assert!(SPARE.take().is_none());
        assert_eq!(held.operations.len(), 3);

        // Metadata of another type is left alone.
        BatchMetadata::recycle(Arc::new(7u32));
        assert!(SPARE.take().is_none());
    }

    #[test]
    fn flags_keep_attempts_and_batchable_apart() {
        let mut op = Operation::new(7u64, 3).with_batchable(false);
        for _ in 0..5 {
            op.mark_attempt();
        }
        assert_eq!((op.attempts(), op.is_batchable()), (5, false));
        let op = op.with_batchable(true);
        assert_eq!((op.attempts(), op.is_batchable()), (5, true));
        assert_eq!(std::mem::size_of::<Operation<u64>>(), 24);
        // Buffered, an operation without extra costs takes the payload and one word.
        assert_eq!(std::mem::size_of::<Stored<u64>>(), 16);
    }

    #[test]
    fn extra_costs_are_set_once_per_resource() {
        let op = Operation::new((), 3)
            .with_cost("bytes", 10)
            .with_cost("cpu", 2)
            .with_cost("bytes", 20);
        let costs: Vec<_> = op.extra_costs().collect();
        assert_eq!(costs, vec![("bytes", 20), ("cpu", 2)]);
        assert_eq!(
            (op.cost(), op.cost_of("bytes"), op.cost_of("disk")),
            (3, 20, 0)
        );
    }

    #[test]
    fn attempts_stop_counting_at_the_top() {
        let mut op = Operation::new((), 1).with_batchable(false);
        op.flags |= ATTEMPTS;
        op.mark_attempt();
        assert_eq!(op.attempts(), ATTEMPTS);
        assert!(!op.is_batchable());
    }
}
