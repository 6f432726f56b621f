//! A live subscription to a BBS event route.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use events_core::{BoxFuture, CloseHandle, EventSource};
use futures::Stream;

use crate::Event;
use crate::client::backoff::Backoff;
use crate::client::error::{SubscriptionError, TransportError};
use crate::client::{Settings, decode_event_with};
use crate::sse::{SseError, SseParser};

/// One event received from the stream, with the SSE id it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// The SSE id of the event (the last id seen when the event had none).
    pub id: Option<String>,
    /// The decoded event.
    pub event: Event,
}

/// A subscription to a BBS event route, made by [`Client`](crate::client::Client).
///
/// Read it with [`EventSource::next`] or as a [`Stream`]. Each read gives a typed event or an error;
/// a per-event error ([`SubscriptionError::InvalidPayload`],
/// [`SubscriptionError::UnrecognizedEventType`], [`SubscriptionError::EventTooLarge`]) or the
/// reconnect notice [`SubscriptionError::EventsMayHaveBeenMissed`] is followed by the next event.
///
/// When the connection drops without the terminating chunk, the subscription reconnects by itself
/// after the retry interval (1 s unless the stream sent `retry:`), backing off exponentially with
/// jitter, and sends `Last-Event-ID`. A clean end gives [`SubscriptionError::EndOfStream`] and is not
/// reconnected.
///
/// # Cancel safety
///
/// `next` is cancel safe: a dropped read keeps its progress, and nothing already received is lost.
#[must_use = "a subscription does nothing unless read"]
pub struct EventSubscription {
    state: State,
    close: CloseHandle,
    /// A terminal error was returned by the `Stream` view, which then ends.
    stream_done: bool,
}

type Pending = BoxFuture<'static, (Result<ReceivedEvent, SubscriptionError>, Box<Inner>)>;

enum State {
    Idle(Box<Inner>),
    Busy(Pending),
    Gone,
}

struct Inner {
    http: reqwest::Client,
    url: String,
    method: http::Method,
    body: Bytes,
    settings: Settings,
    parser: SseParser,
    response: Option<reqwest::Response>,
    /// Failed attempts since the last successful connection.
    failures: u32,
    /// The current connection was lost and is being re-established.
    reconnecting: bool,
    notice: Option<SubscriptionError>,
    done: Option<SubscriptionError>,
    close: CloseHandle,
    scratch: Vec<u8>,
}

enum OpenError {
    Retry(TransportError),
    Hard(SubscriptionError),
}

impl EventSubscription {
    pub(crate) async fn connect(
        http: reqwest::Client,
        url: String,
        method: http::Method,
        body: Vec<u8>,
        settings: Settings,
    ) -> Result<EventSubscription, SubscriptionError> {
        let close = CloseHandle::new();
        let mut inner = Box::new(Inner {
            http,
            url,
            method,
            body: Bytes::from(body),
            parser: SseParser::new().with_max_event_size(settings.max_event_size),
            settings,
            response: None,
            failures: 0,
            reconnecting: false,
            notice: None,
            done: None,
            close: close.clone(),
            scratch: Vec::new(),
        });
        inner.connect().await?;
        Ok(EventSubscription {
            state: State::Idle(inner),
            close,
            stream_done: false,
        })
    }

    /// Waits for the next event or error (the same as [`EventSource::next`], callable without
    /// importing the trait and without ambiguity with `StreamExt::next`).
    ///
    /// # Errors
    ///
    /// A per-event or terminal [`SubscriptionError`] (see [`events_core::SourceError`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn next(&mut self) -> Result<ReceivedEvent, SubscriptionError> {
        futures::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Closes the subscription: an in-flight or later read returns [`SubscriptionError::Closed`].
    pub fn close(&self) {
        self.close.close();
    }

    /// A handle that closes the subscription from another task.
    pub fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }

    fn poll_item(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ReceivedEvent, SubscriptionError>> {
        loop {
            match std::mem::replace(&mut self.state, State::Gone) {
                State::Gone => return Poll::Ready(Err(SubscriptionError::Closed)),
                State::Idle(mut inner) => {
                    self.state = State::Busy(Box::pin(async move {
                        let result = inner.next_item().await;
                        (result, inner)
                    }));
                }
                State::Busy(mut fut) => {
                    return match fut.as_mut().poll(cx) {
                        Poll::Pending => {
                            self.state = State::Busy(fut);
                            Poll::Pending
                        }
                        Poll::Ready((result, inner)) => {
                            self.state = State::Idle(inner);
                            Poll::Ready(result)
                        }
                    };
                }
            }
        }
    }
}

impl fmt::Debug for EventSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("EventSubscription");
        if let State::Idle(inner) = &self.state {
            d.field("url", &inner.url)
                .field("last_event_id", &inner.parser.last_event_id());
        }
        d.field("closed", &self.close.is_closed())
            .finish_non_exhaustive()
    }
}

impl EventSource for EventSubscription {
    type Event = ReceivedEvent;
    type Error = SubscriptionError;

    fn next(&mut self) -> BoxFuture<'_, Result<ReceivedEvent, SubscriptionError>> {
        Box::pin(futures::future::poll_fn(move |cx| self.poll_item(cx)))
    }

    fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }
}

impl Stream for EventSubscription {
    type Item = Result<ReceivedEvent, SubscriptionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.stream_done {
            return Poll::Ready(None);
        }
        match this.poll_item(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(event)) => Poll::Ready(Some(Ok(event))),
            Poll::Ready(Err(e)) => {
                use events_core::SourceError as _;
                if e.is_terminal() {
                    this.stream_done = true;
                    if e.is_closed() {
                        return Poll::Ready(None);
                    }
                }
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl Inner {
    async fn next_item(&mut self) -> Result<ReceivedEvent, SubscriptionError> {
        loop {
            if self.close.is_closed() {
                self.finish(SubscriptionError::Closed);
            }
            if let Some(done) = &self.done {
                return Err(done.clone());
            }
            if let Some(notice) = self.notice.take() {
                return Err(notice);
            }
            if let Some(item) = self.parser.next_event() {
                return match item {
                    Ok(sse) => decode_event_with(&sse, &mut self.scratch)
                        .map(|event| ReceivedEvent { id: sse.id, event }),
                    Err(SseError::EventTooLarge { limit }) => {
                        Err(SubscriptionError::EventTooLarge {
                            limit,
                            last_event_id: self.parser.last_event_id().map(str::to_owned),
                        })
                    }
                };
            }
            let Some(response) = self.response.as_mut() else {
                self.connect().await?;
                continue;
            };
            let close = self.close.clone();
            let chunk = tokio::select! {
                biased;
                () = close.closed() => continue,
                chunk = response.chunk() => chunk,
            };
            match chunk {
                Ok(Some(bytes)) => self.parser.push(&bytes),
                Ok(None) => {
                    tracing::debug!(url = %self.url, "event stream ended by the server");
                    self.response = None;
                    self.finish(SubscriptionError::EndOfStream);
                }
                Err(error) => {
                    tracing::warn!(
                        url = %self.url,
                        last_event_id = self.parser.last_event_id(),
                        %error,
                        "event stream dropped, reconnecting"
                    );
                    self.response = None;
                    self.parser.reset_connection();
                    self.reconnecting = true;
                    self.failures = 0;
                }
            }
        }
    }

    fn finish(&mut self, error: SubscriptionError) {
        if self.done.is_none() {
            self.done = Some(error);
        }
        self.response = None;
    }

    /// Connects (or reconnects), waiting the backoff between attempts.
    async fn connect(&mut self) -> Result<(), SubscriptionError> {
        loop {
            let backoff = Backoff {
                base: self.parser.retry().unwrap_or(self.settings.retry),
                max: self.settings.max_backoff,
            };
            // A reconnect waits before its first attempt too, as the Go client waits the retry
            // interval after an unexpected end of stream.
            let wait_index = self.failures + u32::from(self.reconnecting);
            if wait_index > 0 {
                let delay = backoff.delay(wait_index, fastrand::f64());
                let close = self.close.clone();
                tokio::select! {
                    biased;
                    () = close.closed() => {
                        self.finish(SubscriptionError::Closed);
                        return Err(SubscriptionError::Closed);
                    }
                    () = tokio::time::sleep(delay) => {}
                }
            }
            match self.open().await {
                Ok(response) => {
                    if self.reconnecting {
                        let last_event_id = self.parser.last_event_id().map(str::to_owned);
                        tracing::info!(
                            url = %self.url,
                            last_event_id = last_event_id.as_deref(),
                            attempts = self.failures + 1,
                            "event stream reconnected; events may have been missed"
                        );
                        self.notice = Some(SubscriptionError::EventsMayHaveBeenMissed {
                            last_event_id,
                            attempts: self.failures + 1,
                        });
                    }
                    self.reconnecting = false;
                    self.failures = 0;
                    self.response = Some(response);
                    return Ok(());
                }
                Err(OpenError::Hard(error)) => {
                    self.finish(error.clone());
                    return Err(error);
                }
                Err(OpenError::Retry(error)) => {
                    self.failures += 1;
                    tracing::warn!(
                        url = %self.url,
                        attempt = self.failures,
                        %error,
                        "cannot connect to the event stream"
                    );
                    if self
                        .settings
                        .max_attempts
                        .is_some_and(|max| self.failures >= max)
                    {
                        let error = SubscriptionError::Disconnected {
                            attempts: self.failures,
                            source: Arc::new(error),
                        };
                        self.finish(error.clone());
                        return Err(error);
                    }
                }
            }
        }
    }

    /// One connection attempt.
    async fn open(&mut self) -> Result<reqwest::Response, OpenError> {
        let mut request = self
            .http
            .request(self.method.clone(), &self.url)
            .header(http::header::ACCEPT, "text/event-stream")
            .header(http::header::CONTENT_LENGTH, self.body.len())
            .body(self.body.clone());
        if let Some(id) = self.parser.last_event_id() {
            request = request.header("Last-Event-ID", id);
        }
        let send = request.send();
        let close = self.close.clone();
        let result = tokio::select! {
            biased;
            () = close.closed() => return Err(OpenError::Hard(SubscriptionError::Closed)),
            result = async {
                match self.settings.response_timeout {
                    Some(limit) => match tokio::time::timeout(limit, send).await {
                        Ok(sent) => sent.map_err(TransportError::Http),
                        Err(_) => Err(TransportError::Timeout(limit)),
                    },
                    None => send.await.map_err(TransportError::Http),
                }
            } => result,
        };
        let response = result.map_err(OpenError::Retry)?;
        let status = response.status().as_u16();
        match status {
            200 => Ok(response),
            500 | 502 | 503 | 504 => {
                Err(OpenError::Retry(TransportError::RetryableStatus { status }))
            }
            _ => {
                let body = read_some(response).await;
                Err(OpenError::Hard(SubscriptionError::Status {
                    status,
                    url: self.url.clone(),
                    body,
                }))
            }
        }
    }
}

/// The start of an error response body, for the error message.
async fn read_some(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < 512 {
        match tokio::time::timeout(std::time::Duration::from_secs(1), response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(512);
    String::from_utf8_lossy(&body).trim().to_owned()
}
