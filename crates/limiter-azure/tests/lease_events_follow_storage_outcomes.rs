//! The limiter's events and capacity for every storage outcome, against a mocked lease
//! manager on tokio's paused clock.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{EventName, RateLimiter};
use limiter_azure::{AzureSharedResource, ConfigError, LeaseError, LeaseManager, Provisioned};
use tokio::time::Instant;

use support::Recorder;
use support::mock::{
    MockLeases, SECOND, after, calls, grant_all, hang, limiter, provisioned, ready, record, started,
};

#[tokio::test(start_paused = true)]
async fn a_granted_lease_raises_target_allocated_and_capacity() {
    let acquired = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    assert_eq!(limiter.capacity(), 100);

    limiter.give_me(2_100);
    assert!(
        rec.wait_for(SECOND, |e| e
            .iter()
            .filter(|r| r.name == EventName::Allocated)
            .count()
            == 2)
            .await
    );
    assert_eq!(limiter.capacity(), 2_100);
    assert_eq!(rec.of(EventName::Target)[0].val, 2);
    let allocated: Vec<i64> = rec.of(EventName::Allocated).iter().map(|r| r.val).collect();
    let acquired_at: Vec<i64> = acquired
        .lock()
        .unwrap()
        .iter()
        .map(|c| i64::from(c.1))
        .collect();
    assert_eq!(allocated.len(), 2);
    assert!(
        allocated
            .iter()
            .all(|p| acquired_at.contains(p) && (0..3).contains(p))
    );
    assert_eq!(rec.of(EventName::Capacity).last().unwrap().val, 2_100);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lease_held_elsewhere_raises_failed_and_is_retried_within_the_attempt_interval() {
    let attempts = calls();
    let mut m = provisioned();
    let log = attempts.clone();
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        ready(Err(LeaseError::Conflict { partition: p }))
    });
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(10 * SECOND, |e| e
            .iter()
            .filter(|r| r.name == EventName::Failed)
            .count()
            >= 5)
            .await
    );
    assert_eq!(limiter.capacity(), 100);
    assert_eq!(rec.count(EventName::Allocated), 0);
    let failed = rec.of(EventName::Failed);
    let attempts = attempts.lock().unwrap().clone();
    for (event, attempt) in failed.iter().zip(&attempts) {
        assert_eq!(event.val, i64::from(attempt.1));
    }
    for pair in attempts.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap < Duration::from_millis(500), "attempts {gap:?} apart");
    }
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_auth_failure_raises_error_with_the_cause() {
    let mut m = provisioned();
    m.expect_acquire().returning(|_, _, _| {
        ready(Err(LeaseError::Unauthorized {
            operation: "acquire lease",
            status: 403,
        }))
    });
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(SECOND, |e| e.iter().any(|r| r.name == EventName::Error))
            .await
    );
    let error = &rec.of(EventName::Error)[0];
    assert!(
        error
            .msg
            .as_deref()
            .unwrap()
            .contains("refused the credentials"),
        "{error:?}"
    );
    assert_eq!(limiter.capacity(), 100);
    assert_eq!(rec.count(EventName::Failed), 0);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn throttling_backs_off_at_least_a_full_attempt_interval() {
    let attempts = calls();
    let mut m = provisioned();
    let log = attempts.clone();
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        ready(Err(LeaseError::Throttled {
            operation: "acquire lease",
            status: 503,
        }))
    });
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(10 * SECOND, |e| e
            .iter()
            .filter(|r| r.name == EventName::Error)
            .count()
            >= 4)
            .await
    );
    let attempts = attempts.lock().unwrap().clone();
    assert!(attempts.len() >= 4);
    for pair in attempts.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_millis(500));
    }
    assert!(
        rec.of(EventName::Error)[0]
            .msg
            .as_deref()
            .unwrap()
            .contains("throttling")
    );
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_hanging_acquire_times_out_and_its_lease_is_given_back() {
    let attempts = calls();
    let released = calls();
    let mut m = provisioned();
    let log = attempts.clone();
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        hang()
    });
    m.expect_release().returning(record(&released));
    let (limiter, rec) = started(m).await;
    let begin = Instant::now();
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(5 * SECOND, |e| e.iter().any(|r| r.name == EventName::Error))
            .await
    );
    assert!(
        Instant::now() - begin >= SECOND,
        "timed out before the call timeout"
    );
    let error = &rec.of(EventName::Error)[0];
    assert!(
        error.msg.as_deref().unwrap().contains("did not finish"),
        "{error:?}"
    );
    assert_eq!(limiter.capacity(), 100);
    limiter.stop().await.unwrap();
    let first = attempts.lock().unwrap()[0].clone();
    assert!(
        released
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.1 == first.1 && r.2 == first.2),
        "the timed-out lease was not released"
    );
}

#[tokio::test(start_paused = true)]
async fn needed_leases_are_renewed_and_stay_counted_past_their_first_term() {
    let acquired = calls();
    let renewed = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(record(&renewed));
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(SECOND, |e| e.iter().any(|r| r.name == EventName::Allocated))
            .await
    );

    // Let 60 s of (paused, auto-advancing) time pass: four lease terms.
    tokio::time::sleep(60 * SECOND).await;
    assert_eq!(limiter.capacity(), 1_100);
    assert_eq!(rec.count(EventName::Released), 0);
    assert_eq!(
        acquired.lock().unwrap().len(),
        1,
        "re-acquired instead of renewing"
    );
    let renewed = renewed.lock().unwrap().clone();
    assert!(renewed.len() >= 4, "only {} renewals", renewed.len());
    let first_acquire = acquired.lock().unwrap()[0].0;
    // Each renewal is sent before the counted term (15 s - 0.5 s margin) ends.
    assert!(renewed[0].0 - first_acquire < Duration::from_millis(14_500));
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_is_released_at_once_and_acquired_again() {
    let acquired = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew()
        .returning(|p, _| ready(Err(LeaseError::Lost { partition: p })));
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(20 * SECOND, |e| e
            .iter()
            .any(|r| r.name == EventName::Released))
            .await
    );
    let first = acquired.lock().unwrap()[0].1;
    assert_eq!(rec.of(EventName::Released)[0].val, i64::from(first));
    assert!(rec.of(EventName::Capacity).iter().any(|r| r.val == 100));
    assert!(
        rec.wait_for(SECOND, |e| e
            .iter()
            .filter(|r| r.name == EventName::Allocated)
            .count()
            == 2)
            .await
    );
    assert_eq!(limiter.capacity(), 1_100);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_cannot_be_renewed_stops_counting_before_the_storage_lets_it_go() {
    let acquired = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| hang());
    m.expect_release().returning(|_, _| ready(Ok(())));
    let limiter = limiter(m);
    let rec = Recorder::attach(limiter.emitter());
    let released_at = Arc::new(Mutex::new(None));
    let sink = released_at.clone();
    limiter.emitter().add_listener(move |e| {
        if e.name() == EventName::Released {
            sink.lock().unwrap().get_or_insert(Instant::now());
        }
    });
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(20 * SECOND, |e| e
            .iter()
            .any(|r| r.name == EventName::Released))
            .await
    );
    let sent = acquired.lock().unwrap()[0].0;
    let held_for = released_at.lock().unwrap().unwrap() - sent;
    // Counted for at most the lease duration minus the safety margin minus the rate
    // window, measured from the moment the acquire request was sent: uncounted for a whole
    // rate window before the storage (15 s from receipt) lets anyone else take it.
    assert!(
        held_for <= Duration::from_millis(15_000 - 500 - 1_100),
        "counted for {held_for:?}"
    );
    assert!(
        held_for >= Duration::from_millis(13_000),
        "dropped early: {held_for:?}"
    );
    assert!(
        rec.count(EventName::Error) >= 1,
        "renewal timeouts raise errors"
    );
    assert!(
        rec.of(EventName::Error)[0]
            .msg
            .as_deref()
            .unwrap()
            .contains("renew lease")
    );
    limiter.stop().await.unwrap();
}

/// Capacity values and the instants they were reached.
fn capacity_log(limiter: &AzureSharedResource) -> Arc<Mutex<Vec<(Instant, i64)>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    limiter.emitter().add_listener(move |e| {
        if e.name() == EventName::Capacity {
            sink.lock().unwrap().push((Instant::now(), e.val()));
        }
    });
    log
}

#[tokio::test(start_paused = true)]
async fn falling_demand_stops_counting_at_once_and_releases_after_the_rate_window() {
    let acquired = calls();
    let released = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(record(&released));
    let (limiter, rec) = started(m).await;
    let capacity = capacity_log(&limiter);
    limiter.give_me(3_100);
    assert!(
        rec.wait_for(SECOND, |e| e
            .iter()
            .filter(|r| r.name == EventName::Allocated)
            .count()
            == 3)
            .await
    );
    assert_eq!(limiter.capacity(), 3_100);

    let asked = Instant::now();
    limiter.give_me(1_050);
    assert!(
        rec.wait_for(SECOND, |_| limiter.capacity() == 1_100).await,
        "capacity drops at once"
    );
    let dropped = capacity.lock().unwrap().last().unwrap().0;
    assert!(
        dropped - asked < Duration::from_millis(10),
        "{:?}",
        dropped - asked
    );
    assert!(released.lock().unwrap().is_empty());
    assert_eq!(rec.count(EventName::Released), 0);
    assert!(
        rec.wait_for(2 * SECOND, |_| released.lock().unwrap().len() == 2)
            .await
    );
    assert_eq!(rec.count(EventName::Released), 2);
    // The leases were kept, uncounted, for the whole 1.1 s rate window, and no longer.
    for (at, _, _) in released.lock().unwrap().iter() {
        let kept = *at - dropped;
        assert!(
            kept >= Duration::from_millis(1_100) && kept < Duration::from_millis(1_150),
            "released {kept:?} after it stopped being counted"
        );
    }
    limiter.give_me(0);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 100).await);
    assert!(
        rec.wait_for(2 * SECOND, |_| released.lock().unwrap().len() == 3)
            .await
    );
    assert_eq!(acquired.lock().unwrap().len(), 3);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn demand_returning_during_the_drain_counts_the_same_lease_again() {
    let acquired = calls();
    let released = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(record(&released));
    let (limiter, rec) = started(m).await;
    limiter.give_me(3_100);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 3_100).await);
    limiter.give_me(1_100);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 1_100).await);
    tokio::time::advance(Duration::from_millis(500)).await;
    limiter.give_me(3_100);
    assert!(
        rec.wait_for(SECOND, |_| limiter.capacity() == 3_100).await,
        "the drained partitions are counted again"
    );
    // Well past the rate window: nothing was released or acquired again.
    tokio::time::advance(3 * SECOND).await;
    assert!(
        !rec.wait_for(SECOND, |_| !released.lock().unwrap().is_empty())
            .await
    );
    assert_eq!(acquired.lock().unwrap().len(), 3, "no new acquisition");
    assert_eq!(rec.count(EventName::Released), 0);
    assert_eq!(limiter.capacity(), 3_100);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stop_drops_to_the_reserve_at_once_and_releases_after_the_rate_window() {
    let acquired = calls();
    let released = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(record(&released));
    let limiter = AzureSharedResource::builder()
        .shared_capacity(3_000)
        .factor(1_000)
        .reserved_capacity(100)
        .rate_window(2 * SECOND)
        .seed(7)
        .build_with_manager(Arc::new(m))
        .unwrap();
    let rec = Recorder::attach(limiter.emitter());
    let capacity = capacity_log(&limiter);
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(3_100);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 3_100).await);
    let stopping = Instant::now();
    limiter.stop().await.unwrap();
    let took = Instant::now() - stopping;
    assert!(
        took >= 2 * SECOND && took < Duration::from_millis(2_050),
        "stop took {took:?}"
    );
    let (dropped, value) = *capacity.lock().unwrap().last().unwrap();
    assert_eq!(value, 100);
    assert!(dropped - stopping < Duration::from_millis(10));
    let released = released.lock().unwrap();
    assert_eq!(released.len(), 3);
    assert!(released.iter().all(|r| r.0 - dropped >= 2 * SECOND));
}

#[tokio::test(start_paused = true)]
async fn stop_releases_every_lease_and_shuts_down() {
    let acquired = calls();
    let released = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(record(&released));
    let (limiter, rec) = started(m).await;
    limiter.give_me(10_000);
    assert!(
        rec.wait_for(SECOND, |e| e
            .iter()
            .filter(|r| r.name == EventName::Allocated)
            .count()
            == 3)
            .await
    );
    assert_eq!(limiter.capacity(), 3_100);
    limiter.stop().await.unwrap();
    assert_eq!(limiter.capacity(), 100);
    let mut released: Vec<u32> = released.lock().unwrap().iter().map(|r| r.1).collect();
    released.sort();
    assert_eq!(released, vec![0, 1, 2]);
    let events = rec.events();
    assert_eq!(events.last().unwrap().name, EventName::Shutdown);
    assert_eq!(rec.count(EventName::Released), 3);
    limiter.stop().await.unwrap();
    assert_eq!(rec.count(EventName::Shutdown), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_release_on_stop_is_reported_but_the_limiter_stops() {
    let acquired = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_release().returning(|_, _| {
        ready(Err(LeaseError::Unauthorized {
            operation: "release lease",
            status: 403,
        }))
    });
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(SECOND, |e| e.iter().any(|r| r.name == EventName::Allocated))
            .await
    );
    let err = limiter.stop().await.unwrap_err();
    assert!(err.to_string().contains("lapse by themselves"), "{err}");
    assert_eq!(limiter.capacity(), 100);
    assert_eq!(rec.events().last().unwrap().name, EventName::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn a_large_deficit_is_acquired_concurrently_and_bounded() {
    let in_flight = Arc::new(Mutex::new((0u32, 0u32)));
    let mut m = provisioned();
    let gauge = in_flight.clone();
    m.expect_acquire().returning(move |_, _, _| {
        {
            let mut g = gauge.lock().unwrap();
            g.0 += 1;
            g.1 = g.1.max(g.0);
        }
        let gauge = gauge.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            gauge.lock().unwrap().0 -= 1;
            Ok(())
        })
    });
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(|_, _| ready(Ok(())));
    let limiter = AzureSharedResource::builder()
        .shared_capacity(20)
        .build_with_manager(Arc::new(m))
        .unwrap();
    let rec = Recorder::attach(limiter.emitter());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    let asked = Instant::now();
    limiter.give_me(20);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 20).await);
    // 20 partitions, 8 at a time, 50 ms each: three rounds rather than twenty.
    assert!(
        Instant::now() - asked <= Duration::from_millis(200),
        "took {:?}",
        Instant::now() - asked
    );
    assert_eq!(in_flight.lock().unwrap().1, 8);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn lifecycle_order_is_enforced() {
    let limiter = limiter(provisioned());
    assert!(limiter.start().await.unwrap_err().is_lifecycle());
    limiter.provision().await.unwrap();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    assert!(limiter.provision().await.unwrap_err().is_lifecycle());
    assert!(limiter.start().await.unwrap_err().is_lifecycle());
    limiter.stop().await.unwrap();
    limiter.stop().await.unwrap();
    assert!(limiter.start().await.unwrap_err().is_lifecycle());
}

#[tokio::test(start_paused = true)]
async fn provisioning_reports_created_and_verified_resources() {
    let mut m = MockLeases::new();
    m.expect_location().returning(|| "http://mock/c".to_owned());
    m.expect_ensure_container()
        .returning(|| ready(Ok(Provisioned::Created)));
    m.expect_ensure_partition().returning(|p| {
        ready(Ok(if p == 0 {
            Provisioned::Created
        } else {
            Provisioned::Existed
        }))
    });
    let limiter = limiter(m);
    let rec = Recorder::attach(limiter.emitter());
    limiter.provision().await.unwrap();
    // Every storage call is timed as well: one for the container, one per partition.
    let calls: Vec<String> = rec
        .of(EventName::StorageCall)
        .into_iter()
        .filter_map(|r| r.msg)
        .collect();
    assert_eq!(
        calls,
        [
            "create_container",
            "create_partition",
            "create_partition",
            "create_partition"
        ]
    );
    let events: Vec<_> = rec
        .events()
        .into_iter()
        .filter(|r| r.name != EventName::StorageCall)
        .collect();
    assert_eq!(events[0].name, EventName::CreatedContainer);
    assert_eq!(events[0].msg.as_deref(), Some("http://mock/c"));
    assert_eq!((events[1].name, events[1].val), (EventName::CreatedBlob, 0));
    assert_eq!(
        (events[2].name, events[2].val),
        (EventName::VerifiedBlob, 1)
    );
    assert_eq!(
        (events[3].name, events[3].val),
        (EventName::VerifiedBlob, 2)
    );
}

#[tokio::test(start_paused = true)]
async fn a_provisioning_failure_names_the_blob_and_can_be_retried() {
    let mut m = MockLeases::new();
    m.expect_location().returning(|| "http://mock/c".to_owned());
    m.expect_ensure_container()
        .returning(|| ready(Ok(Provisioned::Existed)));
    m.expect_ensure_partition().times(3).returning(|p| {
        if p == 1 {
            ready(Err(LeaseError::Unauthorized {
                operation: "create partition blob",
                status: 403,
            }))
        } else {
            ready(Ok(Provisioned::Existed))
        }
    });
    m.expect_ensure_partition()
        .returning(|_| after(Duration::from_secs(5), Ok(Provisioned::Existed)));
    let limiter = limiter(m);
    let rec = Recorder::attach(limiter.emitter());
    let err = limiter.provision().await.unwrap_err();
    assert!(err.to_string().contains("partition blob 1"), "{err}");
    assert_eq!(rec.of(EventName::VerifiedContainer).len(), 1);
    assert_eq!(rec.count(EventName::Error), 1);
    assert!(limiter.start().await.unwrap_err().is_lifecycle());
    // A hanging storage call fails provisioning with a timeout instead of hanging it.
    let err = limiter.provision().await.unwrap_err();
    assert!(format!("{:?}", err).contains("Timeout"), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn shared_capacity_grows_after_new_partitions_are_provisioned_and_shrinks_by_releasing() {
    let acquired = calls();
    let provisioned_log = Arc::new(Mutex::new(Vec::new()));
    let mut m = MockLeases::new();
    m.expect_location().returning(|| "http://mock/c".to_owned());
    m.expect_ensure_container()
        .returning(|| ready(Ok(Provisioned::Existed)));
    let log = provisioned_log.clone();
    m.expect_ensure_partition().returning(move |p| {
        log.lock().unwrap().push(p);
        ready(Ok(Provisioned::Created))
    });
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(|_, _| ready(Ok(())));
    support::mock::alone(&mut m);
    let (limiter, rec) = started(m).await;
    limiter.give_me(100_000);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 3_100).await);

    limiter.set_shared_capacity(4_500).await.unwrap();
    assert_eq!(*provisioned_log.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    assert_eq!(limiter.partitions(), 5);
    assert_eq!(limiter.max_capacity(), 4_600);
    // The last partition carries only the remainder: 4,500 shared, never 5,000.
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 4_600).await);
    assert!(acquired.lock().unwrap().iter().all(|a| a.1 < 5));
    // The same partitions, the last one now full size: counted at once, no new lease.
    let leases_before = acquired.lock().unwrap().len();
    limiter.set_shared_capacity(5_000).await.unwrap();
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 5_100).await);
    assert_eq!(acquired.lock().unwrap().len(), leases_before);

    limiter.set_shared_capacity(2_000).await.unwrap();
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 2_100).await);
    let released: Vec<i64> = rec.of(EventName::Released).iter().map(|r| r.val).collect();
    assert!(released.iter().all(|p| *p >= 2), "{released:?}");

    let err = limiter.set_factor(500).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::FactorChangeWhileStarted {
            current: 1_000,
            requested: 500
        }
    ));
    limiter.set_reserved_capacity(300);
    assert_eq!(limiter.capacity(), 2_300);
    assert_eq!(rec.of(EventName::Capacity).last().unwrap().val, 2_300);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_remainder_partition_keeps_the_total_at_the_shared_capacity() {
    let acquired = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_release().returning(|_, _| ready(Ok(())));
    let limiter = AzureSharedResource::builder()
        .shared_capacity(10_200)
        .factor(1_000)
        .reserved_capacity(50)
        .build_with_manager(Arc::new(m))
        .unwrap();
    let rec = Recorder::attach(limiter.emitter());
    assert_eq!(limiter.partitions(), 11);
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(8_800);
    assert_eq!(rec.of(EventName::Target)[0].val, 9);
    limiter.give_me(u32::MAX);
    assert_eq!(limiter.wanted_partitions(), 11);
    assert!(
        rec.wait_for(SECOND, |e| e
            .iter()
            .filter(|r| r.name == EventName::Allocated)
            .count()
            == 11)
            .await
    );
    assert_eq!(limiter.capacity(), 10_250);
    assert_eq!(limiter.capacity(), limiter.max_capacity());
    limiter.stop().await.unwrap();
}

#[test]
fn invalid_settings_are_rejected_with_the_numbers_and_the_fix() {
    let too_many = AzureSharedResource::builder()
        .shared_capacity(10_000)
        .factor(10)
        .build_with_manager(Arc::new(MockLeases::new()))
        .unwrap_err();
    assert_eq!(
        too_many,
        ConfigError::TooManyPartitions {
            shared: 10_000,
            factor: 10,
            partitions: 1_000,
            max: 500,
            min_factor: 20
        }
    );
    let text = too_many.to_string();
    assert!(
        text.contains("1000 partitions") && text.contains("at least 20"),
        "{text}"
    );

    for secs in [
        Duration::from_secs(10),
        Duration::from_secs(61),
        Duration::from_millis(15_500),
    ] {
        let err = AzureSharedResource::builder()
            .shared_capacity(10)
            .lease_duration(secs)
            .build_with_manager(Arc::new(MockLeases::new()))
            .unwrap_err();
        assert!(matches!(err, ConfigError::LeaseDuration { .. }), "{err}");
        assert!(err.to_string().contains("15 to 60"));
    }
    let zero = AzureSharedResource::builder()
        .factor(0)
        .build_with_manager(Arc::new(MockLeases::new()));
    assert_eq!(zero.unwrap_err(), ConfigError::ZeroFactor);
    let timeout = AzureSharedResource::builder()
        .call_timeout(Duration::from_secs(10))
        .build_with_manager(Arc::new(MockLeases::new()))
        .unwrap_err();
    assert!(timeout.to_string().contains("call_timeout"), "{timeout}");
    let no_credentials = AzureSharedResource::builder()
        .container("c")
        .build()
        .unwrap_err();
    assert!(
        no_credentials.to_string().contains("credentials"),
        "{no_credentials}"
    );
    let no_account = AzureSharedResource::builder()
        .container("c")
        .credentials(limiter_azure::Credentials::AccountKey("a2V5".into()))
        .build()
        .unwrap_err();
    assert!(
        no_account.to_string().contains(".account(name)"),
        "{no_account}"
    );
    let bad = AzureSharedResource::builder()
        .container("c")
        .credentials(limiter_azure::Credentials::ConnectionString(
            "not a connection string".into(),
        ))
        .build()
        .unwrap_err();
    assert!(matches!(bad, ConfigError::Credentials { .. }), "{bad}");
}

#[test]
fn the_traits_are_object_safe() {
    let manager: Arc<dyn LeaseManager> = Arc::new(MockLeases::new());
    let limiter: Arc<dyn RateLimiter> = Arc::new(
        AzureSharedResource::builder()
            .shared_capacity(5)
            .build_with_manager(manager)
            .unwrap(),
    );
    assert_eq!(limiter.max_capacity(), 5);
    let debug = format!(
        "{:?}",
        limiter_azure::Credentials::AccountKey("secret".into())
    );
    assert!(!debug.contains("secret"));
}

fn others(wanted: &[u32]) -> Vec<limiter_azure::Member> {
    wanted
        .iter()
        .enumerate()
        .map(|(i, w)| limiter_azure::Member {
            id: format!("other-{i}"),
            wanted: *w,
            age: Duration::ZERO,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_instance_keeps_to_its_fair_share_while_others_want_partitions() {
    let acquired = calls();
    let released = calls();
    let members = Arc::new(Mutex::new(others(&[99, 99])));
    let announced = Arc::new(Mutex::new(Vec::new()));
    let mut m = MockLeases::new();
    m.expect_location().returning(|| "http://mock/c".to_owned());
    m.expect_ensure_container()
        .returning(|| ready(Ok(Provisioned::Existed)));
    m.expect_ensure_partition()
        .returning(|_| ready(Ok(Provisioned::Existed)));
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(record(&released));
    let log = announced.clone();
    let me = Arc::new(Mutex::new(None));
    let my_id = me.clone();
    m.expect_announce().returning(move |member, wanted| {
        log.lock().unwrap().push(wanted);
        *my_id.lock().unwrap() = Some(limiter_azure::Member {
            id: member,
            wanted,
            age: Duration::ZERO,
        });
        ready(Ok(()))
    });
    let view = members.clone();
    m.expect_members().returning(move || {
        // The storage lists our own announcement next to the others'.
        let mut all = view.lock().unwrap().clone();
        all.extend(me.lock().unwrap().clone());
        ready(Ok(all))
    });
    let withdrawn = Arc::new(Mutex::new(0));
    let count = withdrawn.clone();
    m.expect_withdraw().returning(move |_| {
        *count.lock().unwrap() += 1;
        ready(Ok(()))
    });
    let (limiter, rec) = started(m).await;
    limiter.give_me(u32::MAX);
    // Three instances want everything of three partitions: one each.
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 1_100).await);
    tokio::time::sleep(20 * SECOND).await;
    assert_eq!(limiter.capacity(), 1_100, "took more than its share");
    assert_eq!(announced.lock().unwrap()[0], 3);

    // The others stop wanting: the rest is taken within about one attempt interval.
    *members.lock().unwrap() = others(&[0]);
    let freed = Instant::now();
    assert!(
        rec.wait_for(5 * SECOND, |_| limiter.capacity() == 3_100)
            .await
    );
    assert!(Instant::now() - freed <= Duration::from_millis(600));

    // Someone wants two of them again: within a third of a lease we learn of it and shed
    // down to our share (one or two partitions: the remainder goes by a rotating rank).
    *members.lock().unwrap() = others(&[2]);
    let wanted_again = Instant::now();
    assert!(
        rec.wait_for(10 * SECOND, |_| limiter.capacity() < 3_100)
            .await
    );
    assert!(Instant::now() - wanted_again <= 5 * SECOND);
    assert!([1_100, 2_100].contains(&limiter.capacity()));
    assert!(!released.lock().unwrap().is_empty());

    limiter.give_me(0);
    assert!(
        rec.wait_for(SECOND, |_| *withdrawn.lock().unwrap() == 1)
            .await
    );
    limiter.stop().await.unwrap();
    assert_eq!(*withdrawn.lock().unwrap(), 1, "withdrew twice");
}

#[tokio::test(start_paused = true)]
async fn a_wider_rate_window_stops_counting_an_unrenewed_lease_that_much_earlier() {
    let acquired = calls();
    let mut m = provisioned();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| hang());
    m.expect_release().returning(|_, _| ready(Ok(())));
    let limiter = AzureSharedResource::builder()
        .shared_capacity(3_000)
        .factor(1_000)
        .reserved_capacity(100)
        .rate_window(3 * SECOND)
        .seed(7)
        .build_with_manager(Arc::new(m))
        .unwrap();
    let capacity = capacity_log(&limiter);
    let rec = Recorder::attach(limiter.emitter());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(1_100);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 1_100).await);
    // The first drop back to the reserve (the loop then acquires again at once).
    let first_drop = || {
        let log = capacity.lock().unwrap();
        let up = log.iter().position(|c| c.1 == 1_100)?;
        log[up..].iter().find(|c| c.1 == 100).copied()
    };
    assert!(rec.wait_for(20 * SECOND, |_| first_drop().is_some()).await);
    let sent = acquired.lock().unwrap()[0].0;
    let (lapsed, _) = first_drop().unwrap();
    // 15 s lease − 0.5 s safety margin − 3 s rate window, from the acquire's send time:
    // the storage keeps the lease at least 3.5 s longer, so nobody else can spend the
    // partition within the window.
    let counted = lapsed - sent;
    assert!(
        counted <= Duration::from_millis(11_500) && counted >= Duration::from_millis(11_000),
        "counted for {counted:?}"
    );
    limiter.stop().await.unwrap();
}
