//! Several limiters sharing partitions on a real Azurite: provisioning, the capacity
//! bound, ramp-up and hand-over. Skipped (loudly) without an emulator.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use events_core::{EventName, RateLimiter};
use limiter_azure::AzureSharedResource;

use support::Recorder;
use support::azurite::{builder, connection_string, unique_container};

const SHARED: u32 = 10;
const RESERVED: u32 = 5;

fn instance(conn: &str, container: &str, seed: u64) -> Arc<AzureSharedResource> {
    Arc::new(
        builder(conn, container)
            .shared_capacity(SHARED)
            .reserved_capacity(RESERVED)
            .seed(seed)
            .build()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_twice_creates_then_verifies() {
    let Some(conn) = connection_string() else {
        return;
    };
    let container = unique_container("provision");
    let first = instance(&conn, &container, 1);
    let rec = Recorder::attach(first.emitter());
    first.provision().await.unwrap();
    let created = rec.of(EventName::CreatedContainer);
    assert_eq!(created.len(), 1);
    assert!(
        created[0].msg.as_deref().unwrap().ends_with(&container),
        "{created:?}"
    );
    let blobs: Vec<i64> = rec
        .of(EventName::CreatedBlob)
        .iter()
        .map(|r| r.val)
        .collect();
    assert_eq!(blobs, (0..i64::from(SHARED)).collect::<Vec<_>>());

    // Hold a few leases so that verifying meets leased blobs too.
    first.start().await.unwrap();
    first.give_me(RESERVED + 3);
    assert!(
        rec.wait_for(Duration::from_secs(5), |_| first.capacity() == RESERVED + 3)
            .await
    );

    let second = instance(&conn, &container, 2);
    let rec2 = Recorder::attach(second.emitter());
    second.provision().await.unwrap();
    assert_eq!(rec2.count(EventName::VerifiedContainer), 1);
    assert_eq!(rec2.count(EventName::CreatedContainer), 0);
    let verified: Vec<i64> = rec2
        .of(EventName::VerifiedBlob)
        .iter()
        .map(|r| r.val)
        .collect();
    assert_eq!(verified, (0..i64::from(SHARED)).collect::<Vec<_>>());
    assert_eq!(rec2.count(EventName::CreatedBlob), 0);
    first.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_instances_never_hold_more_than_the_shared_capacity() {
    let Some(conn) = connection_string() else {
        return;
    };
    let container = unique_container("four");
    let limiters: Vec<_> = (0..4)
        .map(|i| instance(&conn, &container, 10 + i))
        .collect();
    for l in &limiters {
        l.provision().await.unwrap();
        l.start().await.unwrap();
    }
    let bound = SHARED + 4 * RESERVED;
    let mut rng = fastrand::Rng::with_seed(99);
    let begin = Instant::now();
    let mut next_change = begin;
    let mut samples = 0u32;
    let mut peak = 0;
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    while begin.elapsed() < Duration::from_secs(30) {
        ticker.tick().await;
        // Demand changes every ~1.5 s so that leases are shed, released and contested.
        if Instant::now() >= next_change {
            for l in &limiters {
                l.give_me(rng.u32(0..=SHARED + RESERVED));
            }
            next_change += Duration::from_millis(1_500);
        }
        let total: u32 = limiters.iter().map(|l| l.capacity()).sum();
        assert!(
            total <= bound,
            "capacities sum to {total} > shared + reserved = {bound}"
        );
        peak = peak.max(total);
        samples += 1;
    }
    assert!(samples > 1_000, "only {samples} samples");
    assert!(
        peak >= bound - 2,
        "the instances never got near the bound (peak {peak})"
    );
    for l in &limiters {
        l.stop().await.unwrap();
        assert_eq!(l.capacity(), RESERVED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greedy_instance_gets_everything_while_the_others_idle() {
    let Some(conn) = connection_string() else {
        return;
    };
    let container = unique_container("greedy");
    let limiters: Vec<_> = (0..4)
        .map(|i| instance(&conn, &container, 20 + i))
        .collect();
    for l in &limiters {
        l.provision().await.unwrap();
        l.start().await.unwrap();
        l.give_me(0);
    }
    let greedy = &limiters[0];
    let rec = Recorder::attach(greedy.emitter());
    let asked = Instant::now();
    greedy.give_me(u32::MAX);
    assert!(
        rec.wait_for(Duration::from_secs(5), |_| greedy.capacity()
            == SHARED + RESERVED)
            .await,
        "reached only {}",
        greedy.capacity()
    );
    eprintln!("full shared capacity after {:?}", asked.elapsed());
    assert_eq!(rec.count(EventName::Allocated), SHARED as usize);
    assert_eq!(rec.count(EventName::Failed), 0);
    for l in &limiters {
        l.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instances_partitions_are_taken_within_one_attempt_interval() {
    let Some(conn) = connection_string() else {
        return;
    };
    let container = unique_container("handover");
    let first = instance(&conn, &container, 30);
    let second = instance(&conn, &container, 31);
    let rec1 = Recorder::attach(first.emitter());
    let rec2 = Recorder::attach(second.emitter());
    first.provision().await.unwrap();
    second.provision().await.unwrap();
    first.start().await.unwrap();
    second.start().await.unwrap();
    first.give_me(u32::MAX);
    assert!(
        rec1.wait_for(Duration::from_secs(5), |_| first.capacity()
            == SHARED + RESERVED)
            .await
    );
    second.give_me(u32::MAX);
    // The second instance is starved: its attempts fail.
    assert!(
        rec2.wait_for(Duration::from_secs(5), |e| e
            .iter()
            .any(|r| r.name == EventName::Failed))
            .await
    );
    assert_eq!(second.capacity(), RESERVED);

    let stopping = Instant::now();
    first.stop().await.unwrap();
    // stop() keeps the leases, uncounted, for the 1.1 s rate window before releasing.
    assert_eq!(first.capacity(), RESERVED);
    assert!(stopping.elapsed() >= Duration::from_millis(1_100));
    let stopped = Instant::now();
    let interval = Duration::from_millis(500);
    assert!(
        rec2.wait_for(interval * 3, |_| second.capacity() == SHARED + RESERVED)
            .await,
        "second reached only {}",
        second.capacity()
    );
    let took = stopped.elapsed();
    eprintln!("hand-over took {took:?}");
    // From stop() returning: one attempt interval, plus the new acquisitions.
    assert!(
        took <= interval + Duration::from_millis(300),
        "hand-over took {took:?}"
    );
    second.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_greedy_instances_split_the_partitions_evenly() {
    let Some(conn) = connection_string() else {
        return;
    };
    let container = unique_container("split");
    let first = instance(&conn, &container, 40);
    let second = instance(&conn, &container, 41);
    let rec = Recorder::attach(second.emitter());
    for l in [&first, &second] {
        l.provision().await.unwrap();
        l.start().await.unwrap();
    }
    first.give_me(u32::MAX);
    assert!(
        rec.wait_for(Duration::from_secs(5), |_| first.capacity()
            == SHARED + RESERVED)
            .await
    );
    second.give_me(u32::MAX);
    let half = SHARED / 2 + RESERVED;
    // The first learns of the second's demand within a third of a lease and sheds.
    assert!(
        rec.wait_for(Duration::from_secs(10), |_| first.capacity() == half
            && second.capacity() == half)
            .await,
        "capacities {} and {}",
        first.capacity(),
        second.capacity()
    );
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}
