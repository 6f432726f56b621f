//! A batch event's metadata reuses the memory of an earlier one that nobody holds any
//! more. What a listener or subscription keeps must never change, and every event must
//! describe its own batch, across batchers of different resources on one thread.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{BatchMetadata, Batcher, Operation, Watcher, WatcherKind};
use events_core::{Event, EventName};
use support::{TestLimiter, next_within, reporting_watcher};

const SECOND: Duration = Duration::from_secs(1);

/// What a batch event said, copied out when it was raised.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Said {
    msg: Option<String>,
    watcher: u64,
    kind: WatcherKind,
    ops: Vec<(u32, u32, bool)>,
    resources: Vec<(&'static str, Vec<u32>)>,
}

impl Said {
    fn of(event: &Event) -> Said {
        let meta = event.metadata::<BatchMetadata>().expect("batch metadata");
        Said {
            msg: event.msg().map(str::to_owned),
            watcher: meta.watcher,
            kind: meta.kind,
            ops: meta
                .operations
                .iter()
                .map(|o| (o.cost, o.attempts, o.batchable))
                .collect(),
            resources: meta
                .resources
                .iter()
                .map(|r| (r.resource, r.costs.clone()))
                .collect(),
        }
    }
}

/// Records what every batch event said, and keeps every other event itself.
#[derive(Clone, Default)]
struct Record {
    said: Arc<Mutex<Vec<Said>>>,
    kept: Arc<Mutex<Vec<(usize, Event)>>>,
}

impl Record {
    fn on(batcher: &Batcher) -> Record {
        let record = Record::default();
        let r = record.clone();
        batcher.emitter().add_listener(move |e| {
            if e.name() != EventName::Batch {
                return;
            }
            let mut said = r.said.lock().unwrap();
            if said.len() % 2 == 0 {
                r.kept.lock().unwrap().push((said.len(), e.clone()));
            }
            said.push(Said::of(e));
        });
        record
    }
}

#[tokio::test(start_paused = true)]
async fn what_a_batch_event_said_never_changes_and_each_says_its_own_batch() {
    // Two batchers on this one thread: one with a second resource, one without.
    let wide = Batcher::builder()
        .emit_batch(true)
        .resource("bytes", TestLimiter::new(1_000_000_000))
        .build()
        .unwrap();
    let narrow = Batcher::builder().emit_batch(true).build().unwrap();
    let wide_record = Record::on(&wide);
    let narrow_record = Record::on(&narrow);
    let (callback, mut delivered) = reporting_watcher::<u32>(&wide, Watcher::builder());
    let (stream, mut batches) = Watcher::builder().stream::<u32>(&narrow);
    wide.start().unwrap();
    narrow.start().unwrap();

    let mut wide_expected = Vec::new();
    let mut narrow_expected = Vec::new();
    let mut subscription = None;
    let mut seen_by_subscription = Vec::new();
    // Batches of 1 to 6 operations and back, so that the lists grow and shrink.
    for (round, size) in [1u32, 3, 6, 2, 5, 1, 4].into_iter().enumerate() {
        if round == 2 {
            subscription = Some(narrow.emitter().subscribe());
        }
        let ops: Vec<(u32, u32)> = (0..size).map(|i| (100 * size + i, 7 * i)).collect();
        for &(cost, bytes) in &ops {
            callback
                .try_enqueue(Operation::new(cost, cost).with_cost("bytes", bytes))
                .unwrap();
        }
        wide.flush();
        let got = next_within(&mut delivered, SECOND).await;
        assert_eq!(got.payloads.len(), size as usize);
        wide_expected.push(Said {
            msg: Some("callback".to_owned()),
            watcher: callback.id(),
            kind: WatcherKind::Callback,
            ops: ops.iter().map(|&(c, _)| (c, 1, true)).collect(),
            resources: vec![
                ("primary", ops.iter().map(|&(c, _)| c).collect()),
                ("bytes", ops.iter().map(|&(_, b)| b).collect()),
            ],
        });

        // The stream watcher's operations are not batchable, one per batch, and were
        // handed out once before (taken back and enqueued again).
        let cost = 1_000 + round as u32;
        stream
            .try_enqueue(Operation::new(cost, cost).with_batchable(false))
            .unwrap();
        narrow.flush();
        let batch = tokio::time::timeout(SECOND, batches.next())
            .await
            .expect("a batch in time")
            .expect("the stream goes on");
        let mut ops = batch.into_operations();
        assert_eq!(ops.len(), 1);
        stream.try_enqueue(ops.pop().unwrap()).unwrap();
        narrow.flush();
        let batch = tokio::time::timeout(SECOND, batches.next())
            .await
            .expect("a batch in time")
            .expect("the stream goes on");
        batch.done();
        for attempts in [1, 2] {
            narrow_expected.push(Said {
                msg: Some("stream".to_owned()),
                watcher: stream.id(),
                kind: WatcherKind::Stream,
                ops: vec![(cost, attempts, false)],
                resources: vec![("primary", vec![cost])],
            });
        }
        if round == 4 {
            // Read what the subscription holds, then let it go.
            let mut sub = subscription.take().unwrap();
            for _ in 0..6 {
                let event = loop {
                    let e = tokio::time::timeout(SECOND, sub.next())
                        .await
                        .expect("an event in time")
                        .expect("the subscription goes on")
                        .expect("nothing lost");
                    if e.name() == EventName::Batch {
                        break e;
                    }
                };
                seen_by_subscription.push(Said::of(&event));
            }
        }
    }
    wide.stop().await;
    narrow.stop().await;

    for (record, expected) in [
        (&wide_record, &wide_expected),
        (&narrow_record, &narrow_expected),
    ] {
        let said = record.said.lock().unwrap();
        assert_eq!(*said, *expected);
        // What the listener kept still says what it said when it was raised.
        let kept = record.kept.lock().unwrap();
        assert_eq!(kept.len(), expected.len().div_ceil(2));
        for (i, event) in kept.iter() {
            assert_eq!(Said::of(event), said[*i], "kept event {i}");
        }
    }
    // The subscription saw rounds 2 to 4 of the stream watcher's batch events, as raised.
    assert_eq!(seen_by_subscription, narrow_expected[4..10]);
}
