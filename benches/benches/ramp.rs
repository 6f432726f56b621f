//! The cost of the calls a batcher makes on a ramp limiter in its loops, next to the
//! provisioned limiter it wraps measured in the same run: `capacity()` must stay two
//! atomic loads, and `give_me()` with an unchanged target one load and one swap.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use events_core::RateLimiter;
use limiter_provisioned::ProvisionedResource;
use limiter_ramp::{RampLimiter, RampRule};

fn hot_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("ramp_limiter");
    let inner = Arc::new(ProvisionedResource::new(40_000));
    let ramp = RampLimiter::builder()
        .floor(4_000)
        .rule(RampRule::step(1_000, Duration::from_secs(60)))
        .rule(RampRule::times_peak(2, Duration::from_secs(30 * 60)))
        .build(inner.clone())
        .expect("valid settings");
    group.bench_function("provisioned_capacity_baseline", |b| {
        b.iter(|| black_box(inner.capacity()))
    });
    group.bench_function("capacity", |b| b.iter(|| black_box(ramp.capacity())));
    group.bench_function("give_me_unchanged", |b| {
        b.iter(|| ramp.give_me(black_box(9_250)))
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
