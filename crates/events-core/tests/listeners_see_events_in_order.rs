//! Listener ordering, adding and removing listeners during an emit, and panicking listeners.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use events_core::{Emitter, EventName, ListenerId};

fn recorder(emitter: &Emitter, tag: &'static str, log: &Arc<Mutex<Vec<String>>>) -> ListenerId {
    let log = log.clone();
    emitter.add_listener(move |e| log.lock().unwrap().push(format!("{tag}:{}", e.val())))
}

#[test]
fn listeners_are_called_in_the_order_they_were_added() {
    let emitter = Emitter::new("test");
    let log = Arc::new(Mutex::new(Vec::new()));
    recorder(&emitter, "a", &log);
    recorder(&emitter, "b", &log);
    recorder(&emitter, "c", &log);
    emitter.emit(EventName::Batch, 1);
    emitter.emit(EventName::Batch, 2);
    assert_eq!(
        *log.lock().unwrap(),
        ["a:1", "b:1", "c:1", "a:2", "b:2", "c:2"]
    );
}

#[test]
fn a_listener_can_remove_itself_and_add_another_without_deadlock() {
    let emitter = Emitter::new("test");
    let log = Arc::new(Mutex::new(Vec::new()));
    let own_id: Arc<Mutex<Option<ListenerId>>> = Arc::default();
    let (e2, l2, id2) = (emitter.clone(), log.clone(), own_id.clone());
    let id = emitter.add_listener(move |e| {
        l2.lock().unwrap().push(format!("once:{}", e.val()));
        // Remove ourselves and add a follower, both from inside the emit.
        let id = id2.lock().unwrap().take();
        if let Some(id) = id {
            assert!(e2.remove_listener(id));
            recorder(&e2, "added", &l2);
        }
    });
    *own_id.lock().unwrap() = Some(id);

    emitter.emit(EventName::Batch, 1);
    emitter.emit(EventName::Batch, 2);
    emitter.emit(EventName::Batch, 3);
    // The change applies from the next emit: "added" did not see event 1.
    assert_eq!(*log.lock().unwrap(), ["once:1", "added:2", "added:3"]);
    assert_eq!(emitter.listener_count(), 1);
}

#[test]
fn removing_an_unknown_listener_reports_false() {
    let emitter = Emitter::new("test");
    let id = emitter.add_listener(|_| {});
    assert!(emitter.remove_listener(id));
    assert!(!emitter.remove_listener(id));
    assert!(!emitter.is_observed());
}

#[test]
fn a_panicking_listener_is_contained_and_others_still_run() {
    let emitter = Emitter::new("test");
    let calls = Arc::new(AtomicUsize::new(0));
    emitter.add_listener(|e| {
        if e.val() == 1 {
            panic!("listener failed on purpose");
        }
    });
    let c = calls.clone();
    emitter.add_listener(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });

    emitter.emit(EventName::Error, 1);
    emitter.emit(EventName::Error, 2);
    // The emitter is not poisoned: adding and removing still work after the panic.
    let id = emitter.add_listener(|_| {});
    assert!(emitter.remove_listener(id));
    emitter.emit(EventName::Error, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn emit_with_builds_metadata_only_when_observed() {
    let emitter = Emitter::new("test");
    let built = Arc::new(AtomicUsize::new(0));
    let b = built.clone();
    emitter.emit_with(EventName::Batch, 3, move |e| {
        b.fetch_add(1, Ordering::SeqCst);
        e.with_metadata(vec![1, 2, 3])
    });
    assert_eq!(built.load(Ordering::SeqCst), 0);

    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    emitter.add_listener(move |e| *s.lock().unwrap() = e.metadata::<Vec<i32>>().cloned());
    let b = built.clone();
    emitter.emit_with(EventName::Batch, 3, move |e| {
        b.fetch_add(1, Ordering::SeqCst);
        e.with_metadata(vec![1, 2, 3])
    });
    assert_eq!(built.load(Ordering::SeqCst), 1);
    assert_eq!(*seen.lock().unwrap(), Some(vec![1, 2, 3]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_emits_from_many_tasks_are_all_delivered() {
    const TASKS: usize = 16;
    const EACH: usize = 2_000;
    let emitter = Emitter::new("test");
    let total = Arc::new(AtomicUsize::new(0));
    let t = total.clone();
    emitter.add_listener(move |e| {
        t.fetch_add(e.val() as usize, Ordering::Relaxed);
    });
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let emitter = emitter.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..EACH {
                emitter.emit(EventName::Batch, 1);
            }
        }));
    }
    // Listeners are added and removed concurrently with the emits.
    for _ in 0..100 {
        let id = emitter.add_listener(|_| {});
        assert!(emitter.remove_listener(id));
        tokio::task::yield_now().await;
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(total.load(Ordering::Relaxed), TASKS * EACH);
}

#[tokio::test]
async fn an_event_raised_for_reuse_comes_back_only_when_no_subscription_took_it() {
    use events_core::{Event, Metadata};
    let emitter = Emitter::new("test");
    let raise = |val: i64| {
        let meta: Metadata = Arc::new(vec![val as u32; 3]);
        let built = Arc::new(AtomicUsize::new(0));
        let b = built.clone();
        let back = emitter.emit_with_reuse(EventName::Batch, val, move |e| {
            b.fetch_add(1, Ordering::SeqCst);
            e.with_shared_metadata(meta)
        });
        (back, built.load(Ordering::SeqCst))
    };
    // Nobody listens: nothing is built and nothing comes back.
    let (back, built) = raise(1);
    assert!(back.is_none());
    assert_eq!(built, 0);

    // A listener that keeps a clone: the event comes back, its metadata shared.
    let kept: Arc<Mutex<Vec<Event>>> = Arc::default();
    let k = kept.clone();
    let id = emitter.add_listener(move |e| k.lock().unwrap().push(e.clone()));
    let (back, built) = raise(2);
    assert_eq!(built, 1);
    let mut meta = back
        .expect("no subscription took it")
        .into_metadata()
        .expect("metadata")
        .downcast::<Vec<u32>>()
        .unwrap();
    assert!(
        Arc::get_mut(&mut meta).is_none(),
        "the listener holds it too"
    );
    assert_eq!(*meta, vec![2, 2, 2]);
    assert!(emitter.remove_listener(id));

    // A subscription takes the event: it does not come back, and the subscriber has it.
    let mut sub = emitter.subscribe();
    let (back, built) = raise(3);
    assert!(back.is_none());
    assert_eq!(built, 1);
    let got = futures::StreamExt::next(&mut sub).await.unwrap().unwrap();
    assert_eq!(got.metadata::<Vec<u32>>(), Some(&vec![3, 3, 3]));
    drop(sub);

    // A listener that keeps nothing: the metadata comes back for this caller alone.
    emitter.add_listener(|_| {});
    let (back, _) = raise(4);
    let mut meta = back
        .and_then(Event::into_metadata)
        .expect("came back")
        .downcast::<Vec<u32>>()
        .unwrap();
    assert_eq!(Arc::get_mut(&mut meta), Some(&mut vec![4, 4, 4]));
    assert_eq!(kept.lock().unwrap().len(), 1);
}
