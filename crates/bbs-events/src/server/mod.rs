//! A BBS-compatible event server: a fan-out [`Hub`] and the HTTP SSE endpoint on hyper.
//!
//! The endpoint serves `GET /v1/events`, `POST /v1/events/lrp_instances` and
//! `POST /v1/events/tasks` (each also with `.r1`) with the BBS's headers and framing: ids from 0
//! per connection, route and cell-id filtering, and a terminating chunk when
//! the hub closes, the subscriber falls behind, or the server shuts down, after which the
//! connection closes, as the BBS's does.
//!
//! It is meant to face the open internet with its defaults: a header-read, TLS handshake,
//! request-body and write-progress timeout, caps on connections and subscribers (503 beyond
//! them), and a watch on each open stream's connection that notices a peer that went away even on
//! a quiet route; see [`ServerBuilder`]. None of them cuts a healthy idle subscriber.
//!
//! The routes without `.r1` serve desired LRPs and tasks downgraded to V0 as the BBS does (see
//! [`models::Version`](crate::models::Version)), encoded once per event.
//!
//! Differences from the BBS, by design: one chunk carries every event a subscriber is woken for
//! (up to [`MAX_CHUNK_BYTES`] of them), where the BBS writes one chunk per event — chunk
//! boundaries are not event boundaries to an SSE client (the Go BBS client and this crate's client read the stream as
//! bytes), and it saves a write per event; chunks carry no empty `;` extension (hyper
//! writes strict RFC 9112 chunks, which every client accepts); and with a
//! [replay window](HubBuilder::replay_window) the ids are the hub's sequence numbers so that a
//! reconnecting client's `Last-Event-ID` resumes where it left off.

mod chunk;
mod connection;
mod date;
mod encoded;
mod error;
mod filter;
mod http;
mod hub;
mod limits;
mod ring;
mod subscription;
mod tls;
mod wake;
mod watched_io;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

pub use self::chunk::MAX_CHUNK_BYTES;
pub use self::encoded::EncodedEvent;
pub use self::error::{HubError, ServerError};
pub use self::filter::{Filter, ServerRoute};
pub use self::hub::{
    DEFAULT_SUBSCRIBER_CAPACITY, Hub, HubBuilder, HubStats, MAX_SUBSCRIBER_CAPACITY,
};
pub use self::limits::{
    DEFAULT_CONNECTION_BUFFER, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN_BACKLOG,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_SUBSCRIBERS, DEFAULT_REQUEST_BODY_TIMEOUT,
    DEFAULT_TLS_HANDSHAKE_TIMEOUT, DEFAULT_WRITE_TIMEOUT, MAX_CONNECTION_BUFFER,
    MIN_CONNECTION_BUFFER, SHUTDOWN_GRACE,
};
pub use self::subscription::HubSubscription;
pub use self::tls::ServerTls;
pub use self::wake::{DEFAULT_NOTIFY_INTERVAL, MAX_NOTIFY_INTERVAL};

use self::limits::Limits;
use crate::Event;

/// Builds a [`Server`].
///
/// Every timeout and cap has a default safe on the open internet. None of them cuts a healthy
/// idle subscriber: the BBS sends no heartbeats, so a stream may rightly carry nothing for hours.
#[derive(Debug)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct ServerBuilder {
    hub: Hub,
    tls: Option<ServerTls>,
    preload: Vec<Event>,
    limits: Limits,
}

impl ServerBuilder {
    /// Serves HTTPS with this configuration (optionally requiring client certificates).
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sends these events, in order and routed like the live ones, to every new subscription
    /// before the live events of the hub.
    pub fn preload(mut self, events: Vec<Event>) -> Self {
        self.preload = events;
        self
    }

    /// How long a peer may take to send a request's headers (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`]), counted from the connection's start or the end of the
    /// previous response; a peer that trickles its headers is disconnected after it.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// How long a TLS peer may take to complete its handshake (default
    /// [`DEFAULT_TLS_HANDSHAKE_TIMEOUT`]), including one that never sends a ClientHello.
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.limits.tls_handshake_timeout = timeout;
        self
    }

    /// How long a peer may take to send a request body (default
    /// [`DEFAULT_REQUEST_BODY_TIMEOUT`]); a slower one is answered `408 Request Timeout` and
    /// disconnected.
    pub fn request_body_timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_body_timeout = timeout;
        self
    }

    /// How long a write may make no progress (default [`DEFAULT_WRITE_TIMEOUT`]): a subscriber
    /// that stops reading while events are due is disconnected after it and its socket reset,
    /// freeing the kernel's send buffer. A subscriber with nothing to receive is never affected.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.limits.write_timeout = timeout;
        self
    }

    /// The most connections served at once (default [`DEFAULT_MAX_CONNECTIONS`]); beyond it a
    /// plain HTTP peer is answered `503 Service Unavailable` and a TLS peer is closed, both
    /// before any other work.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections;
        self
    }

    /// The most event streams open at once (default [`DEFAULT_MAX_SUBSCRIBERS`]); beyond it a
    /// subscription is answered `503 Service Unavailable`, which BBS clients retry.
    pub fn max_subscribers(mut self, subscribers: usize) -> Self {
        self.limits.max_subscribers = subscribers;
        self
    }

    /// The most a connection buffers (default [`DEFAULT_CONNECTION_BUFFER`], 16 KiB; at least
    /// [`MIN_CONNECTION_BUFFER`], at most [`MAX_CONNECTION_BUFFER`]): a request head larger
    /// than it is answered `431 Request Header Fields Too Large`, and a subscriber that stops
    /// reading holds at most this much of queued events (plus one chunk of at most
    /// [`MAX_CHUNK_BYTES`]) until its [write timeout](Self::write_timeout). A woken subscriber's
    /// events go out in chunks of at most [`MAX_CHUNK_BYTES`] whatever this is, so a larger
    /// buffer buys no speed.
    pub fn connection_buffer(mut self, bytes: usize) -> Self {
        self.limits.connection_buffer = bytes;
        self
    }

    /// How many connections the kernel queues for the server before it accepts them (default
    /// [`DEFAULT_LISTEN_BACKLOG`]; at least 1; the kernel lowers it to `net.core.somaxconn`).
    /// A burst beyond it (a foundation's clients reconnecting at once after a restart) has
    /// its connects dropped and retried after seconds, or with SYN cookies completed on the
    /// client side only, so that a client that waits for the server to speak first waits on a
    /// connection the server never saw.
    pub fn listen_backlog(mut self, connections: u32) -> Self {
        self.limits.listen_backlog = connections;
        self
    }

    /// How long [`Server::run`] waits after shutdown for open streams to write their
    /// terminating chunk (default [`SHUTDOWN_GRACE`]; zero waits not at all).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.limits.shutdown_grace = grace;
        self
    }

    /// Binds the listening socket (`127.0.0.1:0` picks a free port; see [`Server::local_addr`]).
    ///
    /// # Errors
    ///
    /// [`ServerError::InvalidOption`] when a timeout or cap is zero, and [`ServerError::Bind`]
    /// when the address cannot be bound.
    pub async fn bind(self, addr: &str) -> Result<Server, ServerError> {
        let limits = self.limits.checked()?;
        let listener = listen(addr, limits.listen_backlog)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
        let preload = self
            .preload
            .into_iter()
            .enumerate()
            .map(|(i, e)| Arc::new(EncodedEvent::new(i as u64, e)))
            .collect();
        Ok(Server {
            listener,
            local_addr,
            hub: self.hub,
            tls: self.tls,
            preload,
            limits,
        })
    }
}

/// Binds the first address `addr` resolves to that can be bound, listening with `backlog`
/// (std and tokio listen with 128, which a burst of reconnecting clients overflows).
async fn listen(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for candidate in tokio::net::lookup_host(addr).await? {
        let socket = if candidate.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std does for a listener: a restarted server can bind while old connections linger.
        socket.set_reuseaddr(true)?;
        match socket.bind(candidate).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// A bound BBS event server; [`run`](Server::run) serves until shut down.
///
/// # Examples
///
/// ```
/// use bbs_events::server::{Hub, Server};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = Hub::new();
/// let server = Server::builder(hub.clone()).bind("127.0.0.1:0").await?;
/// let url = format!("http://{}", server.local_addr());
/// let shutdown = CancellationToken::new();
/// let running = tokio::spawn(server.run(shutdown.clone()));
/// // ... clients subscribe to `url`, the application calls `hub.emit(event)` ...
/// # let _ = url;
/// shutdown.cancel();
/// running.await??;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    hub: Hub,
    tls: Option<ServerTls>,
    preload: Arc<[Arc<EncodedEvent>]>,
    limits: Limits,
}

impl Server {
    /// A builder for a server of `hub`'s events.
    pub fn builder(hub: Hub) -> ServerBuilder {
        ServerBuilder {
            hub,
            tls: None,
            preload: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled; then every open stream ends with the terminating
    /// chunk and the connections close (waiting at most the
    /// [shutdown grace](ServerBuilder::shutdown_grace) for them).
    ///
    /// # Errors
    ///
    /// [`ServerError::Accept`] if the listener fails for good.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServerError> {
        let limits = self.limits;
        let routes = http::Routes {
            hub: self.hub.clone(),
            preload: self.preload,
            shutdown: shutdown.clone(),
            live: Arc::default(),
            subscribers: Arc::new(Semaphore::new(limits.max_subscribers)),
            request_body_timeout: limits.request_body_timeout,
        };
        let context = connection::Context {
            routes: routes.clone(),
            tls: self.tls.clone(),
            limits,
            shutdown: shutdown.clone(),
        };
        let connection_slots = Arc::new(Semaphore::new(limits.max_connections));
        tracing::info!(addr = %self.local_addr, tls = self.tls.is_some(), "BBS event server listening");
        let connections = tokio_util::task::TaskTracker::new();
        let mut refused: u64 = 0;
        loop {
            let accepted = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(error) if is_transient(&error) => {
                    tracing::warn!(%error, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(error) => return Err(ServerError::Accept(error)),
            };
            let Ok(permit) = Arc::clone(&connection_slots).try_acquire_owned() else {
                // One warning per spell of refusals, so that a flood cannot flood the log too.
                if refused == 0 {
                    tracing::warn!(
                        %peer,
                        max_connections = limits.max_connections,
                        "refusing connections beyond the connection cap"
                    );
                }
                refused += 1;
                connection::refuse(stream, self.tls.is_some());
                continue;
            };
            if refused > 0 {
                tracing::info!(refused, "accepting connections again");
                refused = 0;
            }
            let _ = stream.set_nodelay(true);
            let span = tracing::debug_span!("bbs_connection", %peer);
            connections.spawn(connection::serve(stream, context.clone(), permit).instrument(span));
        }
        routes.end_streams();
        connections.close();
        // Every stream ends with its terminating chunk; a peer that stopped reading could hold
        // that write until the write timeout, so the wait is bounded.
        let grace = limits.shutdown_grace;
        if tokio::time::timeout(grace, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = connections.len(),
                ?grace,
                "connections still open after the shutdown grace period; leaving them to close"
            );
        }
        tracing::info!(addr = %self.local_addr, "BBS event server stopped");
        Ok(())
    }
}

/// Whether an accept error passes (a peer that gave up, or descriptors running out for a moment).
fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        error.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted | K::WouldBlock
    ) || error.raw_os_error().is_some_and(|c| c == 24 || c == 23) // EMFILE, ENFILE
}
