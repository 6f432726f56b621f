//! The cost of the calls a batcher makes on the Azure limiter in its loops: `capacity()`
//! and `give_me()` (unchanged target, and a changing one that raises a `target` event).
//! They must stay atomics-only, far below a microsecond.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use events_core::RateLimiter;
use limiter_azure::{AzureSharedResource, Credentials};

fn limiter() -> AzureSharedResource {
    AzureSharedResource::builder()
        .container("bench")
        .credentials(Credentials::Emulator)
        .shared_capacity(20_000)
        .factor(1_000)
        .reserved_capacity(500)
        .build()
        .expect("valid settings")
}

fn hot_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("azure_limiter");
    let l = limiter();
    group.bench_function("capacity", |b| b.iter(|| black_box(l.capacity())));
    group.bench_function("give_me_unchanged", |b| {
        b.iter(|| l.give_me(black_box(9_250)))
    });
    let mut flip = false;
    group.bench_function("give_me_changing", |b| {
        b.iter(|| {
            flip = !flip;
            l.give_me(black_box(if flip { 9_250 } else { 12_250 }))
        })
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
