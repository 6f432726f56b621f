//! The conformance corpus, written byte for byte in the BBS chunk framing (with its bare `;` chunk
//! extension) by a raw TCP server, decodes through the client to the expected events.

#[path = "support/stream.rs"]
mod support;

use base64::Engine as _;
use bbs_events::client::Client;
use bbs_events::sse::SseParser;

#[tokio::test]
async fn corpus_chunked_over_tcp_decodes_to_expected_jsonl() {
    let expected = support::json_lines("expected.jsonl");
    let (addr, mut conns) = support::raw_server().await;
    let server = tokio::spawn(async move {
        let mut conn = conns.recv().await.expect("a connection");
        assert!(conn.request_line().starts_with("GET /v1/events.r1 "));
        conn.write(support::BBS_HEAD).await;
        // Split the bytes at odd places so that chunk headers straddle reads.
        for piece in support::data("corpus.chunked").chunks(333) {
            conn.write(piece).await;
        }
        // A live stream does not end: hold the connection until the test is done.
        let _ = conns.recv().await;
        conn
    });
    let client = Client::new(&format!("http://{addr}")).expect("client");
    let mut sub = support::within(10, "subscription", client.subscribe_to_events())
        .await
        .expect("subscribed");
    for want in &expected {
        let got = support::event(support::within(10, "next event", sub.next()).await);
        assert_eq!(
            got.id.as_deref().map(|s| s.parse::<u64>().unwrap()),
            want["id"].as_u64()
        );
        assert_eq!(got.event.event_type().as_str(), want["type"]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(got.event.encode_to_vec());
        assert_eq!(b64, want["payload_b64"], "bytes of event {}", want["id"]);
        assert_eq!(
            serde_json::to_value(&got.event).unwrap(),
            want["json"],
            "event {}",
            want["id"]
        );
    }
    sub.close();
    server.abort();
}

#[test]
fn corpus_sse_through_the_parser_gives_the_same_events() {
    let expected = support::json_lines("expected.jsonl");
    let mut parser = SseParser::new();
    parser.push(&support::data("corpus.sse"));
    let mut n = 0;
    while let Some(sse) = parser.next_event() {
        let sse = sse.unwrap();
        let want = &expected[n];
        assert_eq!(sse.event, want["type"]);
        assert_eq!(std::str::from_utf8(&sse.data).unwrap(), want["payload_b64"]);
        let event = bbs_events::client::decode_event(&sse).expect("decodes");
        assert_eq!(serde_json::to_value(&event).unwrap(), want["json"]);
        n += 1;
    }
    assert_eq!(n, expected.len());
}
