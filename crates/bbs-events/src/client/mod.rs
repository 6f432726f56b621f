//! A client for the BBS event stream.
//!
//! [`Client`] subscribes to the BBS event routes exactly as the Go BBS client does (same paths,
//! methods and protobuf `EventsByCellId` body) and returns an [`EventSubscription`]: an
//! [`events_core::EventSource`] and a [`futures::Stream`] of [`StreamItem`]s (events, and a
//! [`Resync`] notice after a reconnect) and per-event errors that reconnects by itself after an
//! abrupt drop.
//!
//! Against a misbehaving server the client is bounded by default: a server-sent `retry:` is kept
//! between a floor and the backoff cap, the response headers must arrive within
//! [`DEFAULT_RESPONSE_TIMEOUT`], redirects are not followed (opt-in, never https to http), a 200
//! that is not `text/event-stream` is a terminal error, and TLS and certificate failures are
//! terminal unless [`ClientBuilder::retry_tls_errors`] asks otherwise. Error messages keep their
//! whole cause chain (connection refused, DNS, unknown authority, certificate required, …).

mod backoff;
mod decode;
mod error;
mod item;
mod subscription;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use crate::models::Version;

pub use self::backoff::Backoff;
pub use self::error::{
    ClientError, HttpError, InvalidBase64, PayloadError, SubscriptionError, TransportError,
};
pub use self::item::{ReceivedEvent, Resync, StreamItem};
pub use self::subscription::EventSubscription;

pub use self::decode::decode_event;
pub(crate) use self::decode::decode_event_with;

/// The BBS event routes a client can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /v1/events.r1`: desired-LRP, deprecated actual-LRP group and crash events.
    Events,
    /// `POST /v1/events/lrp_instances.r1`: desired-LRP, actual-LRP instance and crash events.
    Instances,
    /// `POST /v1/events/tasks.r1`: task events.
    Tasks,
}

impl Route {
    /// The request path of the route (the current `.r1` form).
    pub fn path(self) -> &'static str {
        self.path_in(Version::V3)
    }

    /// The request path of the route in the model `version`: the `.r1` path for the current
    /// version, the path without `.r1` for [`Version::V0`] (where the BBS downgrades desired LRPs
    /// and task definitions; the events decode as the same types).
    pub fn path_in(self, version: Version) -> &'static str {
        match (self, version) {
            (Route::Events, Version::V0) => "/v1/events",
            (Route::Instances, Version::V0) => "/v1/events/lrp_instances",
            (Route::Tasks, Version::V0) => "/v1/events/tasks",
            (Route::Events, _) => "/v1/events.r1",
            (Route::Instances, _) => "/v1/events/lrp_instances.r1",
            (Route::Tasks, _) => "/v1/events/tasks.r1",
        }
    }

    /// The HTTP method the Go client uses for the route.
    pub fn method(self) -> http::Method {
        match self {
            Route::Events => http::Method::GET,
            Route::Instances | Route::Tasks => http::Method::POST,
        }
    }
}

/// Encodes an `EventsByCellId` message (field 1, string `cell_id`) as the Go client does: an empty
/// cell id is zero bytes.
pub(crate) fn encode_events_by_cell_id(cell_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(cell_id.len() + 6);
    if !cell_id.is_empty() {
        out.push(0x0a);
        prost::encoding::encode_varint(cell_id.len() as u64, &mut out);
        out.extend_from_slice(cell_id.as_bytes());
    }
    out
}

/// The default floor of a server-sent `retry:` interval.
pub const DEFAULT_MIN_RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// The default time to wait for the response headers of each (re)connection.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings shared by the subscriptions of one client.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) retry: Duration,
    pub(crate) min_retry: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) max_event_size: usize,
    pub(crate) response_timeout: Duration,
    pub(crate) version: Version,
    pub(crate) retry_tls_errors: bool,
}

impl Settings {
    /// The first reconnect delay: the stream's `retry:` if it sent one, else the configured
    /// interval; a server's value is kept between the floor and `max_backoff`.
    pub(crate) fn retry_base(&self, server: Option<Duration>) -> Duration {
        match server {
            Some(retry) => retry.max(self.min_retry).min(self.max_backoff),
            None => self.retry,
        }
    }
}

/// A client of a BBS event stream.
///
/// Cheap to clone; clones share the connection pool.
///
/// # Examples
///
/// ```no_run
/// use bbs_events::client::{Client, StreamItem};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::builder("https://bbs.service.cf.internal:8889")
///     .ca_pem(std::fs::read("ca.crt")?)
///     .identity_pem(std::fs::read("client.crt")?, std::fs::read("client.key")?)
///     .build()?;
/// let mut events = client.subscribe_to_instance_events_by_cell_id("cell-1").await?;
/// while let Ok(item) = events.next().await {
///     match item {
///         StreamItem::Event(received) => {
///             println!("{} {}", received.event.event_type(), received.event.key());
///         }
///         StreamItem::Resync(_) => println!("reconnected: list the actual LRPs again"),
///         _ => {}
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Arc<str>,
    settings: Settings,
}

impl Client {
    /// A client with default settings for `url` (e.g. `http://127.0.0.1:8889`).
    ///
    /// # Errors
    ///
    /// [`ClientError`] when the URL is not an absolute http(s) URL or the HTTP client fails to build.
    pub fn new(url: &str) -> Result<Client, ClientError> {
        Client::builder(url).build()
    }

    /// A builder for a client of `url`, with TLS and timeout options.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// Subscribes to `GET /v1/events.r1` (desired-LRP, actual-LRP group and crash events).
    ///
    /// # Errors
    ///
    /// A terminal [`SubscriptionError`] when the server refuses the subscription or cannot be reached.
    pub async fn subscribe_to_events(&self) -> Result<EventSubscription, SubscriptionError> {
        self.subscribe(Route::Events, "").await
    }

    /// Subscribes to `GET /v1/events.r1`, keeping only the actual-LRP events of `cell_id`.
    ///
    /// # Errors
    ///
    /// As [`subscribe_to_events`](Client::subscribe_to_events).
    pub async fn subscribe_to_events_by_cell_id(
        &self,
        cell_id: &str,
    ) -> Result<EventSubscription, SubscriptionError> {
        self.subscribe(Route::Events, cell_id).await
    }

    /// Subscribes to `POST /v1/events/lrp_instances.r1` (desired-LRP, instance and crash events).
    ///
    /// # Errors
    ///
    /// As [`subscribe_to_events`](Client::subscribe_to_events).
    pub async fn subscribe_to_instance_events(
        &self,
    ) -> Result<EventSubscription, SubscriptionError> {
        self.subscribe(Route::Instances, "").await
    }

    /// Subscribes to `POST /v1/events/lrp_instances.r1`, keeping only the actual-LRP events of
    /// `cell_id`.
    ///
    /// # Errors
    ///
    /// As [`subscribe_to_events`](Client::subscribe_to_events).
    pub async fn subscribe_to_instance_events_by_cell_id(
        &self,
        cell_id: &str,
    ) -> Result<EventSubscription, SubscriptionError> {
        self.subscribe(Route::Instances, cell_id).await
    }

    /// Subscribes to `POST /v1/events/tasks.r1` (task events).
    ///
    /// # Errors
    ///
    /// As [`subscribe_to_events`](Client::subscribe_to_events).
    pub async fn subscribe_to_task_events(&self) -> Result<EventSubscription, SubscriptionError> {
        self.subscribe(Route::Tasks, "").await
    }

    /// Subscribes to any route with a cell filter (empty for none), the general form of the
    /// `subscribe_to_*` methods.
    ///
    /// # Errors
    ///
    /// As [`subscribe_to_events`](Client::subscribe_to_events).
    pub async fn subscribe(
        &self,
        route: Route,
        cell_id: &str,
    ) -> Result<EventSubscription, SubscriptionError> {
        let url = format!("{}{}", self.base, route.path_in(self.settings.version));
        let body = encode_events_by_cell_id(cell_id);
        EventSubscription::connect(
            self.http.clone(),
            url,
            route.method(),
            body,
            self.settings.clone(),
        )
        .await
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    url: String,
    ca_pem: Option<Vec<u8>>,
    cert_pem: Option<Vec<u8>>,
    key_pem: Option<Vec<u8>>,
    connect_timeout: Duration,
    settings: Settings,
    max_redirects: usize,
}

impl ClientBuilder {
    fn new(url: &str) -> Self {
        ClientBuilder {
            url: url.to_owned(),
            ca_pem: None,
            cert_pem: None,
            key_pem: None,
            connect_timeout: Duration::from_secs(10),
            settings: Settings {
                retry: Duration::from_secs(1),
                min_retry: DEFAULT_MIN_RETRY_INTERVAL,
                max_backoff: Duration::from_secs(30),
                max_attempts: None,
                max_event_size: crate::sse::DEFAULT_MAX_EVENT_SIZE,
                response_timeout: DEFAULT_RESPONSE_TIMEOUT,
                version: Version::V3,
                retry_tls_errors: false,
            },
            max_redirects: 0,
        }
    }

    /// Trusts the CA certificates of this PEM bundle for the server's certificate.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Presents this client certificate chain and private key (both PEM) for mutual TLS, which a
    /// production BBS requires.
    pub fn identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.cert_pem = Some(cert_pem.into());
        self.key_pem = Some(key_pem.into());
        self
    }

    /// The TCP and TLS connect timeout (default 10 s). There is no total request timeout: an event
    /// stream is long-lived and a quiet system sends nothing.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long to wait for the response headers of each (re)connection (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`], 30 s); a server that accepts and never answers is then
    /// retried like an unreachable one. `Duration::MAX` waits forever.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.settings.response_timeout = timeout;
        self
    }

    /// The first reconnect delay (default 1 s, as the BBS client); a `retry:` field overrides it.
    pub fn retry_interval(mut self, retry: Duration) -> Self {
        self.settings.retry = retry;
        self
    }

    /// The floor of a server-sent `retry:` interval (default [`DEFAULT_MIN_RETRY_INTERVAL`],
    /// 500 ms), so that a server sending `retry: 0` cannot make the client reconnect in a tight
    /// loop; the cap is [`max_backoff`](ClientBuilder::max_backoff).
    pub fn min_retry_interval(mut self, floor: Duration) -> Self {
        self.settings.min_retry = floor;
        self
    }

    /// Follows up to `max` redirects (default 0: a redirect is a terminal
    /// [`SubscriptionError::Redirect`]). Only 307 and 308 are followed, which keep the method and
    /// the `EventsByCellId` body, and never from https to http.
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// Retries TLS and certificate failures like other connection failures (default: they are a
    /// terminal [`SubscriptionError::Tls`], as the Go client returns them to its caller). Useful
    /// while certificates are being rotated.
    pub fn retry_tls_errors(mut self, retry: bool) -> Self {
        self.settings.retry_tls_errors = retry;
        self
    }

    /// The cap of the exponential reconnect backoff (default 30 s).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.settings.max_backoff = max;
        self
    }

    /// Gives up after this many failed connection attempts in a row with a terminal
    /// [`SubscriptionError::Disconnected`] (default: retry forever, as the Go client does). A
    /// connection that ends before delivering any event counts as a failed attempt.
    pub fn max_reconnect_attempts(mut self, attempts: u32) -> Self {
        self.settings.max_attempts = Some(attempts.max(1));
        self
    }

    /// The largest event accepted (default [`DEFAULT_MAX_EVENT_SIZE`](crate::sse::DEFAULT_MAX_EVENT_SIZE));
    /// larger ones are skipped with [`SubscriptionError::EventTooLarge`].
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.settings.max_event_size = bytes;
        self
    }

    /// Subscribes on the routes of this model version (default [`Version::V3`], the `.r1`
    /// routes). [`Version::V0`] uses the routes without `.r1`, which the BBS keeps for old clients:
    /// desired LRPs and task definitions arrive downgraded (image layers as cached dependencies
    /// and download actions, deprecated timeouts filled in) but decode as the same types.
    pub fn model_version(mut self, version: Version) -> Self {
        self.settings.version = version;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`ClientError`] for a bad URL, bad PEM input, or a certificate without a key.
    pub fn build(self) -> Result<Client, ClientError> {
        let parsed = reqwest::Url::parse(&self.url).map_err(|e| ClientError::InvalidUrl {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ClientError::InvalidUrl {
                url: self.url.clone(),
                reason: format!("unsupported scheme {:?}", parsed.scheme()),
            });
        }
        let mut http = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(transport::redirect_policy(self.max_redirects))
            .connect_timeout(self.connect_timeout)
            .pool_max_idle_per_host(0);
        if let Some(ca) = &self.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(ca).map_err(|source| {
                ClientError::InvalidPem {
                    what: "CA bundle",
                    source: HttpError::new(source),
                }
            })?;
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        match (&self.cert_pem, &self.key_pem) {
            (Some(cert), Some(key)) => {
                let mut pem = cert.clone();
                pem.push(b'\n');
                pem.extend_from_slice(key);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|source| {
                    ClientError::InvalidPem {
                        what: "client certificate and key",
                        source: HttpError::new(source),
                    }
                })?;
                http = http.identity(identity);
            }
            (None, None) => {}
            _ => return Err(ClientError::IncompleteIdentity),
        }
        let http = http
            .build()
            .map_err(|e| ClientError::Build(HttpError::new(e)))?;
        Ok(Client {
            http,
            base: Arc::from(self.url.trim_end_matches('/')),
            settings: self.settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_by_cell_id_encodes_like_the_go_client() {
        assert_eq!(encode_events_by_cell_id(""), b"");
        assert_eq!(encode_events_by_cell_id("cell-1"), b"\x0a\x06cell-1");
    }

    #[test]
    fn a_server_sent_retry_is_kept_between_the_floor_and_the_cap() {
        let settings = Client::builder("http://x").settings;
        assert_eq!(settings.retry_base(None), Duration::from_secs(1));
        assert_eq!(
            settings.retry_base(Some(Duration::ZERO)),
            DEFAULT_MIN_RETRY_INTERVAL
        );
        assert_eq!(
            settings.retry_base(Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            settings.retry_base(Some(Duration::MAX)),
            Duration::from_secs(30)
        );
        // A floor above the cap: the cap wins, and nothing panics.
        let odd = Client::builder("http://x")
            .min_retry_interval(Duration::MAX)
            .max_backoff(Duration::from_secs(5))
            .settings;
        assert_eq!(odd.retry_base(Some(Duration::ZERO)), Duration::from_secs(5));
    }

    #[test]
    fn bad_urls_and_half_identities_are_rejected() {
        assert!(matches!(
            Client::new("not a url"),
            Err(ClientError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Client::new("ftp://x"),
            Err(ClientError::InvalidUrl { .. })
        ));
        let mut b = Client::builder("https://x");
        b.cert_pem = Some(b"x".to_vec());
        assert!(matches!(b.build(), Err(ClientError::IncompleteIdentity)));
    }
}
