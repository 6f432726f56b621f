//! Access to Azurite: the instance `cargo xtask test` starts (through
//! `AZURE_STORAGE_CONNECTION_STRING`) or a private one ([`testkit::Azurite`]) started from
//! `FLOWGATE_AZURITE_BIN`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use limiter_azure::{AzureSharedResource, AzureSharedResourceBuilder, Credentials};

#[allow(unused_imports)]
pub use testkit::{Azurite, DEV_KEY};

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
pub fn azurite_bin() -> Option<PathBuf> {
    testkit::bin_from_env().or_else(|| missing(testkit::BIN_ENV).map(PathBuf::from))
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
