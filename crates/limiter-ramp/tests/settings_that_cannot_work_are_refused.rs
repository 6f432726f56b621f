//! The builder refuses settings that cannot work, with messages that say what to do, and
//! takes absurd but meaningful values (`Duration::MAX`, `u32::MAX`) without overflow.

mod support;

use std::time::Duration;

use events_core::{LimiterError, RateLimiter};
use limiter_ramp::{MAX_RULES, RampConfigError, RampLimiter, RampRule};
use support::{TestLimiter, run_for};

const SEC: Duration = Duration::from_secs(1);

fn refused(floor: u32, rules: &[RampRule]) -> RampConfigError {
    let mut builder = RampLimiter::builder().floor(floor);
    for rule in rules {
        builder = builder.rule(*rule);
    }
    builder.build(TestLimiter::new(1_000)).unwrap_err()
}

#[test]
fn each_unworkable_setting_is_named_with_a_fix() {
    let cases: Vec<(RampConfigError, &str)> = vec![
        (refused(1, &[]), "at least one rule"),
        (
            refused(1, &vec![RampRule::step(1, SEC); MAX_RULES + 1]),
            "more than the limit of 16",
        ),
        (
            refused(1, &[RampRule::step(0, SEC)]),
            "amount of at least 1",
        ),
        (
            refused(1, &[RampRule::step(5, Duration::ZERO)]),
            "time the datastore takes to scale",
        ),
        (
            refused(1, &[RampRule::percent_of_peak(100, SEC)]),
            "use more than 100%",
        ),
        (
            refused(1, &[RampRule::times_peak(0, SEC)]),
            "0% of the peak",
        ),
        (
            refused(1, &[RampRule::times_peak(2, Duration::ZERO)]),
            "DynamoDB: 30 min",
        ),
        (
            refused(
                1,
                &[RampRule::times_peak(2, SEC).forget_after(Duration::ZERO)],
            ),
            "forget after more than zero",
        ),
        (
            refused(1, &[RampRule::step(5, SEC).forget_after(SEC)]),
            "only apply to peak rules",
        ),
        (
            refused(1, &[RampRule::step(5, SEC).of_reported()]),
            "only apply to peak rules",
        ),
        (
            refused(0, &[RampRule::step(5, SEC), RampRule::times_peak(2, SEC)]),
            "rule 1",
        ),
    ];
    for (err, says) in cases {
        assert!(err.to_string().contains(says), "{err:?}: {err}");
    }
    let nothing = refused(0, &[RampRule::times_peak(2, SEC)]);
    assert!(matches!(
        nothing,
        RampConfigError::NothingToGrowFrom { index: 0, .. }
    ));
    assert!(nothing.to_string().contains(".floor(n)"), "{nothing}");
    let as_limiter_error = LimiterError::from(nothing);
    assert!(
        as_limiter_error
            .to_string()
            .contains("invalid rate limiter configuration")
    );
}

#[test]
fn ticks_outside_a_millisecond_to_a_minute_are_refused() {
    for tick in [
        Duration::ZERO,
        Duration::from_micros(999),
        Duration::from_secs(61),
        Duration::MAX,
    ] {
        let err = RampLimiter::builder()
            .floor(1)
            .rule(RampRule::step(1, SEC))
            .tick(tick)
            .build(TestLimiter::new(1))
            .unwrap_err();
        assert_eq!(err, RampConfigError::Tick { tick });
        assert!(err.to_string().contains("the default is 100 ms"), "{err}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_rule_over_all_time_caps_max_capacity_instead_of_waiting_forever() {
    let inner = TestLimiter::new(u32::MAX);
    let limiter = RampLimiter::builder()
        .floor(1_000)
        .rule(RampRule::step(500, Duration::MAX))
        .rule(RampRule::times_peak(u32::MAX, Duration::MAX).forget_after(Duration::MAX))
        .previous_peak(u32::MAX)
        .build(inner.clone())
        .unwrap();
    // An operation costing more than 1,500 could never be released: the batcher refuses
    // it at enqueue rather than holding it for ever.
    assert_eq!(limiter.max_capacity(), 1_500);
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    assert_eq!(limiter.capacity(), 1_500);
    run_for(10 * SEC).await;
    assert_eq!(limiter.capacity(), 1_500);
    limiter.give_me(u32::MAX);
    run_for(SEC).await;
    assert_eq!(limiter.capacity(), 1_500);
    limiter.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_largest_values_saturate_instead_of_overflowing() {
    let inner = TestLimiter::new(u32::MAX);
    let limiter = RampLimiter::builder()
        .floor(u32::MAX)
        .rule(RampRule::step(u32::MAX, Duration::from_nanos(1)))
        .rule(RampRule::percent_of_peak(u32::MAX, Duration::from_nanos(1)))
        .tick(Duration::from_millis(1))
        .build(inner.clone())
        .unwrap();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.give_me(u32::MAX);
    run_for(SEC).await;
    assert_eq!(limiter.capacity(), u32::MAX);
    assert_eq!(limiter.max_capacity(), u32::MAX);
    limiter.stop().await.unwrap();
}
