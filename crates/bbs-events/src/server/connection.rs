//! One accepted connection: TLS handshake, HTTP/1.1 with a header-read timeout, the watch on an
//! open event stream, and the refusal of connections beyond the cap.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use crate::server::http;
use crate::server::limits::Limits;
use crate::server::tls::ServerTls;
use crate::server::watched_io::{ConnectionState, WatchedIo};

/// What a connection needs from its server.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) routes: http::Routes,
    pub(crate) tls: Option<ServerTls>,
    pub(crate) limits: Limits,
    pub(crate) shutdown: CancellationToken,
}

/// Serves one connection to its end; `permit` is its place under the connection cap.
pub(crate) async fn serve(stream: TcpStream, context: Context, permit: OwnedSemaphorePermit) {
    let _permit = permit;
    let io = WatchedIo::new(stream, context.limits.write_timeout);
    let state = io.state();
    match context.tls.as_ref().map(ServerTls::acceptor) {
        None => serve_http(TokioIo::new(io), state, context).await,
        // Boxed, so that a plain connection's task is not as large as a TLS one's.
        Some(acceptor) => Box::pin(serve_tls(io, acceptor, state, context)).await,
    }
}

/// A TLS connection: the handshake (bounded in time), then HTTP over it.
async fn serve_tls(
    io: WatchedIo,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<ConnectionState>,
    context: Context,
) {
    let timeout = context.limits.tls_handshake_timeout;
    let handshake = tokio::select! {
        () = context.shutdown.cancelled() => return,
        h = tokio::time::timeout(timeout, acceptor.accept(io)) => h,
    };
    match handshake {
        Ok(Ok(tls)) => serve_http(TokioIo::new(tls), state, context).await,
        Ok(Err(error)) => tracing::info!(%error, "TLS handshake failed"),
        Err(_) => {
            tracing::info!(?timeout, "TLS handshake not completed in time; closing");
        }
    }
}

async fn serve_http<I>(io: TokioIo<I>, state: Arc<ConnectionState>, context: Context)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let routes = context.routes.clone();
    let service_state = Arc::clone(&state);
    let service = service_fn(move |request| {
        let routes = routes.clone();
        let connection = Arc::clone(&service_state);
        // Boxed: hyper keeps the slot of its service future for the connection's whole life,
        // so only a pointer stays behind once the response has been made.
        let answer = Box::pin(http::handle(routes, connection, request));
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .title_case_headers(true)
        .keep_alive(true)
        .max_buf_size(context.limits.connection_buffer)
        .timer(TokioTimer::new())
        .header_read_timeout(context.limits.header_read_timeout);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        why = state.peer_gone() => {
            tracing::debug!(why, "closing an event stream whose peer went away");
            return;
        }
        // An event stream's connection serves nothing after it: write the terminating chunk,
        // then close, as the BBS does. What is still buffered gets one write timeout in all, so
        // that a peer reading a trickle cannot stretch the end out.
        () = state.stream_ended() => {
            connection.as_mut().graceful_shutdown();
            let drain = context.limits.write_timeout;
            match tokio::time::timeout(drain, connection.as_mut()).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::info!(?drain, "closing a stream whose peer did not take its end in time");
                    return;
                }
            }
        }
        () = context.shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Turns away a connection beyond the cap: plain HTTP peers get a 503, TLS peers (whose handshake
/// is what the cap saves) are closed. Never waits.
pub(crate) fn refuse(stream: TcpStream, tls: bool) {
    if tls {
        return;
    }
    // Reading what already arrived lets the close send FIN rather than reset, so the peer sees
    // the answer.
    let mut scratch = [0u8; 4096];
    for _ in 0..4 {
        match stream.try_read(&mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let _ = stream.try_write(OVERLOADED);
}

/// The answer to a connection beyond the cap.
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 53\r\n\
Connection: close\r\n\
Retry-After: 1\r\n\r\n\
too many connections to this server; try again later\n";

#[cfg(test)]
mod tests {
    #[test]
    fn the_overload_answer_has_the_right_length() {
        let text = std::str::from_utf8(super::OVERLOADED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
