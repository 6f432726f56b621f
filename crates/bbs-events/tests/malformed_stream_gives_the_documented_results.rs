//! The malformed-cases file gives exactly the documented per-event results, through the SSE and
//! decode layer and through the client over a real HTTP connection.

#[path = "support/stream.rs"]
mod support;

use base64::Engine as _;
use bbs_events::client::{Client, StreamItem, SubscriptionError, decode_event};
use bbs_events::sse::SseParser;
use serde_json::{Value, json};

/// A result as the expected file describes it (without `case` and `go_error`).
fn describe(
    id: Option<&str>,
    event_type: &str,
    result: Result<bbs_events::Event, SubscriptionError>,
) -> Value {
    let id: u64 = id.expect("id").parse().expect("numeric id");
    match result {
        Ok(event) => json!({
            "id": id,
            "type": event_type,
            "payload_b64": base64::engine::general_purpose::STANDARD.encode(event.encode_to_vec()),
            "json": serde_json::to_value(&event).expect("serialise"),
        }),
        Err(e) => json!({"id": id, "type": event_type, "error": e.kind_name()}),
    }
}

fn expected() -> Vec<Value> {
    support::json_lines("public_malformed_expected.jsonl")
        .into_iter()
        .map(|mut v| {
            let obj = v.as_object_mut().expect("object");
            obj.remove("case");
            obj.remove("go_error");
            v
        })
        .collect()
}

#[test]
fn the_sse_and_decode_layer_gives_the_documented_results() {
    let input = support::data("public_malformed.sse");
    // Feed in small pieces to exercise partial lines.
    let mut parser = SseParser::new();
    let mut got = Vec::new();
    for piece in input.chunks(7) {
        parser.push(piece);
        while let Some(sse) = parser.next_event() {
            let sse = sse.expect("no oversized events here");
            got.push(describe(sse.id.as_deref(), &sse.event, decode_event(&sse)));
        }
    }
    got.push(json!({"eof": true}));
    assert_eq!(got, expected());
}

#[tokio::test]
async fn the_client_gives_the_documented_results_over_http() {
    let (addr, mut conns) = support::raw_server().await;
    let client = Client::new(&format!("http://{addr}")).expect("client");
    let server = tokio::spawn(async move {
        let mut conn = conns.recv().await.expect("a connection");
        conn.write(support::BBS_HEAD).await;
        conn.write(&support::chunk_events(&support::data(
            "public_malformed.sse",
        )))
        .await;
        conn.write(support::LAST_CHUNK).await;
        // Keep the socket open until the client is done.
        let _ = conns.recv().await;
        conn
    });
    let mut sub = support::within(10, "subscription", client.subscribe_to_task_events())
        .await
        .expect("subscribed");
    let mut got = Vec::new();
    loop {
        match support::within(10, "next event", sub.next()).await {
            Ok(StreamItem::Event(received)) => got.push(describe(
                received.id.as_deref(),
                received.event.event_type().as_str(),
                Ok(received.event),
            )),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(SubscriptionError::EndOfStream) => break,
            Err(
                e @ (SubscriptionError::InvalidPayload { .. }
                | SubscriptionError::UnrecognizedEventType { .. }),
            ) => {
                let (id, event_type) = match &e {
                    SubscriptionError::InvalidPayload { id, event_type, .. }
                    | SubscriptionError::UnrecognizedEventType { id, event_type } => {
                        (id.clone(), event_type.clone())
                    }
                    _ => unreachable!(),
                };
                got.push(describe(id.as_deref(), &event_type, Err(e)));
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    got.push(json!({"eof": true}));
    assert_eq!(got, expected());
    // A clean end is final: the next read says so again rather than reconnecting.
    assert!(matches!(
        sub.next().await,
        Err(SubscriptionError::EndOfStream)
    ));
    server.abort();
}
