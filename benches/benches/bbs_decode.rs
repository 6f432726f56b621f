//! Decoding a recorded BBS SSE byte stream of realistic LRP events into typed events.
//!
//! Reports MB/s (`decode_bytes`) and events/s (`decode_events`) per core: SSE parsing, base64 and
//! protobuf decoding, fed in 16 KiB reads as from a socket.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowgate_benches::bbs::lrp_stream;

const EVENTS: usize = 2_000;

fn decode_all(stream: &[u8]) -> usize {
    let mut parser = bbs_events::sse::SseParser::new();
    let mut decoded = 0;
    for read in stream.chunks(16 * 1024) {
        parser.push(read);
        while let Some(sse) = parser.next_event() {
            let sse = sse.expect("no oversized events");
            let event = bbs_events::client::decode_event(&sse).expect("valid event");
            std::hint::black_box(&event);
            decoded += 1;
        }
    }
    decoded
}

fn bench(c: &mut Criterion) {
    let stream = lrp_stream(EVENTS);
    assert_eq!(decode_all(&stream), EVENTS);
    let mut group = c.benchmark_group("bbs_decode");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("decode_bytes", |b| {
        b.iter(|| decode_all(std::hint::black_box(&stream)))
    });
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("decode_events", |b| {
        b.iter(|| decode_all(std::hint::black_box(&stream)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
