//! `bbs-events tail`.

use std::io::Write as _;

use base64::Engine as _;
use bbs_events::client::{Client, ReceivedEvent, Route, SubscriptionError};
use events_core::SourceError as _;

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
    let mut builder = Client::builder(&args.url);
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
    let mut subscription = client
        .subscribe(route, &args.cell_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    loop {
        let next = tokio::select! {
            next = subscription.next() => next,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match next {
            Ok(received) => {
                let line = format_line(&received, args.format)?;
                let mut out = stdout.lock();
                writeln!(out, "{line}")
                    .and_then(|()| out.flush())
                    .map_err(|e| format!("cannot write to stdout: {e}"))?;
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    return Ok(());
                }
            }
            Err(SubscriptionError::EndOfStream) => return Ok(()),
            Err(e) if e.is_terminal() => return Err(e.to_string()),
            Err(e) => eprintln!("{}: {e}", e.kind_name()),
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
