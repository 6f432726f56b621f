//! Coalesced wake-ups: events go into the ring at once; under load a waiting subscriber is woken
//! at most once per notify interval, and every event within one, the subscribers in turn over the
//! interval; after a quiet spell at once; without a ticker every emit wakes them; the hub counts
//! what it did.

use std::time::Duration;

use bbs_events::Event;
use bbs_events::models::TaskRemovedEvent;
use bbs_events::server::{Filter, Hub, HubError, HubStats};
use tokio::time::Instant;

fn task() -> Event {
    Event::TaskRemoved(TaskRemovedEvent::default())
}

#[tokio::test(start_paused = true)]
async fn a_burst_right_after_a_wake_up_is_delivered_in_one_wake_up_within_the_interval() {
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
    // A burst right after: one wake-up for all of it, at the subscriber's turn in the interval.
    for _ in 0..3 {
        hub.emit(task()).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // After a quiet spell longer than the interval, at once again.
    let quiet = Instant::now();
    hub.emit(task()).unwrap();
    let batches = waiter.await.unwrap();
    assert_eq!(batches[0], (1, start));
    assert_eq!(batches[1].0, 3);
    assert!(batches[1].1 > start && batches[1].1 <= start + interval);
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
async fn under_load_each_subscriber_is_woken_once_per_interval_in_turn_and_no_event_waits_longer() {
    let interval = Duration::from_millis(80);
    let hub = Hub::builder()
        .notify_interval(interval)
        .subscriber_capacity(4096)
        .build();
    let start = Instant::now();
    let mut waiters = Vec::new();
    for _ in 0..32 {
        let mut sub = hub.subscribe(Filter::all()).unwrap();
        waiters.push(tokio::spawn(async move {
            // Each wake-up: when, and the sequence numbers it brought.
            let mut wakes = Vec::new();
            loop {
                let mut batch = Vec::new();
                match sub.recv_many(&mut batch, 4096).await {
                    Ok(_) => wakes.push((Instant::now(), batch.iter().map(|e| e.seq).collect())),
                    Err(error) => {
                        assert_eq!(error, HubError::Closed);
                        return wakes;
                    }
                }
            }
        }));
    }
    tokio::task::yield_now().await;
    // One event a millisecond for a second, then a pause that delivers the last of them.
    let mut emitted = Vec::new();
    for _ in 0..1000 {
        let seq = hub.emit(task()).unwrap();
        assert_eq!(seq as usize, emitted.len());
        emitted.push(Instant::now());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(interval * 2).await;
    hub.close();
    let mut instants_in_one_interval = std::collections::BTreeSet::new();
    for waiter in waiters {
        let wakes: Vec<(Instant, Vec<u64>)> = waiter.await.unwrap();
        let seqs: Vec<u64> = wakes.iter().flat_map(|(_, seqs)| seqs.clone()).collect();
        assert_eq!(
            seqs,
            (0..1000).collect::<Vec<u64>>(),
            "every event, in order"
        );
        // The quiet hub's first event at once.
        assert_eq!(wakes[0], (start, vec![0]));
        for (at, seqs) in &wakes {
            for &seq in seqs {
                let waited = *at - emitted[seq as usize];
                assert!(waited <= interval, "event {seq} waited {waited:?}");
            }
        }
        // After the first round, which spreads the subscribers over the interval, one wake-up
        // per interval at most.
        for pair in wakes[1..].windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(gap >= interval, "woken again after {gap:?}");
        }
        assert!(wakes.len() <= 2 + 1000 / 80 + 1, "{} wake-ups", wakes.len());
        let window = start + interval * 4..start + interval * 5;
        instants_in_one_interval.extend(wakes.iter().map(|w| w.0).filter(|at| window.contains(at)));
    }
    // In turn: the 32 subscribers' wake-ups in one interval are at many moments, not one.
    assert!(
        instants_in_one_interval.len() >= 8,
        "wake-ups at {} moments of one interval",
        instants_in_one_interval.len()
    );
    let stats = hub.stats();
    assert_eq!((stats.emitted, stats.delivered), (1000, 32_000));
}

#[tokio::test(start_paused = true)]
async fn waiting_for_the_interval_never_makes_a_subscriber_that_keeps_up_fall_behind() {
    // A short ring and a long interval: 300 events within the interval would leave a subscriber
    // woken only by the ticker far more than 64 events behind. Once half the ring is news to
    // the subscribers woken longest ago, the emit wakes them.
    let hub = Hub::builder()
        .subscriber_capacity(64)
        .notify_interval(Duration::from_secs(1))
        .build();
    let mut sub = hub.subscribe(Filter::all()).unwrap();
    let waiter = tokio::spawn(async move {
        let (mut wakes, mut seqs) = (0, Vec::new());
        loop {
            let mut batch = Vec::new();
            match sub.recv_many(&mut batch, 1024).await {
                Ok(_) => {
                    wakes += 1;
                    seqs.extend(batch.iter().map(|e| e.seq));
                }
                Err(error) => return (wakes, seqs, error),
            }
        }
    });
    tokio::task::yield_now().await;
    let start = Instant::now();
    for _ in 0..300 {
        hub.emit(task()).unwrap();
        // The subscriber runs whenever it was woken.
        tokio::task::yield_now().await;
    }
    assert_eq!(
        Instant::now(),
        start,
        "no time passed: only emits woke the subscriber"
    );
    hub.close();
    let (wakes, seqs, error) = waiter.await.unwrap();
    assert_eq!(error, HubError::Closed, "not cut off as slow");
    assert_eq!(seqs, (0..300).collect::<Vec<u64>>());
    // Still coalesced: a wake-up per half ring (32 events), the first event's and the close's.
    assert!(wakes <= 300 / 32 + 2, "{wakes} wake-ups");
    assert_eq!(hub.stats().cut_off, 0);
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
