//! The routes without `.r1` serve desired LRPs and tasks downgraded to V0 exactly as the real BBS
//! does: the corpus served on each of them reproduces the real server's output (`tests/data/v0/`)
//! byte for byte, cell filters included, except for the two documented places where the real
//! server misbehaves.

#[path = "support/stream.rs"]
mod support;

use base64::Engine as _;
use bbs_events::models::Version;
use bbs_events::server::{Hub, Server};
use bbs_events::sse::SseParser;
use bbs_events::{Event, EventType};
use tokio_util::sync::CancellationToken;

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 in test data")
}

/// `(wire name, base64)` per line of a data file.
fn tsv(name: &str) -> Vec<(String, String)> {
    String::from_utf8(support::data(name))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (kind, payload) = l.split_once('\t').expect("tab-separated line");
            (kind.to_owned(), payload.to_owned())
        })
        .collect()
}

fn corpus(name: &str) -> Vec<Event> {
    tsv(name)
        .iter()
        .map(|(kind, payload)| {
            Event::decode(EventType::from_wire(kind).unwrap(), &b64(payload)).unwrap()
        })
        .collect()
}

/// Reads `count` events from `path` (with `body` as the request body) and returns them as
/// `(event, data)` pairs.
async fn read(url: &str, path: &str, body: Vec<u8>, count: usize) -> Vec<(String, String)> {
    let method = if path == "/v1/events" {
        reqwest::Method::GET
    } else {
        reqwest::Method::POST
    };
    let mut response = reqwest::Client::new()
        .request(method, format!("{url}{path}"))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    support::within(20, "the V0 events", async {
        while out.len() < count {
            while let Some(event) = parser.next_event() {
                let event = event.expect("well-formed SSE");
                out.push((event.event, String::from_utf8(event.data).unwrap()));
            }
            if out.len() >= count {
                break;
            }
            let chunk = response.chunk().await.expect("body").expect("more events");
            parser.push(&chunk);
        }
    })
    .await;
    out
}

fn cell_body(cell: &str) -> Vec<u8> {
    let mut body = vec![0x0a, cell.len() as u8];
    body.extend_from_slice(cell.as_bytes());
    body
}

/// The real server never sends a `task_changed` without `before` (it panics on it); flowgate
/// sends it. The real server also adds an empty `task_definition` to a task that has none;
/// flowgate does not.
fn without_real_server_quirks(got: Vec<(String, String)>) -> Vec<(String, String)> {
    got.into_iter()
        .filter(|(kind, data)| {
            let event = Event::decode(EventType::from_wire(kind).unwrap(), &b64(data)).unwrap();
            !matches!(&event, Event::TaskChanged(e) if e.before.is_none())
        })
        .collect()
}

fn with_empty_task_definitions(expected: Vec<(String, String)>) -> Vec<(String, String)> {
    expected
        .into_iter()
        .map(|(kind, data)| {
            let mut event =
                Event::decode(EventType::from_wire(&kind).unwrap(), &b64(&data)).unwrap();
            if let Event::TaskRemoved(e) = &mut event {
                if let Some(task) = e.task.as_deref_mut() {
                    if task.task_definition == Some(Default::default()) {
                        task.task_definition = None;
                    }
                }
            }
            let data = base64::engine::general_purpose::STANDARD.encode(event.encode_to_vec());
            (kind, data)
        })
        .collect()
}

#[tokio::test]
async fn the_corpus_on_each_route_without_r1_gives_the_real_v0_bytes() {
    let hub = Hub::new();
    let server = Server::builder(hub.clone())
        .preload(corpus("payloads.tsv"))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));

    let cells = [
        "5b40ad63-0d84-5ddd-8861-3c5e2b490764",
        "b83687ba-add1-5047-8888-52bbe7bd1909",
    ];
    let mut cases = vec![
        ("/v1/events", "p1-events.tsv".to_owned(), Vec::new()),
        (
            "/v1/events/lrp_instances",
            "p1-instances.tsv".to_owned(),
            Vec::new(),
        ),
    ];
    for cell in cells {
        cases.push((
            "/v1/events",
            format!("p1-events-{cell}.tsv"),
            cell_body(cell),
        ));
        cases.push((
            "/v1/events/lrp_instances",
            format!("p1-instances-{cell}.tsv"),
            cell_body(cell),
        ));
    }
    for (path, file, body) in cases {
        let expected = tsv(&format!("v0/{file}"));
        let got = read(&url, path, body, expected.len()).await;
        assert_eq!(got, expected, "{path} ({file})");
    }

    // The tasks route: one event more than the real server sends (its panic case), and no
    // invented task definition.
    let expected = tsv("v0/p1-tasks.tsv");
    let got = read(&url, "/v1/events/tasks", Vec::new(), expected.len() + 1).await;
    assert_eq!(
        without_real_server_quirks(got),
        with_empty_task_definitions(expected)
    );
    shutdown.cancel();
}

#[test]
fn every_corpus_event_downgrades_to_the_real_v0_payload() {
    let expected: Vec<String> = ["p1-events.tsv", "p1-instances.tsv", "p1-tasks.tsv"]
        .iter()
        .flat_map(|f| with_empty_task_definitions(tsv(&format!("v0/{f}"))))
        .map(|(_, data)| data)
        .collect();
    for (event, (kind, original)) in corpus("payloads.tsv").iter().zip(tsv("payloads.tsv")) {
        let v0 = event.version_down_to(Version::V0);
        if matches!(event, Event::TaskChanged(e) if e.before.is_none()) {
            continue;
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(v0.encode_to_vec());
        assert!(
            expected.contains(&encoded),
            "{kind} downgraded is not in the real server's V0 output"
        );
        // Downgrading is a no-op in the current version.
        assert_eq!(
            event.version_down_to(Version::V3).encode_to_vec(),
            b64(&original)
        );
    }
}

/// Desired LRPs and tasks made for the corner cases of the rules (emit-progress and try actions
/// nested in timeouts and groups, actions with two fields set, layers of every type and digest
/// algorithm including unknown ones, a start timeout beyond 32 bits, a timeout that overflows in
/// nanoseconds), with the real server's V0 output for them.
#[tokio::test]
async fn corner_cases_of_the_downgrade_match_the_real_server() {
    let hub = Hub::new();
    let server = Server::builder(hub.clone())
        .preload(corpus("v0/edge-payloads.tsv"))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    let expected = tsv("v0/edge-expected.tsv");
    let (lrps, tasks): (Vec<_>, Vec<_>) = expected
        .into_iter()
        .partition(|(kind, _)| kind.starts_with("desired_lrp"));
    assert_eq!(read(&url, "/v1/events", Vec::new(), lrps.len()).await, lrps);
    assert_eq!(
        read(&url, "/v1/events/tasks", Vec::new(), tasks.len()).await,
        tasks
    );
    shutdown.cancel();
}

/// Where the real server cannot encode the downgrade (an emit-progress action without an inner
/// action inside a group: it panics and drops the connection), flowgate keeps an empty action in
/// its place; a task without a definition keeps none.
#[test]
fn the_real_servers_failure_cases_downgrade_sanely() {
    use bbs_events::models::{
        Action, DesiredLrp, EmitProgressAction, SerialAction, Task, TaskCreatedEvent,
    };
    let lrp = DesiredLrp {
        action: Some(Action {
            serial_action: Some(Box::new(SerialAction {
                actions: vec![Action {
                    emit_progress_action: Some(Box::new(EmitProgressAction::default())),
                    ..Action::default()
                }],
                ..SerialAction::default()
            })),
            ..Action::default()
        }),
        ..DesiredLrp::default()
    };
    let v0 = lrp.version_down_to(Version::V0);
    let serial = v0.action.as_ref().unwrap().serial_action.as_ref().unwrap();
    assert_eq!(serial.actions, vec![Action::default()]);

    let event = Event::TaskCreated(TaskCreatedEvent {
        task: Some(Box::new(Task::default())),
    });
    assert_eq!(*event.version_down_to(Version::V0), event);
}

/// A client set to V0 subscribes on the routes without `.r1` and decodes the downgraded events
/// as the same types.
#[tokio::test]
async fn a_v0_client_receives_the_downgraded_events() {
    let events: Vec<Event> = corpus("v0/edge-payloads.tsv");
    let hub = Hub::new();
    let server = Server::builder(hub.clone())
        .preload(events.clone())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("http://{}", server.local_addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    let client = bbs_events::client::Client::builder(&url)
        .model_version(Version::V0)
        .build()
        .unwrap();
    let mut tasks = client.subscribe_to_task_events().await.unwrap();
    for event in events
        .iter()
        .filter(|e| e.event_type() == EventType::TaskCreated)
    {
        let received = support::within(10, "a V0 task event", tasks.next()).await;
        let received = received.unwrap().into_event().expect("an event");
        assert_eq!(received.event, *event.version_down_to(Version::V0));
    }
    shutdown.cancel();
}
