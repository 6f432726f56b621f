//! A live subscription to a BBS event route.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use events_core::{BoxFuture, CloseHandle, EventSource};
use futures::Stream;

use crate::client::backoff::Backoff;
use crate::client::error::{HttpError, SubscriptionError, TransportError};
use crate::client::item::{ReceivedEvent, Resync, StreamItem};
use crate::client::transport;
use crate::client::{Settings, decode_event_with};
use crate::sse::{SseError, SseParser};

/// A subscription to a BBS event route, made by [`Client`](crate::client::Client).
///
/// Read it with [`next`](EventSubscription::next), [`EventSource::next`] or as a [`Stream`]. Each
/// read gives a [`StreamItem`] (an event, or a [`Resync`] notice after a reconnect) or an error;
/// a per-event error ([`SubscriptionError::InvalidPayload`],
/// [`SubscriptionError::UnrecognizedEventType`], [`SubscriptionError::EventTooLarge`]) is followed
/// by the next event, a terminal one ends the subscription.
///
/// When the connection drops without the terminating chunk, the subscription reconnects by itself
/// after the retry interval (1 s, or the stream's `retry:` kept between the client's
/// `min_retry_interval` and `max_backoff`), backing off exponentially with jitter, and sends
/// `Last-Event-ID` (the id of the last event delivered). A connection that ends before delivering
/// an event counts as a failed attempt, so a server that accepts and drops at once is backed off
/// too. A clean end gives [`SubscriptionError::EndOfStream`] and is not reconnected.
///
/// # Resynchronising
///
/// A real BBS does not replay, so after a [`StreamItem::Resync`] list the current state again:
///
/// ```no_run
/// use bbs_events::client::{Client, StreamItem};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new("http://127.0.0.1:8889")?;
/// let mut events = client.subscribe_to_task_events().await?;
/// loop {
///     match events.next().await? {
///         StreamItem::Event(received) => println!("{}", received.event.key()),
///         StreamItem::Resync(_) => { /* list the tasks again */ }
///         _ => {}
///     }
/// }
/// # }
/// ```
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

type Pending = BoxFuture<'static, (Result<StreamItem, SubscriptionError>, Box<Inner>)>;

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
    /// Attempts in a row that delivered nothing: failed connections, and connections that ended
    /// before their first event. Drives the backoff and `max_reconnect_attempts`.
    failures: u32,
    /// The current connection was lost and is being re-established.
    reconnecting: bool,
    /// The current connection delivered an event (or a per-event error).
    delivered: bool,
    notice: Option<Resync>,
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
            delivered: false,
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

    /// Waits for the next event, resync notice or error (the same as [`EventSource::next`],
    /// callable without importing the trait and without ambiguity with `StreamExt::next`).
    ///
    /// # Errors
    ///
    /// A per-event or terminal [`SubscriptionError`] (see [`events_core::SourceError`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn next(&mut self) -> Result<StreamItem, SubscriptionError> {
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

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Result<StreamItem, SubscriptionError>> {
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
    type Event = StreamItem;
    type Error = SubscriptionError;

    fn next(&mut self) -> BoxFuture<'_, Result<StreamItem, SubscriptionError>> {
        Box::pin(futures::future::poll_fn(move |cx| self.poll_item(cx)))
    }

    fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }
}

impl Stream for EventSubscription {
    type Item = Result<StreamItem, SubscriptionError>;

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
    async fn next_item(&mut self) -> Result<StreamItem, SubscriptionError> {
        loop {
            if self.close.is_closed() {
                self.finish(SubscriptionError::Closed);
            }
            if let Some(done) = &self.done {
                return Err(done.clone());
            }
            if let Some(notice) = self.notice.take() {
                return Ok(StreamItem::Resync(notice));
            }
            if let Some(item) = self.parser.next_event() {
                self.delivered = true;
                self.failures = 0;
                return match item {
                    Ok(sse) => decode_event_with(&sse, &mut self.scratch)
                        .map(|event| StreamItem::Event(ReceivedEvent { id: sse.id, event })),
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
                    // A connection that delivered nothing does not count as a success, so a
                    // server that accepts and drops at once is backed off like one that refuses.
                    if !self.delivered {
                        self.failures = self.failures.saturating_add(1);
                        self.give_up_after(TransportError::Http(HttpError::new(error)));
                    }
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

    /// Ends the subscription with [`SubscriptionError::Disconnected`] when `failures` reached
    /// the configured maximum; returns the error then.
    fn give_up_after(&mut self, error: TransportError) -> Option<SubscriptionError> {
        let max = self.settings.max_attempts?;
        if self.failures < max {
            return None;
        }
        let error = SubscriptionError::Disconnected {
            attempts: self.failures,
            source: Arc::new(error),
        };
        self.finish(error.clone());
        Some(error)
    }

    /// Connects (or reconnects), waiting the backoff between attempts.
    async fn connect(&mut self) -> Result<(), SubscriptionError> {
        let mut attempts = 0u32;
        loop {
            let backoff = Backoff {
                base: self.settings.retry_base(self.parser.retry()),
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
            attempts = attempts.saturating_add(1);
            match self.open().await {
                Ok(response) => {
                    if self.reconnecting {
                        let last_event_id = self.parser.last_event_id().map(str::to_owned);
                        tracing::info!(
                            url = %self.url,
                            last_event_id = last_event_id.as_deref(),
                            attempts,
                            "event stream reconnected; events may have been missed"
                        );
                        self.notice = Some(Resync {
                            last_event_id,
                            attempts,
                        });
                    }
                    self.reconnecting = false;
                    self.delivered = false;
                    self.response = Some(response);
                    return Ok(());
                }
                Err(OpenError::Hard(error)) => {
                    self.finish(error.clone());
                    return Err(error);
                }
                Err(OpenError::Retry(error)) => {
                    self.failures = self.failures.saturating_add(1);
                    tracing::warn!(
                        url = %self.url,
                        attempt = self.failures,
                        %error,
                        "cannot connect to the event stream"
                    );
                    if let Some(error) = self.give_up_after(error) {
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
        let limit = self.settings.response_timeout;
        let result = tokio::select! {
            biased;
            () = close.closed() => return Err(OpenError::Hard(SubscriptionError::Closed)),
            result = tokio::time::timeout(limit, send) => result,
        };
        let response = match result {
            Err(_) => return Err(OpenError::Retry(TransportError::Timeout(limit))),
            Ok(Err(error)) => return Err(self.classify(error)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        match status {
            200 => {
                let content_type = response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                if content_type
                    .as_deref()
                    .is_some_and(transport::is_event_stream)
                {
                    return Ok(response);
                }
                let body = read_some(response).await;
                Err(OpenError::Hard(SubscriptionError::NotEventStream {
                    url: self.url.clone(),
                    content_type,
                    body,
                }))
            }
            500 | 502 | 503 | 504 => {
                Err(OpenError::Retry(TransportError::RetryableStatus { status }))
            }
            300..=399 => {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                Err(OpenError::Hard(SubscriptionError::Redirect {
                    url: self.url.clone(),
                    location,
                    reason: format!("status {status}; redirects are not followed by default"),
                }))
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

    /// Sorts a failed request: refused redirects and (unless asked otherwise) TLS failures are
    /// terminal, everything else is retried.
    fn classify(&self, error: reqwest::Error) -> OpenError {
        if let Some(reason) = transport::redirect_refusal(&error) {
            return OpenError::Hard(SubscriptionError::Redirect {
                url: self.url.clone(),
                location: error.url().map(|u| u.to_string()),
                reason: reason.to_owned(),
            });
        }
        let error = HttpError::new(error);
        if error.is_tls() && !self.settings.retry_tls_errors {
            return OpenError::Hard(SubscriptionError::Tls {
                url: self.url.clone(),
                source: Arc::new(error),
            });
        }
        OpenError::Retry(TransportError::Http(error))
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
