//! Chunk boundaries are not event boundaries: the conformance corpus decodes to the same events
//! whether each HTTP chunk holds one event (the BBS), several whole events (flowgate's server,
//! one chunk per wake-up) or pieces that cut events anywhere (a proxy that re-chunks).

#[path = "support/stream.rs"]
mod support;

use base64::Engine as _;
use bbs_events::client::Client;

/// Serves the corpus in HTTP chunks made by `chunker` and checks every event the client reads.
async fn corpus_in_chunks(chunker: fn(&[u8]) -> Vec<Vec<u8>>) {
    let expected = support::json_lines("expected.jsonl");
    let (addr, mut conns) = support::raw_server().await;
    let server = tokio::spawn(async move {
        let mut conn = conns.recv().await.expect("a connection");
        conn.write(support::BBS_HEAD).await;
        for chunk in chunker(&support::data("corpus.sse")) {
            conn.write(&support::bbs_chunk(&chunk)).await;
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
        let b64 = base64::engine::general_purpose::STANDARD.encode(got.event.encode_to_vec());
        assert_eq!(b64, want["payload_b64"], "bytes of event {}", want["id"]);
    }
    sub.close();
    server.abort();
}

/// The stream's events, each with its blank line.
fn events(sse: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = sse;
    while let Some(end) = rest.windows(2).position(|w| w == b"\n\n") {
        out.push(&rest[..end + 2]);
        rest = &rest[end + 2..];
    }
    assert!(rest.is_empty(), "the corpus ends with a whole event");
    out
}

#[tokio::test]
async fn several_whole_events_per_chunk_decode_event_for_event() {
    corpus_in_chunks(|sse| {
        // Three, then one, then five events per chunk, and so on.
        let events = events(sse);
        let mut chunks = Vec::new();
        let mut sizes = [3, 1, 5].into_iter().cycle();
        let mut i = 0;
        while i < events.len() {
            let n = sizes.next().unwrap().min(events.len() - i);
            chunks.push(events[i..i + n].concat());
            i += n;
        }
        assert!(chunks.len() < events.len());
        chunks
    })
    .await;
}

#[tokio::test]
async fn chunks_that_cut_events_anywhere_decode_event_for_event() {
    corpus_in_chunks(|sse| sse.chunks(1000).map(<[u8]>::to_vec).collect()).await;
}
