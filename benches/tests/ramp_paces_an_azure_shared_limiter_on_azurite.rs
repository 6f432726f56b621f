//! A ramp around the real Azure shared limiter on Azurite: it asks for partitions only as
//! fast as its rule allows, so it never leases capacity it would hold back, and it passes
//! the lifecycle and the lease events through. Skipped (loudly) without an emulator.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{EventName, RateLimiter};
use limiter_azure::{AzureSharedResource, Credentials};
use limiter_ramp::{RampLimiter, RampRule};
use tokio::time::{Instant, MissedTickBehavior, interval};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_leased_only_as_fast_as_the_ramp_allows() {
    let Some(conn) = support::connection_string() else {
        return;
    };
    let azure = Arc::new(
        AzureSharedResource::builder()
            .credentials(Credentials::ConnectionString(conn))
            .container(support::unique_container("ramp"))
            .storage_retries(0)
            .shared_capacity(1_000)
            .factor(100)
            .build()
            .unwrap(),
    );
    let limiter = RampLimiter::builder()
        .floor(100)
        .rule(RampRule::step(200, Duration::from_secs(1)))
        .tick(Duration::from_millis(50))
        .build(azure.clone())
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    limiter
        .emitter()
        .add_listener(move |e| sink.lock().unwrap().push((e.name(), e.val())));

    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(1_000);

    // Sample every 50 ms until the ramp reaches the whole capacity (bounded at 20 s).
    let t0 = Instant::now();
    let mut samples: Vec<(Instant, u32)> = Vec::new();
    let mut every = interval(Duration::from_millis(50));
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while limiter.capacity() < 1_000 {
        assert!(t0.elapsed() < Duration::from_secs(20), "{samples:?}");
        every.tick().await;
        // The Azure limiter never holds more than the ramp allows (the ceiling only rises
        // here, so reading it second is the strict order).
        let held = azure.capacity();
        let ceiling = limiter.ceiling();
        assert!(
            held <= ceiling,
            "Azure holds {held} above the ramp's {ceiling}"
        );
        assert!(azure.wanted_partitions() * 100 <= ceiling);
        samples.push((Instant::now(), limiter.capacity()));
    }
    // Never more than +200 within a second, counting anything below the floor (Azure
    // starts with nothing) as the floor, which is always allowed.
    for (i, &(at, c)) in samples.iter().enumerate() {
        let low = samples[..=i]
            .iter()
            .filter(|(s, _)| at.duration_since(*s) < Duration::from_secs(1))
            .map(|(_, c)| (*c).max(100))
            .min()
            .unwrap();
        assert!(c <= low + 200, "{samples:?}");
    }
    // 100 → 1,000 in steps of 200 a second: at least 4 s.
    assert!(t0.elapsed() >= Duration::from_secs(4), "{:?}", t0.elapsed());

    limiter.stop().await.unwrap();
    assert_eq!(azure.capacity(), 0);
    let seen = seen.lock().unwrap().clone();
    // The Azure limiter's lease events reach the ramp's listeners; one shutdown, the ramp's.
    let mut allocated: Vec<i64> = seen
        .iter()
        .filter(|(n, _)| *n == EventName::Allocated)
        .map(|(_, v)| *v)
        .collect();
    allocated.sort_unstable();
    allocated.dedup();
    assert_eq!(allocated, (0..10).collect::<Vec<i64>>(), "{seen:?}");
    assert!(seen.iter().any(|(n, _)| *n == EventName::Released));
    // The Azure limiter was only ever asked for more partitions, never fewer: the ramp's
    // ceiling does not drop while the inner limiter is still acquiring.
    let targets: Vec<i64> = seen
        .iter()
        .filter(|(n, _)| *n == EventName::Target)
        .map(|(_, v)| *v)
        .collect();
    assert!(targets.windows(2).all(|w| w[0] < w[1]), "{targets:?}");
    let shutdowns = seen
        .iter()
        .filter(|(n, _)| *n == EventName::Shutdown)
        .count();
    assert_eq!(shutdowns, 1);
    // Azure leases only what it is asked for, so what the ramp holds back is the demand
    // above its ceiling: 1,000 − 300 at first, 0 at the end.
    let held: Vec<i64> = seen
        .iter()
        .filter(|(n, _)| *n == EventName::HeldBack)
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(held.first(), Some(&700), "{held:?}");
    assert_eq!(held.last(), Some(&0), "{held:?}");
}
