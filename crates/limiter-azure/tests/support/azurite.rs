//! Access to Azurite: the instance `cargo xtask test` starts (through
//! `AZURE_STORAGE_CONNECTION_STRING`) or a private one started from `FLOWGATE_AZURITE_BIN`.

use std::io::Write;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use limiter_azure::{AzureSharedResource, AzureSharedResourceBuilder, Credentials};
use tokio::process::{Child, Command};

/// The published, well-known key of the emulator account (not a secret).
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn missing(what: &str) -> Option<String> {
    if std::env::var_os("FLOWGATE_REQUIRE_AZURITE").is_some_and(|v| v == "1") {
        panic!("{what} is not set but FLOWGATE_REQUIRE_AZURITE=1: Azurite is required");
    }
    // Straight to the stderr stream, past the test harness's output capture, so that the
    // skip is seen in a normal `cargo test` run.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: no Azurite (run via `cargo xtask test`); {what} is not set ***\n"
    );
    None
}

/// The connection string of the shared emulator, or `None` (after a loud message) when
/// the test should be skipped.
pub fn connection_string() -> Option<String> {
    match std::env::var("AZURE_STORAGE_CONNECTION_STRING") {
        Ok(s) if !s.is_empty() => Some(s),
        _ => missing("AZURE_STORAGE_CONNECTION_STRING"),
    }
}

/// The `azurite-blob` executable, or `None` (after a loud message).
pub fn azurite_bin() -> Option<String> {
    match std::env::var("FLOWGATE_AZURITE_BIN") {
        Ok(s) if !s.is_empty() => Some(s),
        _ => missing("FLOWGATE_AZURITE_BIN"),
    }
}

/// A container name no other test uses.
pub fn unique_container(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A builder for a limiter on `container`, without SDK retries.
pub fn builder(connection: &str, container: &str) -> AzureSharedResourceBuilder {
    AzureSharedResource::builder()
        .credentials(Credentials::ConnectionString(connection.to_owned()))
        .container(container)
        .storage_retries(0)
}

/// A private Azurite that a test may kill and restart on the same port.
#[derive(Debug)]
pub struct PrivateAzurite {
    bin: String,
    port: u16,
    child: Option<Child>,
}

impl PrivateAzurite {
    /// Starts one on a free loopback port and waits until it accepts connections.
    pub async fn start(bin: String) -> PrivateAzurite {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut me = PrivateAzurite {
            bin,
            port,
            child: None,
        };
        me.restart().await;
        me
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1", self.port)
    }

    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};BlobEndpoint={};",
            self.endpoint()
        )
    }

    /// Kills the process and waits until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it (again) on the same port, in memory, and waits until it is ready.
    pub async fn restart(&mut self) {
        self.kill().await;
        let child = Command::new(&self.bin)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &self.port.to_string(),
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("FLOWGATE_AZURITE_BIN could not be started");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "azurite-blob did not listen on port {} within 30 s",
                self.port
            );
            // Polling a port has no event to wait on; retry shortly.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
