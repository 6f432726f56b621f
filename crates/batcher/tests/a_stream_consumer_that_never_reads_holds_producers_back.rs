//! Batches released to a stream and not yet received take room in the buffer, so a
//! slow or stalled consumer holds producers back instead of growing memory.

use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};

#[tokio::test(start_paused = true)]
async fn a_waiting_enqueue_goes_on_only_when_the_consumer_receives() {
    let batcher = Batcher::builder().buffer_size(10).build().unwrap();
    let (watcher, mut batches) = Watcher::builder().max_batch_size(5).stream::<u32>(&batcher);
    batcher.start().unwrap();
    for i in 0..10 {
        watcher.enqueue(Operation::new(i, 1)).await.unwrap();
    }
    let waiting = tokio::spawn({
        let watcher = watcher.clone();
        async move { watcher.enqueue(Operation::new(10, 1)).await }
    });
    // Both batches are released, but nobody receives them: the buffer stays full.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !waiting.is_finished(),
        "the enqueue found room nobody had freed"
    );
    assert_eq!(batcher.operations_in_buffer(), 10);
    assert_eq!(batcher.inflight(), 2);
    let refused = watcher.try_enqueue(Operation::new(11, 1)).unwrap_err();
    assert!(refused.is_buffer_full());

    let first = batches.next().await.unwrap();
    assert_eq!(first.len(), 5);
    tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("receiving a batch made room")
        .unwrap()
        .unwrap();
    assert_eq!(batcher.operations_in_buffer(), 6);
    drop(first);

    let stopped = batcher.stop().await;
    // The released batch still on its way is not "unsent": the stream yields it.
    assert_eq!(stopped.unsent, 1);
    let mut received: Vec<u32> = Vec::new();
    while let Some(batch) = batches.next().await {
        received.extend(
            batch
                .into_operations()
                .into_iter()
                .map(|o| o.into_payload()),
        );
    }
    received.extend(batches.take_unsent().into_iter().map(|o| o.into_payload()));
    received.sort_unstable();
    assert_eq!(received, (5..=10).collect::<Vec<_>>());
    assert_eq!(batcher.operations_in_buffer(), 0);
}

/// Resident and peak resident memory of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_million_operations_at_a_stalled_stream_stay_within_the_buffer() {
    const OPS: u64 = 10_000_000;
    const BUFFER: usize = 10_000;
    let (rss_before, _) = memory();
    let batcher = Batcher::builder().buffer_size(BUFFER).build().unwrap();
    let (watcher, batches) = Watcher::builder()
        .max_batch_size(100)
        .stream::<u64>(&batcher);
    batcher.start().unwrap();
    let (mut accepted, mut refused) = (0u64, 0u64);
    for i in 0..OPS {
        match watcher.try_enqueue(Operation::new(i, 1)) {
            Ok(()) => accepted += 1,
            Err(e) if e.is_buffer_full() => refused += 1,
            Err(e) => panic!("unexpected refusal: {e}"),
        }
        if i % 4096 == 0 {
            // Let the dispatcher release to the stream that nobody reads.
            tokio::task::yield_now().await;
        }
    }
    // A waiting enqueue waits: no room is ever freed.
    let waited = tokio::time::timeout(
        Duration::from_millis(200),
        watcher.enqueue(Operation::new(0, 1)),
    )
    .await;
    assert!(waited.is_err(), "an enqueue found room at a stalled stream");
    let (_, peak) = memory();
    assert_eq!(
        accepted, BUFFER as u64,
        "only the buffer's worth was accepted"
    );
    assert_eq!(accepted + refused, OPS);
    let grown = peak.saturating_sub(rss_before);
    assert!(
        grown < 48 << 20,
        "peak memory grew by {} MB for a {BUFFER}-operation buffer",
        grown >> 20
    );
    // Nothing is lost: the stream's undelivered batches come back with the rest.
    drop(batches);
    let back = watcher.take_unsent();
    assert_eq!(back.len() as u64, accepted);
    batcher.stop().await;
}
