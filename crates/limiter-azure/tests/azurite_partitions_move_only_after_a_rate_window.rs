//! On a real Azurite, partitions that move between instances (demand changes, fair-share
//! shedding, stop) are never counted by two instances within one rate window, and
//! consumers that each spend `capacity()` per second never exceed `shared + reserved`
//! together in any one-second window. Skipped (loudly) without an emulator.

mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use events_core::RateLimiter;
use limiter_azure::AzureSharedResource;

use support::azurite::{builder, connection_string, unique_container};

const SHARED: u32 = 1_000;
const FACTOR: u32 = 100;
const RESERVED: u32 = 20;
const INSTANCES: usize = 3;
const WINDOW: Duration = Duration::from_secs(1);
const RATE_WINDOW: Duration = Duration::from_millis(1_100);

/// `(instance, partition, counted, when)` from every limiter's counting hook.
type CountingLog = Arc<Mutex<Vec<(usize, u32, bool, Instant)>>>;

fn instance(conn: &str, container: &str, index: usize, log: &CountingLog) -> AzureSharedResource {
    let sink = log.clone();
    builder(conn, container)
        .shared_capacity(SHARED)
        .factor(FACTOR)
        .reserved_capacity(RESERVED)
        .rate_window(RATE_WINDOW)
        .seed(40 + index as u64)
        .on_counting(move |partition, counted| {
            sink.lock()
                .unwrap()
                .push((index, partition, counted, Instant::now()));
        })
        .build()
        .unwrap()
}

/// An exact sliding-window consumer: every 10 ms it spends, greedily, whatever keeps its
/// spending over the last second within the limiter's current capacity.
async fn spend(
    limiter: Arc<AzureSharedResource>,
    until: Instant,
    spent: Arc<Mutex<Vec<(Instant, u32)>>>,
) {
    let mut mine: VecDeque<(Instant, u32)> = VecDeque::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    while Instant::now() < until {
        ticker.tick().await;
        let now = Instant::now();
        while mine.front().is_some_and(|&(t, _)| now - t >= WINDOW) {
            mine.pop_front();
        }
        let used: u32 = mine.iter().map(|s| s.1).sum();
        let amount = limiter.capacity().saturating_sub(used);
        if amount > 0 {
            mine.push_back((now, amount));
            spent.lock().unwrap().push((now, amount));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_partitions_wait_a_rate_window_and_spending_stays_within_the_shared_budget() {
    let Some(conn) = connection_string() else {
        return;
    };
    let container = unique_container("window");
    let log: CountingLog = Arc::new(Mutex::new(Vec::new()));
    let limiters: Vec<Arc<AzureSharedResource>> = (0..INSTANCES)
        .map(|i| Arc::new(instance(&conn, &container, i, &log)))
        .collect();
    for l in &limiters {
        l.provision().await.unwrap();
        l.start().await.unwrap();
    }
    let run = Duration::from_secs(20);
    let until = Instant::now() + run;
    let spent = Arc::new(Mutex::new(Vec::new()));
    let spenders: Vec<_> = limiters
        .iter()
        .map(|l| tokio::spawn(spend(Arc::clone(l), until, Arc::clone(&spent))))
        .collect();
    // Demand changes every ~1.5 s, often above a fair share, so that partitions are
    // shed, drained, released, contested and taken over.
    let mut rng = fastrand::Rng::with_seed(5);
    let mut ticker = tokio::time::interval(Duration::from_millis(1_500));
    while Instant::now() < until {
        ticker.tick().await;
        for l in &limiters {
            let demand = if rng.bool() {
                SHARED + RESERVED
            } else {
                rng.u32(0..=SHARED / 2)
            };
            l.give_me(demand);
        }
    }
    for s in spenders {
        s.await.unwrap();
    }
    // One instance stops while another wants everything: the hand-over waits too.
    limiters[1].give_me(SHARED + RESERVED);
    limiters[0].give_me(SHARED + RESERVED);
    limiters[2].give_me(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while limiters[1].capacity() < SHARED / 2 + RESERVED && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    limiters[0].stop().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while limiters[1].capacity() < SHARED + RESERVED && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        limiters[1].capacity(),
        SHARED + RESERVED,
        "the partitions of a stopped instance are picked up"
    );
    for l in &limiters {
        l.stop().await.unwrap();
    }

    // 1. No partition is counted by two instances within the rate window.
    let log = log.lock().unwrap().clone();
    let mut handovers = 0;
    for partition in 0..SHARED / FACTOR {
        let events: Vec<_> = log.iter().filter(|e| e.1 == partition).collect();
        let mut last_stop: Option<(usize, Instant)> = None;
        let mut counted_by: Option<usize> = None;
        for &&(who, _, counted, at) in &events {
            if counted {
                assert!(
                    counted_by.is_none(),
                    "partition {partition} counted by {counted_by:?} and {who} at once"
                );
                if let Some((previous, stopped)) = last_stop {
                    if previous != who {
                        handovers += 1;
                        let gap = at - stopped;
                        assert!(
                            gap >= RATE_WINDOW - Duration::from_millis(5),
                            "partition {partition} moved from {previous} to {who} after {gap:?}"
                        );
                    }
                }
                counted_by = Some(who);
            } else {
                assert_eq!(counted_by, Some(who), "partition {partition}: {events:?}");
                counted_by = None;
                last_stop = Some((who, at));
            }
        }
    }
    assert!(
        handovers >= 5,
        "only {handovers} hand-overs: the test proved little"
    );

    // 2. The consumers together never spend more than shared + reserved in one second.
    let bound = SHARED + INSTANCES as u32 * RESERVED;
    let mut spent = spent.lock().unwrap().clone();
    spent.sort_by_key(|s| s.0);
    let mut start = 0;
    let mut sum = 0u32;
    let mut peak = 0;
    for end in 0..spent.len() {
        sum += spent[end].1;
        while spent[end].0 - spent[start].0 >= WINDOW {
            sum -= spent[start].1;
            start += 1;
        }
        peak = peak.max(sum);
        assert!(
            sum <= bound,
            "{sum} spent in the second ending {:?} after the start > {bound}",
            spent[end].0 - spent[0].0
        );
    }
    assert!(
        peak >= bound * 9 / 10,
        "spending never got near the bound ({peak})"
    );
}
