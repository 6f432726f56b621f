//! An event encoded once for every subscriber: its payload and the shared part of its SSE frame.

use std::borrow::Cow;
use std::sync::OnceLock;

use base64::Engine as _;
use bytes::Bytes;

use crate::models::Version;
use crate::sse::write_event_fields;
use crate::{Event, EventType};

/// An event encoded once for all subscribers.
///
/// Besides the payload it holds the event's SSE frame but for the `id:` line (which is per
/// connection), so that a server writes the same shared bytes to every subscriber.
#[derive(Debug, PartialEq)]
pub struct EncodedEvent {
    /// The hub's sequence number of the event (from 0).
    pub seq: u64,
    /// The decoded event, for filtering.
    pub event: Event,
    /// The protobuf payload in standard base64.
    pub payload_b64: Bytes,
    /// The `event:` and `data:` lines; `payload_b64` is a slice of them.
    fields: Bytes,
    /// The V0 encoding, made on first use by a subscriber of a route without `.r1`.
    v0: OnceLock<Encoding>,
}

/// A payload and the frame lines that carry it.
#[derive(Debug, PartialEq)]
struct Encoding {
    payload_b64: Bytes,
    fields: Bytes,
}

impl Encoding {
    fn of(event: &Event) -> Encoding {
        let payload = base64::engine::general_purpose::STANDARD.encode(event.encode_to_vec());
        let mut out = Vec::with_capacity(payload.len() + 64);
        write_event_fields(&mut out, event.event_type().as_str(), payload.as_bytes());
        let fields = Bytes::from(out);
        // The payload is the end of the `data:` line, followed by the blank line.
        let end = fields.len().saturating_sub(2);
        let payload_b64 = fields.slice(end.saturating_sub(payload.len())..end);
        Encoding {
            payload_b64,
            fields,
        }
    }
}

impl EncodedEvent {
    /// Encodes `event` (protobuf, then base64, then its SSE `event:` and `data:` lines).
    pub fn new(seq: u64, event: Event) -> EncodedEvent {
        let Encoding {
            payload_b64,
            fields,
        } = Encoding::of(&event);
        EncodedEvent {
            seq,
            event,
            payload_b64,
            fields,
            v0: OnceLock::new(),
        }
    }

    fn encoding_in(&self, version: Version) -> (&Bytes, &Bytes) {
        if version == Version::V3 {
            return (&self.payload_b64, &self.fields);
        }
        let v0 = self
            .v0
            .get_or_init(|| match self.event.version_down_to(version) {
                Cow::Borrowed(_) => Encoding {
                    payload_b64: self.payload_b64.clone(),
                    fields: self.fields.clone(),
                },
                Cow::Owned(v0) => Encoding::of(&v0),
            });
        (&v0.payload_b64, &v0.fields)
    }

    /// The base64 payload in the model `version` (see [`Version`]); the V0 form is encoded once
    /// per event, whatever the number of its subscribers.
    pub fn payload_b64_in(&self, version: Version) -> &Bytes {
        self.encoding_in(version).0
    }

    /// The frame's `event:` and `data:` lines and the blank line that ends it, in the model
    /// `version`: all of the frame but the `id:` line, shared by every subscriber.
    pub(crate) fn fields_in(&self, version: Version) -> &Bytes {
        self.encoding_in(version).1
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::TaskRemovedEvent;
    use crate::sse::write_event_base64;

    #[test]
    fn the_id_line_and_the_shared_fields_make_the_writers_frame() {
        for event in [
            Event::TaskRemoved(TaskRemovedEvent::default()),
            Event::TaskRemoved(TaskRemovedEvent {
                task: Some(Default::default()),
            }),
        ] {
            let encoded = EncodedEvent::new(0, event);
            for version in [Version::V3, Version::V0] {
                let mut want = Vec::new();
                let payload = encoded.payload_b64_in(version);
                write_event_base64(&mut want, 42, "task_removed", payload);
                let mut got = b"id: 42\n".to_vec();
                got.extend_from_slice(encoded.fields_in(version));
                assert_eq!(got, want);
            }
        }
    }
}
