//! The event messages: one per event type, plus the subscription request body.

use bytes::Bytes;

use super::ser;
use super::*;

/// A desired LRP was created (`desired_lrp_created`).
///
/// The `DesiredLRPCreatedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct DesiredLrpCreatedEvent {
    /// The new desired LRP.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_lrp: Option<Box<DesiredLrp>>,
    /// The trace id of the request.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trace_id: Bytes,
}

/// A desired LRP was changed (`desired_lrp_changed`).
///
/// The `DesiredLRPChangedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct DesiredLrpChangedEvent {
    /// The desired LRP before the change.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<DesiredLrp>>,
    /// The desired LRP after the change.
    #[prost(message, optional, boxed, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Box<DesiredLrp>>,
    /// The trace id of the request.
    #[prost(bytes = "bytes", tag = "3")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trace_id: Bytes,
}

/// A desired LRP was removed (`desired_lrp_removed`).
///
/// The `DesiredLRPRemovedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct DesiredLrpRemovedEvent {
    /// The removed desired LRP.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_lrp: Option<Box<DesiredLrp>>,
    /// The trace id of the request.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trace_id: Bytes,
}

/// An actual LRP group was created (`actual_lrp_created`, deprecated).
///
/// The `ActualLRPCreatedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpCreatedEvent {
    /// The new group.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_lrp_group: Option<Box<ActualLrpGroup>>,
}

/// An actual LRP group was changed (`actual_lrp_changed`, deprecated).
///
/// The `ActualLRPChangedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpChangedEvent {
    /// The group before the change.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<ActualLrpGroup>>,
    /// The group after the change.
    #[prost(message, optional, boxed, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Box<ActualLrpGroup>>,
}

/// An actual LRP group was removed (`actual_lrp_removed`, deprecated).
///
/// The `ActualLRPRemovedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpRemovedEvent {
    /// The removed group.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_lrp_group: Option<Box<ActualLrpGroup>>,
}

/// An instance crashed (`actual_lrp_crashed`).
///
/// The `ActualLRPCrashedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpCrashedEvent {
    /// The LRP key (always written).
    #[prost(message, required, tag = "1")]
    pub actual_lrp_key: ActualLrpKey,
    /// The instance key (always written).
    #[prost(message, required, tag = "2")]
    pub actual_lrp_instance_key: ActualLrpInstanceKey,
    /// The number of crashes.
    #[prost(int32, tag = "3")]
    #[serde(skip_serializing_if = "ser::is_default")]
    pub crash_count: i32,
    /// The reason of the crash (may hold invalid UTF-8).
    #[prost(bytes = "bytes", tag = "4")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub crash_reason: Bytes,
    /// When the crash happened (ns since the epoch).
    #[prost(int64, tag = "5")]
    #[serde(skip_serializing_if = "ser::is_default", serialize_with = "ser::int64")]
    pub since: i64,
}

/// An instance was created (`actual_lrp_instance_created`).
///
/// The `ActualLRPInstanceCreatedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpInstanceCreatedEvent {
    /// The new instance.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_lrp: Option<Box<ActualLrp>>,
    /// The trace id of the request.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trace_id: Bytes,
}

/// An instance was changed (`actual_lrp_instance_changed`).
///
/// The `ActualLRPInstanceChangedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpInstanceChangedEvent {
    /// The LRP key (always written).
    #[prost(message, required, tag = "1")]
    pub actual_lrp_key: ActualLrpKey,
    /// The instance key (always written).
    #[prost(message, required, tag = "2")]
    pub actual_lrp_instance_key: ActualLrpInstanceKey,
    /// The instance before the change.
    #[prost(message, optional, boxed, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<ActualLrpInfo>>,
    /// The instance after the change.
    #[prost(message, optional, boxed, tag = "4")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Box<ActualLrpInfo>>,
    /// The trace id of the request.
    #[prost(bytes = "bytes", tag = "5")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trace_id: Bytes,
}

/// An instance was removed (`actual_lrp_instance_removed`).
///
/// The `ActualLRPInstanceRemovedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct ActualLrpInstanceRemovedEvent {
    /// The removed instance.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_lrp: Option<Box<ActualLrp>>,
    /// The trace id of the request.
    #[prost(bytes = "bytes", tag = "2")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub trace_id: Bytes,
}

/// A task was created (`task_created`).
///
/// The `TaskCreatedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct TaskCreatedEvent {
    /// The new task.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Box<Task>>,
}

/// A task was changed (`task_changed`).
///
/// The `TaskChangedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct TaskChangedEvent {
    /// The task before the change.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Box<Task>>,
    /// The task after the change.
    #[prost(message, optional, boxed, tag = "2")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Box<Task>>,
}

/// A task was removed (`task_removed`).
///
/// The `TaskRemovedEvent` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct TaskRemovedEvent {
    /// The removed task.
    #[prost(message, optional, boxed, tag = "1")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Box<Task>>,
}

/// The body of an event subscription: the cell to filter on (empty for all).
///
/// The `EventsByCellId` message of the BBS schema.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct EventsByCellId {
    /// The cell id; empty means every cell.
    #[prost(bytes = "bytes", tag = "1")]
    #[serde(skip_serializing_if = "ser::is_empty", serialize_with = "ser::string")]
    pub cell_id: Bytes,
}
