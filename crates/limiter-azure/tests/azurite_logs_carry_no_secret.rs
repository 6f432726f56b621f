//! Every tracing event at every level, from flowgate and from the storage SDK, through a
//! whole Azurite session (provision, start, acquire, renew, release, stop) with a shared
//! key and with a SAS token: none carries a signature, a key, a SAS `sig` or a
//! connection string, and the capture saw the storage traffic (it is not vacuous).
//! Skipped (loudly) without `AZURE_STORAGE_CONNECTION_STRING`.

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::auth::Secret;
use azure_core::hmac::hmac_sha256;
use events_core::{EventName, RateLimiter};
use limiter_azure::{AzureSharedResource, Credentials, EMULATOR_ACCOUNT};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use support::Recorder;
use support::azurite::{DEV_KEY, builder, connection_string, unique_container};

/// Collects every event and every span's fields as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let mut text = Text(format!("{} {}:", meta.level(), meta.target()));
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut text = Text(format!("span {}:", attrs.metadata().name()));
        attrs.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
}

/// The blob endpoint named by a connection string.
fn blob_endpoint(connection: &str) -> String {
    connection
        .split(';')
        .find_map(|kv| kv.strip_prefix("BlobEndpoint="))
        .expect("the connection string names a BlobEndpoint")
        .to_owned()
}

/// An account SAS (version 2018-11-09) for the blob service's containers and objects,
/// signed with the emulator key; it expires in 2099.
fn sas_token() -> String {
    let (permissions, expiry, version) = ("rwdlacu", "2099-01-01T00:00:00Z", "2018-11-09");
    let to_sign = format!("{EMULATOR_ACCOUNT}\n{permissions}\nb\nsco\n\n{expiry}\n\n\n{version}\n");
    let sig = hmac_sha256(&to_sign, &Secret::new(DEV_KEY.to_owned())).unwrap();
    let sig = sig
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!(
        "sv={version}&ss=b&srt=sco&se={}&sp={permissions}&sig={sig}",
        expiry.replace(':', "%3A")
    )
}

/// One whole session: provision, start, acquire, renew (leases of 15 s are renewed after
/// about 12 s), release and stop.
async fn session(limiter: AzureSharedResource) {
    let rec = Recorder::attach(limiter.emitter());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(2);
    assert!(
        rec.wait_for(Duration::from_secs(5), |_| limiter.capacity() == 2)
            .await,
        "no lease acquired: {:?}",
        rec.of(EventName::Error)
    );
    // Past the first renewal: still counted after the first lease term.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(limiter.capacity(), 2, "{:?}", rec.of(EventName::Error));
    limiter.stop().await.unwrap();
    assert_eq!(rec.count(EventName::Released), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_at_any_level_carries_a_secret() {
    let Some(connection) = connection_string() else {
        return;
    };
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(capture.clone())
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let sas = sas_token();
    let signature = sas
        .split('&')
        .find_map(|kv| kv.strip_prefix("sig="))
        .unwrap()
        .to_owned();
    let keyed = builder(&connection, &unique_container("secrets-key"))
        .shared_capacity(2)
        .build()
        .unwrap();
    // Containers are created through the SAS too (its resource types allow it).
    let signed = AzureSharedResource::builder()
        .account(EMULATOR_ACCOUNT)
        .credentials(Credentials::Sas(sas.clone()))
        .endpoint(blob_endpoint(&connection))
        .container(unique_container("secrets-sas"))
        .storage_retries(0)
        .shared_capacity(2)
        .build()
        .unwrap();
    tokio::join!(session(keyed), session(signed));

    let lines = capture.0.lock().unwrap().clone();
    let decoded_sig = signature
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let secrets = [
        ("a SharedKey signature", "SharedKey"),
        ("the account key", DEV_KEY),
        ("a SAS signature", "sig="),
        ("the SAS signature value", signature.as_str()),
        ("the decoded SAS signature", decoded_sig.as_str()),
        ("a connection string", "AccountKey="),
    ];
    for line in &lines {
        for (what, needle) in &secrets {
            assert!(!line.contains(needle), "{what} in a log line: {line}");
        }
    }
    // Not vacuous: the SDK's request logs were captured, with their headers redacted.
    let traffic = lines.iter().filter(|l| l.contains("comp=lease")).count();
    assert!(
        traffic >= 8,
        "only {traffic} of {} captured lines show lease requests",
        lines.len()
    );
    assert!(lines.iter().any(|l| l.contains("[redacted]")));
}
