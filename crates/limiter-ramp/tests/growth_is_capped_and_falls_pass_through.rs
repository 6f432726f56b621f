//! A step rule caps growth over any window of its period; falls of the inner limiter pass
//! through at once, and the ramp says what it holds back.

mod support;

use std::time::Duration;

use events_core::{EventName, RateLimiter};
use limiter_ramp::{RampLimiter, RampRule};
use support::{TestLimiter, run_for, values};
use tokio::time::Instant;

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_step_rule_allows_one_step_per_period() {
    let inner = TestLimiter::new(10_000);
    let limiter = RampLimiter::builder()
        .floor(1_000)
        .rule(RampRule::step(1_000, 10 * SEC))
        .build(inner.clone())
        .unwrap();
    let mut events = limiter.emitter().subscribe();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    let t0 = Instant::now();
    assert_eq!(limiter.capacity(), 2_000);
    assert_eq!(limiter.held_back(), 8_000);

    // Sample at every tick for 100 s: the capacity climbs one step per period, and never
    // rises by more than one step within any 10 s.
    let mut samples = vec![(Duration::ZERO, limiter.capacity())];
    for _ in 0..1_000 {
        run_for(Duration::from_millis(100)).await;
        samples.push((Instant::now() - t0, limiter.capacity()));
    }
    for (i, &(at, c)) in samples.iter().enumerate() {
        let low = samples[..=i]
            .iter()
            .filter(|(s, _)| at - *s <= 10 * SEC)
            .map(|(_, c)| *c)
            .min()
            .unwrap();
        assert!(c <= low + 1_000, "at {at:?}: {c} after {low}");
    }
    let at = |c: u32| samples.iter().find(|(_, x)| *x >= c).unwrap().0;
    assert!(
        at(3_000) >= 10 * SEC && at(3_000) <= 11 * SEC,
        "{:?}",
        at(3_000)
    );
    assert!(
        at(10_000) >= 80 * SEC && at(10_000) <= 90 * SEC,
        "{:?}",
        at(10_000)
    );
    assert_eq!(limiter.held_back(), 0);

    let capacity = values(&mut events, EventName::Capacity);
    assert_eq!(
        capacity,
        (2..=10).map(|k| k * 1_000).collect::<Vec<i64>>(),
        "one capacity event per step"
    );
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn falls_pass_through_at_once_and_the_climb_back_is_ramped() {
    let inner = TestLimiter::new(3_000);
    let limiter = RampLimiter::builder()
        .floor(1_000)
        .rule(RampRule::step(1_000, 10 * SEC))
        .build(inner.clone())
        .unwrap();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    run_for(30 * SEC).await;
    assert_eq!(limiter.capacity(), 3_000);
    let mut events = limiter.emitter().subscribe();

    // A fall is seen by the very next capacity() call, before any tick or event.
    inner.set_quietly(1_200);
    assert_eq!(limiter.capacity(), 1_200);
    inner.set(1_500);
    assert_eq!(limiter.capacity(), 1_500);
    // The inner limiter's capacity event wakes the ramp without waiting for a tick.
    tokio::task::yield_now().await;
    assert_eq!(values(&mut events, EventName::Capacity), vec![1_500]);

    // Back up: one step above the lowest capacity the ramp saw in the last period, then
    // one step per period. It saw 1,500 (announced), not the unannounced 1,200 that
    // lasted less than a tick.
    run_for(SEC).await;
    inner.set(3_000);
    tokio::task::yield_now().await;
    assert_eq!(limiter.capacity(), 2_500);
    // 1,500 was in effect until the rise, so for ten seconds more.
    run_for(9 * SEC).await;
    assert_eq!(limiter.capacity(), 2_500);
    run_for(2 * SEC).await;
    assert_eq!(limiter.capacity(), 3_000);

    // Below the floor counts as the floor: the climb back starts at floor + one step.
    inner.set(200);
    tokio::task::yield_now().await;
    assert_eq!(limiter.capacity(), 200);
    inner.set(3_000);
    tokio::task::yield_now().await;
    assert_eq!(limiter.capacity(), 2_000);
    assert_eq!(
        values(&mut events, EventName::Capacity),
        vec![2_500, 3_000, 200, 2_000]
    );
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn held_back_events_say_how_much_and_which_rule() {
    let inner = TestLimiter::new(3_000);
    let rule = RampRule::step(1_000, 5 * SEC);
    let limiter = RampLimiter::builder()
        .floor(1_000)
        .rule(rule)
        .build(inner.clone())
        .unwrap();
    let mut events = limiter.emitter().subscribe();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();

    let first = futures::StreamExt::next(&mut events)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.name(), first.val()), (EventName::Capacity, 2_000));
    let held = futures::StreamExt::next(&mut events)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((held.name(), held.val()), (EventName::HeldBack, 1_000));
    assert_eq!(held.msg(), Some(rule.to_string().as_str()));

    run_for(6 * SEC).await;
    assert_eq!(
        support::drain(&mut events),
        vec![(EventName::Capacity, 3_000), (EventName::HeldBack, 0)]
    );
    // Nothing changes, nothing is raised.
    run_for(6 * SEC).await;
    assert!(support::drain(&mut events).is_empty());
    limiter.stop().await.unwrap();
}
