//! A BBS-compatible event server: a fan-out [`Hub`] and the HTTP SSE endpoint on hyper.
//!
//! The endpoint serves `GET /v1/events`, `POST /v1/events/lrp_instances` and
//! `POST /v1/events/tasks` (each also with `.r1`) with the BBS's headers and framing: ids from 0
//! per connection, one event per chunk, route and cell-id filtering, and a terminating chunk when
//! the hub closes, the subscriber falls behind, or the server shuts down.
//!
//! The routes without `.r1` serve desired LRPs and tasks downgraded to V0 as the BBS does (see
//! [`models::Version`](crate::models::Version)), encoded once per event.
//!
//! Differences from the BBS, by design: chunks carry no empty `;` extension (hyper
//! writes strict RFC 9112 chunks, which every client accepts); and with a
//! [replay window](HubBuilder::replay_window) the ids are the hub's sequence numbers so that a
//! reconnecting client's `Last-Event-ID` resumes where it left off.

mod date;
mod error;
mod filter;
mod http;
mod hub;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

pub use self::error::{HubError, ServerError};
pub use self::filter::{Filter, ServerRoute};
pub use self::hub::{DEFAULT_SUBSCRIBER_CAPACITY, EncodedEvent, Hub, HubBuilder, HubSubscription};
pub use self::tls::ServerTls;

use crate::Event;

/// How long [`Server::run`] waits, after shutdown, for open streams to write their last chunk.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Builds a [`Server`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct ServerBuilder {
    hub: Hub,
    tls: Option<ServerTls>,
    preload: Vec<Event>,
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

    /// Binds the listening socket (`127.0.0.1:0` picks a free port; see [`Server::local_addr`]).
    ///
    /// # Errors
    ///
    /// [`ServerError::Bind`] when the address cannot be bound.
    pub async fn bind(self, addr: &str) -> Result<Server, ServerError> {
        let listener = TcpListener::bind(addr)
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
        })
    }
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
}

impl Server {
    /// A builder for a server of `hub`'s events.
    pub fn builder(hub: Hub) -> ServerBuilder {
        ServerBuilder {
            hub,
            tls: None,
            preload: Vec::new(),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` is cancelled; then every open stream ends with the terminating
    /// chunk and the connections close (waiting at most [`SHUTDOWN_GRACE`] for them).
    ///
    /// # Errors
    ///
    /// [`ServerError::Accept`] if the listener fails for good.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServerError> {
        let routes = http::Routes {
            hub: self.hub.clone(),
            preload: self.preload,
            shutdown: shutdown.clone(),
            live: Arc::default(),
        };
        tracing::info!(addr = %self.local_addr, tls = self.tls.is_some(), "BBS event server listening");
        let connections = tokio_util::task::TaskTracker::new();
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
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                Err(error) => return Err(ServerError::Accept(error)),
            };
            let _ = stream.set_nodelay(true);
            let span = tracing::debug_span!("bbs_connection", %peer);
            connections.spawn(
                serve_connection(
                    stream,
                    self.tls.as_ref().map(ServerTls::acceptor),
                    routes.clone(),
                    shutdown.clone(),
                )
                .instrument(span),
            );
        }
        routes.end_streams();
        connections.close();
        // Every stream ends with its terminating chunk; a peer that stopped reading could hold
        // that write forever, so the wait is bounded.
        if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = connections.len(),
                grace = ?SHUTDOWN_GRACE,
                "connections still open after the shutdown grace period; leaving them to close"
            );
        }
        tracing::info!(addr = %self.local_addr, "BBS event server stopped");
        Ok(())
    }
}

fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        error.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::Interrupted | K::WouldBlock
    ) || error.raw_os_error().is_some_and(|c| c == 24 || c == 23) // EMFILE, ENFILE
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    routes: http::Routes,
    shutdown: CancellationToken,
) {
    match tls {
        None => serve_io(TokioIo::new(stream), routes, shutdown).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                () = shutdown.cancelled() => return,
                h = acceptor.accept(stream) => h,
            };
            match handshake {
                Ok(tls_stream) => serve_io(TokioIo::new(tls_stream), routes, shutdown).await,
                Err(error) => tracing::info!(%error, "TLS handshake failed"),
            }
        }
    }
}

async fn serve_io<I>(io: TokioIo<I>, routes: http::Routes, shutdown: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let routes = routes.clone();
        async move { Ok::<_, std::convert::Infallible>(http::handle(routes, request).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.title_case_headers(true).keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
