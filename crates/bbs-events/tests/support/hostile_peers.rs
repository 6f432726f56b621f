//! Hostile and broken peers of the server, as raw sockets on loopback: a client that trickles its
//! headers or body, pipelines and goes away, never reads, or never sends a ClientHello; and a
//! running server whose subscriber count can be awaited.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bbs_events::Event;
use bbs_events::models::{Task, TaskCreatedEvent};
use bbs_events::server::{Hub, HubBuilder, Server, ServerBuilder, ServerTls};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A subscription to the (quiet) task route, with no body.
pub const TASKS_REQUEST: &[u8] =
    b"POST /v1/events/tasks.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n";

/// A running server on loopback.
pub struct Running {
    pub hub: Hub,
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    count: watch::Receiver<usize>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts a server of a fresh hub (configured by `hub`) with the options `configure` sets.
pub async fn start(
    hub: impl FnOnce(HubBuilder) -> HubBuilder,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> Running {
    let (tx, count) = watch::channel(0);
    let hub = hub(Hub::builder())
        .on_subscriber_count(move |n| {
            let _ = tx.send(n);
        })
        .build();
    let server = configure(Server::builder(hub.clone()))
        .bind("127.0.0.1:0")
        .await
        .expect("server binds");
    let addr = server.local_addr();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(async move { server.run(token).await.expect("server runs") });
    Running {
        hub,
        addr,
        shutdown,
        count,
        task,
    }
}

impl Running {
    /// Waits (at most `secs`) until the hub has exactly `n` subscribers.
    pub async fn wait_for_subscribers(&mut self, n: usize, secs: u64) {
        let what = format!("{n} hub subscribers (now {})", *self.count.borrow());
        within(secs, &what, self.count.wait_for(|c| *c == n))
            .await
            .expect("hub alive");
    }

    /// The current number of hub subscribers.
    pub fn subscribers(&self) -> usize {
        self.hub.subscriber_count()
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        within(20, "server stop", self.task).await.unwrap();
    }
}

/// Awaits `fut`, failing the test if it takes longer than `secs` seconds.
pub async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

/// Connects and sends `request` (and nothing else).
pub async fn send(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send request");
    stream
}

/// Reads until the response head is complete; returns it.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    within(5, "a response head", async {
        while !head.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.expect("read head");
            assert!(
                n > 0,
                "closed before the head: {:?}",
                String::from_utf8_lossy(&head)
            );
            head.push(byte[0]);
        }
    })
    .await;
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads until the server closes or resets the connection, within `secs`; returns what was read
/// and how long it took.
pub async fn read_to_close<S>(stream: &mut S, secs: u64) -> (Vec<u8>, Duration)
where
    S: tokio::io::AsyncRead + Unpin,
{
    let started = Instant::now();
    let mut all = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    within(secs, "the server to close the connection", async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (all, started.elapsed())
}

/// Reads until `needle` has arrived.
pub async fn read_until<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, needle: &str) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    within(5, needle, async {
        while !String::from_utf8_lossy(&all).contains(needle) {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before {needle:?}");
            all.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&all).into_owned()
}

/// Whether the connection stays open, with nothing to read, for `wait`.
pub async fn stays_open_and_quiet(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 256];
    tokio::time::timeout(wait, stream.read(&mut buf))
        .await
        .is_err()
}

/// A task-created event whose guid is `size` bytes long.
pub fn big_task(size: usize) -> Event {
    Event::TaskCreated(TaskCreatedEvent {
        task: Some(
            Task {
                task_guid: "t".repeat(size).into(),
                ..Task::default()
            }
            .into(),
        ),
    })
}

/// A self-signed certificate for `localhost`: the server's TLS configuration and a client
/// configuration that trusts it.
pub fn tls_pair() -> (ServerTls, Arc<rustls::ClientConfig>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let server = ServerTls::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), None)
        .expect("server TLS");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, Arc::new(client))
}
