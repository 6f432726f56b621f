//! A private Azurite killed mid-run: errors are raised, capacity falls back to the
//! reserve before the leases could have lapsed on the server, and the limiter recovers by
//! itself once Azurite is back empty: a lease duration plus the margin after it sees the
//! loss, it recreates the lost blobs and acquires again. Skipped (loudly) without
//! `FLOWGATE_AZURITE_BIN`.

mod support;

use std::time::{Duration, Instant};

use events_core::{EventName, RateLimiter};

use support::Recorder;
use support::azurite::{Azurite, azurite_bin, builder, unique_container};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: about 40 s (a lease term, then the quarantine after the data loss)"]
async fn an_outage_falls_back_to_the_reserve_and_recovers() {
    let Some(bin) = azurite_bin() else { return };
    let mut azurite = Azurite::start(bin).await.unwrap();
    let limiter = builder(&azurite.connection_string(), &unique_container("outage"))
        .shared_capacity(4)
        .reserved_capacity(2)
        .call_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let rec = Recorder::attach(limiter.emitter());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(u32::MAX);
    let acquired = Instant::now();
    assert!(
        rec.wait_for(Duration::from_secs(5), |_| limiter.capacity() == 6)
            .await
    );

    azurite.kill().await.unwrap();
    rec.clear();
    // Renewals start failing about 13 s after the leases were taken; the leases stop
    // counting 14.5 s after their requests were sent, before the server's 15 s.
    assert!(
        rec.wait_for(Duration::from_secs(20), |_| limiter.capacity() == 2)
            .await,
        "capacity stayed at {}",
        limiter.capacity()
    );
    let fell_after = acquired.elapsed();
    assert!(
        fell_after < Duration::from_millis(14_600),
        "fell back after {fell_after:?}"
    );
    assert!(
        rec.count(EventName::Error) >= 1,
        "no error events during the outage"
    );
    // `capacity()` falls back as soon as the first lease's counted time is over; the loop
    // raises `released` for each lease as it catches up.
    assert!(
        rec.wait_for(Duration::from_secs(5), |events| {
            events
                .iter()
                .filter(|e| e.name == EventName::Released)
                .count()
                == 4
        })
        .await,
        "released {} of 4 leases",
        rec.count(EventName::Released)
    );
    let errors = rec.of(EventName::Error);
    assert!(
        errors
            .iter()
            .any(|e| e.msg.as_deref().unwrap_or("").contains("renew lease")),
        "{errors:?}"
    );

    // Back, empty (it keeps nothing in memory across restarts): the limiter sees the
    // loss at its first call and takes nothing for a lease duration plus the margin.
    azurite.restart().await.unwrap();
    let back = Instant::now();
    assert!(
        rec.wait_for(Duration::from_secs(25), |_| limiter.capacity() == 6)
            .await,
        "did not recover: capacity {}",
        limiter.capacity()
    );
    let recovered_after = back.elapsed();
    assert!(
        recovered_after >= Duration::from_millis(15_500),
        "acquired again {recovered_after:?} after the data loss"
    );
    assert!(
        rec.count(EventName::CreatedBlob) >= 4,
        "the lost blobs were not recreated"
    );
    limiter.stop().await.unwrap();
    assert_eq!(limiter.capacity(), 2);
    azurite.kill().await.unwrap();
}
