//! The BBS protobuf messages reachable from the event messages.
//!
//! (Message definitions are being filled in; the event messages below are placeholders.)

macro_rules! placeholder_events {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$m])*
            #[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
            pub struct $name {}
        )*
    };
}

placeholder_events!(
    /// A desired LRP was created.
    DesiredLrpCreatedEvent,
    /// A desired LRP was changed.
    DesiredLrpChangedEvent,
    /// A desired LRP was removed.
    DesiredLrpRemovedEvent,
    /// An actual LRP group was created (deprecated group event).
    ActualLrpCreatedEvent,
    /// An actual LRP group was changed (deprecated group event).
    ActualLrpChangedEvent,
    /// An actual LRP group was removed (deprecated group event).
    ActualLrpRemovedEvent,
    /// An actual LRP crashed.
    ActualLrpCrashedEvent,
    /// An actual LRP instance was created.
    ActualLrpInstanceCreatedEvent,
    /// An actual LRP instance was changed.
    ActualLrpInstanceChangedEvent,
    /// An actual LRP instance was removed.
    ActualLrpInstanceRemovedEvent,
    /// A task was created.
    TaskCreatedEvent,
    /// A task was changed.
    TaskChangedEvent,
    /// A task was removed.
    TaskRemovedEvent,
);
