//! Fault-test support for flowgate: a loopback TCP fault proxy and a private Azurite to
//! kill, restart, pause and resume.
//!
//! Tests of the promises that matter under faults need the faults to be real:
//!
//! * [`FaultProxy`] sits between a client and a loopback server and passes, delays,
//!   black-holes (reads and drops, answers nothing) or resets the traffic, switched at
//!   run time with [`FaultProxy::set`]; it holds at most [`MAX_CONNECTIONS`] connections
//!   and stops, closing them all, when dropped.
//! * [`Azurite`] runs a private in-memory Azurite blob service on a free loopback port
//!   and can kill it (SIGKILL, losing every blob and lease), restart it empty on the same
//!   port, and pause and resume it (SIGSTOP / SIGCONT); [`signal`] does the same to any
//!   process, such as a test's own helper binaries. The executable comes from
//!   `FLOWGATE_AZURITE_BIN` ([`bin_from_env`]), which `cargo xtask test` sets.
//!
//! Only loopback addresses are used. The crate depends on tokio alone (no flowgate crate)
//! so that any crate can take it as a dev-dependency. It has no feature flags.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use testkit::{Fault, FaultProxy};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // An echo server, and the proxy in front of it.
//! let server = TcpListener::bind("127.0.0.1:0").await?;
//! let upstream = server.local_addr()?;
//! tokio::spawn(async move {
//!     while let Ok((mut peer, _)) = server.accept().await {
//!         tokio::spawn(async move {
//!             let (mut r, mut w) = peer.split();
//!             let _ = tokio::io::copy(&mut r, &mut w).await;
//!         });
//!     }
//! });
//! let proxy = FaultProxy::start(upstream).await?;
//!
//! let mut client = TcpStream::connect(proxy.addr()).await?;
//! client.write_all(b"ping").await?;
//! let mut echo = [0u8; 4];
//! client.read_exact(&mut echo).await?;
//! assert_eq!(&echo, b"ping");
//!
//! // A network partition: the bytes go nowhere and nothing comes back.
//! proxy.set(Fault::BlackHole);
//! client.write_all(b"lost").await?;
//! let answer = tokio::time::timeout(Duration::from_millis(200), client.read(&mut echo)).await;
//! assert!(answer.is_err(), "a black hole answers nothing");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod azurite;
mod proxy;

#[doc(inline)]
pub use crate::azurite::{
    ACCOUNT, Azurite, BIN_ENV, DEV_KEY, args, bin_from_env, connection_string, endpoint, free_port,
    signal,
};
#[doc(inline)]
pub use crate::proxy::{Fault, FaultProxy, MAX_CONNECTIONS};
