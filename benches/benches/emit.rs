//! The cost of `Emitter::emit` with 0, 1 and 8 listeners, and with a subscription.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use events_core::{Emitter, EventName};

fn emit(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit");
    for listeners in [0usize, 1, 8] {
        let emitter = Emitter::new("bench");
        let counter = Arc::new(AtomicU64::new(0));
        for _ in 0..listeners {
            let counter = counter.clone();
            emitter.add_listener(move |e| {
                counter.fetch_add(e.val() as u64, Ordering::Relaxed);
            });
        }
        group.bench_function(format!("{listeners}_listeners"), |b| {
            b.iter(|| emitter.emit(black_box(EventName::Batch), black_box(1)))
        });
    }
    let emitter = Emitter::new("bench");
    let _subscription = emitter.subscribe();
    group.bench_function("1_subscription_never_read", |b| {
        b.iter(|| emitter.emit(black_box(EventName::Batch), black_box(1)))
    });
    group.finish();
}

criterion_group!(benches, emit);
criterion_main!(benches);
