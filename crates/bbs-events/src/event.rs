//! The typed BBS event, its wire names, and payload decoding and encoding.

use std::fmt;
use std::str::FromStr;

use crate::models;

macro_rules! event_types {
    ($($(#[$m:meta])* $variant:ident => $wire:literal, $msg:ident, $proto:literal;)*) => {
        /// The kind of a BBS event, named on the wire by the SSE `event:` field.
        ///
        /// Non-exhaustive: a new BBS event type is not a breaking change, so a `match` needs a
        /// wildcard arm.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventType {
            $($(#[$m])* $variant,)*
        }

        impl EventType {
            /// Every event type, in the order the BBS schema declares them.
            pub const ALL: [EventType; 13] = [$(EventType::$variant,)*];

            /// The name of this event type's protobuf message in the BBS schema, e.g. `"DesiredLRPCreatedEvent"`.
            pub fn message_name(self) -> &'static str {
                match self {
                    $(EventType::$variant => $proto,)*
                }
            }

            /// The wire name of this event type, e.g. `"desired_lrp_created"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $wire,)*
                }
            }

            /// The event type named `name` on the wire, or `None` for a name the BBS does not send.
            pub fn from_wire(name: &str) -> Option<EventType> {
                match name {
                    $($wire => Some(EventType::$variant),)*
                    _ => None,
                }
            }
        }

        /// A decoded BBS event: one variant per [`EventType`], holding the event's protobuf message.
        ///
        /// It serialises (serde) as the inner message only, in the proto3 JSON mapping.
        ///
        /// # Example
        ///
        /// ```
        /// use bbs_events::models::{Task, TaskCreatedEvent};
        /// use bbs_events::{Event, EventType};
        ///
        /// let event = Event::TaskCreated(TaskCreatedEvent {
        ///     task: Some(Box::new(Task { task_guid: "task-1".into(), ..Default::default() })),
        /// });
        /// let payload = event.encode_to_vec();
        /// let decoded = Event::decode(EventType::TaskCreated, &payload)?;
        /// assert_eq!(decoded, event);
        /// assert_eq!(decoded.event_type().as_str(), "task_created");
        /// assert_eq!(decoded.key(), "task-1");
        /// // Task events are never filtered by cell.
        /// assert!(decoded.matches_cell("cell-z")?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// Non-exhaustive, like [`EventType`]: a `match` needs a wildcard arm.
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum Event {
            $($(#[$m])* $variant(models::$msg),)*
        }

        impl Event {
            /// The kind of this event.
            pub fn event_type(&self) -> EventType {
                match self {
                    $(Event::$variant(_) => EventType::$variant,)*
                }
            }

            /// Decodes a protobuf payload (already base64-decoded) as an event of type `event_type`.
            ///
            /// # Errors
            ///
            /// [`DecodeError`] when the bytes are not a valid encoding of the event's message.
            pub fn decode(event_type: EventType, payload: &[u8]) -> Result<Event, DecodeError> {
                Event::decode_bytes(event_type, bytes::Bytes::copy_from_slice(payload))
            }

            /// Like [`Event::decode`], for a payload already held in [`Bytes`](bytes::Bytes): string fields
            /// then share its buffer instead of being copied.
            ///
            /// # Errors
            ///
            /// [`DecodeError`] when the bytes are not a valid encoding of the event's message.
            pub fn decode_bytes(event_type: EventType, payload: bytes::Bytes) -> Result<Event, DecodeError> {
                use prost::Message as _;
                match event_type {
                    $(EventType::$variant => models::$msg::decode(payload)
                        .map(Event::$variant)
                        .map_err(|source| DecodeError::new(event_type, $proto, source)),)*
                }
            }

            /// Encodes the event's message as protobuf, byte for byte as the BBS server does.
            pub fn encode_to_vec(&self) -> Vec<u8> {
                use prost::Message as _;
                match self {
                    $(Event::$variant(m) => m.encode_to_vec(),)*
                }
            }
        }
    };
}

event_types! {
    /// `desired_lrp_created`
    DesiredLrpCreated => "desired_lrp_created", DesiredLrpCreatedEvent, "DesiredLRPCreatedEvent";
    /// `desired_lrp_changed`
    DesiredLrpChanged => "desired_lrp_changed", DesiredLrpChangedEvent, "DesiredLRPChangedEvent";
    /// `desired_lrp_removed`
    DesiredLrpRemoved => "desired_lrp_removed", DesiredLrpRemovedEvent, "DesiredLRPRemovedEvent";
    /// `actual_lrp_created` (deprecated group event)
    ActualLrpCreated => "actual_lrp_created", ActualLrpCreatedEvent, "ActualLRPCreatedEvent";
    /// `actual_lrp_changed` (deprecated group event)
    ActualLrpChanged => "actual_lrp_changed", ActualLrpChangedEvent, "ActualLRPChangedEvent";
    /// `actual_lrp_removed` (deprecated group event)
    ActualLrpRemoved => "actual_lrp_removed", ActualLrpRemovedEvent, "ActualLRPRemovedEvent";
    /// `actual_lrp_crashed`
    ActualLrpCrashed => "actual_lrp_crashed", ActualLrpCrashedEvent, "ActualLRPCrashedEvent";
    /// `actual_lrp_instance_created`
    ActualLrpInstanceCreated => "actual_lrp_instance_created", ActualLrpInstanceCreatedEvent, "ActualLRPInstanceCreatedEvent";
    /// `actual_lrp_instance_changed`
    ActualLrpInstanceChanged => "actual_lrp_instance_changed", ActualLrpInstanceChangedEvent, "ActualLRPInstanceChangedEvent";
    /// `actual_lrp_instance_removed`
    ActualLrpInstanceRemoved => "actual_lrp_instance_removed", ActualLrpInstanceRemovedEvent, "ActualLRPInstanceRemovedEvent";
    /// `task_created`
    TaskCreated => "task_created", TaskCreatedEvent, "TaskCreatedEvent";
    /// `task_changed`
    TaskChanged => "task_changed", TaskChangedEvent, "TaskChangedEvent";
    /// `task_removed`
    TaskRemoved => "task_removed", TaskRemovedEvent, "TaskRemovedEvent";
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::from_wire(s).ok_or_else(|| UnknownEventType { name: s.to_owned() })
    }
}

/// An event name that is not one of the 13 BBS event types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown BBS event type {name:?}: expected one of the 13 wire names such as \"desired_lrp_created\""
)]
pub struct UnknownEventType {
    name: String,
}

impl UnknownEventType {
    /// The name that was not recognised.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Event {
    /// The key of the event, as the BBS's `Key()` gives it: the process guid of a desired-LRP event, the
    /// instance guid of an actual-LRP event, the task guid of a task event.
    ///
    /// A changed event takes the key of its `before` value; a deprecated group event takes it from the
    /// group's resolved LRP. The key is empty when the message does not carry it (for instance an
    /// ActualLRP group with neither an instance nor an evacuating LRP). Invalid UTF-8 is replaced by U+FFFD.
    pub fn key(&self) -> String {
        let key: &[u8] = match self {
            Event::DesiredLrpCreated(e) => desired_guid(e.desired_lrp.as_deref()),
            Event::DesiredLrpChanged(e) => desired_guid(e.before.as_deref()),
            Event::DesiredLrpRemoved(e) => desired_guid(e.desired_lrp.as_deref()),
            Event::ActualLrpCreated(e) => group_instance_guid(e.actual_lrp_group.as_deref()),
            Event::ActualLrpChanged(e) => group_instance_guid(e.before.as_deref()),
            Event::ActualLrpRemoved(e) => group_instance_guid(e.actual_lrp_group.as_deref()),
            Event::ActualLrpCrashed(e) => &e.actual_lrp_instance_key.instance_guid,
            Event::ActualLrpInstanceCreated(e) => lrp_instance_guid(e.actual_lrp.as_deref()),
            Event::ActualLrpInstanceChanged(e) => &e.actual_lrp_instance_key.instance_guid,
            Event::ActualLrpInstanceRemoved(e) => lrp_instance_guid(e.actual_lrp.as_deref()),
            Event::TaskCreated(e) => task_guid(e.task.as_deref()),
            Event::TaskChanged(e) => task_guid(e.before.as_deref()),
            Event::TaskRemoved(e) => task_guid(e.task.as_deref()),
        };
        String::from_utf8_lossy(key).into_owned()
    }

    /// The cell filter of the BBS LRP routes: whether this event goes to a subscriber filtering on `cell_id`.
    ///
    /// An empty `cell_id` means no filter: every event passes. Otherwise desired-LRP and task events always
    /// pass; `actual_lrp_created`/`_removed` pass when the group's resolved LRP (the instance, unless an
    /// evacuating LRP exists and the instance is neither `RUNNING` nor `CRASHED`) is on the cell;
    /// `actual_lrp_changed` passes when the resolved `before` or `after` LRP is; `actual_lrp_crashed` and
    /// `actual_lrp_instance_changed` use the event's own instance key; `actual_lrp_instance_created`/
    /// `_removed` use the instance key of the ActualLRP they carry.
    ///
    /// # Errors
    ///
    /// [`CellFilterError`] when a deprecated group event holds no group, or a group with neither an instance
    /// nor an evacuating LRP: the BBS treats this as an error that ends the stream.
    pub fn matches_cell(&self, cell_id: &str) -> Result<bool, CellFilterError> {
        if cell_id.is_empty() {
            return Ok(true);
        }
        let cell = cell_id.as_bytes();
        let event_type = self.event_type();
        let resolved_cell = |group| resolved_cell(group).ok_or(CellFilterError { event_type });
        Ok(match self {
            Event::DesiredLrpCreated(_)
            | Event::DesiredLrpChanged(_)
            | Event::DesiredLrpRemoved(_)
            | Event::TaskCreated(_)
            | Event::TaskChanged(_)
            | Event::TaskRemoved(_) => true,
            Event::ActualLrpCreated(e) => resolved_cell(e.actual_lrp_group.as_deref())? == cell,
            Event::ActualLrpRemoved(e) => resolved_cell(e.actual_lrp_group.as_deref())? == cell,
            Event::ActualLrpChanged(e) => {
                let before = resolved_cell(e.before.as_deref())?;
                let after = resolved_cell(e.after.as_deref())?;
                before == cell || after == cell
            }
            Event::ActualLrpCrashed(e) => e.actual_lrp_instance_key.cell_id == cell,
            Event::ActualLrpInstanceChanged(e) => e.actual_lrp_instance_key.cell_id == cell,
            Event::ActualLrpInstanceCreated(e) => lrp_cell(e.actual_lrp.as_deref()) == cell,
            Event::ActualLrpInstanceRemoved(e) => lrp_cell(e.actual_lrp.as_deref()) == cell,
        })
    }
}

/// The LRP a deprecated group stands for; `None` for a missing group or one with neither LRP.
fn resolve(group: Option<&models::ActualLrpGroup>) -> Option<&models::ActualLrp> {
    group?.resolve().map(|(lrp, _)| lrp)
}

fn resolved_cell(group: Option<&models::ActualLrpGroup>) -> Option<&[u8]> {
    resolve(group).map(|lrp| &lrp.actual_lrp_instance_key.cell_id[..])
}

fn desired_guid(lrp: Option<&models::DesiredLrp>) -> &[u8] {
    lrp.map_or(&[], |l| &l.process_guid[..])
}

fn group_instance_guid(group: Option<&models::ActualLrpGroup>) -> &[u8] {
    lrp_instance_guid(resolve(group))
}

fn lrp_instance_guid(lrp: Option<&models::ActualLrp>) -> &[u8] {
    lrp.map_or(&[], |l| &l.actual_lrp_instance_key.instance_guid[..])
}

fn lrp_cell(lrp: Option<&models::ActualLrp>) -> &[u8] {
    lrp.map_or(&[], |l| &l.actual_lrp_instance_key.cell_id[..])
}

fn task_guid(task: Option<&models::Task>) -> &[u8] {
    task.map_or(&[], |t| &t.task_guid[..])
}

/// A protobuf payload that is not a valid encoding of its event's message.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "invalid {event_type} payload: not a valid {message} protobuf message ({source}); check that the payload is complete and was encoded with the BBS models schema"
)]
pub struct DecodeError {
    event_type: EventType,
    message: &'static str,
    #[source]
    source: prost::DecodeError,
}

impl DecodeError {
    fn new(event_type: EventType, message: &'static str, source: prost::DecodeError) -> Self {
        DecodeError {
            event_type,
            message,
            source,
        }
    }

    /// The event type whose payload failed to decode.
    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// The name of the protobuf message that was being decoded, e.g. `"TaskChangedEvent"`.
    pub fn message_name(&self) -> &'static str {
        self.message
    }
}

/// A deprecated actual-LRP group that has neither an instance nor an evacuating LRP, so it belongs to no cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot filter {event_type} by cell: its actual LRP group has neither an instance nor an evacuating LRP; the BBS ends the stream on such an event"
)]
pub struct CellFilterError {
    event_type: EventType,
}

impl CellFilterError {
    /// The event type that could not be filtered.
    pub fn event_type(&self) -> EventType {
        self.event_type
    }
}
