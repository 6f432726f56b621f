//! Builder validation and lifecycle errors.

use std::time::Duration;

use batcher::{Batcher, BatcherError, MAX_BUFFER_SIZE};

#[test]
fn invalid_options_name_the_option() {
    let cases = [
        (Batcher::builder().buffer_size(0).build(), "buffer_size"),
        (
            Batcher::builder().buffer_size(MAX_BUFFER_SIZE + 1).build(),
            "buffer_size",
        ),
        (
            Batcher::builder().flush_interval(Duration::ZERO).build(),
            "flush_interval",
        ),
        (
            Batcher::builder().capacity_interval(Duration::ZERO).build(),
            "capacity_interval",
        ),
        (
            Batcher::builder().audit_interval(Duration::ZERO).build(),
            "audit_interval",
        ),
        (
            Batcher::builder()
                .max_operation_time(Duration::ZERO)
                .build(),
            "max_operation_time",
        ),
        (
            Batcher::builder().max_concurrent_batches(0).build(),
            "max_concurrent_batches",
        ),
    ];
    for (result, name) in cases {
        match result {
            Err(BatcherError::InvalidOption { option, .. }) => assert_eq!(option, name),
            other => panic!("{name}: expected an invalid option, got {other:?}"),
        }
    }
    let message = Batcher::builder()
        .buffer_size(0)
        .build()
        .unwrap_err()
        .to_string();
    assert!(message.contains("buffer_size") && message.contains("between 1"));
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    let batcher = Batcher::builder().build().unwrap();
    assert_eq!(batcher.start(), Err(BatcherError::NoRuntime));
}

#[tokio::test(start_paused = true)]
async fn start_twice_or_after_stop_is_an_error() {
    let batcher = Batcher::builder().build().unwrap();
    batcher.start().unwrap();
    assert_eq!(batcher.start(), Err(BatcherError::AlreadyStarted));
    batcher.stop().await;
    let other = Batcher::builder().build().unwrap();
    other.stop().await;
    assert_eq!(other.start(), Err(BatcherError::Stopped));
}

#[test]
fn a_new_batcher_is_empty() {
    let batcher = Batcher::builder().build().unwrap();
    assert_eq!(batcher.operations_in_buffer(), 0);
    assert_eq!(batcher.needs_capacity(), 0);
    assert_eq!(batcher.inflight(), 0);
    assert!(batcher.rate_limiter().is_none());
    assert_eq!(batcher.emitter().component(), "batcher");
    assert!(format!("{:?}", Batcher::builder()).contains("buffer_size: 10000"));
}
