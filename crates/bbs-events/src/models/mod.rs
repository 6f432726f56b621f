//! The BBS protobuf messages reachable from the event messages: 57 messages, 263 fields, 8 enums.
//!
//! Each message is a `prost` message whose encoding is byte-identical to the BBS server's: fields in
//! ascending order, non-nullable sub-messages always written (`actual_lrp_key`, `actual_lrp_instance_key`,
//! `actual_lrp_net_info` and `modification_tag` of [`ActualLrp`], …), presence fields (`routable`,
//! `Routable`, `nofile`, `nproc`) written whenever set, and `ports` unpacked. Decoding skips unknown fields,
//! accepts packed and unpacked repeated scalars, and rejects a known field that has the wrong wire type.
//!
//! # Strings
//!
//! Protobuf `string` fields are kept as raw [`Bytes`](bytes::Bytes), not `String`: the BBS cuts crash
//! reasons and other messages at 1024 bytes, which can split a UTF-8 character, and the Go client accepts
//! such events. Use [`String::from_utf8_lossy`] to read them as text; serialisation does so (invalid bytes
//! become U+FFFD).
//!
//! # Maps
//!
//! Map fields are kept as their entries in wire order ([`StringEntry`], [`RouteEntry`],
//! [`MetricTagEntry`]), which keeps re-encoding byte-identical.
//!
//! # Serialisation
//!
//! Every message implements `serde::Serialize` as the proto3 JSON mapping with the `.proto` field names:
//! 64-bit integers as strings, enums as names, bytes as base64, scalars at their default left out, and a
//! present but empty sub-message as `{}`.

mod actions;
mod actual_lrp;
mod common;
mod desired_lrp;
mod enums;
mod events;
mod maps;
mod resolve;
mod ser;
mod task;
mod version;

pub use self::actions::{
    Action, CodependentAction, DownloadAction, EmitProgressAction, ParallelAction, ResourceLimits,
    RunAction, SerialAction, TimeoutAction, TryAction, UploadAction,
};
pub use self::actual_lrp::{
    ActualLrp, ActualLrpGroup, ActualLrpInfo, ActualLrpInstanceKey, ActualLrpInternalRoute,
    ActualLrpKey, ActualLrpNetInfo, PortMapping,
};
pub use self::common::{
    CachedDependency, CertificateProperties, Check, CheckDefinition, DedicatedDevice,
    EnvironmentVariable, File, HttpCheck, IcmpInfo, ImageLayer, LogRateLimit, MetricTagValue,
    ModificationTag, Network, PortRange, SecurityGroupRule, SharedDevice, Sidecar, TcpCheck,
    VolumeMount,
};
pub use self::desired_lrp::{DesiredLrp, ProtoRoutes};
pub use self::enums::{
    DigestAlgorithm, DynamicValue, LayerType, MediaType, PreferredAddress, Presence, ProtoEnum,
    TaskState, UpdateStrategy,
};
pub use self::events::{
    ActualLrpChangedEvent, ActualLrpCrashedEvent, ActualLrpCreatedEvent,
    ActualLrpInstanceChangedEvent, ActualLrpInstanceCreatedEvent, ActualLrpInstanceRemovedEvent,
    ActualLrpRemovedEvent, DesiredLrpChangedEvent, DesiredLrpCreatedEvent, DesiredLrpRemovedEvent,
    EventsByCellId, TaskChangedEvent, TaskCreatedEvent, TaskRemovedEvent,
};
pub use self::maps::{MetricTagEntry, RouteEntry, StringEntry};
pub use self::task::{Task, TaskDefinition};
pub use self::version::Version;
