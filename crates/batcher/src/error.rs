//! Errors of the batcher: enqueue failures that hand the operation back, and
//! configuration or lifecycle mistakes.

use std::fmt;

use crate::Operation;

/// Why an operation was not enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueErrorKind {
    /// The operation costs more in a resource than its rate limiter could ever grant.
    #[error(
        "the operation costs {cost} in resource `{resource}` but that resource's rate limiter \
         has a maximum capacity of {max_capacity}; split it into cheaper operations or raise \
         the limiter's capacity"
    )]
    TooExpensive {
        /// The resource whose limiter cannot grant the cost (the primary one's name is
        /// [`PRIMARY_RESOURCE`](crate::PRIMARY_RESOURCE) unless the builder named it).
        resource: &'static str,
        /// The operation's cost in that resource.
        cost: u32,
        /// The limiter's maximum capacity when the operation was refused.
        max_capacity: u32,
    },
    /// The operation has a cost in a resource the batcher does not have.
    #[error(
        "the operation has a cost in resource `{resource}`, which the batcher does not have; \
         add it with BatcherBuilder::resource or fix the name given to Operation::with_cost \
         (the primary resource's cost is the one given to Operation::new)"
    )]
    UnknownResource {
        /// The name given to [`Operation::with_cost`].
        resource: &'static str,
    },
    /// The operation has already been handed out as many times as its watcher allows.
    #[error(
        "the operation has been attempted {attempts} times and its watcher allows at most \
         {max_attempts}; give up on it or raise the watcher's max attempts"
    )]
    TooManyAttempts {
        /// How often the operation was handed out.
        attempts: u32,
        /// The watcher's limit.
        max_attempts: u32,
    },
    /// The buffer holds `buffer_size` operations already.
    #[error(
        "the batcher's buffer is full ({buffer_size} operations); retry later, use the waiting \
         `enqueue` without `error_on_full_buffer`, or raise `buffer_size`"
    )]
    BufferFull {
        /// The configured buffer size.
        buffer_size: usize,
    },
    /// The watcher's [`Batches`](crate::Batches) stream was dropped, so nothing enqueued
    /// on it could be delivered.
    #[error(
        "the watcher's batch stream was dropped, so nothing enqueued on it can be delivered; \
         take back its buffered operations with take_unsent() and enqueue on a new watcher"
    )]
    Closed,
    /// The batcher has been stopped and releases nothing more.
    #[error("the batcher has been stopped; create a new batcher to enqueue more operations")]
    Stopped,
}

/// An operation was not enqueued; the error hands it back so nothing is lost.
///
/// Recover the operation with [`into_operation`](EnqueueError::into_operation).
pub struct EnqueueError<T> {
    kind: EnqueueErrorKind,
    operation: Operation<T>,
}

impl<T> EnqueueError<T> {
    pub(crate) fn new(kind: EnqueueErrorKind, operation: Operation<T>) -> Self {
        EnqueueError { kind, operation }
    }

    /// Why the operation was refused.
    pub fn kind(&self) -> EnqueueErrorKind {
        self.kind
    }

    /// The refused operation.
    pub fn operation(&self) -> &Operation<T> {
        &self.operation
    }

    /// Takes the refused operation back.
    pub fn into_operation(self) -> Operation<T> {
        self.operation
    }

    /// Whether the buffer was full.
    pub fn is_buffer_full(&self) -> bool {
        matches!(self.kind, EnqueueErrorKind::BufferFull { .. })
    }

    /// Whether the watcher's batch stream was dropped.
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, EnqueueErrorKind::Closed)
    }

    /// Whether the batcher was stopped.
    pub fn is_stopped(&self) -> bool {
        matches!(self.kind, EnqueueErrorKind::Stopped)
    }
}

impl<T> fmt::Debug for EnqueueError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnqueueError")
            .field("kind", &self.kind)
            .field("cost", &self.operation.cost())
            .field("attempts", &self.operation.attempts())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for EnqueueError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl<T> std::error::Error for EnqueueError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// A batcher could not be built or started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatcherError {
    /// An option has a value the batcher cannot work with.
    #[error("invalid batcher option `{option}`: {reason}")]
    InvalidOption {
        /// The builder method that set the option.
        option: &'static str,
        /// What is wrong and what to use instead.
        reason: &'static str,
    },
    /// Two resources have the same name.
    #[error(
        "the batcher has two resources named `{name}`; give each resource (the primary one \
         included) its own name"
    )]
    DuplicateResource {
        /// The name given twice.
        name: &'static str,
    },
    /// A resource has an empty name.
    #[error("a batcher resource has an empty name; name every resource, e.g. \"bytes\"")]
    EmptyResourceName,
    /// More resources than [`MAX_RESOURCES`](crate::MAX_RESOURCES).
    #[error(
        "the batcher has {count} resources but at most {max} are supported (the primary one \
         included); combine some, or use several batchers"
    )]
    TooManyResources {
        /// How many resources were given, the primary one included.
        count: usize,
        /// The most supported.
        max: usize,
    },
    /// `start` was called twice.
    #[error("the batcher is already started; call start() once")]
    AlreadyStarted,
    /// `start` was called after `stop`.
    #[error("the batcher has been stopped; create a new batcher instead of restarting it")]
    Stopped,
    /// `start` was called outside a tokio runtime.
    #[error("the batcher must be started from within a tokio runtime; call start() inside one")]
    NoRuntime,
}
