//! [`Subscription`], the stream form of an emitter's events.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Event;
use crate::error::Lagged;

/// A bounded stream of the events raised after [`Emitter::subscribe`](crate::Emitter::subscribe) was called.
///
/// Yields `Ok(event)` in emit order, or `Err(Lagged)` when the subscriber fell more than
/// the emitter's subscription capacity behind and the oldest events were dropped for it;
/// the stream then carries on with the oldest event still held. The stream ends when
/// every handle of the emitter is dropped.
pub struct Subscription {
    inner: BroadcastStream<Event>,
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
    ) -> Self {
        observers.fetch_add(1, Ordering::AcqRel);
        subscribers.fetch_add(1, Ordering::AcqRel);
        Subscription {
            inner: BroadcastStream::new(rx),
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
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|r| r.map_err(|BroadcastStreamRecvError::Lagged(missed)| Lagged { missed }))
        })
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
