//! While the storage is silent (a call timed out), the lease loop sends nothing but one
//! probe at a time, so that a hung server does not pile up requests it would serve on
//! resume; when the probe is answered, the loop resumes at once and re-proposes the lease
//! ids whose calls went unanswered. Paused clock, a store that can be hung and resumed.

mod support;

use std::time::Duration;

use events_core::{EventName, RateLimiter};
use limiter_azure::AzureSharedResource;
use support::Recorder;
use support::gated::GatedLeases;
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_hung_storage_gets_one_probe_at_a_time_and_full_capacity_back_once_it_answers() {
    let store = GatedLeases::new();
    let limiter = AzureSharedResource::builder()
        .shared_capacity(3_000)
        .factor(1_000)
        .reserved_capacity(100)
        .seed(7)
        .build_with_manager(store.clone())
        .unwrap();
    let rec = Recorder::attach(limiter.emitter());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(3_100);
    let full = |e: &[support::Rec]| {
        e.iter()
            .rev()
            .find(|r| r.name == EventName::Capacity)
            .is_some_and(|r| r.val == 3_100)
    };
    assert!(rec.wait_for(SECOND, full).await, "never held everything");
    let held: Vec<_> = store
        .calls()
        .into_iter()
        .filter(|c| c.1 == "acquire")
        .filter_map(|c| c.2)
        .collect();
    assert_eq!(held.len(), 3);

    let before = store.calls().len();
    store.set_hung(true);
    tokio::time::sleep(20 * SECOND).await;
    let during = store.calls().split_off(before);
    // Every lease lapsed locally (no renewal could be answered), on time.
    assert_eq!(limiter.capacity(), 100);
    // The first call that timed out silenced everything but the probe; probes follow one
    // another, each after the last gave up (5 s: a third of the lease duration).
    let first = during.first().expect("no call during the hang").0;
    let silent = first + SECOND;
    let late: Vec<_> = during
        .iter()
        .filter(|c| c.0 > silent && c.1 != "probe")
        .collect();
    assert!(late.is_empty(), "calls other than the probe: {late:?}");
    let probes: Vec<Instant> = during
        .iter()
        .filter(|c| c.1 == "probe")
        .map(|c| c.0)
        .collect();
    assert!(!probes.is_empty(), "no probe: {during:?}");
    for pair in probes.windows(2) {
        assert!(
            pair[1] - pair[0] >= 5 * SECOND,
            "two probes in flight: {probes:?}"
        );
    }
    assert!(
        during.len() <= 8,
        "{} calls in 20 s: {during:?}",
        during.len()
    );

    // Resumed: the waiting probe is answered, the loop re-proposes the ids it held.
    rec.clear();
    let before = store.calls().len();
    let resumed = Instant::now();
    store.set_hung(false);
    assert!(
        rec.wait_for(SECOND, full).await,
        "capacity not back within a second of the answer: {}",
        limiter.capacity()
    );
    assert!(
        resumed.elapsed() <= Duration::from_millis(100),
        "{:?}",
        resumed.elapsed()
    );
    let again: Vec<_> = store
        .calls()
        .split_off(before)
        .into_iter()
        .filter(|c| c.1 == "acquire")
        .filter_map(|c| c.2)
        .collect();
    for lease in &held {
        assert!(again.contains(lease), "{lease} was not proposed again");
    }
    // Every call was timed, the probes too.
    let probes_timed = rec
        .of(EventName::StorageCall)
        .iter()
        .any(|r| r.msg.as_deref() == Some("probe"));
    assert!(
        probes_timed,
        "the answered probe raised no storage-call event"
    );
    limiter.stop().await.unwrap();
}
