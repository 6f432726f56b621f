//! The socket under each connection: a write-progress timeout, and a watch on the read half while
//! an event stream is open.
//!
//! hyper stops reading a connection while it streams a response, and once a peer's extra bytes sit
//! in its read buffer it does not even look for end of file, so a subscriber that pipelined a byte
//! and went away on a quiet route would hold its socket and hub subscriber forever. Once a stream
//! opens, hyper is given nothing more to read; the connection task reads (and discards) what the
//! peer sends instead, and ends the connection when the peer closes or resets it. Nothing after an
//! event stream's request is ever answered: the connection closes when the stream ends.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::time::Sleep;

/// The most a peer may send after an event stream's request before it is disconnected.
const MAX_DISCARDED: usize = 64 * 1024;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading requests and answering them.
    Requests,
    /// An event stream is open; the peer's further bytes are watched, not served.
    Streaming,
    /// The event stream ended; the connection closes once its last chunk is written.
    Ended,
}

/// The part of a connection shared by its socket wrapper, its task and its event stream.
#[derive(Debug)]
pub(crate) struct ConnectionState {
    read: Mutex<OwnedReadHalf>,
    phase: watch::Sender<Phase>,
}

impl ConnectionState {
    /// Marks the start of an event stream; from now on the peer's bytes are watched, not served.
    pub(crate) fn start_stream(&self) {
        self.phase.send_replace(Phase::Streaming);
    }

    /// Marks the end of the event stream.
    pub(crate) fn end_stream(&self) {
        self.phase.send_replace(Phase::Ended);
    }

    fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    fn lock_read(&self) -> MutexGuard<'_, OwnedReadHalf> {
        // Only the connection's own task reads; the lock is never contended.
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves when the event stream has ended.
    pub(crate) async fn stream_ended(&self) {
        let mut phase = self.phase.subscribe();
        // The sender lives in `self`, so the wait can only end by reaching the phase.
        let _ = phase.wait_for(|p| *p == Phase::Ended).await;
    }

    /// Resolves, with what happened, once the peer of an open event stream has gone away (closed
    /// or reset its connection) or sent more than a subscriber ever needs to.
    pub(crate) async fn peer_gone(&self) -> &'static str {
        let mut phase = self.phase.subscribe();
        if phase.wait_for(|p| *p != Phase::Requests).await.is_err() {
            return "connection state dropped";
        }
        let mut discarded = 0usize;
        loop {
            let read = std::future::poll_fn(|cx| {
                // On the stack of this poll only, not in the (long-lived) future: an idle
                // subscriber's connection should cost as little memory as possible.
                let mut scratch = [0u8; 1024];
                let mut half = self.lock_read();
                let mut buf = ReadBuf::new(&mut scratch);
                ready!(Pin::new(&mut *half).poll_read(cx, &mut buf))?;
                Poll::Ready(Ok::<_, io::Error>(buf.filled().len()))
            })
            .await;
            match read {
                Ok(0) => return "the peer closed its connection",
                Ok(n) => {
                    discarded += n;
                    if discarded > MAX_DISCARDED {
                        return "the peer sent more than 64 KiB after its event stream request";
                    }
                }
                Err(_) => return "the peer reset its connection",
            }
        }
    }
}

/// A TCP connection as hyper (or TLS) sees it.
#[derive(Debug)]
pub(crate) struct WatchedIo {
    state: Arc<ConnectionState>,
    write: OwnedWriteHalf,
    write_timeout: Duration,
    /// Armed while a write makes no progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WatchedIo {
    /// Wraps `stream`; a write that makes no progress for `write_timeout` fails and resets the
    /// connection (discarding what the peer never read).
    pub(crate) fn new(stream: TcpStream, write_timeout: Duration) -> WatchedIo {
        let (read, write) = stream.into_split();
        let (phase, _) = watch::channel(Phase::Requests);
        WatchedIo {
            state: Arc::new(ConnectionState {
                read: Mutex::new(read),
                phase,
            }),
            write,
            write_timeout,
            stalled: None,
        }
    }

    /// The state shared with the connection's task and its event stream.
    pub(crate) fn state(&self) -> Arc<ConnectionState> {
        Arc::clone(&self.state)
    }

    fn progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if written.is_ready() {
            self.stalled = None;
            return written;
        }
        let timeout = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        // A reset frees the kernel's send buffer at once instead of keeping it for a peer that
        // reads nothing.
        let _ = self.write.as_ref().set_zero_linger();
        tracing::info!(
            ?timeout,
            "disconnecting a peer that read nothing for the write timeout"
        );
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the peer read nothing for {timeout:?}"),
        )))
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.state.phase() != Phase::Requests {
            // The connection task watches the read half now; hyper waits on its response.
            return Poll::Pending;
        }
        let mut half = self.state.lock_read();
        Pin::new(&mut *half).poll_read(cx, buf)
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.write).poll_write(cx, buf);
        self.progress(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.write).poll_write_vectored(cx, bufs);
        self.progress(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.write.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.write).poll_flush(cx);
        self.progress(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.write).poll_shutdown(cx)
    }
}
