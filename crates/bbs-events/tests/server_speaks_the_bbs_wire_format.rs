//! The HTTP endpoint: the BBS's headers in order, ids from 0 per connection, whole events in each
//! chunk, route and cell filtering, 404 and 500 answers, and graceful shutdown with the terminating chunk.

#[path = "support/stream.rs"]
mod support;

use std::net::SocketAddr;

use bbs_events::Event;
use bbs_events::client::Client;
use bbs_events::models::{
    ActualLrp, ActualLrpInstanceCreatedEvent, ActualLrpInstanceKey, ActualLrpKey, DesiredLrp,
    DesiredLrpCreatedEvent, Task, TaskCreatedEvent,
};
use bbs_events::server::{Hub, Server};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

fn instance_created(guid: &str, cell: &str) -> Event {
    Event::ActualLrpInstanceCreated(ActualLrpInstanceCreatedEvent {
        actual_lrp: Some(
            ActualLrp {
                actual_lrp_key: ActualLrpKey {
                    process_guid: guid.to_owned().into(),
                    ..ActualLrpKey::default()
                },
                actual_lrp_instance_key: ActualLrpInstanceKey {
                    // The BBS keys instance events by instance guid.
                    instance_guid: guid.to_owned().into(),
                    cell_id: cell.to_owned().into(),
                },
                ..ActualLrp::default()
            }
            .into(),
        ),
        ..Default::default()
    })
}

fn desired(guid: &str) -> Event {
    Event::DesiredLrpCreated(DesiredLrpCreatedEvent {
        desired_lrp: Some(
            DesiredLrp {
                process_guid: guid.to_owned().into(),
                ..DesiredLrp::default()
            }
            .into(),
        ),
        ..Default::default()
    })
}

fn task(guid: &str) -> Event {
    Event::TaskCreated(TaskCreatedEvent {
        task: Some(
            Task {
                task_guid: guid.to_owned().into(),
                ..Task::default()
            }
            .into(),
        ),
    })
}

struct Running {
    hub: Hub,
    addr: SocketAddr,
    shutdown: CancellationToken,
    count: watch::Receiver<usize>,
    task: tokio::task::JoinHandle<()>,
}

async fn start() -> Running {
    let (tx, count) = watch::channel(0);
    let hub = Hub::builder()
        .on_subscriber_count(move |n| {
            let _ = tx.send(n);
        })
        .build();
    let server = Server::builder(hub.clone())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(async move { server.run(token).await.unwrap() });
    Running {
        hub,
        addr,
        shutdown,
        count,
        task,
    }
}

impl Running {
    async fn wait_for_subscribers(&mut self, n: usize) {
        support::within(5, "subscribers", self.count.wait_for(|c| *c == n))
            .await
            .unwrap();
    }
}

async fn raw_request(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream
}

#[tokio::test]
async fn headers_ids_chunks_and_shutdown_match_the_bbs() {
    let mut server = start().await;
    let mut stream = raw_request(
        server.addr,
        b"GET /v1/events HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    server.wait_for_subscribers(1).await;
    server.hub.emit(desired("d1")).unwrap();
    server.hub.emit(task("not-on-this-route")).unwrap();
    server.hub.emit(desired("d2")).unwrap();
    let mut got = Vec::new();
    support::within(
        5,
        "two events",
        support::read_until(&mut stream, b"event: desired_lrp_created\ndata: ", &mut got),
    )
    .await;
    let b64_d2 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(desired("d2").encode_to_vec())
    };
    support::within(
        5,
        "second event",
        support::read_until(
            &mut stream,
            format!("{b64_d2}\n\n\r\n").as_bytes(),
            &mut got,
        ),
    )
    .await;
    let text = String::from_utf8(got.clone()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let names: Vec<&str> = head
        .lines()
        .skip(1)
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(head.lines().next(), Some("HTTP/1.1 200 OK"));
    assert_eq!(
        names,
        vec![
            "Cache-Control",
            "Connection",
            "Content-Type",
            "Date",
            "Transfer-Encoding"
        ]
    );
    assert!(head.contains("Cache-Control: no-cache, no-store, must-revalidate\r\n"));
    assert!(head.contains("Content-Type: text/event-stream; charset=utf-8\r\n"));
    assert!(head.contains("Transfer-Encoding: chunked"));
    // Whole events in each chunk (as many as a wake-up drains: chunk boundaries are not event
    // boundaries to SSE clients, but the server never splits an event), ids from 0, and the
    // task event filtered out.
    let mut rest = body;
    let mut events = Vec::new();
    while !rest.is_empty() {
        let (size_line, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size_line.trim_end_matches(';'), 16).unwrap();
        let (chunk, after) = after.split_at(size);
        assert!(chunk.ends_with("\n\n"), "{chunk:?}");
        for event in chunk.split_terminator("\n\n") {
            events.push(event.lines().take(2).collect::<Vec<_>>().join("|"));
        }
        rest = after.strip_prefix("\r\n").unwrap();
    }
    assert_eq!(
        events,
        vec![
            "id: 0|event: desired_lrp_created",
            "id: 1|event: desired_lrp_created"
        ]
    );
    // Graceful shutdown ends the stream with the terminating chunk.
    server.shutdown.cancel();
    support::within(
        5,
        "terminating chunk",
        support::read_until(&mut stream, b"\r\n0\r\n\r\n", &mut got),
    )
    .await;
    support::within(5, "server stop", server.task)
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_routes_are_404_and_bad_cell_bodies_are_500() {
    let server = start().await;
    let mut got = Vec::new();
    let mut s = raw_request(server.addr, b"GET /v1/nope HTTP/1.1\r\nHost: bbs\r\n\r\n").await;
    support::within(5, "404", support::read_until(&mut s, b"\r\n\r\n", &mut got)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    got.clear();
    let mut s = raw_request(
        server.addr,
        b"POST /v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 3\r\n\r\n\x0a\x05c",
    )
    .await;
    support::within(5, "500", support::read_until(&mut s, b"\r\n\r\n", &mut got)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 500"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // The task route ignores the body.
    got.clear();
    let mut s = raw_request(
        server.addr,
        b"POST /v1/events/tasks HTTP/1.1\r\nHost: bbs\r\nContent-Length: 3\r\n\r\n\x0a\x05c",
    )
    .await;
    support::within(5, "200", support::read_until(&mut s, b"\r\n\r\n", &mut got)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    server.shutdown.cancel();
}

#[tokio::test]
async fn cell_filtering_keeps_desired_events_and_the_cells_own_instances() {
    let mut server = start().await;
    let client = Client::new(&format!("http://{}", server.addr)).unwrap();
    let mut on_a = client
        .subscribe_to_instance_events_by_cell_id("cell-a")
        .await
        .unwrap();
    let mut all = client.subscribe_to_instance_events().await.unwrap();
    let mut tasks = client.subscribe_to_task_events().await.unwrap();
    server.wait_for_subscribers(3).await;
    for event in [
        instance_created("on-b", "cell-b"),
        desired("desired"),
        task("task"),
        instance_created("on-a", "cell-a"),
    ] {
        server.hub.emit(event).unwrap();
    }
    let mut read = Vec::new();
    for _ in 0..2 {
        read.push(
            support::event(support::within(5, "event", on_a.next()).await)
                .event
                .key(),
        );
    }
    assert_eq!(read, vec!["desired", "on-a"]);
    let mut read = Vec::new();
    for _ in 0..3 {
        read.push(
            support::event(support::within(5, "event", all.next()).await)
                .event
                .key(),
        );
    }
    assert_eq!(read, vec!["on-b", "desired", "on-a"]);
    let first = support::event(support::within(5, "task", tasks.next()).await);
    assert_eq!(
        (first.id.as_deref(), first.event.key().as_str()),
        (Some("0"), "task")
    );
    server.shutdown.cancel();
}

#[tokio::test]
async fn the_opt_in_replay_window_resumes_after_last_event_id() {
    let hub = Hub::builder().replay_window(16).build();
    let server = Server::builder(hub.clone())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr();
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    for guid in ["d0", "d1", "d2"] {
        hub.emit(desired(guid)).unwrap();
    }
    // A client that saw id 0 before its connection broke gets 1 and 2, with the hub's ids.
    let mut stream = raw_request(
        addr,
        b"GET /v1/events.r1 HTTP/1.1\r\nHost: bbs\r\nLast-Event-ID: 0\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let mut got = Vec::new();
    support::within(
        5,
        "replayed events",
        support::read_until(
            &mut stream,
            b"id: 2\nevent: desired_lrp_created\n",
            &mut got,
        ),
    )
    .await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("id: 1\nevent: desired_lrp_created\n"),
        "{text}"
    );
    assert!(!text.contains("id: 0\n"), "{text}");
    shutdown.cancel();
}
