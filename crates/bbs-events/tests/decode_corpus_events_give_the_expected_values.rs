//! Decoding every event of the conformance corpus gives the expected proto3 JSON value.

#[path = "support/models.rs"]
mod models;

use bbs_events::{Event, EventType};
use models::expected;

#[test]
fn every_corpus_event_decodes_to_its_expected_json() {
    let corpus = expected();
    assert_eq!(corpus.len(), 26, "the public corpus holds 26 events");
    let mut failures = Vec::new();
    for case in &corpus {
        let event = Event::decode(case.event_type, &case.payload).unwrap_or_else(|e| {
            panic!(
                "event {} ({}) does not decode: {e}",
                case.id, case.event_type
            )
        });
        assert_eq!(event.event_type(), case.event_type);
        let json = serde_json::to_value(&event).expect("an event serialises");
        if json != case.json {
            failures.push(format!(
                "event {} ({}):\n  got      {json}\n  expected {}",
                case.id, case.event_type, case.json
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_corpus_covers_every_event_type_twice() {
    let corpus = expected();
    for event_type in EventType::ALL {
        let n = corpus.iter().filter(|c| c.event_type == event_type).count();
        assert_eq!(n, 2, "{event_type} appears {n} times");
    }
}

#[test]
fn decoding_from_bytes_and_from_a_slice_agree() {
    for case in expected() {
        let from_slice = Event::decode(case.event_type, &case.payload).expect("decodes");
        let from_bytes =
            Event::decode_bytes(case.event_type, bytes::Bytes::from(case.payload.clone()))
                .expect("decodes");
        assert_eq!(from_slice, from_bytes, "event {}", case.id);
    }
}
