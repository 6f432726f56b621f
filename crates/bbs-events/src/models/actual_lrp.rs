//! Actual LRPs: the running instances of long-running processes.

use bytes::Bytes;

use super::ser;
use super::{ModificationTag, PreferredAddress, Presence, StringEntry};

/// Identifies an actual LRP: process guid, index and domain.
///
/// The `ActualLRPKey` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpKey {
    /// The process guid.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub process_guid: Bytes,
    /// The instance index.
    #[prost(int32, tag = "2")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub index: i32,
    /// The domain.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub domain: Bytes,
}

/// Identifies a running instance: instance guid and cell.
///
/// The `ActualLRPInstanceKey` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpInstanceKey {
    /// The instance guid.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub instance_guid: Bytes,
    /// The id of the cell running the instance.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub cell_id: Bytes,
}

/// A container port and the host port it is reachable on.
///
/// The `PortMapping` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct PortMapping {
    /// The container port.
    #[prost(uint32, tag = "1")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub container_port: u32,
    /// The host port.
    #[prost(uint32, tag = "2")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub host_port: u32,
    /// The container TLS proxy port.
    #[prost(uint32, tag = "3")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub container_tls_proxy_port: u32,
    /// The host TLS proxy port.
    #[prost(uint32, tag = "4")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub host_tls_proxy_port: u32,
}

/// The network addresses of an instance.
///
/// The `ActualLRPNetInfo` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpNetInfo {
    /// The host address.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub address: Bytes,
    /// The port mappings.
    #[prost(message, repeated, tag = "2")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    /// The container address.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub instance_address: Bytes,
    /// Which address clients should use.
    #[prost(enumeration = "PreferredAddress", tag = "4")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<PreferredAddress, _>"
    )]
    pub preferred_address: i32,
    /// The container IPv6 address.
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub instance_ipv6_address: Bytes,
}

/// An internal route of an instance.
///
/// The `ActualLRPInternalRoute` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpInternalRoute {
    /// The host name.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub hostname: Bytes,
}

/// The actual state of one instance of a long-running process.
///
/// The `ActualLRP` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrp {
    /// The LRP key (always written).
    #[prost(message, required, tag = "1")]
    pub actual_lrp_key: ActualLrpKey,
    /// The instance key (always written).
    #[prost(message, required, tag = "2")]
    pub actual_lrp_instance_key: ActualLrpInstanceKey,
    /// The network addresses (always written).
    #[prost(message, required, tag = "3")]
    pub actual_lrp_net_info: ActualLrpNetInfo,
    /// The number of crashes.
    #[prost(int32, tag = "4")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub crash_count: i32,
    /// The reason of the last crash (may hold invalid UTF-8).
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub crash_reason: Bytes,
    /// The state: `UNCLAIMED`, `CLAIMED`, `RUNNING` or `CRASHED`.
    #[prost(bytes = "bytes", tag = "6")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub state: Bytes,
    /// Why the instance could not be placed.
    #[prost(bytes = "bytes", tag = "7")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub placement_error: Bytes,
    /// When the state was entered (ns since the epoch).
    #[prost(int64, tag = "8")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub since: i64,
    /// The version of the record (always written).
    #[prost(message, required, tag = "9")]
    pub modification_tag: ModificationTag,
    /// Whether the instance is ordinary, evacuating or suspect.
    #[prost(enumeration = "Presence", tag = "10")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<Presence, _>"
    )]
    pub presence: i32,
    /// The internal routes.
    #[prost(message, repeated, tag = "11")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actual_lrp_internal_routes: Vec<ActualLrpInternalRoute>,
    /// The metric tags, as map entries in wire order.
    #[prost(message, repeated, tag = "12")]
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser::map")]
    pub metric_tags: Vec<StringEntry>,
    /// Whether the instance is routable, when known.
    #[prost(bool, optional, tag = "13")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routable: Option<bool>,
    /// The availability zone of the cell.
    #[prost(bytes = "bytes", tag = "14")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub availability_zone: Bytes,
}

/// The deprecated pair of an instance and its evacuating copy.
///
/// The `ActualLRPGroup` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpGroup {
    /// The instance.
    #[prost(message, optional, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<ActualLrp>,
    /// The evacuating instance.
    #[prost(message, optional, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evacuating: Option<ActualLrp>,
}

/// The changeable part of an actual LRP, used by instance-changed events.
///
/// The `ActualLRPInfo` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpInfo {
    /// The network addresses (always written).
    #[prost(message, required, tag = "3")]
    pub actual_lrp_net_info: ActualLrpNetInfo,
    /// The number of crashes.
    #[prost(int32, tag = "4")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub crash_count: i32,
    /// The reason of the last crash.
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub crash_reason: Bytes,
    /// The state.
    #[prost(bytes = "bytes", tag = "6")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub state: Bytes,
    /// Why the instance could not be placed.
    #[prost(bytes = "bytes", tag = "7")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub placement_error: Bytes,
    /// When the state was entered (ns since the epoch).
    #[prost(int64, tag = "8")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub since: i64,
    /// The version of the record (always written).
    #[prost(message, required, tag = "9")]
    pub modification_tag: ModificationTag,
    /// Whether the instance is ordinary, evacuating or suspect.
    #[prost(enumeration = "Presence", tag = "10")]
    #[serde(
        skip_serializing_if = "ser::is_default",
        serialize_with = "ser::enumeration::<Presence, _>"
    )]
    pub presence: i32,
    /// Whether the instance is routable, when known.
    #[prost(bool, optional, tag = "11")]
    #[serde(rename = "Routable", skip_serializing_if = "Option::is_none")]
    pub routable: Option<bool>,
    /// The availability zone of the cell.
    #[prost(bytes = "bytes", tag = "12")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub availability_zone: Bytes,
}
