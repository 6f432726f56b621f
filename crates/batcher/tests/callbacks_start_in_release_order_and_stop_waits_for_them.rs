//! Callback batches start in the order they were released, on the dispatcher, however
//! the runtime schedules tasks; one that waits runs on in a task of its own, and `stop`
//! returns only once no callback task is left.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batcher::{Batcher, Operation, Watcher};
use support::eventually;
use tokio::sync::{Semaphore, mpsc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_released_back_to_back_start_in_release_order() {
    const OPS: u32 = 3_000;
    let batcher = Batcher::builder().build().unwrap();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = {
        let record = |starts: Arc<Mutex<Vec<u32>>>| {
            move |ops: Vec<Operation<u32>>| {
                // The start sequence: what the datastore would see first.
                starts.lock().unwrap().push(*ops[0].payload());
                async {
                    // Give the other worker every chance to overtake.
                    tokio::task::yield_now().await;
                }
            }
        };
        (
            Watcher::builder()
                .max_batch_size(1)
                .callback(&batcher, record(starts.clone())),
            Watcher::builder()
                .max_batch_size(1)
                .callback(&batcher, record(starts.clone())),
        )
    };
    // Enqueued from one thread before the start, so each watcher releases in this
    // order, one batch after the other in the same passes.
    for i in 0..OPS {
        let w = if i % 2 == 0 { &a } else { &b };
        w.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    batcher.start().unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while starts.lock().unwrap().len() < OPS as usize {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every batch started");
    batcher.stop().await;
    let starts = starts.lock().unwrap();
    // Per watcher, batches were released in enqueue order; across watchers the
    // dispatcher alternates, so each watcher's own sequence must be in order, and the
    // whole sequence must be the release sequence the batch events report.
    let of =
        |parity: u32| -> Vec<u32> { starts.iter().copied().filter(|p| p % 2 == parity).collect() };
    let (evens, odds) = (of(0), of(1));
    assert!(evens.windows(2).all(|w| w[0] < w[1]), "{evens:?}");
    assert!(odds.windows(2).all(|w| w[0] < w[1]), "{odds:?}");
    assert_eq!(evens.len() + odds.len(), OPS as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_start_in_the_order_of_the_batch_events() {
    const OPS: u32 = 2_000;
    let batcher = Batcher::builder().emit_batch(true).build().unwrap();
    let released = Arc::new(Mutex::new(Vec::new()));
    batcher.emitter().add_listener({
        let released = released.clone();
        move |e| {
            if let Some(meta) = e.metadata::<batcher::BatchMetadata>() {
                released.lock().unwrap().push(meta.watcher);
            }
        }
    });
    let started = Arc::new(Mutex::new(Vec::new()));
    let watchers: Vec<Watcher<u32>> = (0..4)
        .map(|_| {
            let started = started.clone();
            let id = Arc::new(AtomicUsize::new(usize::MAX));
            let w = Watcher::builder().max_batch_size(1).callback(&batcher, {
                let id = id.clone();
                move |_ops: Vec<Operation<u32>>| {
                    started
                        .lock()
                        .unwrap()
                        .push(id.load(Ordering::Relaxed) as u64);
                    tokio::task::yield_now()
                }
            });
            id.store(w.id() as usize, Ordering::Relaxed);
            w
        })
        .collect();
    for i in 0..OPS {
        watchers[i as usize % 4]
            .try_enqueue(Operation::new(i, 1))
            .unwrap();
    }
    batcher.start().unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while started.lock().unwrap().len() < OPS as usize {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every batch started");
    batcher.stop().await;
    assert_eq!(*started.lock().unwrap(), *released.lock().unwrap());
}

#[tokio::test(start_paused = true)]
async fn stop_waits_for_the_callbacks_running() {
    let batcher = Batcher::builder()
        .linger(Duration::ZERO)
        .max_operation_time(Duration::from_secs(3_600))
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = batcher.watcher({
        let (gate, finished) = (gate.clone(), finished.clone());
        move |_ops: Vec<Operation<u8>>| {
            let (gate, finished, tx) = (gate.clone(), finished.clone(), tx.clone());
            async move {
                let _ = tx.send(());
                let _ = gate.acquire().await;
                finished.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 1)).await.unwrap();
    support::next_within(&mut rx, Duration::from_secs(1)).await;
    let stop = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.stop().await }
    });
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!stop.is_finished(), "stop returned with a callback running");
    gate.add_permits(1);
    let stopped = tokio::time::timeout(Duration::from_secs(1), stop)
        .await
        .expect("stop returns once the callback is done")
        .unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    assert_eq!((stopped.unsent, stopped.inflight), (0, 0));
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_callback_past_its_max_operation_time_is_dropped_at_stop() {
    let batcher = Batcher::builder()
        .linger(Duration::ZERO)
        .max_operation_time(Duration::from_millis(300))
        .build()
        .unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let watcher = batcher.watcher({
        let dropped = dropped.clone();
        move |_ops: Vec<Operation<u8>>| {
            let guard = SetOnDrop(dropped.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await
            }
        }
    });
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 1)).await.unwrap();
    eventually(Duration::from_secs(1), || batcher.inflight() == 1).await;
    // Past its max operation time the batch counts as done, and the callback runs on.
    eventually(Duration::from_secs(1), || batcher.inflight() == 0).await;
    assert!(!dropped.load(Ordering::SeqCst));
    tokio::time::timeout(Duration::from_secs(1), batcher.stop())
        .await
        .expect("stop does not wait for a callback past its time");
    assert!(dropped.load(Ordering::SeqCst), "nothing runs on after stop");
}

#[tokio::test(start_paused = true)]
async fn a_callback_may_stop_its_own_batcher() {
    let batcher = Batcher::builder().linger(Duration::ZERO).build().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = batcher.watcher({
        let batcher = batcher.clone();
        move |_ops: Vec<Operation<u8>>| {
            let (batcher, tx) = (batcher.clone(), tx.clone());
            async move {
                let stopped = batcher.stop().await;
                let _ = tx.send(stopped.inflight);
            }
        }
    });
    batcher.start().unwrap();
    watcher.enqueue(Operation::new(1, 1)).await.unwrap();
    // The stopping callback's own batch is still in flight.
    assert_eq!(
        support::next_within(&mut rx, Duration::from_secs(5)).await,
        1
    );
    assert!(batcher.is_stopped());
    let stopped = tokio::time::timeout(Duration::from_secs(1), batcher.stop())
        .await
        .expect("the callback is done");
    assert_eq!(stopped.inflight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_callback_done_at_its_start_costs_no_task_and_one_that_waits_runs_on_in_its_own() {
    let batcher = Batcher::builder().build().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    // The most tasks alive while a quick callback ran.
    let alive = Arc::new(AtomicUsize::new(0));
    let quick = Watcher::builder().max_batch_size(10).callback(&batcher, {
        let (done, alive) = (done.clone(), alive.clone());
        move |ops: Vec<Operation<u32>>| {
            let tasks = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            alive.fetch_max(tasks, Ordering::SeqCst);
            done.fetch_add(ops.len(), Ordering::SeqCst);
            async {}
        }
    });
    let gate = Arc::new(Semaphore::new(0));
    let waited = Arc::new(AtomicUsize::new(0));
    let slow = Watcher::builder().max_batch_size(10).callback(&batcher, {
        let (gate, waited) = (gate.clone(), waited.clone());
        move |ops: Vec<Operation<u32>>| {
            let (gate, waited) = (gate.clone(), waited.clone());
            async move {
                // Woken long after the dispatcher polled it first, from another task.
                gate.acquire().await.unwrap().forget();
                waited.fetch_add(ops.len(), Ordering::SeqCst);
            }
        }
    });
    batcher.start().unwrap();
    // Counted once the batcher's loops are under way (one without a limiter to poll
    // ends at once).
    quick.try_enqueue(Operation::new(0, 1)).unwrap();
    eventually(Duration::from_secs(5), || done.load(Ordering::SeqCst) == 1).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks = metrics.num_alive_tasks();
    for i in 1..501 {
        quick.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    eventually(Duration::from_secs(5), || {
        done.load(Ordering::SeqCst) == 501
    })
    .await;
    assert_eq!(batcher.inflight(), 0);
    assert_eq!(
        (alive.load(Ordering::SeqCst), metrics.num_alive_tasks()),
        (tasks, tasks),
        "50 batches done at their start, and no task for any of them"
    );

    for i in 0..30 {
        slow.try_enqueue(Operation::new(i, 1)).unwrap();
    }
    eventually(Duration::from_secs(5), || batcher.inflight() == 3).await;
    assert_eq!(
        metrics.num_alive_tasks(),
        tasks + 3,
        "one task per waiting batch"
    );
    gate.add_permits(3);
    eventually(Duration::from_secs(5), || {
        waited.load(Ordering::SeqCst) == 30
    })
    .await;
    eventually(Duration::from_secs(5), || {
        metrics.num_alive_tasks() == tasks
    })
    .await;
    assert_eq!(batcher.inflight(), 0);
    let stopped = batcher.stop().await;
    assert_eq!((stopped.unsent, stopped.inflight), (0, 0));
}
