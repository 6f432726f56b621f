//! Coalesced wake-ups: events go into the ring at once, waiting subscribers are woken together at
//! most once per notify interval (at once after a quiet spell), so that a woken subscriber drains
//! many events; without a ticker every emit wakes them; the hub counts what it did.

use std::time::Duration;

use bbs_events::Event;
use bbs_events::models::TaskRemovedEvent;
use bbs_events::server::{Filter, Hub, HubError, HubStats};
use tokio::time::Instant;

fn task() -> Event {
    Event::TaskRemoved(TaskRemovedEvent::default())
}

#[tokio::test(start_paused = true)]
async fn a_burst_is_delivered_in_one_wake_up_one_interval_after_the_last() {
    let interval = Duration::from_millis(100);
    let hub = Hub::builder().notify_interval(interval).build();
    let mut sub = hub.subscribe(Filter::all()).unwrap();
    let (got_one, first) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        let mut batches = Vec::new();
        let mut batch = Vec::new();
        let n = sub.recv_many(&mut batch, 64).await.unwrap();
        batches.push((n, Instant::now()));
        let _ = got_one.send(());
        // Waiting again by the time the emitter runs (one thread).
        for _ in 0..2 {
            let n = sub.recv_many(&mut batch, 64).await.unwrap();
            batches.push((n, Instant::now()));
        }
        batches
    });
    tokio::task::yield_now().await;
    let start = Instant::now();
    // A quiet hub: the first event wakes the subscriber at once.
    hub.emit(task()).unwrap();
    first.await.unwrap();
    // A burst right after: one wake-up for all of it, an interval after the first.
    for _ in 0..3 {
        hub.emit(task()).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // After a quiet spell longer than the interval, at once again.
    let quiet = Instant::now();
    hub.emit(task()).unwrap();
    let batches = waiter.await.unwrap();
    assert_eq!(batches[0], (1, start));
    assert_eq!(batches[1], (3, start + interval));
    assert_eq!(batches[2], (1, quiet));
    // The waiter has dropped its subscription.
    let stats: HubStats = hub.stats();
    assert_eq!(
        (
            stats.emitted,
            stats.delivered,
            stats.cut_off,
            stats.subscribers
        ),
        (5, 5, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_zero_interval_wakes_waiting_subscribers_on_every_emit() {
    let hub = Hub::builder().notify_interval(Duration::ZERO).build();
    let mut sub = hub.subscribe(Filter::all()).unwrap();
    let waiter = tokio::spawn(async move {
        let mut sizes = Vec::new();
        let mut batch = Vec::new();
        for _ in 0..3 {
            sizes.push(sub.recv_many(&mut batch, 64).await.unwrap());
        }
        sizes
    });
    let start = Instant::now();
    for _ in 0..3 {
        tokio::task::yield_now().await;
        hub.emit(task()).unwrap();
    }
    assert_eq!(waiter.await.unwrap(), [1, 1, 1]);
    assert_eq!(Instant::now(), start);
}

#[test]
fn a_hub_whose_ticker_runtime_ended_wakes_subscribers_on_emit() {
    let hub = Hub::builder()
        .notify_interval(Duration::from_millis(100))
        .build();
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The ticker is spawned on this runtime, which then ends.
    let mut sub = first.block_on(async { hub.subscribe(Filter::all()).unwrap() });
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let waiter = tokio::spawn(async move { sub.recv().await.map(|e| e.seq) });
        tokio::task::yield_now().await;
        hub.emit(task()).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), waiter).await;
        assert_eq!(got.expect("woken").unwrap(), Ok(0));
    });
}

#[test]
fn a_subscription_made_outside_a_runtime_is_woken_by_each_emit() {
    let hub = Hub::new();
    // No runtime here, so no ticker: emits wake the subscribers themselves.
    let mut sub = hub.subscribe(Filter::all()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let emitter = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            for _ in 0..3 {
                hub.emit(task()).unwrap();
            }
            hub.close();
        })
    };
    let mut seqs = Vec::new();
    runtime.block_on(async {
        loop {
            match sub.recv().await {
                Ok(event) => seqs.push(event.seq),
                Err(error) => {
                    assert_eq!(error, HubError::Closed);
                    break;
                }
            }
        }
    });
    emitter.join().unwrap();
    assert_eq!(seqs, [0, 1, 2]);
}

#[tokio::test]
async fn recv_many_takes_at_most_its_limit_and_the_rest_stays_for_the_next_call() {
    let hub = Hub::builder().subscriber_capacity(16).build();
    let mut sub = hub.subscribe(Filter::all()).unwrap();
    let mut slow = hub.subscribe(Filter::all()).unwrap();
    for _ in 0..5 {
        hub.emit(task()).unwrap();
    }
    let mut batch = Vec::new();
    assert_eq!(sub.recv_many(&mut batch, 3).await.unwrap(), 3);
    // A zero limit takes one.
    assert_eq!(sub.recv_many(&mut batch, 0).await.unwrap(), 1);
    assert_eq!(sub.recv_many(&mut batch, 100).await.unwrap(), 1);
    let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4]);
    for _ in 0..16 {
        hub.emit(task()).unwrap();
    }
    assert_eq!(
        slow.recv_many(&mut batch, 100).await.unwrap_err(),
        HubError::SlowSubscriber { capacity: 16 }
    );
    let stats = hub.stats();
    assert_eq!((stats.emitted, stats.delivered, stats.cut_off), (21, 5, 1));
    assert_eq!(stats.subscribers, 1);
}
