//! The [`EventSource`] trait for streams of typed events from outside the process.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_core::future::BoxFuture;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// An error from an [`EventSource`], which says whether the source can go on.
pub trait SourceError: std::error::Error + Send + Sync + 'static {
    /// `true` if no further event will come from the source (closed, ended, or a failure
    /// it cannot recover from); `false` for errors that belong to one event.
    fn is_terminal(&self) -> bool;

    /// `true` if the source ended because its owner closed it, which
    /// [`SourceStream`] treats as a quiet end rather than an error to yield.
    fn is_closed(&self) -> bool {
        false
    }
}

/// A source of typed events, such as a subscription to a BBS event stream.
///
/// `next` yields one event or one error at a time; an error for which
/// [`SourceError::is_terminal`] is `false` belongs to a single event and the following
/// call carries on with the next one. [`close`](EventSource::close), or a
/// [`CloseHandle`] from another task, ends the source and makes an in-flight `next`
/// return promptly.
///
/// The trait is object safe: `Box<dyn EventSource<Event = E, Error = X>>` works.
///
/// # Cancel safety
///
/// Implementations should make `next` cancel safe: dropping its future must not lose an
/// event that was already read.
pub trait EventSource: Send {
    /// The events this source yields.
    type Event: Send + 'static;
    /// What `next` fails with.
    type Error: SourceError;

    /// Waits for the next event.
    ///
    /// # Errors
    ///
    /// A per-event error (the source goes on) or a terminal one (see [`SourceError`]).
    fn next(&mut self) -> BoxFuture<'_, Result<Self::Event, Self::Error>>;

    /// Closes the source; an in-flight or later `next` returns a closed error.
    fn close(&self) {
        self.close_handle().close();
    }

    /// A handle that closes this source from anywhere, even while `next` is running.
    fn close_handle(&self) -> CloseHandle;

    /// The source as a [`futures_core::Stream`].
    fn into_stream(self) -> SourceStream<Self>
    where
        Self: Sized + 'static,
    {
        SourceStream::new(self)
    }
}

/// Closes an [`EventSource`] from another task.
#[derive(Debug, Clone, Default)]
pub struct CloseHandle {
    token: CancellationToken,
}

impl CloseHandle {
    /// A new, open handle.
    pub fn new() -> Self {
        CloseHandle::default()
    }

    /// A handle driven by an existing cancellation token.
    pub fn from_token(token: CancellationToken) -> Self {
        CloseHandle { token }
    }

    /// Closes the source. Idempotent.
    pub fn close(&self) {
        self.token.cancel();
    }

    /// Whether the source was closed.
    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the source is closed.
    #[must_use = "futures do nothing unless awaited"]
    pub fn closed(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    /// The underlying cancellation token.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

type Pending<S> = BoxFuture<
    'static,
    (
        Result<<S as EventSource>::Event, <S as EventSource>::Error>,
        S,
    ),
>;

/// A [`Stream`] view of an [`EventSource`], made by [`EventSource::into_stream`].
///
/// Yields every event and every per-event error. A terminal error is yielded once, then
/// the stream ends; a close by the owner ends the stream without an error.
#[must_use = "streams do nothing unless polled"]
pub struct SourceStream<S: EventSource> {
    state: State<S>,
    close: CloseHandle,
}

enum State<S: EventSource> {
    Idle(S),
    Pending(Pending<S>),
    Done,
}

impl<S: EventSource + 'static> SourceStream<S> {
    /// Wraps a source.
    pub fn new(source: S) -> Self {
        let close = source.close_handle();
        SourceStream {
            state: State::Idle(source),
            close,
        }
    }

    /// A handle that closes the underlying source.
    pub fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }
}

impl<S: EventSource + 'static> Stream for SourceStream<S> {
    type Item = Result<S::Event, S::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `SourceStream` is `Unpin`: its only fields are boxed or owned handles.
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Idle(mut source) => {
                    this.state = State::Pending(Box::pin(async move {
                        let result = source.next().await;
                        (result, source)
                    }));
                }
                State::Pending(mut fut) => match fut.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = State::Pending(fut);
                        return Poll::Pending;
                    }
                    Poll::Ready((result, source)) => {
                        return match result {
                            Err(e) if e.is_terminal() => {
                                if e.is_closed() {
                                    Poll::Ready(None)
                                } else {
                                    Poll::Ready(Some(Err(e)))
                                }
                            }
                            other => {
                                this.state = State::Idle(source);
                                Poll::Ready(Some(other))
                            }
                        };
                    }
                },
            }
        }
    }
}

impl<S: EventSource> Unpin for SourceStream<S> {}

impl<S: EventSource> fmt::Debug for SourceStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle(_) => "idle",
            State::Pending(_) => "pending",
            State::Done => "done",
        };
        f.debug_struct("SourceStream")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
