//! Helpers for the BBS event-stream benchmarks: realistic event streams and timed events.

use bbs_events::models::{ActualLrpCrashedEvent, ActualLrpInstanceKey, ActualLrpKey};
use bbs_events::{Event, EventType};

/// The conformance payloads of the bbs-events crate (`<wire name>\t<base64>` lines).
const PAYLOADS: &str = include_str!("../../crates/bbs-events/tests/data/payloads.tsv");

/// The LRP events (desired and actual) of the conformance corpus, decoded.
pub fn lrp_events() -> Vec<Event> {
    use base64_free::decode;
    PAYLOADS
        .lines()
        .filter_map(|line| {
            let (name, b64) = line.split_once('\t')?;
            let event_type = EventType::from_wire(name)?;
            if name.starts_with("task_") {
                return None;
            }
            Event::decode(event_type, &decode(b64)?).ok()
        })
        .collect()
}

/// A recorded SSE byte stream of `count` realistic LRP events (cycling through the corpus), as
/// the BBS writes it.
pub fn lrp_stream(count: usize) -> Vec<u8> {
    let events = lrp_events();
    let mut out = Vec::new();
    for (i, event) in events.iter().cycle().take(count).enumerate() {
        bbs_events::sse::write_event(
            &mut out,
            i as u64,
            event.event_type().as_str(),
            &event.encode_to_vec(),
        );
    }
    out
}

/// A crash event of a typical size whose `since` carries `stamp_nanos`, for latency measurements.
pub fn stamped_crash(seq: u64, stamp_nanos: i64) -> Event {
    Event::ActualLrpCrashed(ActualLrpCrashedEvent {
        actual_lrp_key: ActualLrpKey {
            process_guid: format!("5f3e2b1c-8a7d-4e6f-9b0a-{seq:012x}-0ec60822-44b7").into(),
            index: (seq % 16) as i32,
            domain: "cf-apps".into(),
        },
        actual_lrp_instance_key: ActualLrpInstanceKey {
            instance_guid: "b2fb0fd9-370d-5000-83e5-efec565171".into(),
            cell_id: "cell-z1-07".into(),
        },
        crash_count: 1,
        crash_reason: "APP/PROC/WEB: Exited with status 137 (out of memory)".into(),
        since: stamp_nanos,
    })
}

/// The stamp of a [`stamped_crash`] event.
pub fn stamp_of(event: &Event) -> Option<i64> {
    match event {
        Event::ActualLrpCrashed(e) => Some(e.since),
        _ => None,
    }
}

/// The stamp of a [`stamped_crash`] event read straight from its SSE `data:` line's base64, for
/// readers that do no more than split the stream.
pub fn stamp_of_base64(b64: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(b64).ok()?;
    let payload = base64_free::decode(text)?;
    stamp_of(&Event::decode(EventType::ActualLrpCrashed, &payload).ok()?)
}

/// A tiny standard-base64 decoder, so the helpers need no extra dependency.
mod base64_free {
    pub(super) fn decode(text: &str) -> Option<Vec<u8>> {
        let value = |c: u8| -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            } as u32)
        };
        let bytes = text.trim().as_bytes();
        if bytes.len() % 4 != 0 {
            return None;
        }
        let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
        for group in bytes.chunks(4) {
            let pad = group.iter().rev().take_while(|&&c| c == b'=').count();
            let mut n = 0u32;
            for &c in &group[..4 - pad] {
                n = (n << 6) | value(c)?;
            }
            n <<= 6 * pad as u32;
            let b = n.to_be_bytes();
            out.extend_from_slice(&b[1..4 - pad]);
        }
        Some(out)
    }
}
