//! `bbs-events tail`.

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use bbs_events::client::{Client, ReceivedEvent, Route, StreamItem, SubscriptionError};
use bbs_events::models::Version;
use events_core::SourceError as _;

use crate::signal::Signals;

/// Arguments of `tail`.
#[derive(Debug, clap::Args)]
pub(crate) struct TailArgs {
    /// The BBS URL, e.g. https://bbs.service.cf.internal:8889.
    #[arg(long)]
    url: String,
    /// The event route.
    #[arg(long, value_enum, default_value_t = RouteArg::Events)]
    route: RouteArg,
    /// Only actual-LRP events of this cell (events and instances routes).
    #[arg(long, default_value = "")]
    cell_id: String,
    /// CA bundle (PEM) to verify the server.
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, requires = "cert")]
    key: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Exit after this many events.
    #[arg(long)]
    count: Option<u64>,
    /// How long to wait for the response headers of each (re)connection, e.g. 30s, 500ms, 2m.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    response_timeout: Duration,
    /// Give up after this many failed (re)connection attempts in a row (default: never).
    #[arg(long)]
    max_reconnects: Option<u32>,
    /// Subscribe on the routes without `.r1` (desired LRPs and tasks downgraded to V0).
    #[arg(long)]
    v0: bool,
}

/// A duration such as `30s`, `500ms`, `2m` or `1h` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 30s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?}: use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RouteArg {
    Events,
    Instances,
    Tasks,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// `{"id":N,"type":"<wire name>","event":{...}}` (proto3 JSON with .proto field names).
    Json,
    /// `<wire name><TAB><base64 of the re-encoded event>`.
    Wire,
}

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
}

pub(crate) async fn run(args: TailArgs) -> Result<(), String> {
    let mut builder = Client::builder(&args.url).response_timeout(args.response_timeout);
    if let Some(max) = args.max_reconnects {
        builder = builder.max_reconnect_attempts(max);
    }
    if args.v0 {
        builder = builder.model_version(Version::V0);
    }
    if let Some(ca) = &args.ca {
        builder = builder.ca_pem(read(ca, "CA")?);
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        builder = builder.identity_pem(read(cert, "certificate")?, read(key, "key")?);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let route = match args.route {
        RouteArg::Events => Route::Events,
        RouteArg::Instances => Route::Instances,
        RouteArg::Tasks => Route::Tasks,
    };
    if args.count == Some(0) {
        return Ok(());
    }
    // SIGTERM (docker, Kubernetes, systemd) and SIGINT end tail cleanly, after the line being
    // written, even while it is still connecting.
    let mut signals = Signals::install()?;
    let mut subscription = tokio::select! {
        subscription = client.subscribe(route, &args.cell_id) => {
            subscription.map_err(|e| e.to_string())?
        }
        _ = signals.recv() => return Ok(()),
    };
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    loop {
        let next = tokio::select! {
            next = subscription.next() => next,
            _ = signals.recv() => return Ok(()),
        };
        match next {
            Ok(StreamItem::Resync(resync)) => say!(
                "events_may_have_been_missed: the event stream reconnected after {} attempt(s) \
                 from last event id {:?}; events may have been missed",
                resync.attempts,
                resync.last_event_id
            ),
            Ok(StreamItem::Event(received)) => {
                let line = format_line(&received, args.format)?;
                let mut out = stdout.lock();
                match writeln!(out, "{line}").and_then(|()| out.flush()) {
                    Ok(()) => {}
                    // The reader went away (`tail | head`): a clean end, as for other tools.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    Err(e) => return Err(format!("cannot write to stdout: {e}")),
                }
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(SubscriptionError::EndOfStream) => return Ok(()),
            Err(e) if e.is_terminal() => return Err(e.to_string()),
            Err(e) => say!("{}: {e}", e.kind_name()),
        }
    }
}

fn format_line(received: &ReceivedEvent, format: Format) -> Result<String, String> {
    let event_type = received.event.event_type();
    match format {
        Format::Wire => {
            let b64 =
                base64::engine::general_purpose::STANDARD.encode(received.event.encode_to_vec());
            Ok(format!("{event_type}\t{b64}"))
        }
        Format::Json => {
            let id = match received.id.as_deref().map(str::parse::<u64>) {
                Some(Ok(n)) => serde_json::Value::from(n),
                Some(Err(_)) => serde_json::Value::from(received.id.clone()),
                None => serde_json::Value::Null,
            };
            let event = serde_json::to_string(&received.event)
                .map_err(|e| format!("cannot render {event_type} as JSON: {e}"))?;
            Ok(format!(
                "{{\"id\":{id},\"type\":\"{event_type}\",\"event\":{event}}}"
            ))
        }
    }
}
