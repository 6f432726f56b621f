//! [`FaultProxy`]: a loopback TCP proxy whose faults are switched at run time.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The most connections a proxy carries at once; more are refused (closed at once).
pub const MAX_CONNECTIONS: usize = 512;

/// The most bytes a proxy reads from one side before writing them to the other.
const CHUNK: usize = 16 * 1024;

/// What a [`FaultProxy`] does to the traffic, now and on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Forward everything as it comes.
    Pass,
    /// Forward every chunk this much later (in each direction).
    Delay(Duration),
    /// Accept connections and read everything, forward nothing and answer nothing: a
    /// network partition. Connections stay open.
    BlackHole,
    /// Reset every connection (TCP RST), the open ones at once and the new ones as they
    /// arrive.
    Reset,
}

/// A TCP proxy on a free loopback port in front of `upstream`, passing or faulting the
/// traffic as told by [`set`](Self::set). Dropping it stops it and closes every
/// connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (which must be a loopback address), in
    /// [`Fault::Pass`] mode.
    ///
    /// # Errors
    ///
    /// If `upstream` is not on loopback, or no loopback port could be bound.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the fault proxy only forwards to loopback, not to {upstream}"),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (fault, watch) = watch::channel(Fault::Pass);
        let task = tokio::spawn(accept(listener, upstream, watch));
        Ok(FaultProxy { addr, fault, task })
    }

    /// The loopback address to connect to instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches the fault; it applies to open connections too.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept task owns every connection task; aborting it drops them all.
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: SocketAddr, fault: watch::Receiver<Fault>) {
    let mut connections = JoinSet::new();
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of descriptors, say: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            drop(client);
            continue;
        }
        connections.spawn(carry(client, upstream, fault.clone()));
    }
}

/// Carries one connection until both sides closed it, or resets it.
async fn carry(mut client: TcpStream, upstream: SocketAddr, fault: watch::Receiver<Fault>) {
    if *fault.borrow() == Fault::Reset {
        return reset(&client, None);
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return reset(&client, None);
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let (up, down) = tokio::join!(
        pump(&mut client_read, &mut server_write, fault.clone()),
        pump(&mut server_read, &mut client_write, fault.clone()),
    );
    if up.is_err() || down.is_err() || *fault.borrow() == Fault::Reset {
        reset(&client, Some(&server));
    }
}

/// Closes with a TCP RST instead of a FIN.
fn reset(client: &TcpStream, server: Option<&TcpStream>) {
    let _ = client.set_zero_linger();
    if let Some(server) = server {
        let _ = server.set_zero_linger();
    }
}

/// Copies one direction, applying the fault in force to every chunk; ends at end of
/// stream (passing it on) or with an error when the connection is to be reset.
async fn pump(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    mut fault: watch::Receiver<Fault>,
) -> io::Result<()> {
    let resetting = || io::Error::new(io::ErrorKind::ConnectionReset, "fault proxy reset");
    let mut buf = vec![0u8; CHUNK];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read?,
            changed = fault.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                if *fault.borrow() == Fault::Reset {
                    return Err(resetting());
                }
                continue;
            }
        };
        if read == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        let now = *fault.borrow();
        match now {
            Fault::Pass => to.write_all(&buf[..read]).await?,
            Fault::Delay(by) => {
                tokio::time::sleep(by).await;
                to.write_all(&buf[..read]).await?;
            }
            Fault::BlackHole => {}
            Fault::Reset => return Err(resetting()),
        }
    }
}
