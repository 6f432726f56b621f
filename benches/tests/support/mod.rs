//! Access to the Azurite that `cargo xtask test` starts, for the cross-crate tests.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The emulator's connection string, or `None` (after a loud message) when the test should
/// be skipped; with `FLOWGATE_REQUIRE_AZURITE=1` a missing emulator is a failure.
pub fn connection_string() -> Option<String> {
    match std::env::var("AZURE_STORAGE_CONNECTION_STRING") {
        Ok(s) if !s.is_empty() => Some(s),
        _ => {
            if std::env::var_os("FLOWGATE_REQUIRE_AZURITE").is_some_and(|v| v == "1") {
                panic!("AZURE_STORAGE_CONNECTION_STRING is not set but FLOWGATE_REQUIRE_AZURITE=1");
            }
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: no Azurite (run via `cargo xtask test`); \
                 AZURE_STORAGE_CONNECTION_STRING is not set ***\n"
            );
            None
        }
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
