//! The pipeline: a local BBS server with synthetic traffic, one consumer per instance
//! subscribed with the BBS client, a batcher per instance, and a rate-limited "datastore".

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::{Context, Result};
use flowgate::batcher::{BatchMetadata, Batcher, EnqueueErrorKind, Operation, Watcher};
use flowgate::bbs::server::{Filter, Hub, Server};
use flowgate::bbs::synthetic::SyntheticEvents;
use flowgate::bbs::{Event, EventType};
use flowgate::events::{EventName, RateLimiter};
use flowgate::limiter::azure::{AzureSharedResource, Credentials};
use flowgate::limiter::provisioned::ProvisionedResource;
use flowgate::metrics::{
    BatcherMetrics, BbsClientMetrics, BbsServerMetrics, LimiterMetrics, Sample, spawn_sampler,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::LimiterKind;
use crate::consumer;
use crate::record::Recorder;
use crate::view;

/// The most operations one instance's batcher buffers. The buffer is sized for the whole
/// run's demand up to this bound; beyond it enqueues are refused and counted.
const MAX_BUFFER: usize = 1_000_000;

/// The run's settings, from the command line.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) limiter: LimiterKind,
    pub(crate) instances: usize,
    pub(crate) capacity: u32,
    pub(crate) rate: u32,
    pub(crate) duration: Duration,
    pub(crate) drain: Duration,
}

impl Config {
    /// Each instance's reserved capacity with the Azure limiter (2% of the shared one).
    pub(crate) fn reserved(&self) -> u32 {
        match self.limiter {
            LimiterKind::Provisioned => 0,
            LimiterKind::Azure => (self.capacity / 50).max(1),
        }
    }

    /// The most all instances together may ever spend in one second.
    pub(crate) fn limit(&self) -> u64 {
        match self.limiter {
            // Split evenly; the remainder is left unused so the sum never exceeds it.
            LimiterKind::Provisioned => {
                u64::from(self.capacity / self.instances as u32) * self.instances as u64
            }
            // Each instance may always spend its reserved capacity on top of what it holds
            // through partition leases, so the limit is the shared capacity plus that.
            LimiterKind::Azure => {
                u64::from(self.capacity) + u64::from(self.reserved()) * self.instances as u64
            }
        }
    }

    /// The buffer each batcher gets: room for every event the run could bring it (traffic
    /// peaks at 180% of the mean rate), so overload shows as a growing backlog.
    fn buffer_size(&self) -> usize {
        let most = f64::from(self.rate) * 1.8 * self.duration.as_secs_f64() + 1000.0;
        (most as usize).min(MAX_BUFFER)
    }
}

/// What a finished run hands to the report.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) max_capacity: Vec<u32>,
    pub(crate) traffic_start: Duration,
    pub(crate) traffic_end: Duration,
    pub(crate) end: Duration,
    /// Whether a signal cut the run short.
    pub(crate) interrupted: bool,
    /// Whether the queue was empty when the batchers stopped.
    pub(crate) drained: bool,
}

/// The cost of writing an event to the datastore: crashes cost most.
pub(crate) fn cost_of(kind: EventType) -> u32 {
    match kind {
        EventType::ActualLrpCrashed => 8,
        EventType::DesiredLrpCreated => 4,
        EventType::DesiredLrpChanged => 3,
        EventType::DesiredLrpRemoved | EventType::ActualLrpInstanceCreated => 2,
        _ => 1,
    }
}

struct Instance {
    limiter: Arc<dyn RateLimiter>,
    /// The instance's batcher and limiter metrics, sampled while the run lasts.
    samplers: Vec<Arc<dyn Sample>>,
    batcher: Batcher,
    filter: Filter,
    /// Ends when the subscription ends, handing the watcher back for `take_unsent`.
    consumer: JoinHandle<Watcher<Event>>,
}

/// Runs the pipeline; `shutdown` (a signal) ends the traffic early and skips the drain.
pub(crate) async fn run(config: &Config, shutdown: &CancellationToken) -> Result<Run> {
    let recorder = Arc::new(Recorder::new(config.instances));

    // The BBS side: a hub, the SSE endpoint on loopback, and synthetic traffic.
    let hub = Hub::new();
    let server = Server::builder(hub.clone())
        .bind("127.0.0.1:0")
        .await
        .context("starting the BBS event server")?;
    let url = format!("http://{}", server.local_addr());
    let server_stop = CancellationToken::new();
    let server_task = tokio::spawn(server.run(server_stop.clone()));
    let server_metrics = Arc::new(BbsServerMetrics::observe(&hub, &[]));

    let mut instances = Vec::with_capacity(config.instances);
    for index in 0..config.instances {
        instances.push(start_instance(index, config, &url, &recorder).await?);
    }
    wait_for(Duration::from_secs(10), || {
        hub.subscriber_count() >= config.instances
    })
    .await
    .context("the consumers did not subscribe within 10 s")?;

    let limiters: Vec<Arc<dyn RateLimiter>> = instances.iter().map(|i| i.limiter.clone()).collect();
    let batchers: Vec<Batcher> = instances.iter().map(|i| i.batcher.clone()).collect();
    let mut samplers: Vec<Arc<dyn Sample>> = vec![server_metrics.clone()];
    samplers.extend(instances.iter().flat_map(|i| i.samplers.iter().cloned()));
    let sampler_stop = CancellationToken::new();
    let sampler = spawn_sampler(Duration::from_millis(250), sampler_stop.clone(), samplers);
    let view_stop = CancellationToken::new();
    let view_task = tokio::spawn(view::run(
        recorder.clone(),
        limiters.clone(),
        batchers.clone(),
        config.clone(),
        view_stop.clone(),
    ));

    // Traffic swings between 20% and 180% of the mean rate, so that demand rises above the
    // capacity for a while and the batcher has to hold operations back.
    let mut events = SyntheticEvents::new(7).with_cells(config.instances as u32);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut owed = 0.0f64;
    let period = config.duration.as_secs_f64().min(12.0);
    let traffic_start = recorder.start.elapsed();
    'traffic: loop {
        tokio::select! {
            _ = shutdown.cancelled() => break 'traffic,
            _ = tick.tick() => {}
        }
        let t = recorder.start.elapsed() - traffic_start;
        if t >= config.duration {
            break;
        }
        let phase = (t.as_secs_f64() / period) * std::f64::consts::TAU;
        owed += f64::from(config.rate) * (1.0 - 0.8 * phase.cos()) * 0.01;
        while owed >= 1.0 {
            owed -= 1.0;
            let event = events.next_event();
            for (index, instance) in instances.iter().enumerate() {
                if instance.filter.accepts(&event).unwrap_or(false) {
                    recorder.instances[index].expected.fetch_add(1, Relaxed);
                }
            }
            hub.emit(event).context("emitting a BBS event")?;
            recorder.emitted.fetch_add(1, Relaxed);
        }
    }
    let traffic_end = recorder.start.elapsed();

    // Closing the hub ends every stream with a terminating chunk; the consumers see a clean
    // end of stream once they have read everything. They never wait on the batcher, so
    // this takes as long as the bytes in flight.
    hub.close();
    let mut watchers = Vec::with_capacity(instances.len());
    for instance in &mut instances {
        let watcher = tokio::time::timeout(Duration::from_secs(10), &mut instance.consumer)
            .await
            .context("a consumer did not finish reading within 10 s of the end of traffic")??;
        watchers.push(watcher);
    }

    // Let the batchers deliver what is queued for up to the drain time, then stop them.
    let empty = || {
        batchers
            .iter()
            .all(|b| b.needs_capacity() == 0 && b.inflight() == 0)
    };
    let _ = wait_for(config.drain, || empty() || shutdown.is_cancelled()).await;
    let drained = empty();
    let end = recorder.start.elapsed();
    for (index, instance) in instances.iter().enumerate() {
        instance.batcher.stop().await;
        // Batches already handed out finish their write; wait for them so that they are
        // counted as delivered.
        if wait_for(Duration::from_secs(10), || instance.batcher.inflight() == 0)
            .await
            .is_err()
        {
            eprintln!("demo: instance {index}: batches still being written after 10 s");
        }
        let unsent = watchers[index].take_unsent();
        let counters = &recorder.instances[index];
        counters.handed_back.fetch_add(unsent.len() as u64, Relaxed);
        let cost: u64 = unsent.iter().map(|op| u64::from(op.cost())).sum();
        counters.handed_back_cost.fetch_add(cost, Relaxed);
        if let Err(e) = instance.limiter.stop().await {
            eprintln!("demo: stopping a limiter: {e}");
        }
    }
    view_stop.cancel();
    let _ = view_task.await;
    sampler_stop.cancel();
    let _ = sampler.await;
    server_stop.cancel();
    let _ = server_task.await;

    Ok(Run {
        max_capacity: limiters.iter().map(|l| l.max_capacity()).collect(),
        recorder,
        traffic_start,
        traffic_end,
        end,
        interrupted: shutdown.is_cancelled(),
        drained,
    })
}

async fn start_instance(
    index: usize,
    config: &Config,
    url: &str,
    recorder: &Arc<Recorder>,
) -> Result<Instance> {
    let limiter: Arc<dyn RateLimiter> = match config.limiter {
        LimiterKind::Provisioned => Arc::new(ProvisionedResource::new(
            config.capacity / config.instances as u32,
        )),
        LimiterKind::Azure => Arc::new(azure_limiter(config)?),
    };
    let index_label = index.to_string();
    let labels = [("instance", index_label.as_str())];
    // Observed before it starts, so that every lease it takes is counted.
    let limiter_metrics = Arc::new(LimiterMetrics::observe(limiter.clone(), &labels));
    limiter
        .provision()
        .await
        .with_context(|| format!("provisioning instance {index}'s limiter"))?;
    limiter.start().await?;

    let batcher = Batcher::builder()
        .rate_limiter(limiter.clone())
        .buffer_size(config.buffer_size())
        .emit_batch(true)
        .build()?;
    let batcher_metrics = Arc::new(BatcherMetrics::observe(&batcher, &labels));
    let client_metrics = BbsClientMetrics::new(&labels);
    let rec = recorder.clone();
    batcher.emitter().add_listener(move |event| {
        if event.name() == EventName::Batch {
            if let Some(meta) = event.metadata::<BatchMetadata>() {
                let cost = meta.operations.iter().map(|o| u64::from(o.cost)).sum();
                rec.release(event.at(), index, cost);
            }
        }
    });
    batcher.start()?;

    // The "datastore write": a few milliseconds per batch.
    let rec = recorder.clone();
    let watcher: Watcher<Event> = Watcher::builder().max_batch_size(50).callback(
        &batcher,
        move |batch: Vec<Operation<Event>>| {
            let rec = rec.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(2 + batch.len() as u64 / 10)).await;
                let c = &rec.instances[index];
                let cost: u64 = batch.iter().map(|op| u64::from(op.cost())).sum();
                c.batches.fetch_add(1, Relaxed);
                c.delivered.fetch_add(batch.len() as u64, Relaxed);
                c.delivered_cost.fetch_add(cost, Relaxed);
            }
        },
    );

    let subscription = consumer::subscribe(url, index, config.instances).await?;
    let rec = recorder.clone();
    let refusals = batcher_metrics.clone();
    let consumer = tokio::spawn(async move {
        let counters = &rec.instances[index];
        // The consumer never waits for room: a reader that stops reading is cut off by
        // the BBS as a slow subscriber, and the events queued for it are lost. The buffer
        // is sized for the run instead, and a refusal is counted, never silent.
        consumer::read(subscription, index, counters, &client_metrics, |event| {
            let kind = event.event_type();
            counters
                .demand_cost
                .fetch_add(u64::from(cost_of(kind)), Relaxed);
            let op = Operation::new(event, cost_of(kind))
                // A crash is written on its own, as soon as capacity allows.
                .with_batchable(kind != EventType::ActualLrpCrashed);
            match watcher.try_enqueue(op) {
                Ok(()) => counters.enqueued.fetch_add(1, Relaxed),
                Err(e) if matches!(e.kind(), EnqueueErrorKind::BufferFull { .. }) => {
                    refusals.refused(&e.kind());
                    counters.refused_full.fetch_add(1, Relaxed)
                }
                Err(e) => {
                    refusals.refused(&e.kind());
                    eprintln!("demo: instance {index}: operation refused: {e}");
                    counters.refused_other.fetch_add(1, Relaxed)
                }
            };
        })
        .await;
        watcher
    });
    Ok(Instance {
        limiter,
        samplers: vec![batcher_metrics, limiter_metrics],
        batcher,
        filter: consumer::filter(index, config.instances),
        consumer,
    })
}

fn azure_limiter(config: &Config) -> Result<AzureSharedResource> {
    let connection = std::env::var("AZURE_STORAGE_CONNECTION_STRING").context(
        "AZURE_STORAGE_CONNECTION_STRING is not set: run `cargo xtask demo --limiter azure`, \
         which starts a local Azurite and sets it",
    )?;
    // One container per run, so that leases from an earlier run never get in the way.
    let container = format!("flowgate-demo-{}", std::process::id());
    Ok(AzureSharedResource::builder()
        .credentials(Credentials::ConnectionString(connection))
        .container(container)
        .shared_capacity(config.capacity)
        .factor((config.capacity / 20).max(1))
        .reserved_capacity(config.reserved())
        .build()?)
}

async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> Result<()> {
    tokio::time::timeout(limit, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .context("timed out")
}
