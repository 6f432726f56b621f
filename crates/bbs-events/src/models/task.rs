//! Tasks: one-off processes and their definitions.

use bytes::Bytes;

use super::ser;
use super::*;

/// What a task runs and with which resources.
///
/// The `TaskDefinition` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct TaskDefinition {
    /// The root file system.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub root_fs: Bytes,
    /// The environment variables.
    #[prost(message, repeated, tag = "2")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// The action.
    #[prost(message, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The disk limit in MB.
    #[prost(int32, tag = "4")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub disk_mb: i32,
    /// The memory limit in MB.
    #[prost(int32, tag = "5")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub memory_mb: i32,
    /// The CPU weight.
    #[prost(uint32, tag = "6")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub cpu_weight: u32,
    /// Whether the container is privileged.
    #[prost(bool, tag = "7")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub privileged: bool,
    /// The log source.
    #[prost(bytes = "bytes", tag = "8")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// The log guid.
    #[prost(bytes = "bytes", tag = "9")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_guid: Bytes,
    /// The metrics guid.
    #[prost(bytes = "bytes", tag = "10")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub metrics_guid: Bytes,
    /// The file whose content becomes the result.
    #[prost(bytes = "bytes", tag = "11")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub result_file: Bytes,
    /// The URL called when the task completes.
    #[prost(bytes = "bytes", tag = "12")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub completion_callback_url: Bytes,
    /// A free-form annotation.
    #[prost(bytes = "bytes", tag = "13")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub annotation: Bytes,
    /// The egress rules.
    #[prost(message, repeated, tag = "14")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<SecurityGroupRule>,
    /// The cached dependencies.
    #[prost(message, repeated, tag = "15")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cached_dependencies: Vec<CachedDependency>,
    /// The download user (deprecated).
    #[prost(bytes = "bytes", tag = "16")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub legacy_download_user: Bytes,
    /// Where trusted system certificates are mounted.
    #[prost(bytes = "bytes", tag = "17")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trusted_system_certificates_path: Bytes,
    /// The volume mounts.
    #[prost(message, repeated, tag = "18")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// The network properties.
    #[prost(message, optional, tag = "19")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The placement tags.
    #[prost(bytes = "bytes", repeated, tag = "20")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::strings")]
    pub placement_tags: Vec<Bytes>,
    /// The process limit.
    #[prost(int32, tag = "21")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub max_pids: i32,
    /// The instance identity certificate properties.
    #[prost(message, optional, tag = "22")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_properties: Option<CertificateProperties>,
    /// The image registry user.
    #[prost(bytes = "bytes", tag = "23")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub image_username: Bytes,
    /// The image registry password.
    #[prost(bytes = "bytes", tag = "24")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub image_password: Bytes,
    /// The image layers.
    #[prost(message, repeated, tag = "25")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_layers: Vec<ImageLayer>,
    /// The log rate limit.
    #[prost(message, optional, tag = "26")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_rate_limit: Option<LogRateLimit>,
    /// The metric tags, as map entries in wire order.
    #[prost(message, repeated, tag = "27")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::map")]
    pub metric_tags: Vec<MetricTagEntry>,
    /// Files written into the container.
    #[prost(message, repeated, tag = "28")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounted_files: Vec<File>,
}

/// A one-off task and its progress.
///
/// The `Task` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct Task {
    /// What the task runs.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<TaskDefinition>,
    /// The task guid.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub task_guid: Bytes,
    /// The domain.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub domain: Bytes,
    /// When the task was created (ns since the epoch).
    #[prost(int64, tag = "4")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub created_at: i64,
    /// When the task last changed (ns since the epoch).
    #[prost(int64, tag = "5")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub updated_at: i64,
    /// When the task first completed (ns since the epoch).
    #[prost(int64, tag = "6")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub first_completed_at: i64,
    /// The state.
    #[prost(enumeration = "TaskState", tag = "7")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<TaskState, _>"
    )]
    pub state: i32,
    /// The cell running the task.
    #[prost(bytes = "bytes", tag = "8")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub cell_id: Bytes,
    /// The result.
    #[prost(bytes = "bytes", tag = "9")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub result: Bytes,
    /// Whether the task failed.
    #[prost(bool, tag = "10")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub failed: bool,
    /// Why the task failed (may hold invalid UTF-8).
    #[prost(bytes = "bytes", tag = "11")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub failure_reason: Bytes,
    /// How often cells rejected the task.
    #[prost(int32, tag = "12")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub rejection_count: i32,
    /// Why a cell last rejected the task.
    #[prost(bytes = "bytes", tag = "13")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub rejection_reason: Bytes,
}
