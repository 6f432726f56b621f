//! Turning one server-sent event into a typed BBS event, in the BBS client's order of checks.

use base64::Engine as _;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};

use crate::client::error::{InvalidBase64, PayloadError, SubscriptionError};
use crate::sse::SseEvent;
use crate::{Event, EventType};

/// Standard padded base64 that, like Go's `base64.StdEncoding`, accepts non-zero unused bits in
/// the last symbol.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Decodes one SSE event as the Go BBS client does:
///
/// 1. base64-decode the data, skipping CR and LF;
/// 2. zero decoded bytes is "event with no data", even for an unknown name or bad base64;
/// 3. otherwise a base64 error is an invalid payload;
/// 4. an unknown event name is an unrecognised event type;
/// 5. a protobuf error is an invalid payload.
///
/// This is the decoding an [`EventSubscription`](crate::client::EventSubscription) applies; it is
/// public for reading recorded streams with [`SseParser`](crate::sse::SseParser).
///
/// # Errors
///
/// [`SubscriptionError::InvalidPayload`] or [`SubscriptionError::UnrecognizedEventType`].
pub fn decode_event(sse: &SseEvent) -> Result<Event, SubscriptionError> {
    let mut scratch = Vec::new();
    decode_event_with(sse, &mut scratch)
}

/// Like [`decode_event`], reusing `scratch` for the decoded bytes.
pub(crate) fn decode_event_with(
    sse: &SseEvent,
    scratch: &mut Vec<u8>,
) -> Result<Event, SubscriptionError> {
    let invalid = |cause| SubscriptionError::InvalidPayload {
        id: sse.id.clone(),
        event_type: sse.event.clone(),
        cause,
    };
    let decoded = decode_base64(&sse.data, scratch);
    if scratch.is_empty() {
        return Err(invalid(PayloadError::NoData));
    }
    if let Err(e) = decoded {
        return Err(invalid(PayloadError::Base64(InvalidBase64(e))));
    }
    let Some(event_type) = EventType::from_wire(&sse.event) else {
        return Err(SubscriptionError::UnrecognizedEventType {
            id: sse.id.clone(),
            event_type: sse.event.clone(),
        });
    };
    Event::decode(event_type, scratch).map_err(|e| invalid(PayloadError::Protobuf(e)))
}

/// Decodes standard padded base64 into `out`, skipping CR and LF. On an error `out` holds the bytes
/// of the complete 4-character groups before the bad one, as Go's decoder reports them.
fn decode_base64(data: &[u8], out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    out.clear();
    let engine = &GO_STD_BASE64;
    let stripped;
    let input: &[u8] = if memchr::memchr2(b'\r', b'\n', data).is_some() {
        stripped = data
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect::<Vec<u8>>();
        &stripped
    } else {
        data
    };
    match engine.decode_vec(input, out) {
        Ok(()) => Ok(()),
        Err(e) => {
            let bad_at = match e {
                base64::DecodeError::InvalidByte(offset, _)
                | base64::DecodeError::InvalidLastSymbol(offset, _) => offset,
                base64::DecodeError::InvalidLength(len) => len,
                base64::DecodeError::InvalidPadding => input.len().saturating_sub(1),
            };
            let good = &input[..(bad_at / 4) * 4];
            out.clear();
            // The prefix is whole groups of valid symbols, so it decodes unless it held padding.
            if engine.decode_vec(good, out).is_err() {
                out.clear();
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(event: &str, data: &[u8]) -> SseEvent {
        SseEvent {
            id: Some("3".into()),
            event: event.into(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn empty_data_is_no_data_even_for_unknown_names() {
        let err = decode_event(&sse("nope", b"")).unwrap_err();
        assert!(matches!(
            err,
            SubscriptionError::InvalidPayload {
                cause: PayloadError::NoData,
                ..
            }
        ));
    }

    #[test]
    fn bad_base64_in_the_first_group_is_no_data() {
        let err = decode_event(&sse("nope", b"C#==")).unwrap_err();
        assert!(matches!(
            err,
            SubscriptionError::InvalidPayload {
                cause: PayloadError::NoData,
                ..
            }
        ));
    }

    #[test]
    fn bad_base64_later_is_a_base64_error() {
        let err = decode_event(&sse("task_created", b"CjQSJGI5YzQ0#mU3")).unwrap_err();
        assert!(matches!(
            err,
            SubscriptionError::InvalidPayload {
                cause: PayloadError::Base64(_),
                ..
            }
        ));
    }

    #[test]
    fn unknown_name_with_data_is_unrecognized() {
        let err = decode_event(&sse("", b"CgA=")).unwrap_err();
        assert!(matches!(
            err,
            SubscriptionError::UnrecognizedEventType { .. }
        ));
    }

    #[test]
    fn cr_and_lf_are_skipped_before_decoding() {
        let mut out = Vec::new();
        decode_base64(b"aGVs\r\nbG8=", &mut out).unwrap();
        assert_eq!(out, b"hello");
    }
}
