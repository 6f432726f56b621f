//! The parts shared by desired LRPs and tasks: environment, security groups, volumes, checks, image layers, ….

use bytes::Bytes;

use super::ser;
use super::{Action, DigestAlgorithm, DynamicValue, LayerType, MediaType, StringEntry};

/// The version of a BBS record: an epoch and an index within it.
///
/// The `ModificationTag` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ModificationTag {
    /// The epoch, a guid that changes when the record is recreated.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub epoch: Bytes,
    /// The index within the epoch.
    #[prost(uint32, tag = "2")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub index: u32,
}

/// An environment variable.
///
/// The `EnvironmentVariable` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct EnvironmentVariable {
    /// The name.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub name: Bytes,
    /// The value.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub value: Bytes,
}

/// A dependency downloaded and cached for the container.
///
/// The `CachedDependency` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct CachedDependency {
    /// The display name.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub name: Bytes,
    /// The URL to download.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub r#from: Bytes,
    /// The destination directory.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub to: Bytes,
    /// The cache key.
    #[prost(bytes = "bytes", tag = "4")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub cache_key: Bytes,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// The checksum algorithm.
    #[prost(bytes = "bytes", tag = "6")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub checksum_algorithm: Bytes,
    /// The expected checksum.
    #[prost(bytes = "bytes", tag = "7")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub checksum_value: Bytes,
}

/// Properties of the instance identity certificate.
///
/// The `CertificateProperties` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct CertificateProperties {
    /// The organizational units of the certificate subject.
    #[prost(bytes = "bytes", repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::strings")]
    pub organizational_unit: Vec<Bytes>,
}

/// Properties handed to the container networking plugin.
///
/// The `Network` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct Network {
    /// The properties, as map entries in wire order.
    #[prost(message, repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::map")]
    pub properties: Vec<StringEntry>,
}

/// An inclusive port range.
///
/// The `PortRange` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct PortRange {
    /// The first port.
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub start: u32,
    /// The last port.
    #[prost(uint32, tag = "2")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub end: u32,
}

/// The ICMP type and code a rule allows.
///
/// The `ICMPInfo` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct IcmpInfo {
    /// The ICMP type.
    #[prost(int32, tag = "1")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub r#type: i32,
    /// The ICMP code.
    #[prost(int32, tag = "2")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub code: i32,
}

/// An egress rule of the container.
///
/// The `SecurityGroupRule` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct SecurityGroupRule {
    /// The protocol: `tcp`, `udp`, `icmp`, `icmpv6` or `all`.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub protocol: Bytes,
    /// The destination addresses or ranges.
    #[prost(bytes = "bytes", repeated, tag = "2")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::strings")]
    pub destinations: Vec<Bytes>,
    /// The destination ports (written unpacked).
    #[prost(uint32, repeated, packed = "false", tag = "3")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u32>,
    /// The destination port range.
    #[prost(message, optional, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
    /// The ICMP type and code.
    #[prost(message, optional, tag = "5")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_info: Option<IcmpInfo>,
    /// Whether matching traffic is logged.
    #[prost(bool, tag = "6")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub log: bool,
    /// Free-form annotations.
    #[prost(bytes = "bytes", repeated, tag = "7")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::strings")]
    pub annotations: Vec<Bytes>,
}

/// A volume shared between containers.
///
/// The `SharedDevice` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct SharedDevice {
    /// The volume id.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub volume_id: Bytes,
    /// The mount configuration (JSON).
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub mount_config: Bytes,
}

/// A volume dedicated to one container.
///
/// The `DedicatedDevice` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct DedicatedDevice {
    /// The id of the mounter.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub mounter_id: Bytes,
    /// The mount configuration (JSON).
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub mount_config: Bytes,
    /// The device configuration (JSON).
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub device_config: Bytes,
}

/// A volume mounted into the container.
///
/// The `VolumeMount` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct VolumeMount {
    /// The volume driver.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub driver: Bytes,
    /// The mount point in the container.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub container_dir: Bytes,
    /// The mode, `r` or `rw`.
    #[prost(bytes = "bytes", tag = "6")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub mode: Bytes,
    /// The shared device, when the volume is shared.
    #[prost(message, optional, tag = "7")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedDevice>,
    /// The dedicated device, when the volume is dedicated.
    #[prost(message, optional, tag = "8")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated: Option<DedicatedDevice>,
}

/// A TCP health check.
///
/// The `TCPCheck` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct TcpCheck {
    /// The port.
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub port: u32,
    /// The connect timeout in milliseconds.
    #[prost(uint64, tag = "2")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::uint64"
    )]
    pub connect_timeout_ms: u64,
    /// The interval between checks in milliseconds.
    #[prost(uint64, tag = "3")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::uint64"
    )]
    pub interval_ms: u64,
}

/// An HTTP health check.
///
/// The `HTTPCheck` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct HttpCheck {
    /// The port.
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub port: u32,
    /// The request timeout in milliseconds.
    #[prost(uint64, tag = "2")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::uint64"
    )]
    pub request_timeout_ms: u64,
    /// The request path.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub path: Bytes,
    /// The interval between checks in milliseconds.
    #[prost(uint64, tag = "4")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::uint64"
    )]
    pub interval_ms: u64,
}

/// One health check; exactly one of the checks is expected to be set.
///
/// The `Check` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct Check {
    /// The TCP check, when this check is one.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_check: Option<TcpCheck>,
    /// The HTTP check, when this check is one.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_check: Option<HttpCheck>,
}

/// The health and readiness checks of an LRP.
///
/// The `CheckDefinition` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct CheckDefinition {
    /// The liveness checks.
    #[prost(message, repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// The log source of the output.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub log_source: Bytes,
    /// The readiness checks.
    #[prost(message, repeated, tag = "3")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readiness_checks: Vec<Check>,
}

/// A layer of the container image.
///
/// The `ImageLayer` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ImageLayer {
    /// The display name.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub name: Bytes,
    /// The URL of the layer.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub url: Bytes,
    /// Where the layer is extracted.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub destination_path: Bytes,
    /// Whether the layer is shared or exclusive.
    #[prost(enumeration = "LayerType", tag = "4")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<LayerType, _>"
    )]
    pub layer_type: i32,
    /// The archive format.
    #[prost(enumeration = "MediaType", tag = "5")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<MediaType, _>"
    )]
    pub media_type: i32,
    /// The digest algorithm.
    #[prost(enumeration = "DigestAlgorithm", tag = "6")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<DigestAlgorithm, _>"
    )]
    pub digest_algorithm: i32,
    /// The expected digest.
    #[prost(bytes = "bytes", tag = "7")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub digest_value: Bytes,
}

/// The value of a metric tag: a static string or a dynamic value.
///
/// The `MetricTagValue` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct MetricTagValue {
    /// The static value.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub r#static: Bytes,
    /// The dynamic value.
    #[prost(enumeration = "DynamicValue", tag = "2")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<DynamicValue, _>"
    )]
    pub dynamic: i32,
}

/// A process that runs next to the main action.
///
/// The `Sidecar` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct Sidecar {
    /// The sidecar action.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The disk limit in MB.
    #[prost(int32, tag = "2")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub disk_mb: i32,
    /// The memory limit in MB.
    #[prost(int32, tag = "3")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub memory_mb: i32,
}

/// The log rate limit of a container.
///
/// The `LogRateLimit` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct LogRateLimit {
    /// The limit in bytes per second (negative means unlimited).
    #[prost(int64, tag = "1")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub bytes_per_second: i64,
}

/// A file written into the container.
///
/// The `File` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct File {
    /// The path.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub path: Bytes,
    /// The content.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub content: Bytes,
}
