//! Peak rules: a multiple of a peak that has settled, of what was used or reported, with
//! a previous peak, a sliding memory, and in combination with a step rule.

mod support;

use std::time::Duration;

use events_core::{EventName, RateLimiter};
use futures::FutureExt;
use limiter_ramp::{PeakOf, RampLimiter, RampRule};
use support::{TestLimiter, run_for, values};
use tokio::time::Instant;

const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

/// The first moment, sampled each second for `for_`, that `limiter.capacity()` is `c`.
async fn time_to_reach(limiter: &dyn RateLimiter, c: u32, for_: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while Instant::now() - t0 <= for_ {
        if limiter.capacity() >= c {
            return Some(Instant::now() - t0);
        }
        run_for(SEC).await;
    }
    None
}

#[tokio::test(start_paused = true)]
async fn dynamodb_like_doubles_the_peak_used_once_it_is_half_an_hour_old() {
    let inner = TestLimiter::new(100_000);
    let limiter = RampLimiter::builder()
        .floor(4_000)
        .rule(RampRule::times_peak(2, 30 * MIN))
        .build(inner.clone())
        .unwrap();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(1_000_000);
    assert_eq!(limiter.capacity(), 4_000);

    // The 4,000 used from the start counts once half an hour old (within one bucket,
    // 30 min / 64 ≈ 28 s), then the 8,000 half an hour after that.
    let first = time_to_reach(&limiter, 8_000, 40 * MIN).await.unwrap();
    assert!(
        first >= 30 * MIN && first <= 30 * MIN + 30 * SEC,
        "{first:?}"
    );
    assert_eq!(limiter.capacity(), 8_000);
    let second = time_to_reach(&limiter, 16_000, 40 * MIN).await.unwrap();
    assert!(second >= 29 * MIN && second <= 31 * MIN, "{second:?}");
    assert_eq!(limiter.capacity(), 16_000);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn capacity_offered_but_not_asked_for_does_not_raise_the_peak_used() {
    let rules = [
        RampRule::times_peak(2, MIN),
        RampRule::times_peak(2, MIN).of_reported(),
    ];
    assert_eq!(rules[0].peak_of(), Some(PeakOf::Used));
    assert_eq!(rules[1].peak_of(), Some(PeakOf::Reported));
    let mut capacities = Vec::new();
    for rule in rules {
        let inner = TestLimiter::new(50_000);
        let limiter = RampLimiter::builder()
            .floor(1_000)
            .rule(rule)
            .build(inner.clone())
            .unwrap();
        // The consumer only ever wants 300, from the start.
        limiter.give_me(300);
        limiter.provision().await.unwrap();
        limiter.start().await.unwrap();
        run_for(5 * MIN).await;
        capacities.push(limiter.capacity());
        limiter.stop().await.unwrap();
    }
    // Used: 2 × 300 is below the floor, so the floor. Reported: doubled every minute.
    assert_eq!(capacities, vec![1_000, 16_000]);
}

#[tokio::test(start_paused = true)]
async fn a_previous_peak_counts_from_the_start() {
    let inner = TestLimiter::new(200_000);
    let limiter = RampLimiter::builder()
        .floor(4_000)
        .previous_peak(50_000)
        .rule(RampRule::times_peak(2, 30 * MIN))
        .build(inner.clone())
        .unwrap();
    // Before start too: the ceiling is what the rules allow from a standing start.
    assert_eq!(limiter.capacity(), 100_000);
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    assert_eq!(limiter.capacity(), 100_000);
    assert_eq!(limiter.held_back(), 100_000);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_forgotten_peak_stops_counting_as_the_window_slides() {
    let inner = TestLimiter::new(100_000);
    let limiter = RampLimiter::builder()
        .floor(1_000)
        .rule(RampRule::times_peak(2, MIN).forget_after(2 * MIN))
        .build(inner.clone())
        .unwrap();
    let mut events = limiter.emitter().subscribe();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(u32::MAX);
    // Busy for three minutes: 1,000 → 2,000 → 4,000 → 8,000.
    run_for(3 * MIN + 10 * SEC).await;
    assert_eq!(limiter.capacity(), 8_000);
    // Then idle: nothing used.
    limiter.give_me(0);
    // A minute later the busy peaks still count (the last ones have even settled)...
    run_for(MIN).await;
    assert!(limiter.capacity() >= 8_000, "{}", limiter.capacity());
    // ... but once the last busy sample is older than settle + memory (3 min), only the
    // floor is left.
    run_for(3 * MIN).await;
    assert_eq!(limiter.capacity(), 1_000);
    let capacity = values(&mut events, EventName::Capacity);
    assert_eq!(capacity.first(), Some(&1_000));
    assert_eq!(capacity.last(), Some(&1_000));
    assert!(capacity.contains(&8_000), "{capacity:?}");
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn combined_rules_hold_to_the_tightest_at_every_moment() {
    let inner = TestLimiter::new(100_000);
    let step = RampRule::step(500, 10 * SEC);
    let peak = RampRule::times_peak(2, 30 * SEC);
    let limiter = RampLimiter::builder()
        .floor(1_000)
        .rule(step)
        .rule(peak)
        .build(inner.clone())
        .unwrap();
    let mut events = limiter.emitter().subscribe();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(u32::MAX);
    // At first the peak rule binds (no settled peak: the floor) ...
    assert_eq!(limiter.capacity(), 1_000);
    let mut held = Vec::new();
    while let Some(Some(Ok(e))) = events.next().now_or_never() {
        if e.name() == EventName::HeldBack {
            held.push((e.val(), e.msg().unwrap_or_default().to_owned()));
        }
    }
    assert_eq!(held, vec![(99_000, peak.to_string())]);

    // ... then, with 1,000 settled after 30 s, the peak allows 2,000 but the step rule
    // only 1,500: +500 per 10 s from there, until the peak binds again.
    let mut seen = Vec::new();
    let mut held_msgs = Vec::new();
    for _ in 0..90 {
        run_for(SEC).await;
        seen.push(limiter.capacity());
        while let Some(Some(Ok(e))) = events.next().now_or_never() {
            if e.name() == EventName::HeldBack {
                held_msgs.push(e.msg().unwrap_or_default().to_owned());
            }
        }
    }
    // Never more than either rule allows, sampled each second (seen[i] is at i + 1 s):
    // +500 within 10 s, and twice the highest capacity at least 30 s old (1,000 at 0 s).
    for (i, c) in seen.iter().enumerate() {
        let low = seen[i.saturating_sub(10)..=i].iter().min().unwrap();
        assert!(*c <= low + 500, "{seen:?}");
        let settled = (i + 1)
            .checked_sub(30)
            .map(|n| seen[..n].iter().copied().max().unwrap_or(0).max(1_000));
        let peak_bound = settled.map_or(1_000, |p| 2 * p);
        assert!(
            *c <= peak_bound,
            "at {} s: {c} > {peak_bound}; {seen:?}",
            i + 1
        );
    }
    assert_eq!((seen[28], seen[30]), (1_000, 1_500), "{seen:?}");
    assert!(held_msgs.contains(&step.to_string()), "{held_msgs:?}");
    assert!(*seen.last().unwrap() > 2_000, "{seen:?}");
    limiter.stop().await.unwrap();
}
