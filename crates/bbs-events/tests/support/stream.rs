//! Helpers for the stream tests: conformance data, a scripted raw HTTP server, and BBS chunk framing.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The response head of a real BBS event stream, before the chunks.
pub const BBS_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
Cache-Control: no-cache, no-store, must-revalidate\r\n\
Connection: keep-alive\r\n\
Content-Type: text/event-stream; charset=utf-8\r\n\
Date: Sun, 22 Nov 2026 10:00:00 GMT\r\n\
Transfer-Encoding: chunked\r\n\r\n";

/// The terminating chunk.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A conformance data file of this crate.
pub fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The JSON lines of a conformance data file.
pub fn json_lines(name: &str) -> Vec<serde_json::Value> {
    String::from_utf8(data(name))
        .expect("UTF-8 data file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

/// `bytes` as one chunk in the BBS framing (size, empty `;` extension, CRLF, bytes, CRLF).
pub fn bbs_chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x};\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

/// The SSE events of a stream, each chunked on its own.
pub fn chunk_events(sse: &[u8]) -> Vec<u8> {
    let text = sse;
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < text.len() {
        if text[i] == b'\n' && text[i + 1] == b'\n' {
            out.extend(bbs_chunk(&text[start..i + 2]));
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    if start < text.len() {
        out.extend(bbs_chunk(&text[start..]));
    }
    out
}

/// One accepted connection with its request head and body.
pub struct Conn {
    pub stream: TcpStream,
    pub head: String,
    pub body: Vec<u8>,
}

impl Conn {
    /// The value of a request header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    /// The request line, e.g. `GET /v1/events.r1 HTTP/1.1`.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    /// Writes to the client. A client that went away (a `tail` whose stdout closed exits
    /// after its first event) is no failure of the server: the write is dropped, so that one
    /// connection's broken pipe cannot end a server that later connections still need.
    pub async fn write(&mut self, bytes: &[u8]) {
        if self.stream.write_all(bytes).await.is_ok() {
            let _ = self.stream.flush().await;
        }
    }
}

/// A raw TCP server handing each accepted connection (after reading its request) to the test.
pub async fn raw_server() -> (SocketAddr, mpsc::UnboundedReceiver<Conn>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (head, body) = read_request(&mut stream).await;
                let _ = tx.send(Conn { stream, head, body });
            });
        }
    });
    (addr, rx)
}

async fn read_request(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = stream.read(&mut byte).await.unwrap_or(0);
        if n == 0 {
            return (String::from_utf8_lossy(&buf).into_owned(), Vec::new());
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut byte).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        body.extend_from_slice(&byte[..n]);
    }
    (head, body)
}

/// The event of a read, failing the test on an error or a resync notice.
pub fn event(
    read: Result<bbs_events::client::StreamItem, bbs_events::client::SubscriptionError>,
) -> bbs_events::client::ReceivedEvent {
    match read {
        Ok(bbs_events::client::StreamItem::Resync(r)) => panic!("expected an event, got {r:?}"),
        Ok(item) => item.into_event().expect("an event"),
        Err(e) => panic!("expected an event, got {e:?}"),
    }
}

/// Awaits `fut`, failing the test if it takes longer than `secs` seconds.
pub async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

/// Reads from `stream` until `pattern` appears in what was read, returning everything read.
pub async fn read_until(stream: &mut TcpStream, pattern: &[u8], into: &mut Vec<u8>) {
    let mut byte = [0u8; 4096];
    while !into.windows(pattern.len()).any(|w| w == pattern) {
        let n = stream.read(&mut byte).await.expect("read");
        assert!(
            n > 0,
            "connection closed before {:?}",
            String::from_utf8_lossy(pattern)
        );
        into.extend_from_slice(&byte[..n]);
    }
}
