//! One instance of a shared capacity, reporting its capacity: an instance for fault tests
//! and demos that need instances in separate processes.
//!
//! `AZURE_STORAGE_CONNECTION_STRING=... cargo run -p limiter-azure --example instance --
//! <container> [seed]` provisions a shared capacity of 10,000 in partitions of 1,000 in
//! `<container>`, wants all of it, and prints `sample <unix µs> <capacity>` every 10 ms
//! until its standard input closes; then it stops (giving its leases back) and exits.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use limiter_azure::events_core::RateLimiter;
use limiter_azure::{AzureSharedResource, Credentials};
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let container = args.next().context("usage: instance <container> [seed]")?;
    let seed: u64 = args.next().map_or(Ok(1), |s| s.parse())?;
    let connection = std::env::var("AZURE_STORAGE_CONNECTION_STRING")
        .context("AZURE_STORAGE_CONNECTION_STRING is not set")?;
    let limiter = AzureSharedResource::builder()
        .credentials(Credentials::ConnectionString(connection))
        .container(container)
        .storage_retries(0)
        .shared_capacity(10_000)
        .factor(1_000)
        .seed(seed)
        .build()?;
    limiter.provision().await?;
    limiter.start().await?;
    limiter.give_me(u32::MAX);

    // Runs until the standard input closes.
    let mut stdin = tokio::io::stdin();
    let mut closed = Box::pin(async move {
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut out = std::io::stdout().lock();
    loop {
        tokio::select! {
            () = &mut closed => break,
            _ = tick.tick() => {
                let micros = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros();
                writeln!(out, "sample {micros} {}", limiter.capacity())?;
                out.flush()?;
            }
        }
    }
    drop(out);
    limiter.stop().await?;
    Ok(())
}
