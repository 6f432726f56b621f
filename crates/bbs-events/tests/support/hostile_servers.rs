//! Hostile BBS servers on loopback sockets: one that sends `retry: 0` then 503s, one that replays
//! from `Last-Event-ID` but cuts connections mid-event, redirects (plain and from https to http),
//! an HTML 200, and one that accepts and never answers. Each counts the requests it saw.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use bbs_events::Event;
use bbs_events::models::{Task, TaskRemovedEvent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::support::{self, BBS_HEAD, LAST_CHUNK, bbs_chunk};

/// A running hostile server.
pub struct Hostile {
    pub addr: SocketAddr,
    /// How many requests it answered (or held).
    pub requests: Arc<AtomicUsize>,
    /// When each request arrived.
    pub arrivals: Arc<Mutex<Vec<Instant>>>,
    /// The `Last-Event-ID` of each request, if it had one.
    pub last_event_ids: Arc<Mutex<Vec<Option<String>>>>,
    /// The request line and body of each request.
    pub requests_seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The request line and body of one request.
pub type Seen = (String, Vec<u8>);

/// What a hostile server does with the request number `n` (from 0).
#[derive(Clone)]
pub enum Behaviour {
    /// Request 0: a stream with `retry: 0` and one event, then an abrupt drop; then 503 for ever.
    RetryZeroThen503,
    /// Replays `events` after the request's `Last-Event-ID`; the first `cuts` connections send
    /// `per_connection` events and then half of the next one before dropping.
    ReplayAndCut {
        events: usize,
        cuts: usize,
        per_connection: usize,
    },
    /// Answers with this status and `Location`.
    Redirect { status: u16, location: String },
    /// A 200 with an HTML page.
    Html,
    /// Reads the request and never answers.
    NeverAnswer,
}

/// The SSE bytes of task event number `id` (a `task_removed` whose guid is `task-<id>`).
pub fn task_event(id: usize) -> Vec<u8> {
    let event = Event::TaskRemoved(TaskRemovedEvent {
        task: Some(Box::new(Task {
            task_guid: format!("task-{id}").into(),
            ..Task::default()
        })),
    });
    let b64 = base64::engine::general_purpose::STANDARD.encode(event.encode_to_vec());
    format!("id: {id}\nevent: task_removed\ndata: {b64}\n\n").into_bytes()
}

/// Starts a hostile server on loopback.
pub async fn start(behaviour: Behaviour) -> Hostile {
    let (addr, mut conns) = support::raw_server().await;
    let requests = Arc::new(AtomicUsize::new(0));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let last_event_ids = Arc::new(Mutex::new(Vec::new()));
    let requests_seen = Arc::new(Mutex::new(Vec::new()));
    let hostile = Hostile {
        addr,
        requests: Arc::clone(&requests),
        arrivals: Arc::clone(&arrivals),
        last_event_ids: Arc::clone(&last_event_ids),
        requests_seen: Arc::clone(&requests_seen),
    };
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(mut conn) = conns.recv().await {
            let n = requests.fetch_add(1, Ordering::SeqCst);
            arrivals.lock().await.push(Instant::now());
            let last = conn.header("last-event-id");
            last_event_ids.lock().await.push(last.clone());
            requests_seen
                .lock()
                .await
                .push((conn.request_line().to_owned(), conn.body.clone()));
            match &behaviour {
                Behaviour::RetryZeroThen503 if n == 0 => {
                    conn.write(BBS_HEAD).await;
                    conn.write(&bbs_chunk(b"retry: 0\n\n")).await;
                    conn.write(&bbs_chunk(&task_event(0))).await;
                    // Dropped without the terminating chunk.
                }
                Behaviour::RetryZeroThen503 => {
                    conn.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                        .await;
                }
                Behaviour::ReplayAndCut {
                    events,
                    cuts,
                    per_connection,
                } => {
                    let from = last
                        .and_then(|id| id.parse::<usize>().ok())
                        .map_or(0, |id| id + 1);
                    conn.write(BBS_HEAD).await;
                    if n < *cuts {
                        let end = (from + per_connection).min(*events);
                        for id in from..end {
                            conn.write(&bbs_chunk(&task_event(id))).await;
                        }
                        if end < *events {
                            // The next event's id and half of its data, then an abrupt drop.
                            let next = task_event(end);
                            conn.write(&bbs_chunk(&next[..next.len() / 2])).await;
                        }
                    } else {
                        for id in from..*events {
                            conn.write(&bbs_chunk(&task_event(id))).await;
                        }
                        conn.write(LAST_CHUNK).await;
                        held.push(conn);
                    }
                }
                Behaviour::Redirect { status, location } => {
                    conn.write(
                        format!(
                            "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
                    held.push(conn);
                }
                Behaviour::Html => {
                    let page = b"<html><body>Welcome to the login portal</body></html>";
                    conn.write(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
                            page.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                    conn.write(page).await;
                    held.push(conn);
                }
                Behaviour::NeverAnswer => held.push(conn),
            }
        }
    });
    hostile
}

/// An HTTPS server with a self-signed certificate for `localhost` that answers every request
/// with a 307 to `location`; returns its port and the certificate (PEM) to trust.
pub async fn https_redirect(location: String) -> (u16, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let location = location.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut byte = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut byte).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&byte[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.flush().await;
                // Held open until the client goes.
                let _ = tls.read(&mut byte).await;
            });
        }
    });
    (port, cert_pem)
}
