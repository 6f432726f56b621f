//! The BBS side of an instance: subscribe with the BBS client and read its events until the
//! stream ends. Everything that depends on the client's item type is in [`read`].

use anyhow::Result;
use flowgate::bbs::Event;
use flowgate::bbs::client::{Client, EventSubscription, StreamItem};
use flowgate::bbs::server::{Filter, ServerRoute};
use flowgate::events::SourceError;
use flowgate::metrics::BbsClientMetrics;

use crate::record::InstanceCounters;

/// The cell an instance consumes when there are several: each reads its own cell's
/// actual-LRP events, and every desired-LRP event (those belong to no cell).
fn cell(index: usize) -> String {
    format!("cell-{index}")
}

/// Subscribes instance `index` of `instances` to the BBS at `url`.
pub(crate) async fn subscribe(
    url: &str,
    index: usize,
    instances: usize,
) -> Result<EventSubscription> {
    let client = Client::new(url)?;
    Ok(if instances > 1 {
        client
            .subscribe_to_instance_events_by_cell_id(&cell(index))
            .await?
    } else {
        client.subscribe_to_instance_events().await?
    })
}

/// What the server sends instance `index`'s subscription: the same filter, so the demo can
/// count what each consumer must receive.
pub(crate) fn filter(index: usize, instances: usize) -> Filter {
    let filter = Filter::route(ServerRoute::Instances);
    if instances > 1 {
        filter.with_cell_id(&cell(index))
    } else {
        filter
    }
}

/// Reads `subscription` until it ends, handing each event to `on_event`. Per-event errors
/// are counted and reported; the stream carries on after them.
pub(crate) async fn read(
    mut subscription: EventSubscription,
    index: usize,
    counters: &InstanceCounters,
    metrics: &BbsClientMetrics,
    mut on_event: impl FnMut(Event),
) {
    use std::sync::atomic::Ordering::Relaxed;
    loop {
        match subscription.next().await {
            Ok(StreamItem::Event(received)) => {
                counters.received.fetch_add(1, Relaxed);
                metrics.event(&received.event);
                on_event(received.event);
            }
            // A reconnect: the demo's consumer keeps no state to resynchronise.
            Ok(item) => metrics.item(&item),
            Err(e) if e.is_terminal() => break,
            Err(e) => {
                metrics.error(&e);
                eprintln!("demo: instance {index}: {e}");
                counters.stream_errors.fetch_add(1, Relaxed);
            }
        }
    }
}
