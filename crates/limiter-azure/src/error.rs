//! Errors: invalid settings ([`ConfigError`]) and failed storage calls ([`LeaseError`]).

use std::error::Error as StdError;
use std::time::Duration;

use events_core::LimiterError;

/// The most partitions one shared resource may be cut into.
pub const MAX_PARTITIONS: u32 = 500;

/// A setting of [`AzureSharedResource`](crate::AzureSharedResource) that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The shared capacity would be cut into more than [`MAX_PARTITIONS`] partitions.
    #[error(
        "shared capacity {shared} with factor {factor} needs {partitions} partitions, more than \
         the limit of {max}; raise the factor to at least {min_factor}"
    )]
    TooManyPartitions {
        /// The shared capacity asked for.
        shared: u32,
        /// The capacity of one partition.
        factor: u32,
        /// `ceil(shared / factor)`.
        partitions: u32,
        /// The limit, [`MAX_PARTITIONS`].
        max: u32,
        /// The smallest factor that fits.
        min_factor: u32,
    },
    /// A factor of zero.
    #[error("factor must be at least 1 (it is the capacity of one partition)")]
    ZeroFactor,
    /// A lease duration outside what Azure accepts.
    #[error("lease duration {secs} s is outside Azure's range of 15 to 60 s; pick a value in it")]
    LeaseDuration {
        /// The whole seconds asked for.
        secs: u64,
    },
    /// A timing setting that cannot work with the others.
    #[error("{setting} is {value:?}, which cannot work: {fix}")]
    Timing {
        /// The setting's name.
        setting: &'static str,
        /// Its value.
        value: Duration,
        /// What to do instead.
        fix: &'static str,
    },
    /// A required setting is missing.
    #[error("{setting} is missing: {fix}")]
    Missing {
        /// The setting's name.
        setting: &'static str,
        /// How to provide it.
        fix: &'static str,
    },
    /// The credentials or endpoint could not be understood.
    #[error("invalid Azure storage {what}: {reason}; check the value given to the builder")]
    Credentials {
        /// What was being read (connection string, SAS token, endpoint).
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The factor cannot change while partitions are leased.
    #[error(
        "cannot change the factor from {current} to {requested} while started: held partitions \
         would change size under other instances; stop, rebuild with the new factor, and start"
    )]
    FactorChangeWhileStarted {
        /// The factor in use.
        current: u32,
        /// The factor asked for.
        requested: u32,
    },
}

impl From<ConfigError> for LimiterError {
    fn from(err: ConfigError) -> Self {
        LimiterError::InvalidConfig(err.to_string())
    }
}

/// A call to the lease storage failed.
///
/// The limiter decides from the kind what to do: a [`Conflict`](LeaseError::Conflict)
/// raises a `failed` event, a [`Lost`](LeaseError::Lost) lease is released at once, and
/// everything else raises an `error` event and is retried after a pause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// Another holder has the lease on the partition.
    #[error("partition {partition} is leased by another instance; try another partition or later")]
    Conflict {
        /// The partition index.
        partition: u32,
    },
    /// The lease is no longer ours (it expired, was broken, or was never granted).
    #[error(
        "the lease on partition {partition} is no longer held; it must be acquired again before \
         its capacity is used"
    )]
    Lost {
        /// The partition index.
        partition: u32,
    },
    /// The storage no longer knows a lease we hold (the partition blob has no lease at
    /// all), which happens when it lost its data.
    #[error(
        "the storage no longer knows the lease on partition {partition}; it may have lost its \
         data, so the limiter waits a lease duration before it acquires any partition"
    )]
    LeaseMissing {
        /// The partition index.
        partition: u32,
    },
    /// The container or a partition blob does not exist.
    #[error("{what} does not exist; call provision() (or create it) before start()")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// The storage refused the credentials.
    #[error(
        "storage refused the credentials during {operation} (HTTP {status}); check the account \
         key, SAS token or connection string and its permissions"
    )]
    Unauthorized {
        /// The operation attempted.
        operation: &'static str,
        /// The HTTP status (401 or 403).
        status: u16,
    },
    /// The storage is throttling this client.
    #[error(
        "storage is throttling requests during {operation} (HTTP {status}); the limiter backs \
         off, lower the request rate or raise the attempt interval"
    )]
    Throttled {
        /// The operation attempted.
        operation: &'static str,
        /// The HTTP status (429 or 503).
        status: u16,
    },
    /// The call did not finish in time.
    #[error(
        "{operation} did not finish within {after:?}; the storage is slow or unreachable, it will \
         be retried"
    )]
    Timeout {
        /// The operation attempted.
        operation: &'static str,
        /// The time allowed.
        after: Duration,
    },
    /// Any other failure (network, unexpected status).
    #[error("{operation} failed: {message}")]
    Storage {
        /// The operation attempted.
        operation: &'static str,
        /// What the storage or network said.
        message: String,
        /// The underlying failure, if any.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
}

impl LeaseError {
    /// A failure with only a message, for lease managers and tests.
    pub fn storage(operation: &'static str, message: impl Into<String>) -> Self {
        LeaseError::Storage {
            operation,
            message: message.into(),
            source: None,
        }
    }

    /// Whether the lease is held by another instance.
    pub fn is_conflict(&self) -> bool {
        matches!(self, LeaseError::Conflict { .. })
    }

    /// Whether our lease is gone.
    pub fn is_lost(&self) -> bool {
        matches!(self, LeaseError::Lost { .. })
    }

    /// Whether this is a sign that the storage lost its data: the container or a blob is
    /// missing, or a lease we hold is unknown to it.
    pub fn is_data_loss(&self) -> bool {
        matches!(
            self,
            LeaseError::NotFound { .. } | LeaseError::LeaseMissing { .. }
        )
    }

    /// Whether the storage asked us to slow down.
    pub fn is_throttled(&self) -> bool {
        matches!(self, LeaseError::Throttled { .. })
    }
}
