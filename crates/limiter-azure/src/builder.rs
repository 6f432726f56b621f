//! [`AzureSharedResourceBuilder`]: the settings of an [`AzureSharedResource`].

use std::sync::Arc;
use std::time::Duration;

use events_core::{Emitter, Lifecycle};

use crate::shared::{CountingHook, Shared, Timing, partition_count};
use crate::timed::Timed;
use crate::{
    AzureBlobLeases, AzureSharedResource, AzureStorage, ConfigError, Credentials, LeaseManager,
};

/// Settings for an [`AzureSharedResource`]; start with [`AzureSharedResource::builder`].
///
/// | setting | default |
/// |---|---|
/// | [`factor`](Self::factor) | 1 |
/// | [`reserved_capacity`](Self::reserved_capacity) | 0 |
/// | [`max_attempt_interval`](Self::max_attempt_interval) | 500 ms |
/// | [`lease_duration`](Self::lease_duration) | 15 s (Azure allows 15–60 s) |
/// | [`safety_margin`](Self::safety_margin) | 500 ms |
/// | [`renew_ahead`](Self::renew_ahead) | 1.5 s |
/// | [`call_timeout`](Self::call_timeout) | 1 s |
/// | [`max_concurrent_acquires`](Self::max_concurrent_acquires) | 8 |
/// | [`storage_retries`](Self::storage_retries) | 2 |
/// | [`rate_window`](Self::rate_window) | 1.1 s (a 1 s budget plus 100 ms for timer jitter) |
/// | [`on_counting`](Self::on_counting) | none |
#[derive(Debug, Clone)]
#[must_use]
pub struct AzureSharedResourceBuilder {
    counting_hook: Option<CountingHook>,
    account: Option<String>,
    container: Option<String>,
    credentials: Option<Credentials>,
    endpoint: Option<String>,
    storage_retries: u32,
    shared: u32,
    factor: u32,
    reserved: u32,
    timing: Timing,
    seed: Option<u64>,
}

impl Default for AzureSharedResourceBuilder {
    fn default() -> Self {
        AzureSharedResourceBuilder {
            counting_hook: None,
            account: None,
            container: None,
            credentials: None,
            endpoint: None,
            storage_retries: 2,
            shared: 0,
            factor: 1,
            reserved: 0,
            timing: Timing {
                lease_duration: Duration::from_secs(15),
                max_attempt_interval: Duration::from_millis(500),
                safety_margin: Duration::from_millis(500),
                renew_ahead: Duration::from_millis(1500),
                call_timeout: Duration::from_secs(1),
                max_concurrent_acquires: 8,
                rate_window: Duration::from_millis(1100),
            },
            seed: None,
        }
    }
}

fn timing_error(setting: &'static str, value: Duration, fix: &'static str) -> ConfigError {
    ConfigError::Timing {
        setting,
        value,
        fix,
    }
}

impl AzureSharedResourceBuilder {
    /// The storage account name (not needed with a connection string or the emulator).
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// The container that holds the partition blobs.
    pub fn container(mut self, container: impl Into<String>) -> Self {
        self.container = Some(container.into());
        self
    }

    /// How to authenticate.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// A custom blob endpoint, such as an emulator's `http://127.0.0.1:10000/devstoreaccount1`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// How many times the storage SDK retries a failed call after 100 ms; 0 disables
    /// retries (predictable timing in tests). Every call is also bounded by
    /// [`call_timeout`](Self::call_timeout).
    pub fn storage_retries(mut self, retries: u32) -> Self {
        self.storage_retries = retries;
        self
    }

    /// The capacity shared by all instances.
    pub fn shared_capacity(mut self, shared: u32) -> Self {
        self.shared = shared;
        self
    }

    /// The capacity of one partition (at most 500 partitions).
    pub fn factor(mut self, factor: u32) -> Self {
        self.factor = factor;
        self
    }

    /// Capacity this instance always has, on top of what it leases.
    pub fn reserved_capacity(mut self, reserved: u32) -> Self {
        self.reserved = reserved;
        self
    }

    /// The longest pause between lease attempts after a failed one (a random pause below
    /// it is used).
    pub fn max_attempt_interval(mut self, interval: Duration) -> Self {
        self.timing.max_attempt_interval = interval;
        self
    }

    /// How long each lease lasts (whole seconds, 15 to 60).
    pub fn lease_duration(mut self, duration: Duration) -> Self {
        self.timing.lease_duration = duration;
        self
    }

    /// How much earlier than the storage's own expiry a lease stops being counted; covers
    /// clock-rate differences between this machine and the storage.
    pub fn safety_margin(mut self, margin: Duration) -> Self {
        self.timing.safety_margin = margin;
        self
    }

    /// How long before a lease stops being counted it is renewed (if still needed).
    pub fn renew_ahead(mut self, ahead: Duration) -> Self {
        self.timing.renew_ahead = ahead;
        self
    }

    /// The time allowed for one storage call. Once a call times out the storage counts as
    /// silent: the limiter sends no other call and keeps one probe in flight (allowed a
    /// third of the lease duration, at least this timeout) until the storage answers, so
    /// that a hung server does not queue a request for every call given up on.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.timing.call_timeout = timeout;
        self
    }

    /// How many partitions may be acquired at once while ramping up.
    pub fn max_concurrent_acquires(mut self, max: u32) -> Self {
        self.timing.max_concurrent_acquires = max;
        self
    }

    /// The accounting window of the capacity: capacity is a budget per window (per
    /// second), so a partition must not be spent by two instances within one window.
    ///
    /// Between the moment this instance stops counting a partition and the moment any
    /// other instance can start counting it, at least `rate_window` passes: a partition
    /// no longer needed is uncounted at once but its lease is kept ("draining") for the
    /// window before it is released; `stop()` drops the capacity to the reserve at once
    /// and releases the leases one window later (so it takes about this long); and a
    /// lease that cannot be renewed stops being counted a whole window before the
    /// storage lets anyone else take it. It must be at least the accounting window of
    /// the consumer (a batcher spending `capacity()` per second needs 1 s); the default
    /// adds 100 ms for timer jitter. Zero turns the guarantee off.
    pub fn rate_window(mut self, window: Duration) -> Self {
        self.timing.rate_window = window;
        self
    }

    /// Calls `hook(partition, counted)` whenever this instance starts (`true`) or stops
    /// (`false`) counting a partition's capacity: for audits and tests of how partitions
    /// move between instances. It runs on the lease loop, so it must be quick.
    pub fn on_counting(mut self, hook: impl Fn(u32, bool) + Send + Sync + 'static) -> Self {
        self.counting_hook = Some(CountingHook(Arc::new(hook)));
        self
    }

    /// Seeds the random choice of partitions and pauses (for reproducible tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Builds a limiter on Azure Blob Storage; makes no network call.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the setting that cannot work.
    pub fn build(self) -> Result<AzureSharedResource, ConfigError> {
        let credentials = self.credentials.clone().ok_or(ConfigError::Missing {
            setting: "credentials",
            fix: "call .credentials(..) with an account key, connection string, SAS or Emulator",
        })?;
        let container = self.container.clone().ok_or(ConfigError::Missing {
            setting: "container name",
            fix: "call .container(name) on the builder",
        })?;
        // Validate the limiter settings before touching credentials.
        self.validate()?;
        let leases = AzureBlobLeases::new(AzureStorage {
            account: self.account.clone(),
            container,
            credentials,
            endpoint: self.endpoint.clone(),
            max_retries: self.storage_retries,
        })?;
        self.build_with_manager(Arc::new(leases))
    }

    /// Builds a limiter on any [`LeaseManager`]; storage settings of this builder are
    /// ignored.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the setting that cannot work.
    pub fn build_with_manager(
        self,
        manager: Arc<dyn LeaseManager>,
    ) -> Result<AzureSharedResource, ConfigError> {
        let partitions = self.validate()?;
        let mut shared = Shared::new(
            Emitter::new("azure-shared-resource"),
            self.shared,
            self.reserved,
            self.factor,
            partitions,
        );
        shared.counting_hook = self.counting_hook;
        let manager = Arc::new(Timed::new(manager, shared.emitter.clone()));
        Ok(AzureSharedResource {
            shared: Arc::new(shared),
            manager,
            timing: self.timing,
            seed: self.seed,
            lifecycle: Lifecycle::new("azure shared resource"),
            running: std::sync::Mutex::new(None),
        })
    }

    fn validate(&self) -> Result<u32, ConfigError> {
        let partitions = partition_count(self.shared, self.factor)?;
        let t = &self.timing;
        let lease = t.lease_duration;
        if lease.subsec_nanos() != 0 || !(15..=60).contains(&lease.as_secs()) {
            return Err(ConfigError::LeaseDuration {
                secs: lease.as_secs(),
            });
        }
        if t.max_attempt_interval < Duration::from_millis(1) || t.max_attempt_interval > lease {
            return Err(timing_error(
                "max_attempt_interval",
                t.max_attempt_interval,
                "use at least 1 ms and at most the lease duration",
            ));
        }
        if t.safety_margin > lease / 4 {
            return Err(timing_error(
                "safety_margin",
                t.safety_margin,
                "use at most a quarter of the lease duration",
            ));
        }
        if t.rate_window > lease / 4 {
            return Err(timing_error(
                "rate_window",
                t.rate_window,
                "use at most a quarter of the lease duration (the default is 1.1 s)",
            ));
        }
        if t.renew_ahead.is_zero() || t.renew_ahead + t.safety_margin + t.rate_window > lease / 2 {
            return Err(timing_error(
                "renew_ahead",
                t.renew_ahead,
                "use more than zero, and with the safety margin and the rate window at most \
                 half the lease duration",
            ));
        }
        if t.call_timeout.is_zero() || t.call_timeout > lease / 4 {
            return Err(timing_error(
                "call_timeout",
                t.call_timeout,
                "use more than zero and at most a quarter of the lease duration",
            ));
        }
        if t.max_concurrent_acquires == 0 {
            return Err(ConfigError::Missing {
                setting: "max_concurrent_acquires",
                fix: "allow at least 1 acquisition at a time",
            });
        }
        Ok(partitions)
    }
}
