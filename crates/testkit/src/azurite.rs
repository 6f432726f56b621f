//! [`Azurite`]: a private Azurite blob service that a test may kill, restart, pause and
//! resume, and the facts every user of the emulator needs (account, key, arguments).

use std::ffi::OsStr;
use std::io;
use std::net::{Ipv4Addr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

/// The published, well-known account of the Azure storage emulators.
pub const ACCOUNT: &str = "devstoreaccount1";

/// The published development key of [`ACCOUNT`]; it is not a secret.
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The environment variable naming the `azurite-blob` executable (`cargo xtask test` and
/// `cargo xtask azurite` set it).
pub const BIN_ENV: &str = "FLOWGATE_AZURITE_BIN";

/// How long Azurite may take to listen after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The arguments that run `azurite-blob` on loopback port `port`, in memory, quietly.
pub fn args(port: u16) -> Vec<String> {
    [
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        // In memory and no telemetry; --location cannot be combined with in-memory mode.
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

/// The blob endpoint of an emulator on loopback port `port`.
pub fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}/{ACCOUNT}")
}

/// The connection string of an emulator whose blob endpoint is `endpoint`.
pub fn connection_string(endpoint: &str) -> String {
    format!(
        "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={DEV_KEY};\
         BlobEndpoint={endpoint};"
    )
}

/// A free loopback port (free when asked; bind it soon).
///
/// # Errors
///
/// If no loopback port can be bound.
pub fn free_port() -> io::Result<u16> {
    Ok(StdListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The `azurite-blob` executable named by [`BIN_ENV`], if set.
pub fn bin_from_env() -> Option<PathBuf> {
    std::env::var_os(BIN_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Sends `signal` (such as `STOP`, `CONT` or `KILL`) to process `pid` with the system's
/// `kill` command.
///
/// # Errors
///
/// If `kill` could not run or failed (say, no such process).
pub fn signal(pid: u32, signal: &str) -> io::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill -{signal} {pid} failed ({status})"
        )))
    }
}

/// A private, in-memory Azurite blob service on a loopback port of its own. It is killed
/// when dropped.
#[derive(Debug)]
pub struct Azurite {
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Azurite {
    /// Starts `bin` (an `azurite-blob` executable) on a free loopback port and waits
    /// until it accepts connections.
    ///
    /// # Errors
    ///
    /// If it cannot be started or does not listen within a minute.
    pub async fn start(bin: impl AsRef<Path>) -> io::Result<Azurite> {
        let mut azurite = Azurite {
            bin: bin.as_ref().to_owned(),
            port: free_port()?,
            child: None,
        };
        azurite.restart().await?;
        Ok(azurite)
    }

    /// Its loopback port (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its blob endpoint.
    pub fn endpoint(&self) -> String {
        endpoint(self.port)
    }

    /// Its connection string (with the published development key).
    pub fn connection_string(&self) -> String {
        connection_string(&self.endpoint())
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Kills it (SIGKILL: no chance to clean up) and waits until it is gone; everything
    /// it kept in memory is lost.
    ///
    /// # Errors
    ///
    /// If the process could not be killed.
    pub async fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it (again, empty) on the same port and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// If it cannot be started or does not listen within a minute.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill().await?;
        let mut child = Command::new(&self.bin)
            .args(args(self.port).iter().map(OsStr::new))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "azurite-blob exited with {status} on port {}",
                    self.port
                )));
            }
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
                .await
                .is_ok()
            {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "azurite-blob did not listen on port {} within 60 s",
                        self.port
                    ),
                ));
            }
            // A port coming up has no event to wait on: poll it shortly.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process (SIGSTOP): connections are still accepted by the system but
    /// nothing is answered until [`resume`](Self::resume).
    ///
    /// # Errors
    ///
    /// If it is not running or the signal failed.
    pub fn pause(&self) -> io::Result<()> {
        signal(self.running()?, "STOP")
    }

    /// Lets a paused process go on (SIGCONT); it then answers what queued up meanwhile.
    ///
    /// # Errors
    ///
    /// If it is not running or the signal failed.
    pub fn resume(&self) -> io::Result<()> {
        signal(self.running()?, "CONT")
    }

    fn running(&self) -> io::Result<u32> {
        self.pid()
            .ok_or_else(|| io::Error::other("Azurite is not running"))
    }
}
