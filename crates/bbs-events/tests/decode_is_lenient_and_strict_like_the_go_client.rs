//! Decoding is as lenient and as strict as the Go client: unknown fields skipped, packed and unpacked
//! repeated fields accepted, invalid UTF-8 kept, a wrong wire type or a truncated payload rejected, and no
//! input makes it panic.

#[path = "support/models.rs"]
mod models;

use bbs_events::{Event, EventType};
use models::{bytes_field, expected, key, varint, varint_field};
use proptest::prelude::*;

fn corpus_payload(event_type: EventType) -> Vec<u8> {
    expected()
        .into_iter()
        .find(|c| c.event_type == event_type)
        .map(|c| c.payload)
        .expect("the corpus has every event type")
}

/// Unknown fields of every wire type: varint, 64-bit, length-delimited, group and 32-bit.
fn unknown_fields() -> Vec<u8> {
    let mut out = Vec::new();
    varint_field(&mut out, 900, 12345);
    key(&mut out, 901, 1);
    out.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    bytes_field(&mut out, 902, b"something new");
    key(&mut out, 903, 3);
    varint_field(&mut out, 1, 7);
    key(&mut out, 903, 4);
    key(&mut out, 904, 5);
    out.extend_from_slice(&[9, 9, 9, 9]);
    out
}

#[test]
fn unknown_fields_are_skipped_and_gone_after_reencoding() {
    for event_type in EventType::ALL {
        let payload = corpus_payload(event_type);
        let original = Event::decode(event_type, &payload).expect("the corpus payload decodes");
        let mut with_unknown = unknown_fields();
        with_unknown.extend_from_slice(&payload);
        with_unknown.extend_from_slice(&unknown_fields());
        let decoded = Event::decode(event_type, &with_unknown)
            .unwrap_or_else(|e| panic!("{event_type}: unknown fields must be skipped, got {e}"));
        assert_eq!(decoded, original, "{event_type}");
        assert_eq!(
            decoded.encode_to_vec(),
            payload,
            "{event_type}: unknown fields are dropped on re-encoding"
        );
    }
}

#[test]
fn unknown_fields_inside_nested_messages_are_skipped() {
    // ActualLRPCrashedEvent { actual_lrp_key { process_guid: "pg", <unknown>, index: 3 } }
    let mut lrp_key = Vec::new();
    bytes_field(&mut lrp_key, 1, b"pg");
    lrp_key.extend_from_slice(&unknown_fields());
    varint_field(&mut lrp_key, 2, 3);
    let mut payload = Vec::new();
    bytes_field(&mut payload, 1, &lrp_key);
    let Event::ActualLrpCrashed(event) =
        Event::decode(EventType::ActualLrpCrashed, &payload).expect("decodes")
    else {
        panic!("wrong variant")
    };
    assert_eq!(&event.actual_lrp_key.process_guid[..], b"pg");
    assert_eq!(event.actual_lrp_key.index, 3);
}

fn desired_lrp_event_with_ports(ports_field: &[u8], rule_ports_field: &[u8]) -> Vec<u8> {
    let mut rule = Vec::new();
    bytes_field(&mut rule, 1, b"tcp");
    rule.extend_from_slice(rule_ports_field);
    let mut lrp = Vec::new();
    bytes_field(&mut lrp, 1, b"process-guid");
    lrp.extend_from_slice(ports_field);
    bytes_field(&mut lrp, 20, &rule);
    let mut payload = Vec::new();
    bytes_field(&mut payload, 1, &lrp);
    payload
}

fn packed(field: u32, values: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    for v in values {
        varint(&mut body, *v);
    }
    let mut out = Vec::new();
    bytes_field(&mut out, field, &body);
    out
}

fn unpacked(field: u32, values: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        varint_field(&mut out, field, *v);
    }
    out
}

#[test]
fn packed_and_unpacked_ports_are_both_accepted_and_written_unpacked() {
    let unpacked_payload =
        desired_lrp_event_with_ports(&unpacked(14, &[8080, 2222]), &unpacked(3, &[53, 443]));
    let packed_payload =
        desired_lrp_event_with_ports(&packed(14, &[8080, 2222]), &packed(3, &[53, 443]));
    let from_unpacked =
        Event::decode(EventType::DesiredLrpCreated, &unpacked_payload).expect("unpacked decodes");
    let from_packed =
        Event::decode(EventType::DesiredLrpCreated, &packed_payload).expect("packed decodes");
    assert_eq!(from_packed, from_unpacked);

    let Event::DesiredLrpCreated(event) = &from_packed else {
        panic!("wrong variant")
    };
    let lrp = event.desired_lrp.as_ref().expect("desired_lrp is present");
    assert_eq!(lrp.ports, [8080, 2222]);
    assert_eq!(lrp.egress_rules[0].ports, [53, 443]);
    assert_eq!(
        from_packed.encode_to_vec(),
        unpacked_payload,
        "the BBS writes ports unpacked"
    );
}

#[test]
fn a_mix_of_packed_and_unpacked_elements_keeps_wire_order() {
    let mut ports = unpacked(14, &[1]);
    ports.extend_from_slice(&packed(14, &[2, 3]));
    ports.extend_from_slice(&unpacked(14, &[4]));
    let payload = desired_lrp_event_with_ports(&ports, &[]);
    let Event::DesiredLrpCreated(event) =
        Event::decode(EventType::DesiredLrpCreated, &payload).expect("decodes")
    else {
        panic!("wrong variant")
    };
    assert_eq!(event.desired_lrp.expect("present").ports, [1, 2, 3, 4]);
}

#[test]
fn invalid_utf8_in_strings_is_accepted_kept_and_reencoded_unchanged() {
    // A crash reason cut in the middle of a 3-byte character, as the BBS's 1024-byte cut can do.
    let reason = b"exit status 1: \xe2\x82";
    let mut payload = Vec::new();
    bytes_field(&mut payload, 1, &[]);
    bytes_field(&mut payload, 2, &[]);
    bytes_field(&mut payload, 4, reason);
    let event = Event::decode(EventType::ActualLrpCrashed, &payload)
        .expect("invalid UTF-8 must be accepted");
    let Event::ActualLrpCrashed(crashed) = &event else {
        panic!("wrong variant")
    };
    assert_eq!(&crashed.crash_reason[..], reason);
    assert_eq!(event.encode_to_vec(), payload);
    let json = serde_json::to_value(&event).expect("serialises");
    assert_eq!(json["crash_reason"], "exit status 1: \u{FFFD}");
}

#[test]
fn invalid_utf8_in_map_keys_repeated_strings_and_nested_strings_is_accepted() {
    let mut entry = Vec::new();
    bytes_field(&mut entry, 1, b"k\xff");
    bytes_field(&mut entry, 2, b"v\xc3");
    let mut lrp = Vec::new();
    bytes_field(&mut lrp, 5, b"\xf0\x9f");
    bytes_field(&mut lrp, 12, &entry);
    let mut group = Vec::new();
    bytes_field(&mut group, 1, &lrp);
    let mut payload = Vec::new();
    bytes_field(&mut payload, 1, &group);
    let event = Event::decode(EventType::ActualLrpCreated, &payload).expect("accepted");
    assert!(
        serde_json::to_string(&event)
            .expect("serialises")
            .contains('\u{FFFD}')
    );

    let mut task_def = Vec::new();
    bytes_field(&mut task_def, 20, b"tag-\xfe");
    let mut task = Vec::new();
    bytes_field(&mut task, 1, &task_def);
    let mut payload = Vec::new();
    bytes_field(&mut payload, 1, &task);
    Event::decode(EventType::TaskCreated, &payload).expect("accepted");
}

#[test]
fn a_known_field_with_the_wrong_wire_type_is_rejected() {
    let cases: Vec<(EventType, Vec<u8>, &str)> = vec![
        // crash_count (varint) sent as length-delimited.
        (
            EventType::ActualLrpCrashed,
            {
                let mut p = Vec::new();
                bytes_field(&mut p, 3, b"x");
                p
            },
            "scalar",
        ),
        // actual_lrp_key (message) sent as a varint.
        (
            EventType::ActualLrpCrashed,
            {
                let mut p = Vec::new();
                varint_field(&mut p, 1, 5);
                p
            },
            "message",
        ),
        // trace_id (string) sent as a 32-bit value.
        (
            EventType::DesiredLrpCreated,
            {
                let mut p = Vec::new();
                key(&mut p, 2, 5);
                p.extend_from_slice(&[0; 4]);
                p
            },
            "string",
        ),
        // task_guid (string) inside the task sent as a varint.
        (
            EventType::TaskRemoved,
            {
                let mut task = Vec::new();
                varint_field(&mut task, 2, 1);
                let mut p = Vec::new();
                bytes_field(&mut p, 1, &task);
                p
            },
            "nested string",
        ),
        // A map entry's value (string) sent as a varint.
        (
            EventType::ActualLrpInstanceCreated,
            {
                let mut entry = Vec::new();
                bytes_field(&mut entry, 1, b"k");
                varint_field(&mut entry, 2, 1);
                let mut lrp = Vec::new();
                bytes_field(&mut lrp, 12, &entry);
                let mut p = Vec::new();
                bytes_field(&mut p, 1, &lrp);
                p
            },
            "map value",
        ),
        // routable (bool with presence) sent as a 64-bit value.
        (
            EventType::ActualLrpInstanceRemoved,
            {
                let mut lrp = Vec::new();
                key(&mut lrp, 13, 1);
                lrp.extend_from_slice(&[0; 8]);
                let mut p = Vec::new();
                bytes_field(&mut p, 1, &lrp);
                p
            },
            "optional bool",
        ),
    ];
    for (event_type, payload, what) in cases {
        let err = Event::decode(event_type, &payload).expect_err(&format!(
            "{event_type}: a {what} field with the wrong wire type must be rejected"
        ));
        assert_eq!(err.event_type(), event_type);
        assert_eq!(err.message_name(), event_type.message_name());
        let message = err.to_string();
        assert!(message.contains(event_type.as_str()), "{message}");
        assert!(message.contains(event_type.message_name()), "{message}");
    }
}

#[test]
fn a_truncated_payload_is_rejected() {
    // The public malformed case: the first 60% of a valid task_changed payload.
    for case in expected() {
        let cut = &case.payload[..case.payload.len() * 6 / 10];
        let err = Event::decode(case.event_type, cut);
        if case.payload.len() >= 16 {
            assert!(
                err.is_err(),
                "event {} ({}) cut to 60% must not decode",
                case.id,
                case.event_type
            );
        }
    }
    // A length prefix that runs past the end, and a varint that never ends.
    assert!(Event::decode(EventType::TaskCreated, &[0x0a, 0x05, 0x12]).is_err());
    assert!(Event::decode(EventType::ActualLrpCrashed, &[0x18, 0xff, 0xff]).is_err());
}

#[test]
fn an_empty_payload_decodes_to_an_empty_message() {
    // Zero bytes are a valid protobuf message; "event with no data" is the stream reader's error.
    for event_type in EventType::ALL {
        let event = Event::decode(event_type, &[]).expect("an empty message decodes");
        assert_eq!(event.event_type(), event_type);
    }
}

#[test]
fn no_truncation_or_bit_flip_of_a_corpus_payload_panics() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    for case in expected() {
        let len = case.payload.len();
        let step = (len / 300).max(1);
        for cut in (0..len).step_by(step) {
            let _ = Event::decode(case.event_type, &case.payload[..cut]);
        }
        let mut flipped = case.payload.clone();
        for _ in 0..200 {
            flipped.copy_from_slice(&case.payload);
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..len);
                flipped[i] ^= 1 << rng.u8(..8);
            }
            if let Ok(event) = Event::decode(case.event_type, &flipped) {
                // Whatever decodes also re-encodes and serialises without panicking.
                let _ = event.encode_to_vec();
                let _ = serde_json::to_string(&event).expect("serialises");
            }
        }
    }
}

proptest! {
    // A fixed seed keeps the suite deterministic; the cases still cover every event type.
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xbb5),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_make_decoding_panic(
        index in 0usize..13,
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let event_type = EventType::ALL[index];
        if let Ok(event) = Event::decode(event_type, &payload) {
            prop_assert_eq!(event.event_type(), event_type);
            let again = Event::decode(event_type, &event.encode_to_vec());
            prop_assert_eq!(again.ok(), Some(event));
        }
    }
}
