//! What the client makes of the HTTP layer: which failures are TLS failures, the redirect policy,
//! and the check that a 200 is an event stream.

use std::error::Error as StdError;

/// The TLS error somewhere in the cause chain of `error`, if there is one.
///
/// An I/O error hides its inner error from `source()` (it gives the inner error's source), so
/// the walk steps into an I/O error's inner error instead.
pub(crate) fn tls_cause<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(error);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => cause.source(),
        };
    }
    None
}

/// Why a redirect was refused (the error the redirect policy gives reqwest).
#[derive(Debug)]
pub(crate) struct RedirectRefused(pub(crate) &'static str);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for RedirectRefused {}

/// The reason a redirect was refused, when `error` is such a refusal.
pub(crate) fn redirect_refusal(error: &(dyn StdError + 'static)) -> Option<&'static str> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = next {
        if let Some(refused) = cause.downcast_ref::<RedirectRefused>() {
            return Some(refused.0);
        }
        next = cause.source();
    }
    None
}

/// The redirect policy: none by default; with `max > 0`, up to `max` redirects with 307 or 308
/// (which keep the method and the `EventsByCellId` body), never from https to http.
pub(crate) fn redirect_policy(max: usize) -> reqwest::redirect::Policy {
    if max == 0 {
        return reqwest::redirect::Policy::none();
    }
    reqwest::redirect::Policy::custom(move |attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if downgrade {
            return attempt.error(RedirectRefused(
                "a redirect from https to http is never followed: the events would travel in plain text",
            ));
        }
        if !matches!(attempt.status().as_u16(), 307 | 308) {
            return attempt.error(RedirectRefused(
                "only 307 and 308 redirects are followed: the others turn the request into a GET without its cell-id body",
            ));
        }
        if attempt.previous().len() > max {
            return attempt.error(RedirectRefused("too many redirects"));
        }
        attempt.follow()
    })
}

/// Whether a `Content-Type` value names an event stream (`text/event-stream`, any parameters).
pub(crate) fn is_event_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_stream_content_types() {
        assert!(is_event_stream("text/event-stream; charset=utf-8"));
        assert!(is_event_stream("Text/Event-Stream"));
        assert!(!is_event_stream("text/html; charset=utf-8"));
        assert!(!is_event_stream(""));
    }

    #[test]
    fn tls_errors_are_found_inside_io_errors() {
        let io = std::io::Error::other(rustls::Error::General("x".into()));
        assert!(tls_cause(&io).is_some());
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(tls_cause(&plain).is_none());
    }
}
