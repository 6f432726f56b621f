//! A transport for the storage SDK that keeps every secret out of the logs.
//!
//! azure_core 0.21 logs each request's `Debug` form at debug (its transport policy) and
//! trace (its retry policy), and that form prints the `Authorization` header in full
//! (`SharedKey <account>:<signature>`: its header redaction is inverted); its reqwest
//! client also logs the URL, SAS `sig` included. A log filter cannot fix that from inside
//! a library, so the pipeline gets two policies of ours. [`StashSecrets`], the last
//! policy before the transport, moves the `Authorization` header and the SAS query
//! parameters out of the request into the call's context (the request then shows
//! `[redacted]`), and [`QuietTransport`], which replaces the SDK's HTTP client, puts them
//! back into a request that only it sees and sends it with reqwest, logging nothing.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::headers::{AUTHORIZATION, HeaderName, HeaderValue, Headers};
use azure_core::{Body, Context, Policy, PolicyResult, Request, Response, StatusCode};
use futures::TryStreamExt;

/// What a stashed header shows in the SDK's logs.
const REDACTED: &str = "[redacted]";

/// The query parameters of a shared access signature (the signature `sig` and the fields
/// it signs); none of them is used by the blob operations themselves.
const SAS_KEYS: &[&str] = &[
    "sv", "ss", "srt", "sp", "se", "st", "spr", "sig", "sr", "si", "sip", "sdd", "ses", "skoid",
    "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid",
];

/// The secrets of one request, kept in its context between the two policies.
struct Secrets {
    authorization: Option<String>,
    query: Vec<(String, String)>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

/// Moves the request's secrets into its context; must be the last per-retry policy, after
/// the SDK's authorization policy (which adds them again on a retry).
#[derive(Debug)]
pub(crate) struct StashSecrets;

#[async_trait::async_trait]
impl Policy for StashSecrets {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let authorization = request.headers().get_optional_string(&AUTHORIZATION);
        if authorization.is_some() {
            request.insert_header(AUTHORIZATION, REDACTED);
        }
        let (query, keep): (Vec<_>, Vec<_>) = request
            .url()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .partition(|(k, _)| SAS_KEYS.contains(&k.as_str()));
        if !query.is_empty() {
            let url = request.url_mut();
            url.set_query(None);
            if !keep.is_empty() {
                url.query_pairs_mut().extend_pairs(keep);
            }
        }
        let mut ctx = ctx.clone();
        ctx.insert(Secrets {
            authorization,
            query,
        });
        match next.split_first() {
            Some((policy, rest)) => policy.send(&ctx, request, rest).await,
            None => Err(azure_core::Error::message(
                ErrorKind::Other,
                "the secret stash must not be the last policy of a pipeline",
            )),
        }
    }
}

/// The HTTP transport: reqwest, with the secrets put back and nothing logged.
#[derive(Debug)]
pub(crate) struct QuietTransport {
    client: reqwest::Client,
}

impl QuietTransport {
    /// A transport whose connections give up after `connect_timeout` and whose requests
    /// after `request_timeout` (backstops: the limiter times every call itself).
    pub(crate) fn new(
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        // Like the SDK's own client: no idle connections kept (they can hang in hyper).
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .build()?;
        Ok(QuietTransport { client })
    }
}

fn io_error(err: reqwest::Error, what: &'static str) -> azure_core::Error {
    // Without the URL: it may carry a SAS signature.
    azure_core::Error::full(ErrorKind::Io, err.without_url(), what)
}

#[async_trait::async_trait]
impl Policy for QuietTransport {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        _next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let secrets = ctx.get::<Secrets>();
        let mut url = request.url().clone();
        if let Some(s) = secrets.filter(|s| !s.query.is_empty()) {
            url.query_pairs_mut().extend_pairs(&s.query);
        }
        let method = reqwest::Method::from_bytes(request.method().as_ref().as_bytes())
            .map_err(|e| azure_core::Error::full(ErrorKind::DataConversion, e, "HTTP method"))?;
        let mut req = self.client.request(method, url);
        for (name, value) in request.headers().iter() {
            if name.as_str().eq_ignore_ascii_case(AUTHORIZATION.as_str()) {
                continue;
            }
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(auth) = secrets.and_then(|s| s.authorization.as_deref()) {
            req = req.header(AUTHORIZATION.as_str(), auth);
        }
        req = match request.body().clone() {
            Body::Bytes(bytes) => req.body(bytes),
            Body::SeekableStream(stream) => req.body(reqwest::Body::wrap_stream(stream)),
        };
        let rsp = req
            .send()
            .await
            .map_err(|e| io_error(e, "the storage request failed"))?;
        let status = StatusCode::try_from(rsp.status().as_u16()).map_err(|_| {
            azure_core::Error::message(ErrorKind::DataConversion, "invalid HTTP status code")
        })?;
        let headers: Headers = rsp
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                let value = v.to_str().ok()?;
                Some((
                    HeaderName::from(k.as_str().to_owned()),
                    HeaderValue::from(value.to_owned()),
                ))
            })
            .collect::<std::collections::HashMap<_, _>>()
            .into();
        let body = rsp
            .bytes_stream()
            .map_err(|e| io_error(e, "reading the storage response failed"));
        Ok(Response::new(status, headers, Box::pin(body)))
    }
}
