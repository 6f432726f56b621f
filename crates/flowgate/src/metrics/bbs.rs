//! BBS metrics: the client's events, errors and reconnects; the server's subscribers, emitted
//! and delivered events, and slow-subscriber cut-offs.

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

/// The metrics of one BBS hub (see `docs/metrics.md`), all sampled from [`Hub::stats`]: the
/// subscribers, and the events emitted, the events delivered to subscribers and the subscribers
/// cut off as slow, as counters.
#[derive(Debug)]
pub struct BbsServerMetrics {
    hub: Hub,
    subscribers: Gauge,
    emitted: Counter,
    delivered: Counter,
    cut_offs: Counter,
}

impl BbsServerMetrics {
    /// Metrics of `hub`, labelled with `pairs`.
    pub fn observe(hub: &Hub, pairs: &[(&str, &str)]) -> BbsServerMetrics {
        let base = labels(pairs);
        BbsServerMetrics {
            hub: hub.clone(),
            subscribers: metrics::gauge!("flowgate_bbs_server_subscribers", base.clone()),
            emitted: metrics::counter!("flowgate_bbs_server_emitted_total", base.clone()),
            delivered: metrics::counter!("flowgate_bbs_server_delivered_total", base.clone()),
            cut_offs: metrics::counter!("flowgate_bbs_server_slow_cutoffs_total", base),
        }
    }

    /// Brings the emitted-events counter up to date at once (it is sampled with the others
    /// anyway, so there is no need to call this after each `Hub::emit` any more).
    #[deprecated(
        since = "0.1.0",
        note = "the hub counts its events; `sample` (or `spawn_sampler`) reads the count"
    )]
    pub fn emitted(&self) {
        self.emitted.absolute(self.hub.stats().emitted);
    }
}

impl Sample for BbsServerMetrics {
    fn sample(&self) {
        let stats = self.hub.stats();
        self.subscribers.set(stats.subscribers as f64);
        self.emitted.absolute(stats.emitted);
        self.delivered.absolute(stats.delivered);
        self.cut_offs.absolute(stats.cut_off);
    }
}
