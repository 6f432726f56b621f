//! `bbs-events serve`.

use std::time::Duration;

use base64::Engine as _;
use bbs_events::server::{self, Hub, Server, ServerTls};
use bbs_events::{Event, EventType};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::duration::HumanDuration;
use crate::signal::Signals;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on, e.g. 127.0.0.1:8889 (port 0 picks a free one).
    #[arg(long)]
    listen: String,
    /// A file of `<wire name><TAB><base64>` lines sent, in order, to every new subscription.
    #[arg(long)]
    replay: Option<std::path::PathBuf>,
    /// Emit a synthetic LRP lifecycle stream at this many events per second.
    #[arg(long)]
    synthetic: Option<f64>,
    /// Server certificate (PEM) for HTTPS.
    #[arg(long, requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// Server private key (PEM) for HTTPS.
    #[arg(long, requires = "cert")]
    key: Option<std::path::PathBuf>,
    /// Require client certificates signed by this CA (PEM).
    #[arg(long, requires = "cert")]
    client_ca: Option<std::path::PathBuf>,
    /// How long a peer may take to send a request's headers.
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(server::DEFAULT_HEADER_READ_TIMEOUT))]
    header_read_timeout: HumanDuration,
    /// How long a TLS peer may take to complete its handshake.
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(server::DEFAULT_TLS_HANDSHAKE_TIMEOUT))]
    tls_handshake_timeout: HumanDuration,
    /// How long a peer may take to send a request body (then 408).
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(server::DEFAULT_REQUEST_BODY_TIMEOUT))]
    request_body_timeout: HumanDuration,
    /// How long a write may make no progress before a subscriber that does not read is disconnected
    /// (idle subscribers are never affected).
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(server::DEFAULT_WRITE_TIMEOUT))]
    write_timeout: HumanDuration,
    /// The most connections served at once (beyond: 503, or close for TLS).
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// The most event streams open at once (beyond: 503).
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_SUBSCRIBERS)]
    max_subscribers: usize,
    /// The most a connection buffers, in bytes: bounds a request head (beyond: 431) and what a
    /// subscriber that stops reading holds.
    #[arg(long, value_name = "BYTES", default_value_t = server::DEFAULT_CONNECTION_BUFFER)]
    connection_buffer: usize,
    /// How many connections the kernel queues before the server accepts them.
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_LISTEN_BACKLOG)]
    listen_backlog: u32,
    /// How long SIGTERM or SIGINT waits for streams to write their terminating chunk.
    #[arg(long, value_name = "DURATION", default_value_t = HumanDuration(server::SHUTDOWN_GRACE))]
    shutdown_grace: HumanDuration,
}

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
}

/// Parses a replay file: one `<wire name><TAB><base64>` per line; blank lines are skipped.
pub(crate) fn parse_replay(text: &str, file: &str) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let n = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, b64)) = line.split_once('\t') else {
            return Err(format!(
                "{file}:{n}: expected `<event name><TAB><base64>`, found no TAB"
            ));
        };
        let event_type = EventType::from_wire(name).ok_or_else(|| {
            format!("{file}:{n}: unknown event name {name:?}; use a BBS wire name such as desired_lrp_created")
        })?;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("{file}:{n}: invalid standard base64: {e}"))?;
        let event = Event::decode(event_type, &payload).map_err(|e| format!("{file}:{n}: {e}"))?;
        events.push(event);
    }
    Ok(events)
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), String> {
    let preload = match &args.replay {
        Some(path) => {
            let text = String::from_utf8(read(path, "replay")?)
                .map_err(|e| format!("{}: not UTF-8: {e}", path.display()))?;
            parse_replay(&text, &path.display().to_string())?
        }
        None => Vec::new(),
    };
    if let Some(rate) = args.synthetic {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!(
                "--synthetic {rate}: give a positive number of events per second"
            ));
        }
    }
    let hub = Hub::new();
    let mut builder = Server::builder(hub.clone())
        .preload(preload)
        .header_read_timeout(args.header_read_timeout.0)
        .tls_handshake_timeout(args.tls_handshake_timeout.0)
        .request_body_timeout(args.request_body_timeout.0)
        .write_timeout(args.write_timeout.0)
        .max_connections(args.max_connections)
        .max_subscribers(args.max_subscribers)
        .connection_buffer(args.connection_buffer)
        .listen_backlog(args.listen_backlog)
        .shutdown_grace(args.shutdown_grace.0);
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let client_ca = args
            .client_ca
            .as_deref()
            .map(|p| read(p, "client CA"))
            .transpose()?;
        let tls = ServerTls::from_pem(
            &read(cert, "certificate")?,
            &read(key, "key")?,
            client_ca.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        builder = builder.tls(tls);
    }
    // Installed before the address is printed, so that a signal sent as soon as serve is up
    // shuts it down gracefully.
    let mut signals = Signals::install()?;
    let server = builder.bind(&args.listen).await.map_err(|e| match e {
        server::ServerError::InvalidOption { option, .. } => {
            format!("--{}: {e}", option.replace('_', "-"))
        }
        e => e.to_string(),
    })?;
    say!("listening on {}", server.local_addr());
    let shutdown = CancellationToken::new();
    if let Some(rate) = args.synthetic {
        let hub = hub.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(
            async move {
                let mut generator = bbs_events::synthetic::SyntheticEvents::new(7);
                // Timers tick at most every millisecond, so each tick emits what is due by then.
                let period = Duration::from_secs_f64((1.0 / rate).max(0.001));
                let mut ticker = tokio::time::interval(period);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let start = tokio::time::Instant::now();
                let mut sent: u64 = 0;
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        _ = ticker.tick() => {}
                    }
                    let due = (start.elapsed().as_secs_f64() * rate) as u64;
                    // After a stall, skip ahead rather than bursting more than a second's worth.
                    sent = sent.max(due.saturating_sub(rate.ceil() as u64));
                    while sent < due {
                        if hub.emit(generator.next_event()).is_err() {
                            return;
                        }
                        sent += 1;
                    }
                }
            }
            .in_current_span(),
        );
    }
    let signal = shutdown.clone();
    let grace = args.shutdown_grace;
    tokio::spawn(async move {
        let name = signals.recv().await;
        say!("{name} received; ending every stream (waiting at most {grace})");
        signal.cancel();
    });
    let result = server.run(shutdown).await.map_err(|e| e.to_string());
    hub.close();
    result
}
