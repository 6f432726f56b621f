//! Desired LRPs: the desired state of long-running processes.

use bytes::Bytes;

use super::ser;
use super::*;

/// The desired state of a long-running process.
///
/// The `DesiredLRP` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct DesiredLrp {
    /// The process guid.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub process_guid: Bytes,
    /// The domain.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub domain: Bytes,
    /// The root file system.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub root_fs: Bytes,
    /// The number of instances.
    #[prost(int32, tag = "4")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub instances: i32,
    /// The environment variables.
    #[prost(message, repeated, tag = "5")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// The setup action.
    #[prost(message, optional, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<Action>,
    /// The main action.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The start timeout in seconds (deprecated).
    #[prost(uint32, tag = "8")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub deprecated_start_timeout_s: u32,
    /// The monitor action.
    #[prost(message, optional, tag = "9")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Action>,
    /// The disk limit in MB.
    #[prost(int32, tag = "10")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub disk_mb: i32,
    /// The memory limit in MB.
    #[prost(int32, tag = "11")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub memory_mb: i32,
    /// The CPU weight.
    #[prost(uint32, tag = "12")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub cpu_weight: u32,
    /// Whether the container is privileged.
    #[prost(bool, tag = "13")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub privileged: bool,
    /// The exposed ports (written unpacked).
    #[prost(uint32, repeated, packed = "false", tag = "14")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u32>,
    /// The routes, keyed by router.
    #[prost(message, optional, tag = "15")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<ProtoRoutes>,
    /// The log source.
    #[prost(bytes = "bytes", tag = "16")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// The log guid.
    #[prost(bytes = "bytes", tag = "17")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_guid: Bytes,
    /// The metrics guid (deprecated).
    #[prost(bytes = "bytes", tag = "18")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub metrics_guid: Bytes,
    /// A free-form annotation.
    #[prost(bytes = "bytes", tag = "19")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub annotation: Bytes,
    /// The egress rules.
    #[prost(message, repeated, tag = "20")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress_rules: Vec<SecurityGroupRule>,
    /// The version of the record.
    #[prost(message, optional, tag = "21")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modification_tag: Option<ModificationTag>,
    /// The cached dependencies.
    #[prost(message, repeated, tag = "22")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cached_dependencies: Vec<CachedDependency>,
    /// The download user (deprecated).
    #[prost(bytes = "bytes", tag = "23")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub legacy_download_user: Bytes,
    /// Where trusted system certificates are mounted.
    #[prost(bytes = "bytes", tag = "24")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trusted_system_certificates_path: Bytes,
    /// The volume mounts.
    #[prost(message, repeated, tag = "25")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// The network properties.
    #[prost(message, optional, tag = "26")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The start timeout in milliseconds.
    #[prost(int64, tag = "27")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub start_timeout_ms: i64,
    /// The placement tags.
    #[prost(bytes = "bytes", repeated, tag = "28")]
    #[serde(
        rename = "PlacementTags",
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ser::strings"
    )]
    pub placement_tags: Vec<Bytes>,
    /// The process limit.
    #[prost(int32, tag = "29")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub max_pids: i32,
    /// The instance identity certificate properties.
    #[prost(message, optional, tag = "30")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_properties: Option<CertificateProperties>,
    /// The image registry user.
    #[prost(bytes = "bytes", tag = "31")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub image_username: Bytes,
    /// The image registry password.
    #[prost(bytes = "bytes", tag = "32")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub image_password: Bytes,
    /// The health and readiness checks.
    #[prost(message, optional, tag = "33")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_definition: Option<CheckDefinition>,
    /// The image layers.
    #[prost(message, repeated, tag = "34")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_layers: Vec<ImageLayer>,
    /// The metric tags, as map entries in wire order.
    #[prost(message, repeated, tag = "35")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::map")]
    pub metric_tags: Vec<MetricTagEntry>,
    /// The sidecars.
    #[prost(message, repeated, tag = "36")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    /// The log rate limit.
    #[prost(message, optional, tag = "37")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_rate_limit: Option<LogRateLimit>,
    /// Files written into the container.
    #[prost(message, repeated, tag = "38")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounted_files: Vec<File>,
    /// How instances are replaced on update.
    #[prost(enumeration = "UpdateStrategy", tag = "39")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<UpdateStrategy, _>"
    )]
    pub update_strategy: i32,
}

/// The routes of a desired LRP: raw JSON per router.
///
/// The `ProtoRoutes` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ProtoRoutes {
    /// The routes, as map entries in wire order.
    #[prost(message, repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::map")]
    pub routes: Vec<RouteEntry>,
}
