//! [`Subscription`], the stream form of an emitter's events.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Event;
use crate::error::Lagged;

/// A bounded stream of the events raised after [`Emitter::subscribe`](crate::Emitter::subscribe) was called.
///
/// Yields `Ok(event)` in emit order, or `Err(Lagged)` when the subscriber fell more than
/// the emitter's subscription capacity behind and the oldest events were dropped for it;
/// the stream then carries on with the oldest event still held. The stream ends when
/// the emitter is [closed](crate::Emitter::close), after the events raised before, or
/// when every handle of the emitter is dropped.
pub struct Subscription {
    inner: BroadcastStream<Event>,
    closed: Pin<Box<WaitForCancellationFutureOwned>>,
    ended: bool,
    /// The emitter's observer count; held apart from the emitter so that a subscription
    /// does not keep the emitter (and so the stream) alive.
    observers: Arc<AtomicUsize>,
    subscribers: Arc<AtomicUsize>,
}

impl Subscription {
    pub(crate) fn new(
        rx: broadcast::Receiver<Event>,
        observers: Arc<AtomicUsize>,
        subscribers: Arc<AtomicUsize>,
        closed: CancellationToken,
    ) -> Self {
        observers.fetch_add(1, Ordering::AcqRel);
        subscribers.fetch_add(1, Ordering::AcqRel);
        Subscription {
            inner: BroadcastStream::new(rx),
            closed: Box::pin(closed.cancelled_owned()),
            ended: false,
            observers,
            subscribers,
        }
    }
}

impl Subscription {
    /// The next event, `Err(Lagged)` when events were dropped for this subscriber, or
    /// `None` once every handle of the emitter is dropped: the same as
    /// `futures::StreamExt::next`, without importing it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes loses no event.
    pub async fn next(&mut self) -> Option<Result<Event, Lagged>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Subscription {
    type Item = Result<Event, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let convert = |item: Option<Result<Event, BroadcastStreamRecvError>>| {
            item.map(|r| r.map_err(|BroadcastStreamRecvError::Lagged(missed)| Lagged { missed }))
        };
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            this.ended = item.is_none();
            return Poll::Ready(convert(item));
        }
        if this.closed.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        // Closed: what was raised before the close is in the channel already, so look
        // once more before ending.
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(convert(Some(item))),
            _ => {
                this.ended = true;
                Poll::Ready(None)
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.subscribers.fetch_sub(1, Ordering::AcqRel);
        self.observers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}
