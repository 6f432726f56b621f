//! The ramp passes provision, start, stop and give_me on to the limiter it wraps, raises
//! the inner's other events again, nests, and works as a trait object.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use events_core::{EventName, LifecycleError, LimiterError, RateLimiter};
use limiter_ramp::{RampLimiter, RampRule};
use support::{TestLimiter, drain, run_for};

const SEC: Duration = Duration::from_secs(1);

fn ramp(inner: Arc<TestLimiter>) -> RampLimiter<TestLimiter> {
    RampLimiter::builder()
        .floor(100)
        .rule(RampRule::step(100, 10 * SEC))
        .build(inner)
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn lifecycle_calls_reach_the_inner_limiter_in_order() {
    let inner = TestLimiter::new(1_000);
    let limiter = ramp(inner.clone());
    let mut events = limiter.emitter().subscribe();

    // Start before the inner is provisioned: the inner's refusal, and a retry works.
    let early = limiter.start().await.unwrap_err();
    assert!(matches!(
        early,
        LimiterError::Lifecycle(LifecycleError::NotProvisioned { .. })
    ));
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    let again = limiter.start().await.unwrap_err();
    assert!(matches!(
        again,
        LimiterError::Lifecycle(LifecycleError::AlreadyStarted { .. })
    ));
    assert!(limiter.provision().await.unwrap_err().is_lifecycle());
    limiter.stop().await.unwrap();
    limiter.stop().await.unwrap();
    assert!(matches!(
        limiter.start().await.unwrap_err(),
        LimiterError::Lifecycle(LifecycleError::Stopped { .. })
    ));
    assert_eq!(
        inner.calls(),
        ["start", "provision", "start", "stop", "stop"],
        "a refused start or provision of the ramp does not reach the inner"
    );
    // The ramp's own capacity and one shutdown; the inner's shutdown is not repeated.
    assert_eq!(
        drain(&mut events),
        vec![
            (EventName::Capacity, 200),
            (EventName::HeldBack, 800),
            (EventName::Shutdown, 0)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_inner_stop_is_reported_and_the_ramp_is_stopped_anyway() {
    let inner = TestLimiter::new(1_000);
    let limiter = ramp(inner.clone());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    inner.fail_stop.store(true, Ordering::Release);
    let err = limiter.stop().await.unwrap_err();
    assert!(err.to_string().contains("could not release"), "{err}");
    // The ceiling no longer moves after stop.
    let ceiling = limiter.ceiling();
    run_for(30 * SEC).await;
    assert_eq!(limiter.ceiling(), ceiling);
}

#[tokio::test(start_paused = true)]
async fn give_me_passes_on_what_the_ramp_allows_and_more_as_it_grows() {
    let inner = TestLimiter::new(1_000);
    let limiter = ramp(inner.clone());
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(50);
    limiter.give_me(50);
    limiter.give_me(5_000);
    assert_eq!(limiter.capacity(), 200);
    run_for(11 * SEC).await;
    assert_eq!(limiter.capacity(), 300);
    limiter.stop().await.unwrap();
    let asked: Vec<String> = inner
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("give_me"))
        .collect();
    // The same target twice is passed on once; a large one is capped at the ceiling and
    // raised when the ceiling rises.
    assert_eq!(asked, ["give_me 50", "give_me 200", "give_me 300"]);
}

#[tokio::test(start_paused = true)]
async fn the_inner_limiters_other_events_are_raised_again_unless_turned_off() {
    for forward in [true, false] {
        let inner = TestLimiter::new(1_000);
        let limiter = RampLimiter::builder()
            .floor(100)
            .rule(RampRule::step(100, SEC))
            .forward_events(forward)
            .build(inner.clone())
            .unwrap();
        let mut events = limiter.emitter().subscribe();
        inner
            .emitter()
            .emit_msg(EventName::Error, 3, "storage down");
        let seen = drain(&mut events);
        if forward {
            assert_eq!(seen, vec![(EventName::Error, 3)]);
        } else {
            assert!(seen.is_empty(), "{seen:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn ramps_nest_and_work_as_trait_objects() {
    let inner = TestLimiter::new(10_000);
    let slow: Arc<dyn RateLimiter> = Arc::new(
        RampLimiter::builder()
            .floor(1_000)
            .rule(RampRule::step(1_000, 10 * SEC))
            .build(inner.clone() as Arc<dyn RateLimiter>)
            .unwrap(),
    );
    let outer: Box<dyn RateLimiter> = Box::new(
        RampLimiter::builder()
            .floor(500)
            .rule(RampRule::step(200, SEC))
            .build(slow)
            .unwrap(),
    );
    let mut events = outer.emitter().subscribe();
    outer.provision().await.unwrap();
    outer.start().await.unwrap();
    assert_eq!(inner.calls(), ["provision", "start"]);
    // The outer allows 700 at once, the inner ramp 2,000.
    assert_eq!(outer.capacity(), 700);
    run_for(5 * SEC).await;
    // The outer climbs +200 a second (the first step one tick late: the floor before
    // start shares a bucket with the first sample) up to the inner ramp's 2,000.
    assert_eq!(outer.capacity(), 1_500);
    run_for(5 * SEC).await;
    assert_eq!(outer.capacity(), 2_000);
    // The inner ramp's held-back events reach the outer's listeners too.
    let seen = drain(&mut events);
    assert!(seen.contains(&(EventName::HeldBack, 8_000)), "{seen:?}");
    assert_eq!(outer.max_capacity(), 10_000);
    assert!(format!("{outer:?}").contains("RampLimiter"));
    outer.stop().await.unwrap();
    assert_eq!(inner.calls(), ["provision", "start", "stop"]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_ramp_removes_its_listener_from_the_inner_limiter() {
    let inner = TestLimiter::new(1_000);
    let limiter = ramp(inner.clone());
    assert_eq!(inner.emitter().listener_count(), 1);
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    drop(limiter);
    assert_eq!(inner.emitter().listener_count(), 0);
}
