//! Helpers shared by the integration tests: an event recorder, a mock lease manager and
//! access to Azurite (the shared instance from the environment or a private one).
#![allow(dead_code, unreachable_pub)]

pub mod azurite;
pub mod fleet;
pub mod gated;
pub mod mock;
pub mod processes;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use events_core::{Emitter, EventName};
use tokio::sync::Notify;

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub name: EventName,
    pub val: i64,
    pub msg: Option<String>,
}

/// Records every event of an emitter and lets a test wait for a condition on them.
#[derive(Debug, Clone)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Rec>>>,
    notify: Arc<Notify>,
}

impl Recorder {
    pub fn attach(emitter: &Emitter) -> Self {
        let events = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let (sink, bell) = (events.clone(), notify.clone());
        emitter.add_listener(move |e| {
            sink.lock().unwrap().push(Rec {
                name: e.name(),
                val: e.val(),
                msg: e.msg().map(str::to_owned),
            });
            bell.notify_waiters();
        });
        Recorder { events, notify }
    }

    pub fn events(&self) -> Vec<Rec> {
        self.events.lock().unwrap().clone()
    }

    pub fn of(&self, name: EventName) -> Vec<Rec> {
        self.events()
            .into_iter()
            .filter(|r| r.name == name)
            .collect()
    }

    pub fn count(&self, name: EventName) -> usize {
        self.of(name).len()
    }

    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
    }

    /// Waits until `pred` holds (checked now and after every event), at most `within`.
    pub async fn wait_for(&self, within: Duration, pred: impl Fn(&[Rec]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(&self.events.lock().unwrap()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pred(&self.events.lock().unwrap());
            }
        }
    }
}
