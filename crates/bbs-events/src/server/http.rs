//! The HTTP handler of the event routes: request parsing, headers and the SSE body.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::models::Version;
use crate::server::HubError;
use crate::server::chunk::Chunk;
use crate::server::encoded::EncodedEvent;
use crate::server::filter::{Filter, ServerRoute};
use crate::server::hub::Hub;
use crate::server::subscription::HubSubscription;
use crate::server::watched_io::ConnectionState;
use crate::sse::IdLine;

pub(crate) type Body = UnsyncBoxBody<Chunk, Infallible>;

/// The largest request body read (an `EventsByCellId` is tiny).
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// What every connection shares.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    pub(crate) hub: Hub,
    pub(crate) preload: Arc<[Arc<EncodedEvent>]>,
    pub(crate) shutdown: CancellationToken,
    /// The hub ids of the streams this server has open, ended through the hub at shutdown so
    /// that a stream's hot path waits on the hub's ring alone.
    pub(crate) live: Arc<Mutex<HashSet<u64>>>,
    /// One permit per open event stream, up to the subscriber cap.
    pub(crate) subscribers: Arc<Semaphore>,
    pub(crate) request_body_timeout: Duration,
}

impl Routes {
    /// Ends every open stream with its terminating chunk.
    pub(crate) fn end_streams(&self) {
        let ids: Vec<u64> = lock_live(&self.live).drain().collect();
        self.hub.disconnect(ids);
    }
}

fn lock_live(live: &Mutex<HashSet<u64>>) -> std::sync::MutexGuard<'_, HashSet<u64>> {
    live.lock().unwrap_or_else(|e| e.into_inner())
}

/// The cell id of an `EventsByCellId` body (field 1, a string; other fields skipped).
fn parse_events_by_cell_id(body: &[u8]) -> Result<String, prost::DecodeError> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct EventsByCellId {
        #[prost(bytes = "vec", tag = "1")]
        cell_id: Vec<u8>,
    }
    let message = <EventsByCellId as prost::Message>::decode(body)?;
    Ok(String::from_utf8_lossy(&message.cell_id).into_owned())
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let body = Full::new(Chunk::plain(Bytes::from(text.to_owned())));
    let mut response = Response::new(body.boxed_unsync());
    *response.status_mut() = status;
    response
}

pub(crate) async fn handle(
    routes: Routes,
    connection: Arc<ConnectionState>,
    request: Request<Incoming>,
) -> Response<Body> {
    let Some(route) = ServerRoute::from_request(request.method(), request.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    let version = ServerRoute::version_of(request.uri().path());
    let last_event_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut filter = Filter::route(route);
    if route.filters_by_cell() {
        let read = Limited::new(request.into_body(), MAX_REQUEST_BODY).collect();
        let body = match tokio::time::timeout(routes.request_body_timeout, read).await {
            Ok(Ok(body)) => body.to_bytes(),
            Err(_) => {
                tracing::info!(
                    timeout = ?routes.request_body_timeout,
                    "the event subscription request body did not arrive in time"
                );
                return plain(
                    StatusCode::REQUEST_TIMEOUT,
                    "request body not received in time\n",
                );
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot read the event subscription request body");
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot read request body\n",
                );
            }
        };
        match parse_events_by_cell_id(&body) {
            Ok(cell_id) => filter = filter.with_cell_id(&cell_id),
            Err(error) => {
                tracing::warn!(%error, "unparseable EventsByCellId request body");
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "invalid EventsByCellId body\n",
                );
            }
        }
    }
    let Ok(permit) = Arc::clone(&routes.subscribers).try_acquire_owned() else {
        // Refusals can come in floods; the cap is in the server's options and 503s are retried.
        tracing::info!("refusing an event subscription beyond the subscriber cap");
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many event subscribers; try again later\n",
        );
    };
    let replaying = routes.hub.has_replay_window();
    let subscription = if replaying {
        routes.hub.subscribe_after(filter.clone(), last_event_id)
    } else {
        routes.hub.subscribe(filter.clone())
    };
    let subscription = match subscription {
        Ok(s) => s,
        Err(error) => {
            tracing::info!(%error, "refusing an event subscription");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "event hub closed\n");
        }
    };
    lock_live(&routes.live).insert(subscription.id());
    // Checked after registering, so that a shutdown racing with this request either is seen here
    // or finds the stream in the live set.
    if routes.shutdown.is_cancelled() {
        lock_live(&routes.live).remove(&subscription.id());
        return plain(StatusCode::SERVICE_UNAVAILABLE, "server shutting down\n");
    }
    tracing::debug!(?route, "event stream opened");
    let state = StreamState {
        preload: Arc::clone(&routes.preload),
        next_preload: 0,
        filter,
        subscription,
        next_id: IdLine::new(0),
        hub_ids: replaying,
        live: Arc::clone(&routes.live),
        version,
        connection,
        _permit: permit,
    };
    state.connection.start_stream();
    // Each frame is one chunk of every event the ring holds for the subscriber when it is
    // woken: one write per wake-up (the BBS writes one chunk per event; chunk boundaries are not
    // event boundaries to SSE clients).
    let stream = futures::stream::unfold(state, |mut state| async move {
        let chunk = state.next_chunk().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), state))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed_unsync());
    let headers = response.headers_mut();
    // The BBS's header order.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    if let Ok(date) = HeaderValue::from_str(&super::date::http_date(std::time::SystemTime::now())) {
        headers.insert(header::DATE, date);
    }
    headers.insert(
        header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    response
}

struct StreamState {
    preload: Arc<[Arc<EncodedEvent>]>,
    next_preload: usize,
    filter: Filter,
    subscription: HubSubscription,
    /// The connection's next `id:` line, counted from 0.
    next_id: IdLine,
    hub_ids: bool,
    live: Arc<Mutex<HashSet<u64>>>,
    /// The model version of the route (V0 without `.r1`).
    version: Version,
    /// Told when the stream ends, so that the connection closes after the terminating chunk.
    connection: Arc<ConnectionState>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for StreamState {
    fn drop(&mut self) {
        lock_live(&self.live).remove(&self.subscription.id());
        self.connection.end_stream();
    }
}

impl StreamState {
    /// The next SSE chunk (every event available, as far as a chunk holds), or `None` to end
    /// the stream (with the terminating chunk).
    async fn next_chunk(&mut self) -> Option<Chunk> {
        let mut chunk = Chunk::new();
        while chunk.has_room() {
            let Some(event) = self.preload.get(self.next_preload).cloned() else {
                break;
            };
            self.next_preload += 1;
            match self.filter.accepts(&event.event) {
                Ok(true) => {
                    let version = self.version;
                    with_id_line(&mut self.next_id, &event, false, |line| {
                        chunk.push_event(line, &event, version)
                    });
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "ending an event stream");
                    return None;
                }
            }
        }
        if !chunk.is_empty() {
            self.subscription.count_delivered(chunk.len());
            return Some(chunk.trimmed());
        }
        // A subscriber cut off as slow is told at once (the hub's ring has moved past what it
        // missed), rather than after a queue that a peer reading just fast enough to dodge the
        // write timeout would take ages over.
        let (hub_ids, version) = (self.hub_ids, self.version);
        let next_id = &mut self.next_id;
        let taken = self
            .subscription
            .next_batch(|event| {
                with_id_line(next_id, event, hub_ids, |line| {
                    chunk.push_event(line, event, version)
                })
            })
            .await;
        match taken {
            Ok(_) => Some(chunk.trimmed()),
            Err(HubError::Closed) => {
                tracing::debug!("event stream ended: hub closed or server shutting down");
                None
            }
            Err(HubError::SlowSubscriber { .. }) => {
                tracing::debug!("event stream ended: the subscriber fell behind");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "ending an event stream");
                None
            }
        }
    }
}

/// The one place an event's id on a connection is chosen: the connection's count from 0 as in
/// the BBS, or the hub's sequence number with a replay window. Calls `write` with the event's
/// `id:` line; the count moves on either way.
fn with_id_line<R>(
    next_id: &mut IdLine,
    event: &EncodedEvent,
    hub_id: bool,
    write: impl FnOnce(&[u8]) -> R,
) -> R {
    let written = if hub_id {
        write(IdLine::new(event.seq).as_bytes())
    } else {
        write(next_id.as_bytes())
    };
    next_id.advance();
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_by_cell_id_bodies_parse_or_fail() {
        assert_eq!(parse_events_by_cell_id(b"").unwrap(), "");
        assert_eq!(parse_events_by_cell_id(b"\x0a\x02c1").unwrap(), "c1");
        assert!(parse_events_by_cell_id(b"\x0a\x05c1").is_err());
        assert!(parse_events_by_cell_id(b"\xff").is_err());
    }
}
