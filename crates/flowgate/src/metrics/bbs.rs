//! BBS metrics: the client's events, errors and reconnects; the server's subscribers and
//! emitted events.

use metrics::{Counter, Gauge, Label};

use super::{Sample, labels, with};
use crate::bbs::client::{StreamItem, SubscriptionError};
use crate::bbs::server::Hub;
use crate::bbs::{Event, EventType};

/// The metrics of one BBS subscription (see `docs/metrics.md`): call
/// [`event`](Self::event) and [`error`](Self::error) with what the subscription yields.
#[derive(Debug)]
pub struct BbsClientMetrics {
    base: Vec<Label>,
    reconnects: Counter,
    missed: Counter,
}

impl BbsClientMetrics {
    /// Metrics labelled with `pairs`.
    pub fn new(pairs: &[(&str, &str)]) -> BbsClientMetrics {
        let base = labels(pairs);
        BbsClientMetrics {
            reconnects: metrics::counter!("flowgate_bbs_client_reconnects_total", base.clone()),
            missed: metrics::counter!(
                "flowgate_bbs_client_missed_events_notices_total",
                base.clone()
            ),
            base,
        }
    }

    /// Counts a received event in `flowgate_bbs_client_events_total{type}`.
    pub fn event(&self, event: &Event) {
        self.event_type(event.event_type());
    }

    fn event_type(&self, kind: EventType) {
        metrics::counter!(
            "flowgate_bbs_client_events_total",
            with(&self.base, "type", kind.as_str())
        )
        .increment(1);
    }

    /// Counts a [`StreamItem`]: an event by its type, a resync notice (a reconnect after which
    /// events may have been missed) in the reconnect and missed-events counters.
    pub fn item(&self, item: &StreamItem) {
        match item {
            StreamItem::Event(received) => self.event(&received.event),
            StreamItem::Resync(_) => self.resync(),
            _ => {}
        }
    }

    /// Counts a reconnect after which events may have been missed.
    pub fn resync(&self) {
        self.reconnects.increment(1);
        self.missed.increment(1);
    }

    /// Counts an error of the subscription in `flowgate_bbs_client_errors_total{kind}`.
    pub fn error(&self, error: &SubscriptionError) {
        metrics::counter!(
            "flowgate_bbs_client_errors_total",
            with(&self.base, "kind", error.kind_name())
        )
        .increment(1);
    }
}

/// The metrics of one BBS hub (see `docs/metrics.md`): subscribers are sampled, emitted
/// events counted with [`emitted`](Self::emitted).
#[derive(Debug)]
pub struct BbsServerMetrics {
    hub: Hub,
    subscribers: Gauge,
    emitted: Counter,
}

impl BbsServerMetrics {
    /// Metrics of `hub`, labelled with `pairs`.
    pub fn observe(hub: &Hub, pairs: &[(&str, &str)]) -> BbsServerMetrics {
        let base = labels(pairs);
        BbsServerMetrics {
            hub: hub.clone(),
            subscribers: metrics::gauge!("flowgate_bbs_server_subscribers", base.clone()),
            emitted: metrics::counter!("flowgate_bbs_server_emitted_total", base),
        }
    }

    /// Counts an event the hub accepted (call it when `Hub::emit` returns `Ok`).
    pub fn emitted(&self) {
        self.emitted.increment(1);
    }
}

impl Sample for BbsServerMetrics {
    fn sample(&self) {
        self.subscribers.set(self.hub.subscriber_count() as f64);
    }
}
