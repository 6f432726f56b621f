//! Installs (once, with npm) and runs a throw-away Azurite blob emulator on loopback.
//!
//! The emulator is in-memory and bound to 127.0.0.1 on a free port. [`Azurite`] stops it
//! when dropped, so an early `?` return never leaves it running.

use std::fs;
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The Azurite release the project is tested with (override with `AZURITE_VERSION`).
const DEFAULT_VERSION: &str = "3.37.0";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Azurite blob service, stopped on drop.
pub(crate) struct Azurite {
    child: Child,
    port: u16,
    bin: PathBuf,
    log: PathBuf,
}

impl Azurite {
    /// Installs Azurite if needed and starts it on a free loopback port.
    pub(crate) fn start(root: &Path) -> Result<Azurite> {
        let bin = install(root)?;
        let logs = root.join("target").join("azurite-logs");
        fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        // A free port can be taken by someone else before Azurite binds it: try again then.
        let mut last_err = None;
        for _ in 0..3 {
            let port = testkit::free_port().context("finding a free port")?;
            match spawn(&bin, port, &logs) {
                Ok(azurite) => return Ok(azurite),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.expect("three attempts were made"))
    }

    /// The connection string of the running emulator.
    pub(crate) fn connection_string(&self) -> String {
        testkit::connection_string(&testkit::endpoint(self.port))
    }

    /// The environment that tests, benches and the demo read to find the emulator.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_CONNECTION_STRING", self.connection_string()),
            (testkit::BIN_ENV, self.bin.display().to_string()),
            ("FLOWGATE_AZURITE_PORT", self.port.to_string()),
        ]
    }

    /// Applies [`Azurite::env`] to a command.
    pub(crate) fn configure(&self, cmd: &mut Command) {
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!(
            "xtask: stopped Azurite on port {} (log: {})",
            self.port,
            self.log.display()
        );
    }
}

fn spawn(bin: &Path, port: u16, logs: &Path) -> Result<Azurite> {
    let log = logs.join(format!("blob-{port}.log"));
    let out = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    // The same arguments as the tests' private emulators: loopback, in memory, quiet.
    let child = Command::new(bin)
        .args(testkit::args(port))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut azurite = Azurite {
        child,
        port,
        bin: bin.to_owned(),
        log,
    };
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = azurite.child.try_wait()? {
            let tail = fs::read_to_string(&azurite.log).unwrap_or_default();
            bail!("azurite-blob exited with {status} on port {port}:\n{tail}");
        }
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            eprintln!("xtask: Azurite blob service listening on 127.0.0.1:{port}");
            return Ok(azurite);
        }
        if Instant::now() >= deadline {
            bail!(
                "azurite-blob was not ready on port {port} after {} s (log: {})",
                READY_TIMEOUT.as_secs(),
                azurite.log.display()
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Where Azurite is installed: `FLOWGATE_AZURITE_HOME`, else the user's cache, else target/.
fn install_home(root: &Path) -> PathBuf {
    if let Some(home) = std::env::var_os("FLOWGATE_AZURITE_HOME") {
        return PathBuf::from(home);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    match cache {
        Some(dir) => dir.join("flowgate").join("azurite"),
        None => root.join("target").join("azurite"),
    }
}

/// Installs Azurite with npm unless it is already there; returns the `azurite-blob` path.
pub(crate) fn install(root: &Path) -> Result<PathBuf> {
    let version = std::env::var("AZURITE_VERSION").unwrap_or_else(|_| DEFAULT_VERSION.to_owned());
    let home = install_home(root);
    let dir = home.join(&version);
    let bin = dir.join("node_modules").join(".bin").join("azurite-blob");
    if bin.exists() {
        return Ok(bin);
    }
    for tool in ["node", "npm"] {
        if Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            bail!(
                "`{tool}` was not found on PATH. The Azure tests and `--limiter azure` run the \
                 Azurite storage emulator, which needs Node.js and npm: install Node.js 18 or newer \
                 (it includes npm), then run the command again."
            );
        }
    }
    fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    eprintln!(
        "xtask: installing azurite@{version} with npm into {} (once)",
        dir.display()
    );
    // Install into a private directory and rename it into place, so that parallel runs
    // never see a half-finished install.
    let tmp = home.join(format!(".install-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let status = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(&tmp)
        .args([
            "--no-audit",
            "--no-fund",
            "--update-notifier=false",
            "--loglevel=error",
        ])
        .arg(format!("azurite@{version}"))
        .stdout(Stdio::null())
        .status()
        .context("running npm")?;
    if !status.success() {
        let _ = fs::remove_dir_all(&tmp);
        bail!("`npm install azurite@{version}` failed ({status}); see the npm output above");
    }
    if fs::rename(&tmp, &dir).is_err() {
        // Another run installed it first; use theirs.
        let _ = fs::remove_dir_all(&tmp);
    }
    if !bin.exists() {
        bail!("npm finished but {} is missing", bin.display());
    }
    Ok(bin)
}
