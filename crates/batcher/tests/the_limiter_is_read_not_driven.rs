//! The batcher only reads its limiter and tells it what it needs: it never provisions,
//! starts or stops it, and it re-reads a maximum capacity that changes.

use std::sync::Arc;
use std::time::Duration;

use batcher::{Batcher, EnqueueErrorKind, Operation};
use events_core::{BoxFuture, Emitter, LimiterError, RateLimiter};
use mockall::Sequence;

mockall::mock! {
    #[derive(Debug)]
    Limiter {}
    impl RateLimiter for Limiter {
        fn provision<'a>(&'a self) -> BoxFuture<'a, Result<(), LimiterError>>;
        fn start<'a>(&'a self) -> BoxFuture<'a, Result<(), LimiterError>>;
        fn stop<'a>(&'a self) -> BoxFuture<'a, Result<(), LimiterError>>;
        fn max_capacity(&self) -> u32;
        fn capacity(&self) -> u32;
        fn give_me(&self, target: u32);
        fn emitter(&self) -> &Emitter;
    }
}

#[tokio::test(start_paused = true)]
async fn lifecycle_is_left_to_the_owner_and_max_capacity_is_read_per_enqueue() {
    let mut limiter = MockLimiter::new();
    limiter.expect_provision().never();
    limiter.expect_start().never();
    limiter.expect_stop().never();
    // Capacity 0: nothing is released, so the target stays at what is buffered.
    limiter.expect_capacity().return_const(0u32);
    let mut seq = Sequence::new();
    limiter
        .expect_max_capacity()
        .times(1)
        .in_sequence(&mut seq)
        .return_const(100u32);
    limiter
        .expect_max_capacity()
        .times(1)
        .in_sequence(&mut seq)
        .return_const(10u32);
    limiter
        .expect_give_me()
        .withf(|target| *target == 50)
        .times(3)
        .return_const(());

    let batcher = Batcher::builder()
        .rate_limiter(Arc::new(limiter))
        .capacity_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let watcher = batcher.watcher(|_ops: Vec<Operation<u8>>| async {});
    watcher.try_enqueue(Operation::new(1, 50)).unwrap();
    // The maximum fell to 10 (a lease was lost): the same cost is now too expensive.
    let err = watcher.try_enqueue(Operation::new(2, 50)).unwrap_err();
    assert_eq!(
        err.kind(),
        EnqueueErrorKind::TooExpensive {
            resource: "primary",
            cost: 50,
            max_capacity: 10
        }
    );
    batcher.start().unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let stopped = batcher.stop().await;
    assert_eq!(stopped.unsent, 1);
    assert_eq!(watcher.take_unsent()[0].payload(), &1);
}
