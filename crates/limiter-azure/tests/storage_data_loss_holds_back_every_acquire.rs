//! After any sign that the storage lost its data (a missing blob on acquire, a counted
//! lease it no longer knows or cannot find on renew, our announcement gone), no partition
//! is acquired until a whole lease duration plus the safety margin has passed; the
//! container is recreated at once, the partition blobs only after the quarantine, and a
//! fair-sharing round completes before anything is acquired again. Also: lease ids whose
//! calls went unanswered are proposed again. Mocked storage, tokio's paused clock.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{EventName, RateLimiter};
use limiter_azure::{LeaseError, Member, Provisioned};
use tokio::time::Instant;

use support::mock::{
    Calls, MockLeases, SECOND, alone, calls, grant_all, hang, ready, record, started,
};

/// 15 s leases plus the default 500 ms safety margin.
const QUARANTINE: Duration = Duration::from_millis(15_500);

type Times = Arc<Mutex<Vec<Instant>>>;

fn times() -> Times {
    Arc::new(Mutex::new(Vec::new()))
}

/// A mock whose container and blob creations are logged (and always succeed); a blob
/// creation sets `exists`.
fn repairable(containers: &Times, blobs: &Times) -> MockLeases {
    repairable_into(containers, blobs, Arc::new(AtomicBool::new(true)))
}

fn repairable_into(containers: &Times, blobs: &Times, exists: Arc<AtomicBool>) -> MockLeases {
    let mut m = MockLeases::new();
    m.expect_location()
        .returning(|| "http://mock/container".to_owned());
    let log = containers.clone();
    m.expect_ensure_container().returning(move || {
        log.lock().unwrap().push(Instant::now());
        ready(Ok(Provisioned::Created))
    });
    let log = blobs.clone();
    m.expect_ensure_partition().returning(move |_| {
        log.lock().unwrap().push(Instant::now());
        exists.store(true, Ordering::SeqCst);
        ready(Ok(Provisioned::Created))
    });
    m
}

fn after_time(log: &Times, t: Instant) -> Vec<Instant> {
    log.lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|x| *x >= t)
        .collect()
}

fn acquires_after(log: &Calls, t: Instant) -> Vec<Instant> {
    log.lock()
        .unwrap()
        .iter()
        .map(|c| c.0)
        .filter(|x| *x >= t)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_acquire_that_finds_no_blob_holds_back_every_acquire_for_a_lease_duration() {
    let (containers, blobs) = (times(), times());
    let exists = Arc::new(AtomicBool::new(true));
    let mut m = repairable_into(&containers, &blobs, exists.clone());
    alone(&mut m);
    let acquired = calls();
    let (log, there) = (acquired.clone(), exists.clone());
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        if there.load(Ordering::SeqCst) {
            ready(Ok(()))
        } else {
            ready(Err(LeaseError::NotFound {
                what: format!("partition blob {p}"),
            }))
        }
    });
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    // The storage lost everything after provisioning; blobs come back once recreated.
    containers.lock().unwrap().clear();
    blobs.lock().unwrap().clear();
    exists.store(false, Ordering::SeqCst);
    let begin = Instant::now();
    limiter.give_me(2_100);
    assert!(
        rec.wait_for(SECOND, |e| e.iter().any(|r| r.name == EventName::Error))
            .await
    );
    let seen = acquires_after(&acquired, begin)[0];
    assert!(
        rec.wait_for(30 * SECOND, |_| limiter.capacity() == 2_100)
            .await,
        "did not recover"
    );
    let later: Vec<Instant> = acquires_after(&acquired, begin)
        .into_iter()
        .filter(|t| *t > seen)
        .collect();
    assert!(
        later.iter().all(|t| *t >= seen + QUARANTINE),
        "acquired {:?} after the loss",
        later.first().map(|t| *t - seen)
    );
    // The container at once (for announcements), the blobs only after the quarantine.
    let container = after_time(&containers, begin);
    assert!(container.first().is_some_and(|t| *t - seen < SECOND));
    let rebuilt = after_time(&blobs, begin);
    assert_eq!(rebuilt.len(), 3, "every partition blob is recreated once");
    assert!(rebuilt.iter().all(|t| *t >= seen + QUARANTINE));
    let error = rec.of(EventName::Error);
    assert!(
        error
            .iter()
            .any(|e| e.msg.as_deref().unwrap_or("").contains("lost its data")),
        "{error:?}"
    );
    limiter.stop().await.unwrap();
}

/// A limiter holding one partition whose renewal answers `err`, while acquires succeed
/// (another instance recreated the blobs already): nothing may be acquired for the
/// quarantine, counted from the failed renewal.
async fn a_renewal_answering(err: fn(u32) -> LeaseError) {
    let (containers, blobs) = (times(), times());
    let mut m = repairable(&containers, &blobs);
    alone(&mut m);
    let acquired = calls();
    grant_all(&mut m, &acquired);
    let renewed = calls();
    let log = renewed.clone();
    m.expect_renew().returning(move |p, lease| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        ready(Err(err(p)))
    });
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 1_100).await);
    assert!(
        rec.wait_for(20 * SECOND, |_| limiter.capacity() == 100)
            .await
    );
    let failed = renewed.lock().unwrap()[0].0;
    assert!(
        rec.wait_for(30 * SECOND, |_| limiter.capacity() == 1_100)
            .await
    );
    let again = acquires_after(&acquired, failed);
    assert!(
        again.first().is_some_and(|t| *t >= failed + QUARANTINE),
        "acquired {:?} after the renewal failed",
        again.first().map(|t| *t - failed)
    );
    assert!(
        after_time(&blobs, failed)
            .iter()
            .all(|t| *t >= failed + QUARANTINE)
    );
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_counted_lease_the_storage_no_longer_knows_holds_back_every_acquire() {
    a_renewal_answering(|partition| LeaseError::LeaseMissing { partition }).await;
}

#[tokio::test(start_paused = true)]
async fn a_renewal_that_finds_no_blob_holds_back_every_acquire() {
    a_renewal_answering(|p| LeaseError::NotFound {
        what: format!("partition blob {p}"),
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_announcement_the_storage_forgot_holds_back_every_acquire() {
    let (containers, blobs) = (times(), times());
    let mut m = repairable(&containers, &blobs);
    let me: Arc<Mutex<Option<Member>>> = Arc::new(Mutex::new(None));
    let log = me.clone();
    m.expect_announce().returning(move |id, wanted| {
        *log.lock().unwrap() = Some(Member {
            id,
            wanted,
            age: Duration::ZERO,
        });
        ready(Ok(()))
    });
    let view = me.clone();
    m.expect_members().returning(move || {
        let idle = Member {
            id: "idle-instance".to_owned(),
            wanted: 0,
            age: Duration::ZERO,
        };
        let mut all = vec![idle];
        all.extend(view.lock().unwrap().clone());
        ready(Ok(all))
    });
    m.expect_withdraw().returning(|_| ready(Ok(())));
    let acquired = calls();
    grant_all(&mut m, &acquired);
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 1_100).await);
    tokio::time::sleep(2 * SECOND).await;

    // The storage forgets our announcement; within a sync interval we notice.
    rec.clear();
    *me.lock().unwrap() = None;
    let forgot = Instant::now();
    assert!(
        rec.wait_for(6 * SECOND, |e| e.iter().any(|r| r.name == EventName::Error))
            .await
    );
    let seen = Instant::now();
    assert!(seen - forgot <= 5 * SECOND + Duration::from_millis(100));
    limiter.give_me(3_100);
    assert!(
        rec.wait_for(30 * SECOND, |_| limiter.capacity() == 3_100)
            .await
    );
    let again = acquires_after(&acquired, forgot);
    assert!(
        again.first().is_some_and(|t| *t >= seen + QUARANTINE),
        "acquired {:?} after the loss was seen",
        again.first().map(|t| *t - seen)
    );
    // The lease held before the loss stayed counted: it was renewed all along.
    assert_eq!(rec.count(EventName::Released), 0);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lease_granted_while_recovering_is_given_back_and_not_counted() {
    let (containers, blobs) = (times(), times());
    let mut m = repairable(&containers, &blobs);
    alone(&mut m);
    let n = Arc::new(AtomicU32::new(0));
    let acquired = calls();
    let log = acquired.clone();
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        match n.fetch_add(1, Ordering::SeqCst) {
            // The first answers late, after the second found the storage empty.
            0 => support::mock::after(Duration::from_millis(500), Ok(())),
            1 => ready(Err(LeaseError::NotFound {
                what: format!("partition blob {p}"),
            })),
            _ => ready(Ok(())),
        }
    });
    m.expect_renew().returning(|_, _| ready(Ok(())));
    let released = calls();
    m.expect_release().returning(record(&released));
    let (limiter, rec) = started(m).await;
    limiter.give_me(2_100);
    let peak = Arc::new(AtomicU32::new(0));
    let watch = peak.clone();
    let until = Instant::now() + QUARANTINE;
    let limiter = Arc::new(limiter);
    let sampled = limiter.clone();
    let sampler = tokio::spawn(async move {
        while Instant::now() < until {
            watch.fetch_max(sampled.capacity(), Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    sampler.await.unwrap();
    assert_eq!(
        peak.load(Ordering::SeqCst),
        100,
        "counted a lease during the quarantine"
    );
    let first = acquired.lock().unwrap()[0].clone();
    assert!(
        released
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.1 == first.1 && r.2 == first.2),
        "the late grant was not given back"
    );
    assert!(
        rec.wait_for(5 * SECOND, |_| limiter.capacity() == 2_100)
            .await
    );
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_acquire_is_asked_again_with_the_same_lease_id() {
    let mut m = support::mock::provisioned();
    let n = Arc::new(AtomicU32::new(0));
    let acquired = calls();
    let log = acquired.clone();
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        if n.fetch_add(1, Ordering::SeqCst) == 0 {
            hang()
        } else {
            ready(Ok(()))
        }
    });
    m.expect_renew().returning(|_, _| ready(Ok(())));
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(3 * SECOND, |_| limiter.capacity() == 1_100)
            .await
    );
    let log = acquired.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert_eq!((log[1].1, &log[1].2), (log[0].1, &log[0].2));
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_lease_that_lapsed_while_its_renewal_hung_is_asked_again_with_its_id() {
    let mut m = support::mock::provisioned();
    let acquired = calls();
    grant_all(&mut m, &acquired);
    let n = Arc::new(AtomicU32::new(0));
    m.expect_renew().returning(move |_, _| {
        // The storage hangs for the first few renewals, then answers again.
        if n.fetch_add(1, Ordering::SeqCst) < 8 {
            hang()
        } else {
            ready(Ok(()))
        }
    });
    m.expect_release().returning(|_, _| ready(Ok(())));
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(rec.wait_for(SECOND, |_| limiter.capacity() == 1_100).await);
    let lapsed = |e: &[support::Rec]| {
        e.iter()
            .any(|r| r.name == EventName::Capacity && r.val == 100)
    };
    rec.clear();
    assert!(rec.wait_for(20 * SECOND, lapsed).await);
    assert!(
        rec.wait_for(2 * SECOND, |_| limiter.capacity() == 1_100)
            .await
    );
    let log = acquired.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert_eq!((log[1].1, &log[1].2), (log[0].1, &log[0].2));
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_lease_no_longer_wanted_is_given_back() {
    let mut m = support::mock::provisioned();
    let acquired = calls();
    let log = acquired.clone();
    m.expect_acquire().returning(move |p, lease, _| {
        log.lock().unwrap().push((Instant::now(), p, lease));
        hang()
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    m.expect_release().returning(move |p, lease| {
        let _ = tx.send((p, lease));
        ready(Ok(()))
    });
    let (limiter, rec) = started(m).await;
    limiter.give_me(1_100);
    assert!(
        rec.wait_for(3 * SECOND, |e| e.iter().any(|r| r.name == EventName::Error))
            .await
    );
    limiter.give_me(0);
    let first = acquired.lock().unwrap()[0].clone();
    let released = tokio::time::timeout(SECOND, rx.recv()).await;
    assert_eq!(released.ok().flatten(), Some((first.1, first.2)));
    limiter.stop().await.unwrap();
}
