//! The errors of a BBS event subscription.

use std::sync::Arc;

use events_core::SourceError;

use crate::{DecodeError, EventType};

/// Why an event's payload could not be turned into a typed event.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The data decoded to zero bytes (the BBS client's "event with no data").
    #[error("event with no data")]
    NoData,
    /// The data is not standard padded base64.
    #[error("invalid base64: {0}")]
    Base64(#[source] InvalidBase64),
    /// The protobuf bytes do not decode as the event's message.
    #[error(transparent)]
    Protobuf(#[from] DecodeError),
}

/// An error of an [`EventSubscription`](crate::client::EventSubscription).
///
/// Errors for which [`SourceError::is_terminal`] is `false` belong to one event; the next read
/// carries on with the following event. A reconnect is not an error: it arrives as
/// [`StreamItem::Resync`](crate::client::StreamItem::Resync).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// An event whose payload is not valid; the event is skipped.
    #[error(
        "invalid protobuf payload of type {event_type} (event id {id:?}): {cause}; the event was skipped"
    )]
    InvalidPayload {
        /// The event id, if the stream gave one.
        id: Option<String>,
        /// The event name from the stream.
        event_type: String,
        /// What was wrong with the payload.
        #[source]
        cause: PayloadError,
    },
    /// An event whose name is not one of the 13 BBS event types; the event is skipped.
    #[error(
        "unrecognized event type {event_type:?} (event id {id:?}); the event was skipped, \
         upgrade this client if the server speaks a newer schema"
    )]
    UnrecognizedEventType {
        /// The event id, if the stream gave one.
        id: Option<String>,
        /// The unrecognised name.
        event_type: String,
    },
    /// An event larger than the configured limit; it was skipped.
    #[error(
        "an event larger than {limit} bytes was skipped (last event id {last_event_id:?}); \
         raise `max_event_size` on the client builder if such events are expected"
    )]
    EventTooLarge {
        /// The configured limit in bytes.
        limit: usize,
        /// The last event id seen before the oversized event.
        last_event_id: Option<String>,
    },
    /// The server answered with a status that is not retried (anything but 200, a redirect, 500,
    /// 502, 503 and 504).
    #[error(
        "the server answered {status} to {url}: {body:?}; check the URL, route and credentials"
    )]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The request URL.
        url: String,
        /// The start of the response body.
        body: String,
    },
    /// The server answered 200 with a body that is not an event stream (a proxy's or load
    /// balancer's HTML page, a JSON API, …); it is not parsed and not retried.
    #[error(
        "the server answered 200 to {url} with Content-Type {content_type:?}, not text/event-stream \
         (body starts {body:?}); check that the URL points at the BBS and not at a proxy or another service"
    )]
    NotEventStream {
        /// The request URL.
        url: String,
        /// The response's `Content-Type`, if it had one.
        content_type: Option<String>,
        /// The start of the response body.
        body: String,
    },
    /// The server redirected the subscription. Redirects are not followed unless the client
    /// builder allows them, and then never from https to http and never with a status (301, 302,
    /// 303) that would turn the request into a GET without its `EventsByCellId` body.
    #[error(
        "the server redirected {url} to {location:?} ({reason}); use the final URL of the BBS, \
         or allow redirects with `follow_redirects` on the client builder"
    )]
    Redirect {
        /// The request URL.
        url: String,
        /// Where the server redirected to, if it said.
        location: Option<String>,
        /// Why the redirect was not followed.
        reason: String,
    },
    /// TLS with the server failed: an unknown certificate authority, a name mismatch, an expired
    /// certificate, or the server rejected (or required) the client certificate. Not retried
    /// unless the client builder asks for it ([`retry_tls_errors`](crate::client::ClientBuilder::retry_tls_errors)).
    #[error(
        "TLS with {url} failed: {source}; check the CA bundle (`ca_pem`), the client certificate and \
         key (`identity_pem`) and the host name in the URL"
    )]
    Tls {
        /// The request URL.
        url: String,
        /// The failure, with its whole cause chain in its message.
        #[source]
        source: Arc<HttpError>,
    },
    /// The connection could not be (re-)established within the configured number of attempts.
    #[error(
        "the event stream failed after {attempts} connection attempt(s): {source}; \
         check that the server is reachable or raise `max_reconnect_attempts`"
    )]
    Disconnected {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: Arc<TransportError>,
    },
    /// The server ended the stream cleanly (a terminating chunk); it is not reconnected.
    #[error("the server ended the event stream; subscribe again to receive more events")]
    EndOfStream,
    /// The subscription was closed by its owner.
    #[error("the event subscription was closed")]
    Closed,
}

/// A transport-level failure on the way to or from the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The HTTP client failed (connection refused, DNS, TLS when retried, a reset, …).
    #[error("{0}")]
    Http(#[source] HttpError),
    /// The server answered with a retryable status (500, 502, 503 or 504).
    #[error("the server answered {status} (retried)")]
    RetryableStatus {
        /// The HTTP status code.
        status: u16,
    },
    /// The server did not answer in time.
    #[error("no response within {0:?}")]
    Timeout(std::time::Duration),
}

impl SubscriptionError {
    /// The event type named by a per-event error, when it is one of the known types.
    pub fn event_type(&self) -> Option<EventType> {
        match self {
            SubscriptionError::InvalidPayload { event_type, .. } => {
                EventType::from_wire(event_type)
            }
            _ => None,
        }
    }

    /// A short machine-friendly name of the error kind, e.g. `"invalid_payload"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            SubscriptionError::InvalidPayload { .. } => "invalid_payload",
            SubscriptionError::UnrecognizedEventType { .. } => "unrecognized_event_type",
            SubscriptionError::EventTooLarge { .. } => "event_too_large",
            SubscriptionError::NotEventStream { .. } => "not_event_stream",
            SubscriptionError::Redirect { .. } => "redirect",
            SubscriptionError::Tls { .. } => "tls",
            SubscriptionError::Status { .. } => "status",
            SubscriptionError::Disconnected { .. } => "disconnected",
            SubscriptionError::EndOfStream => "end_of_stream",
            SubscriptionError::Closed => "closed",
        }
    }
}

impl SourceError for SubscriptionError {
    fn is_terminal(&self) -> bool {
        matches!(
            self,
            SubscriptionError::Status { .. }
                | SubscriptionError::NotEventStream { .. }
                | SubscriptionError::Redirect { .. }
                | SubscriptionError::Tls { .. }
                | SubscriptionError::Disconnected { .. }
                | SubscriptionError::EndOfStream
                | SubscriptionError::Closed
        )
    }

    fn is_closed(&self) -> bool {
        matches!(self, SubscriptionError::Closed)
    }
}

/// An error building a [`Client`](crate::client::Client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL does not parse.
    #[error("invalid BBS URL {url:?}: {reason}; pass an absolute http:// or https:// URL")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A PEM file could not be used.
    #[error(
        "invalid {what} PEM: {source}; pass PEM-encoded certificates and a PKCS#8, PKCS#1 or SEC1 key"
    )]
    InvalidPem {
        /// Which input was wrong (CA bundle, client certificate and key).
        what: &'static str,
        /// The underlying error.
        #[source]
        source: HttpError,
    },
    /// A client certificate was given without its key, or the other way round.
    #[error("a client certificate needs its private key for mutual TLS; pass both or neither")]
    IncompleteIdentity,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] HttpError),
}

/// An error of the HTTP client, kept opaque: its message holds the whole cause chain (for
/// example `error sending request: client error (Connect): tcp connect error: Connection refused`),
/// and [`source`](std::error::Error::source) gives the underlying error.
#[derive(Debug)]
pub struct HttpError {
    inner: reqwest::Error,
    message: String,
}

impl HttpError {
    pub(crate) fn new(inner: reqwest::Error) -> HttpError {
        let message = cause_chain(&inner);
        HttpError { inner, message }
    }

    /// Whether the failure happened while connecting (TCP, DNS or TLS).
    pub fn is_connect(&self) -> bool {
        self.inner.is_connect()
    }

    /// Whether the failure is a TLS or certificate failure.
    pub fn is_tls(&self) -> bool {
        crate::client::transport::tls_cause(&self.inner).is_some()
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// An invalid base64 payload, kept opaque; [`source`](std::error::Error::source) gives the
/// decoder's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidBase64(#[source] pub(crate) base64::DecodeError);

/// The messages of `error` and its causes joined with `: `, leaving out a cause whose message
/// the previous one already contains (I/O errors repeat their inner error).
pub(crate) fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        next = cause.source();
    }
    message
}
