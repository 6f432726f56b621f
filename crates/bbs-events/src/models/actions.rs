//! Actions: the steps a container runs, and their nesting.

use bytes::Bytes;

use super::ser;
use super::{EnvironmentVariable, File};

/// A step a container runs; exactly one of the action fields is expected to be set.
///
/// The `Action` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct Action {
    /// The download action, when this action is one.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_action: Option<Box<DownloadAction>>,
    /// The upload action, when this action is one.
    #[prost(message, optional, boxed, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_action: Option<Box<UploadAction>>,
    /// The run action, when this action is one.
    #[prost(message, optional, boxed, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_action: Option<Box<RunAction>>,
    /// The timeout action, when this action is one.
    #[prost(message, optional, boxed, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_action: Option<Box<TimeoutAction>>,
    /// The emit progress action, when this action is one.
    #[prost(message, optional, boxed, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emit_progress_action: Option<Box<EmitProgressAction>>,
    /// The try action, when this action is one.
    #[prost(message, optional, boxed, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub try_action: Option<Box<TryAction>>,
    /// The parallel action, when this action is one.
    #[prost(message, optional, boxed, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_action: Option<Box<ParallelAction>>,
    /// The serial action, when this action is one.
    #[prost(message, optional, boxed, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_action: Option<Box<SerialAction>>,
    /// The codependent action, when this action is one.
    #[prost(message, optional, boxed, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codependent_action: Option<Box<CodependentAction>>,
}

/// Downloads an artifact and extracts it into the container.
///
/// The `DownloadAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct DownloadAction {
    /// The artifact name shown in logs.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub artifact: Bytes,
    /// The URL to download.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub r#from: Bytes,
    /// The destination directory in the container.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub to: Bytes,
    /// The cache key of the download.
    #[prost(bytes = "bytes", tag = "4")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub cache_key: Bytes,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// The user that runs the download.
    #[prost(bytes = "bytes", tag = "6")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub user: Bytes,
    /// The checksum algorithm, e.g. `sha256`.
    #[prost(bytes = "bytes", tag = "7")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub checksum_algorithm: Bytes,
    /// The expected checksum.
    #[prost(bytes = "bytes", tag = "8")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub checksum_value: Bytes,
}

/// Uploads a file from the container.
///
/// The `UploadAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct UploadAction {
    /// The artifact name shown in logs.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub artifact: Bytes,
    /// The path in the container.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub r#from: Bytes,
    /// The destination URL.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub to: Bytes,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "4")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// The user that runs the upload.
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub user: Bytes,
}

/// Runs a process in the container.
///
/// The `RunAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RunAction {
    /// The executable.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub path: Bytes,
    /// The arguments.
    #[prost(bytes = "bytes", repeated, tag = "2")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::strings")]
    pub args: Vec<Bytes>,
    /// The working directory.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub dir: Bytes,
    /// Extra environment variables.
    #[prost(message, repeated, tag = "4")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvironmentVariable>,
    /// The resource limits of the process.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    /// The user that runs the process.
    #[prost(bytes = "bytes", tag = "6")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub user: Bytes,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "7")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// Whether the output is kept out of the logs.
    #[prost(bool, tag = "8")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub suppress_log_output: bool,
    /// Files written into the container before the process starts.
    #[prost(message, repeated, tag = "9")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounted_files: Vec<File>,
}

/// Fails the inner action when it runs longer than a timeout.
///
/// The `TimeoutAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct TimeoutAction {
    /// The inner action.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Box<Action>>,
    /// The timeout in nanoseconds (deprecated).
    #[prost(int64, tag = "2")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub deprecated_timeout_ns: i64,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// The timeout in milliseconds.
    #[prost(int64, tag = "4")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub timeout_ms: i64,
}

/// Runs the inner action and logs its start, success or failure.
///
/// The `EmitProgressAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct EmitProgressAction {
    /// The inner action.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Box<Action>>,
    /// Logged when the action starts.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub start_message: Bytes,
    /// Logged when the action succeeds.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub success_message: Bytes,
    /// Prefixes the error logged when the action fails.
    #[prost(bytes = "bytes", tag = "4")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub failure_message_prefix: Bytes,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
}

/// Runs the inner action and ignores its failure.
///
/// The `TryAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct TryAction {
    /// The inner action.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Box<Action>>,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
}

/// Runs the inner actions at the same time.
///
/// The `ParallelAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ParallelAction {
    /// The inner actions.
    #[prost(message, repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
}

/// Runs the inner actions one after the other.
///
/// The `SerialAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct SerialAction {
    /// The inner actions.
    #[prost(message, repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
}

/// Runs the inner actions at the same time and stops all when one exits.
///
/// The `CodependentAction` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct CodependentAction {
    /// The inner actions.
    #[prost(message, repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
}

/// Process resource limits; each limit has presence, so an explicit 0 is kept.
///
/// The `ResourceLimits` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ResourceLimits {
    /// The open-file limit, when set.
    #[prost(uint64, optional, tag = "1")]
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_uint64"
    )]
    pub nofile: Option<u64>,
    /// The process limit, when set (deprecated).
    #[prost(uint64, optional, tag = "2")]
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_uint64"
    )]
    pub nproc: Option<u64>,
}
