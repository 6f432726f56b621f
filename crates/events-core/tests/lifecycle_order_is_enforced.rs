//! Provision → Start → Stop, and the object safety of the traits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use events_core::{
    BoxFuture, CloseHandle, Emitter, EventSource, Lifecycle, LifecycleError, LifecycleState,
    LimiterError, RateLimiter, SourceError,
};
use futures::StreamExt;

#[derive(Debug)]
struct Fixed {
    life: Lifecycle,
    capacity: AtomicU32,
    emitter: Emitter,
}

impl RateLimiter for Fixed {
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.life.check_provision()?;
            self.life.mark_provisioned();
            Ok(())
        })
    }
    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move { Ok(self.life.begin_start()?) })
    }
    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        Box::pin(async move {
            self.life.begin_stop();
            Ok(())
        })
    }
    fn max_capacity(&self) -> u32 {
        100
    }
    fn capacity(&self) -> u32 {
        self.capacity.load(Ordering::Relaxed)
    }
    fn give_me(&self, target: u32) {
        self.capacity.store(target.min(100), Ordering::Relaxed);
    }
    fn emitter(&self) -> &Emitter {
        &self.emitter
    }
}

fn fixed() -> Arc<dyn RateLimiter> {
    Arc::new(Fixed {
        life: Lifecycle::new("fixed"),
        capacity: AtomicU32::new(0),
        emitter: Emitter::new("fixed"),
    })
}

#[tokio::test]
async fn start_before_provision_is_a_typed_error() {
    let limiter = fixed();
    let err = limiter.start().await.unwrap_err();
    assert!(err.is_lifecycle());
    assert!(matches!(
        err,
        LimiterError::Lifecycle(LifecycleError::NotProvisioned { component: "fixed" })
    ));
    assert!(err.to_string().contains("call provision() first"), "{err}");
}

#[tokio::test]
async fn the_full_lifecycle_through_a_trait_object() {
    let limiter = fixed();
    limiter.provision().await.unwrap();
    limiter.provision().await.unwrap(); // Provisioning again is harmless.
    limiter.start().await.unwrap();
    let err = limiter.start().await.unwrap_err();
    assert!(matches!(
        err,
        LimiterError::Lifecycle(LifecycleError::AlreadyStarted {
            operation: "start",
            ..
        })
    ));
    let err = limiter.provision().await.unwrap_err();
    assert!(err.to_string().contains("already started"), "{err}");
    limiter.give_me(250);
    assert_eq!(limiter.capacity(), 100);
    limiter.stop().await.unwrap();
    limiter.stop().await.unwrap(); // Stopping twice is harmless.
    let err = limiter.start().await.unwrap_err();
    assert!(err.to_string().contains("has been stopped"), "{err}");
}

#[test]
fn stop_reports_only_the_first_call() {
    let life = Lifecycle::provisioned("x");
    assert_eq!(life.state(), LifecycleState::Provisioned);
    life.begin_start().unwrap();
    assert!(life.is_started());
    assert!(life.begin_stop());
    assert!(!life.begin_stop());
    assert!(matches!(
        life.check_provision(),
        Err(LifecycleError::Stopped {
            operation: "provision",
            ..
        })
    ));
}

#[derive(Debug, thiserror::Error)]
enum CountError {
    #[error("odd number {0}")]
    Odd(u32),
    #[error("closed")]
    Closed,
    #[error("finished")]
    Finished,
}

impl SourceError for CountError {
    fn is_terminal(&self) -> bool {
        !matches!(self, CountError::Odd(_))
    }
    fn is_closed(&self) -> bool {
        matches!(self, CountError::Closed)
    }
}

struct Counter {
    n: u32,
    limit: u32,
    close: CloseHandle,
}

impl EventSource for Counter {
    type Event = u32;
    type Error = CountError;
    fn next(&mut self) -> BoxFuture<'_, Result<u32, CountError>> {
        Box::pin(async move {
            if self.close.is_closed() {
                return Err(CountError::Closed);
            }
            if self.n >= self.limit {
                // Waits until closed, as a quiet live stream would.
                self.close.closed().await;
                return Err(CountError::Closed);
            }
            self.n += 1;
            if self.n % 2 == 1 {
                Err(CountError::Odd(self.n))
            } else {
                Ok(self.n)
            }
        })
    }
    fn close_handle(&self) -> CloseHandle {
        self.close.clone()
    }
}

#[tokio::test]
async fn event_source_is_object_safe_and_per_event_errors_do_not_end_it() {
    let mut source: Box<dyn EventSource<Event = u32, Error = CountError>> = Box::new(Counter {
        n: 0,
        limit: 4,
        close: CloseHandle::new(),
    });
    assert!(matches!(source.next().await, Err(CountError::Odd(1))));
    assert_eq!(source.next().await.unwrap(), 2);
    source.close();
    assert!(matches!(source.next().await, Err(CountError::Closed)));
}

#[tokio::test]
async fn close_interrupts_an_in_flight_next_and_ends_the_stream_quietly() {
    let source = Counter {
        n: 0,
        limit: 4,
        close: CloseHandle::new(),
    };
    let mut stream = source.into_stream();
    let handle = stream.close_handle();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(stream.next().await.unwrap().map_err(|e| e.to_string()));
    }
    assert_eq!(
        seen,
        [
            Err("odd number 1".to_owned()),
            Ok(2),
            Err("odd number 3".to_owned()),
            Ok(4)
        ]
    );
    // The next poll waits forever until closed from elsewhere.
    let waiter = tokio::spawn(async move { stream.next().await.is_none() });
    tokio::task::yield_now().await;
    handle.close();
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("closing must interrupt next()")
            .unwrap()
    );
}

#[tokio::test]
async fn a_terminal_error_is_yielded_once_then_the_stream_ends() {
    struct Ends;
    impl EventSource for Ends {
        type Event = u32;
        type Error = CountError;
        fn next(&mut self) -> BoxFuture<'_, Result<u32, CountError>> {
            Box::pin(async { Err(CountError::Finished) })
        }
        fn close_handle(&self) -> CloseHandle {
            CloseHandle::new()
        }
    }
    let mut stream = Ends.into_stream();
    assert!(matches!(
        stream.next().await,
        Some(Err(CountError::Finished))
    ));
    assert!(stream.next().await.is_none());
}
