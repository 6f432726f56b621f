//! [`Operation`]: one unit of work with a cost.

/// One unit of work for a datastore: a payload, its cost in the rate limiter's units,
/// whether it may share a batch, and how often it has been handed out.
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
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation<T> {
    payload: T,
    cost: u32,
    attempts: u32,
    batchable: bool,
}

impl<T> Operation<T> {
    /// A batchable operation carrying `payload` that costs `cost` units.
    #[inline]
    pub fn new(payload: T, cost: u32) -> Self {
        Operation {
            payload,
            cost,
            attempts: 0,
            batchable: true,
        }
    }

    /// Sets whether the operation may share a batch; a non-batchable operation is always
    /// handed out alone.
    #[inline]
    #[must_use]
    pub fn with_batchable(mut self, batchable: bool) -> Self {
        self.batchable = batchable;
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

    /// The cost in the rate limiter's units.
    #[inline]
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Whether the operation may share a batch.
    #[inline]
    pub fn is_batchable(&self) -> bool {
        self.batchable
    }

    /// How many times the operation has been handed out in a batch.
    #[inline]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    #[inline]
    pub(crate) fn mark_attempt(&mut self) {
        self.attempts = self.attempts.saturating_add(1);
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

/// The metadata of a [`Batch`](events_core::EventName::Batch) event: the operations of
/// the batch. Recover it with `event.metadata::<BatchMetadata>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMetadata {
    /// The watcher the batch went to.
    pub watcher: u64,
    /// The batch's operations, in the order handed out.
    pub operations: Vec<OperationInfo>,
}

impl BatchMetadata {
    pub(crate) fn of<T>(watcher: u64, ops: &[Operation<T>]) -> Self {
        BatchMetadata {
            watcher,
            operations: ops
                .iter()
                .map(|op| OperationInfo {
                    cost: op.cost,
                    attempts: op.attempts,
                    batchable: op.batchable,
                })
                .collect(),
        }
    }
}
