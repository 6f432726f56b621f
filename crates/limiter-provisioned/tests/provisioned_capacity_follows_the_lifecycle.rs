//! The provisioned limiter's lifecycle, events and runtime capacity changes.

use std::sync::Arc;

use events_core::{EventName, LifecycleError, LimiterError, RateLimiter};
use limiter_provisioned::ProvisionedResource;

#[tokio::test]
async fn start_raises_capacity_and_stop_raises_shutdown_once() {
    let limiter = ProvisionedResource::new(10_000);
    let mut events = limiter.emitter().subscribe();
    limiter.provision().await.unwrap();
    limiter.start().await.unwrap();
    limiter.stop().await.unwrap();
    limiter.stop().await.unwrap();
    limiter.emitter().emit(EventName::Error, -1);

    let mut seen = Vec::new();
    while let Some(Ok(event)) = events.next().await {
        seen.push((event.name(), event.val()));
        if event.name() == EventName::Error {
            break;
        }
    }
    assert_eq!(
        seen,
        vec![
            (EventName::Capacity, 10_000),
            (EventName::Shutdown, 0),
            (EventName::Error, -1)
        ]
    );
}

#[tokio::test]
async fn it_starts_without_provisioning_but_not_twice_or_after_stop() {
    let limiter = ProvisionedResource::new(5);
    limiter.start().await.unwrap();
    let again = limiter.start().await.unwrap_err();
    assert!(matches!(
        again,
        LimiterError::Lifecycle(LifecycleError::AlreadyStarted { .. })
    ));
    assert!(limiter.provision().await.unwrap_err().is_lifecycle());
    limiter.stop().await.unwrap();
    let after_stop = limiter.start().await.unwrap_err();
    assert!(matches!(
        after_stop,
        LimiterError::Lifecycle(LifecycleError::Stopped { .. })
    ));
}

#[tokio::test]
async fn set_capacity_changes_capacity_and_max_and_raises_capacity() {
    let limiter = ProvisionedResource::new(100);
    let mut events = limiter.emitter().subscribe();
    limiter.give_me(1_000_000);
    assert_eq!(limiter.capacity(), 100);
    limiter.set_capacity(250);
    assert_eq!((limiter.capacity(), limiter.max_capacity()), (250, 250));
    let event = events.next().await.unwrap().unwrap();
    assert_eq!((event.name(), event.val()), (EventName::Capacity, 250));
}

#[test]
fn it_is_usable_as_a_shared_trait_object() {
    let limiter: Arc<dyn RateLimiter> = Arc::new(ProvisionedResource::new(7));
    assert_eq!(limiter.max_capacity(), 7);
    assert!(format!("{limiter:?}").contains("ProvisionedResource"));
}
