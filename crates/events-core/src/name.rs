//! The closed set of event names that flowgate components raise.

use std::fmt;
use std::str::FromStr;

use crate::error::UnknownEventName;

macro_rules! event_names {
    ($( $(#[$doc:meta])* $variant:ident => $wire:literal, )+) => {
        /// The name of an [`Event`](crate::Event).
        ///
        /// Every component reports what it does with one of these names. The string forms
        /// (see [`EventName::as_str`]) are stable and match the names go-batcher used, so
        /// dashboards and log queries built for either keep working.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventName {
            $( $(#[$doc])* $variant, )+
        }

        impl EventName {
            /// Every event name, in declaration order.
            pub const ALL: &'static [EventName] = &[$(EventName::$variant,)+];

            /// The stable string form, such as `"flush-start"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( EventName::$variant => $wire, )+
                }
            }
        }

        impl FromStr for EventName {
            type Err = UnknownEventName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $wire => Ok(EventName::$variant), )+
                    _ => Err(UnknownEventName { name: s.to_owned() }),
                }
            }
        }
    };
}

event_names! {
    /// A component stopped; nothing more will be released or acquired.
    Shutdown => "shutdown",
    /// The batcher paused its loops; `val` is the pause length in milliseconds.
    Pause => "pause",
    /// The batcher resumed after a pause.
    Resume => "resume",
    /// A watcher reported a batch the datastore throttled; `val` is the datastore's
    /// retry-after in milliseconds (0 without one).
    Throttled => "throttled",
    /// The batcher cut its effective capacity after throttling; `val` is the new value.
    CapacityCut => "capacity-cut",
    /// The batcher raised its effective capacity while writes succeeded; `val` is the new
    /// value.
    CapacityRaise => "capacity-raise",
    /// An audit found a non-zero target with nothing buffered or in flight and reset it.
    AuditFail => "audit-fail",
    /// An audit found the batcher's accounting consistent.
    AuditPass => "audit-pass",
    /// An audit was skipped because operations were still buffered or recently released.
    AuditSkip => "audit-skip",
    /// The batcher asked its rate limiter for capacity; `val` is the target.
    Request => "request",
    /// A flush began; `val` is the number of operations in the buffer.
    FlushStart => "flush-start",
    /// A flush ended; `val` is the number of operations released.
    FlushDone => "flush-done",
    /// A batch was handed to a watcher; `val` is its size, metadata its operations.
    Batch => "batch",
    /// A rate limiter's capacity changed; `val` is the new capacity.
    Capacity => "capacity",
    /// A limiter decorator held back capacity its inner limiter offered (a ramp on
    /// growth); `val` is how much, 0 once it holds none back; `msg` names the rule.
    HeldBack => "held-back",
    /// A lease attempt lost to another holder; `val` is the partition index.
    Failed => "failed",
    /// A partition lease ended; `val` is the partition index.
    Released => "released",
    /// A partition lease was acquired; `val` is the partition index.
    Allocated => "allocated",
    /// A rate limiter's target changed; `val` is what it will try to hold.
    Target => "target",
    /// Something went wrong; `msg` says what.
    Error => "error",
    /// A storage container was created; `msg` is its URL.
    CreatedContainer => "created-container",
    /// A storage container already existed; `msg` is its URL.
    VerifiedContainer => "verified-container",
    /// A partition blob was created; `val` is its index.
    CreatedBlob => "created-blob",
    /// A partition blob already existed; `val` is its index.
    VerifiedBlob => "verified-blob",
    /// A limiter's call to its storage finished (or was given up on); `val` is its
    /// duration in microseconds, `msg` the operation (`acquire`, `renew`, ...).
    StorageCall => "storage-call",
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip() {
        for name in EventName::ALL {
            assert_eq!(name.as_str().parse::<EventName>().unwrap(), *name);
            assert_eq!(name.to_string(), name.as_str());
        }
        assert_eq!(EventName::ALL.len(), 25);
        assert_eq!(EventName::AuditFail.as_str(), "audit-fail");
        assert_eq!(EventName::CreatedContainer.as_str(), "created-container");
    }

    #[test]
    fn unknown_names_are_rejected_with_the_name() {
        let err = "flush".parse::<EventName>().unwrap_err();
        assert!(err.to_string().contains("\"flush\""), "{err}");
    }
}
