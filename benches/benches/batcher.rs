//! Batcher throughput: W1 (cost-1 ops from 4 tasks to one counting watcher) with a
//! large and the default buffer, and W4 (W1 with a listener and batch events on).
//!
//! Each iteration runs 200,000 operations; `src/bin/batcher.rs` runs the full 2,000,000
//! and reports CPU time and peak memory as well.

use std::time::Duration;

use criterion::{Criterion, Throughput as Elements, criterion_group, criterion_main};
use flowgate_benches::batcher::{Throughput, runtime};

const OPS: u64 = 200_000;

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("batcher");
    group.throughput(Elements::Elements(OPS));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    let cases = [
        (
            "w1_buffer_1m",
            Throughput {
                ops: OPS,
                ..Throughput::W1
            },
        ),
        (
            "w1_buffer_10k",
            Throughput {
                ops: OPS,
                buffer: 10_000,
                ..Throughput::W1
            },
        ),
        (
            "w4_batch_events",
            Throughput {
                ops: OPS,
                events: true,
                ..Throughput::W1
            },
        ),
    ];
    for (name, workload) in cases {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| workload.run(&rt)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
