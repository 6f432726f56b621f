//! Re-encoding a decoded event gives the real server's bytes exactly.

#[path = "support/models.rs"]
mod models;

use bbs_events::{Event, EventType};
use models::{b64, expected, payloads, to_b64};

#[test]
fn every_line_of_payloads_tsv_reencodes_to_identical_base64() {
    let lines = payloads();
    assert!(!lines.is_empty());
    for (n, (name, payload)) in lines.iter().enumerate() {
        let event_type =
            EventType::from_wire(name).unwrap_or_else(|| panic!("line {n}: unknown type {name}"));
        let event =
            Event::decode(event_type, &b64(payload)).unwrap_or_else(|e| panic!("line {n}: {e}"));
        let again = to_b64(&event.encode_to_vec());
        assert!(
            again == *payload,
            "line {n} ({name}) re-encodes differently:\n  got      {again}\n  expected {payload}"
        );
    }
}

#[test]
fn every_corpus_payload_reencodes_to_identical_bytes() {
    for case in expected() {
        let event = Event::decode(case.event_type, &case.payload).expect("decodes");
        assert_eq!(
            event.encode_to_vec(),
            case.payload,
            "event {} ({})",
            case.id,
            case.event_type
        );
    }
}
