//! [`AzureSharedResource`]: the [`RateLimiter`] whose capacity is a share of partition
//! leases.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use events_core::{
    BoxFuture, Emitter, EventName, Lifecycle, LifecycleState, LimiterError, RateLimiter,
};
use futures::{FutureExt, StreamExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::engine::Engine;
use crate::shared::{Shared, Timing, partition_count};
use crate::timed::Timed;
use crate::{AzureSharedResourceBuilder, ConfigError, LeaseError, LeaseManager, Provisioned};

/// How many partition blobs provisioning creates at once.
const PROVISION_CONCURRENCY: usize = 16;

#[derive(Debug)]
pub(crate) struct Running {
    cancel: CancellationToken,
    task: JoinHandle<Result<(), LeaseError>>,
}

/// A [`RateLimiter`] whose capacity is shared by many instances through exclusive leases
/// on partitions (zero-byte blobs in an Azure Blob container).
///
/// `capacity = (capacity of the held partitions) + reserved` and
/// `max_capacity = shared + reserved`. See the [crate documentation](crate) for the
/// events and guarantees.
#[derive(Debug)]
pub struct AzureSharedResource {
    pub(crate) shared: Arc<Shared>,
    /// The lease store, every call through it timed as a `storage-call` event.
    pub(crate) manager: Arc<Timed>,
    pub(crate) timing: Timing,
    pub(crate) seed: Option<u64>,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) running: Mutex<Option<Running>>,
}

impl AzureSharedResource {
    /// Starts the settings; see [`AzureSharedResourceBuilder`] for the defaults.
    pub fn builder() -> AzureSharedResourceBuilder {
        AzureSharedResourceBuilder::default()
    }

    /// The capacity shared by all instances.
    pub fn shared_capacity(&self) -> u32 {
        self.shared.shared_capacity.load(Ordering::Acquire)
    }

    /// The capacity always available to this instance.
    pub fn reserved_capacity(&self) -> u32 {
        self.shared.reserved.load(Ordering::Acquire)
    }

    /// The capacity of one partition.
    pub fn factor(&self) -> u32 {
        self.shared.factor.load(Ordering::Acquire)
    }

    /// How many partitions the shared capacity is cut into.
    pub fn partitions(&self) -> u32 {
        self.shared.partitions.load(Ordering::Acquire)
    }

    /// How many partitions the last `give_me` asked for.
    pub fn wanted_partitions(&self) -> u32 {
        self.shared.wanted.load(Ordering::Acquire)
    }

    /// The lease duration in use.
    pub fn lease_duration(&self) -> Duration {
        self.timing.lease_duration
    }

    /// The lease store in use.
    pub fn lease_manager(&self) -> &Arc<dyn LeaseManager> {
        self.manager.inner()
    }

    /// Changes the shared capacity; new partition blobs are provisioned first (when the
    /// limiter is provisioned or started), and partitions past a reduced count stop being
    /// counted at once and are released one rate window later.
    ///
    /// # Errors
    ///
    /// [`ConfigError::TooManyPartitions`], a lifecycle error after `stop`, or a backend
    /// error if a new blob could not be created (the capacity is then unchanged).
    pub async fn set_shared_capacity(&self, shared: u32) -> Result<(), LimiterError> {
        if self.lifecycle.state() == LifecycleState::Stopped {
            return Err(self.lifecycle.stopped_error("set_shared_capacity").into());
        }
        let new = partition_count(shared, self.factor())?;
        let old = self.partitions();
        if new > old
            && matches!(
                self.lifecycle.state(),
                LifecycleState::Provisioned | LifecycleState::Started
            )
        {
            self.provision_partitions(old..new).await?;
        }
        self.shared.shared_capacity.store(shared, Ordering::Release);
        self.shared.partitions.store(new, Ordering::Release);
        tracing::info!(shared, partitions = new, "shared capacity changed");
        self.shared.update_wanted();
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Changes the reserved capacity; takes effect at once.
    pub fn set_reserved_capacity(&self, reserved: u32) {
        self.shared.reserved.store(reserved, Ordering::Release);
        self.shared.update_wanted();
        self.shared.emit_capacity();
    }

    /// Changes the factor; only before `start` (call `provision` again if the partition
    /// count grows).
    ///
    /// # Errors
    ///
    /// [`ConfigError::FactorChangeWhileStarted`] while started (held partitions would change
    /// size under other instances), or [`ConfigError::TooManyPartitions`].
    pub fn set_factor(&self, factor: u32) -> Result<(), ConfigError> {
        let current = self.factor();
        if self.lifecycle.is_started() && factor != current {
            return Err(ConfigError::FactorChangeWhileStarted {
                current,
                requested: factor,
            });
        }
        let partitions = partition_count(self.shared_capacity(), factor)?;
        self.shared.factor.store(factor, Ordering::Release);
        self.shared.partitions.store(partitions, Ordering::Release);
        self.shared.update_wanted();
        Ok(())
    }

    async fn provision_partitions(&self, range: std::ops::Range<u32>) -> Result<(), LimiterError> {
        let location = self.manager.location();
        let call_timeout = self.timing.call_timeout;
        let manager = &self.manager;
        let mut results = futures::stream::iter(range)
            .map(|i| {
                let call = manager.ensure_partition(i);
                async move {
                    let result = match tokio::time::timeout(call_timeout, call).await {
                        Ok(result) => result,
                        Err(_) => Err(LeaseError::Timeout {
                            operation: "create partition blob",
                            after: call_timeout,
                        }),
                    };
                    (i, result)
                }
            })
            .buffered(PROVISION_CONCURRENCY);
        while let Some((i, result)) = results.next().await {
            match result {
                Ok(Provisioned::Created) => self
                    .shared
                    .emitter
                    .emit(EventName::CreatedBlob, i64::from(i)),
                Ok(Provisioned::Existed) => self
                    .shared
                    .emitter
                    .emit(EventName::VerifiedBlob, i64::from(i)),
                Err(err) => {
                    self.shared
                        .emitter
                        .emit_msg(EventName::Error, i64::from(i), err.to_string());
                    return Err(LimiterError::backend(
                        format!(
                            "could not provision partition blob {i} in {location}; check that the \
                             storage is reachable and the credentials may create blobs, then call \
                             provision() again"
                        ),
                        err,
                    ));
                }
            }
        }
        Ok(())
    }

    async fn do_provision(&self) -> Result<(), LimiterError> {
        self.lifecycle.check_provision()?;
        let location = self.manager.location();
        let call = self.manager.ensure_container();
        let result = match tokio::time::timeout(self.timing.call_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(LeaseError::Timeout {
                operation: "create container",
                after: self.timing.call_timeout,
            }),
        };
        match result {
            Ok(Provisioned::Created) => {
                self.shared
                    .emitter
                    .emit_msg(EventName::CreatedContainer, 0, location.clone());
            }
            Ok(Provisioned::Existed) => {
                self.shared
                    .emitter
                    .emit_msg(EventName::VerifiedContainer, 0, location.clone());
            }
            Err(err) => {
                self.shared
                    .emitter
                    .emit_msg(EventName::Error, 0, err.to_string());
                return Err(LimiterError::backend(
                    format!(
                        "could not create or find the container {location}; check the endpoint \
                         and credentials, then call provision() again"
                    ),
                    err,
                ));
            }
        }
        self.provision_partitions(0..self.partitions()).await?;
        self.lifecycle.mark_provisioned();
        Ok(())
    }

    fn do_start(&self) -> Result<(), LimiterError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LimiterError::InvalidConfig(
                "start() needs a tokio runtime for its lease loop; await it inside one".to_owned(),
            ));
        }
        self.lifecycle.begin_start()?;
        let rng = match self.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        let engine = Engine::new(
            Arc::clone(&self.shared),
            Arc::clone(&self.manager) as Arc<dyn LeaseManager>,
            self.timing,
            rng,
        );
        let cancel = CancellationToken::new();
        let task = tokio::spawn(engine.run(cancel.clone()).in_current_span());
        tracing::info!(location = %self.manager.location(), partitions = self.partitions(), "lease loop started");
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Running { cancel, task });
        Ok(())
    }

    async fn do_stop(&self) -> Result<(), LimiterError> {
        if !self.lifecycle.begin_stop() {
            return Ok(());
        }
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let result = match running {
            Some(Running { cancel, task }) => {
                cancel.cancel();
                match task.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(err)) => Err(LimiterError::backend(
                        "could not release every lease on stop; the rest lapse by themselves \
                         within the lease duration",
                        err,
                    )),
                    Err(join) => Err(LimiterError::backend(
                        "the lease loop ended abnormally; its leases lapse by themselves within \
                         the lease duration",
                        join,
                    )),
                }
            }
            None => Ok(()),
        };
        tracing::info!("stopped");
        self.shared.emitter.emit(EventName::Shutdown, 0);
        result
    }
}

impl Drop for AzureSharedResource {
    fn drop(&mut self) {
        // Without stop(), the loop still gives its leases back in the background.
        if let Some(running) = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            running.cancel.cancel();
        }
    }
}

impl RateLimiter for AzureSharedResource {
    fn provision(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        self.do_provision().boxed()
    }

    fn start(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        async move { self.do_start() }.boxed()
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), LimiterError>> {
        self.do_stop().boxed()
    }

    fn max_capacity(&self) -> u32 {
        self.shared.max_capacity()
    }

    fn capacity(&self) -> u32 {
        self.shared.capacity()
    }

    fn give_me(&self, target: u32) {
        self.shared.target.store(target, Ordering::Release);
        self.shared.update_wanted();
    }

    fn emitter(&self) -> &Emitter {
        &self.shared.emitter
    }
}
