//! Helpers shared by the model tests: the conformance corpus and payload tools.

#![allow(dead_code, unreachable_pub)]

use base64::Engine as _;
use bbs_events::EventType;

/// One line of `expected.jsonl`.
pub struct Expected {
    pub id: u64,
    pub event_type: EventType,
    pub payload: Vec<u8>,
    pub json: serde_json::Value,
}

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

pub fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("bad base64 in test data: {e}"))
}

pub fn to_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every event of the conformance corpus with its expected decoding.
pub fn expected() -> Vec<Expected> {
    data("expected.jsonl")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).expect("expected.jsonl line is JSON");
            let name = v["type"].as_str().expect("type is a string");
            Expected {
                id: v["id"].as_u64().expect("id is a number"),
                event_type: EventType::from_wire(name)
                    .unwrap_or_else(|| panic!("unknown type {name}")),
                payload: b64(v["payload_b64"].as_str().expect("payload_b64 is a string")),
                json: v["json"].clone(),
            }
        })
        .collect()
}

/// Every line of `payloads.tsv`: the wire name and the base64 payload.
pub fn payloads() -> Vec<(String, String)> {
    data("payloads.tsv")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (name, payload) = line.split_once('\t').expect("payloads.tsv line has a TAB");
            (name.to_owned(), payload.to_owned())
        })
        .collect()
}

/// Appends a protobuf key.
pub fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

/// Appends a varint.
pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-delimited field.
pub fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a varint field.
pub fn varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, 0);
    varint(out, v);
}
