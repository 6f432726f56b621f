//! Event types carry their wire names, `key()` gives what the BBS's `Key()` gives, and the cell filter
//! follows the BBS LRP routes.

#[path = "support/models.rs"]
mod models;

use std::collections::HashSet;

use bbs_events::models::{
    ActualLrp, ActualLrpChangedEvent, ActualLrpCrashedEvent, ActualLrpCreatedEvent, ActualLrpGroup,
    ActualLrpInstanceChangedEvent, ActualLrpInstanceCreatedEvent, ActualLrpInstanceKey,
    ActualLrpInstanceRemovedEvent, ActualLrpRemovedEvent, DesiredLrp, DesiredLrpChangedEvent,
    DesiredLrpCreatedEvent, DesiredLrpRemovedEvent, EventsByCellId, Task, TaskChangedEvent,
    TaskCreatedEvent, TaskRemovedEvent,
};
use bbs_events::{Event, EventType};
use bytes::Bytes;
use prost::Message as _;

const WIRE_NAMES: [&str; 13] = [
    "desired_lrp_created",
    "desired_lrp_changed",
    "desired_lrp_removed",
    "actual_lrp_created",
    "actual_lrp_changed",
    "actual_lrp_removed",
    "actual_lrp_crashed",
    "actual_lrp_instance_created",
    "actual_lrp_instance_changed",
    "actual_lrp_instance_removed",
    "task_created",
    "task_changed",
    "task_removed",
];

#[test]
fn every_event_type_has_its_wire_name_and_parses_back() {
    assert_eq!(EventType::ALL.len(), 13);
    let distinct: HashSet<_> = EventType::ALL.iter().collect();
    assert_eq!(distinct.len(), 13);
    for (event_type, name) in EventType::ALL.iter().zip(WIRE_NAMES) {
        assert_eq!(event_type.as_str(), name);
        assert_eq!(event_type.to_string(), name);
        assert_eq!(EventType::from_wire(name), Some(*event_type));
        assert_eq!(name.parse::<EventType>(), Ok(*event_type));
    }
}

#[test]
fn unknown_event_names_are_not_event_types() {
    for name in [
        "",
        "desired_lrp_updated",
        "DESIRED_LRP_CREATED",
        "task_created ",
        "lrp_instance_created",
    ] {
        assert_eq!(EventType::from_wire(name), None, "{name:?}");
        let err = name.parse::<EventType>().expect_err("not an event type");
        assert_eq!(err.name(), name);
        assert!(err.to_string().contains("unknown BBS event type"), "{err}");
    }
}

fn s(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

fn lrp(instance_guid: &'static str, cell: &'static str, state: &'static str) -> ActualLrp {
    ActualLrp {
        actual_lrp_instance_key: ActualLrpInstanceKey {
            instance_guid: s(instance_guid),
            cell_id: s(cell),
        },
        state: s(state),
        ..Default::default()
    }
}

fn group(
    instance: Option<ActualLrp>,
    evacuating: Option<ActualLrp>,
) -> Option<Box<ActualLrpGroup>> {
    Some(Box::new(ActualLrpGroup {
        instance,
        evacuating,
    }))
}

fn desired(guid: &'static str) -> Option<Box<DesiredLrp>> {
    Some(Box::new(DesiredLrp {
        process_guid: s(guid),
        ..Default::default()
    }))
}

fn task(guid: &'static str, cell: &'static str) -> Option<Box<Task>> {
    Some(Box::new(Task {
        task_guid: s(guid),
        cell_id: s(cell),
        ..Default::default()
    }))
}

fn instance_key(guid: &'static str, cell: &'static str) -> ActualLrpInstanceKey {
    ActualLrpInstanceKey {
        instance_guid: s(guid),
        cell_id: s(cell),
    }
}

/// One event of each type, every actual-LRP one on `cell-a`, with its expected key.
fn one_of_each() -> Vec<(Event, &'static str)> {
    vec![
        (
            Event::DesiredLrpCreated(DesiredLrpCreatedEvent {
                desired_lrp: desired("pg-1"),
                ..Default::default()
            }),
            "pg-1",
        ),
        (
            Event::DesiredLrpChanged(DesiredLrpChangedEvent {
                before: desired("pg-before"),
                after: desired("pg-after"),
                ..Default::default()
            }),
            "pg-before",
        ),
        (
            Event::DesiredLrpRemoved(DesiredLrpRemovedEvent {
                desired_lrp: desired("pg-3"),
                ..Default::default()
            }),
            "pg-3",
        ),
        (
            Event::ActualLrpCreated(ActualLrpCreatedEvent {
                actual_lrp_group: group(Some(lrp("ig-1", "cell-a", "CLAIMED")), None),
            }),
            "ig-1",
        ),
        (
            Event::ActualLrpChanged(ActualLrpChangedEvent {
                before: group(Some(lrp("ig-before", "cell-a", "CLAIMED")), None),
                after: group(Some(lrp("ig-after", "cell-a", "RUNNING")), None),
            }),
            "ig-before",
        ),
        (
            Event::ActualLrpRemoved(ActualLrpRemovedEvent {
                actual_lrp_group: group(None, Some(lrp("ig-evac", "cell-a", "RUNNING"))),
            }),
            "ig-evac",
        ),
        (
            Event::ActualLrpCrashed(ActualLrpCrashedEvent {
                actual_lrp_instance_key: instance_key("ig-crashed", "cell-a"),
                ..Default::default()
            }),
            "ig-crashed",
        ),
        (
            Event::ActualLrpInstanceCreated(ActualLrpInstanceCreatedEvent {
                actual_lrp: Some(Box::new(lrp("ig-new", "cell-a", "UNCLAIMED"))),
                ..Default::default()
            }),
            "ig-new",
        ),
        (
            Event::ActualLrpInstanceChanged(ActualLrpInstanceChangedEvent {
                actual_lrp_instance_key: instance_key("ig-changed", "cell-a"),
                ..Default::default()
            }),
            "ig-changed",
        ),
        (
            Event::ActualLrpInstanceRemoved(ActualLrpInstanceRemovedEvent {
                actual_lrp: Some(Box::new(lrp("ig-gone", "cell-a", "RUNNING"))),
                ..Default::default()
            }),
            "ig-gone",
        ),
        (
            Event::TaskCreated(TaskCreatedEvent {
                task: task("tg-1", "cell-a"),
            }),
            "tg-1",
        ),
        (
            Event::TaskChanged(TaskChangedEvent {
                before: task("tg-before", "cell-a"),
                after: task("tg-after", "cell-a"),
            }),
            "tg-before",
        ),
        (
            Event::TaskRemoved(TaskRemovedEvent {
                task: task("tg-3", "cell-a"),
            }),
            "tg-3",
        ),
    ]
}

#[test]
fn event_type_and_key_are_right_for_all_thirteen_types() {
    let events = one_of_each();
    assert_eq!(events.len(), 13);
    for ((event, key), event_type) in events.iter().zip(EventType::ALL) {
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.key(), *key, "{event_type}");
        // The key survives the wire.
        let decoded = Event::decode(event_type, &event.encode_to_vec()).expect("round trip");
        assert_eq!(decoded.key(), *key, "{event_type} after a round trip");
    }
}

#[test]
fn key_is_empty_when_the_event_does_not_carry_it() {
    for event_type in EventType::ALL {
        let empty = Event::decode(event_type, &[]).expect("decodes");
        assert_eq!(empty.key(), "", "{event_type}");
    }
    let neither = Event::ActualLrpCreated(ActualLrpCreatedEvent {
        actual_lrp_group: group(None, None),
    });
    assert_eq!(neither.key(), "");
}

#[test]
fn key_of_corpus_events_matches_their_decoded_json() {
    for case in models::expected() {
        let event = Event::decode(case.event_type, &case.payload).expect("decodes");
        let j = &case.json;
        let resolve = |g: &serde_json::Value| -> serde_json::Value {
            match (g.get("instance"), g.get("evacuating")) {
                (Some(i), Some(e)) => {
                    let state = i["state"].as_str().unwrap_or("");
                    if state == "RUNNING" || state == "CRASHED" {
                        i.clone()
                    } else {
                        e.clone()
                    }
                }
                (Some(i), None) => i.clone(),
                (None, Some(e)) => e.clone(),
                (None, None) => serde_json::Value::Null,
            }
        };
        let expected = match case.event_type {
            EventType::DesiredLrpCreated | EventType::DesiredLrpRemoved => {
                j["desired_lrp"]["process_guid"].clone()
            }
            EventType::DesiredLrpChanged => j["before"]["process_guid"].clone(),
            EventType::ActualLrpCreated | EventType::ActualLrpRemoved => {
                resolve(&j["actual_lrp_group"])["actual_lrp_instance_key"]["instance_guid"].clone()
            }
            EventType::ActualLrpChanged => {
                resolve(&j["before"])["actual_lrp_instance_key"]["instance_guid"].clone()
            }
            EventType::ActualLrpCrashed | EventType::ActualLrpInstanceChanged => {
                j["actual_lrp_instance_key"]["instance_guid"].clone()
            }
            EventType::ActualLrpInstanceCreated | EventType::ActualLrpInstanceRemoved => {
                j["actual_lrp"]["actual_lrp_instance_key"]["instance_guid"].clone()
            }
            EventType::TaskCreated | EventType::TaskRemoved => j["task"]["task_guid"].clone(),
            EventType::TaskChanged => j["before"]["task_guid"].clone(),
            other => panic!("no key rule in this test for {other}"),
        };
        assert_eq!(
            event.key(),
            expected.as_str().unwrap_or(""),
            "event {} ({})",
            case.id,
            case.event_type
        );
    }
}

#[test]
fn an_empty_cell_id_lets_every_event_through() {
    for (event, _) in one_of_each() {
        assert_eq!(event.matches_cell(""), Ok(true));
    }
    let neither = Event::ActualLrpRemoved(ActualLrpRemovedEvent {
        actual_lrp_group: group(None, None),
    });
    assert_eq!(
        neither.matches_cell(""),
        Ok(true),
        "no filter means no resolution"
    );
}

#[test]
fn desired_lrp_and_task_events_always_pass_the_cell_filter() {
    for (event, _) in one_of_each() {
        let always = matches!(
            event.event_type(),
            EventType::DesiredLrpCreated
                | EventType::DesiredLrpChanged
                | EventType::DesiredLrpRemoved
                | EventType::TaskCreated
                | EventType::TaskChanged
                | EventType::TaskRemoved
        );
        assert_eq!(
            event.matches_cell("cell-a"),
            Ok(true),
            "{}",
            event.event_type()
        );
        assert_eq!(
            event.matches_cell("cell-b"),
            Ok(always),
            "{}",
            event.event_type()
        );
    }
}

#[test]
fn group_events_filter_on_the_resolved_lrp() {
    let created = |g| {
        Event::ActualLrpCreated(ActualLrpCreatedEvent {
            actual_lrp_group: g,
        })
    };
    let removed = |g| {
        Event::ActualLrpRemoved(ActualLrpRemovedEvent {
            actual_lrp_group: g,
        })
    };
    for make in [created, removed] {
        // Only an instance, or only an evacuating LRP: that one.
        let only_instance = make(group(Some(lrp("i", "cell-a", "CLAIMED")), None));
        assert_eq!(only_instance.matches_cell("cell-a"), Ok(true));
        assert_eq!(only_instance.matches_cell("cell-b"), Ok(false));
        let only_evacuating = make(group(None, Some(lrp("e", "cell-b", "RUNNING"))));
        assert_eq!(only_evacuating.matches_cell("cell-b"), Ok(true));
        assert_eq!(only_evacuating.matches_cell("cell-a"), Ok(false));
        // Both: the instance when RUNNING or CRASHED, else the evacuating one.
        for (state, winner, loser) in [
            ("RUNNING", "cell-a", "cell-b"),
            ("CRASHED", "cell-a", "cell-b"),
            ("CLAIMED", "cell-b", "cell-a"),
            ("UNCLAIMED", "cell-b", "cell-a"),
        ] {
            let both = make(group(
                Some(lrp("i", "cell-a", state)),
                Some(lrp("e", "cell-b", "RUNNING")),
            ));
            assert_eq!(both.matches_cell(winner), Ok(true), "instance {state}");
            assert_eq!(both.matches_cell(loser), Ok(false), "instance {state}");
        }
    }
}

#[test]
fn a_group_with_neither_instance_nor_evacuating_is_a_cell_filter_error() {
    let cases = [
        Event::ActualLrpCreated(ActualLrpCreatedEvent {
            actual_lrp_group: group(None, None),
        }),
        Event::ActualLrpRemoved(ActualLrpRemovedEvent {
            actual_lrp_group: group(None, None),
        }),
        Event::ActualLrpCreated(ActualLrpCreatedEvent {
            actual_lrp_group: None,
        }),
        Event::ActualLrpChanged(ActualLrpChangedEvent {
            before: group(None, None),
            after: group(Some(lrp("i", "cell-a", "RUNNING")), None),
        }),
        Event::ActualLrpChanged(ActualLrpChangedEvent {
            before: group(Some(lrp("i", "cell-a", "RUNNING")), None),
            after: None,
        }),
    ];
    for event in cases {
        let err = event
            .matches_cell("cell-a")
            .expect_err("a group with neither LRP cannot be filtered");
        assert_eq!(err.event_type(), event.event_type());
        let message = err.to_string();
        assert!(
            message.contains("neither an instance nor an evacuating"),
            "{message}"
        );
        assert!(message.contains(event.event_type().as_str()), "{message}");
    }
}

#[test]
fn changed_group_events_pass_when_before_or_after_is_on_the_cell() {
    let moved = Event::ActualLrpChanged(ActualLrpChangedEvent {
        before: group(Some(lrp("i", "cell-a", "CLAIMED")), None),
        after: group(
            Some(lrp("i", "cell-b", "RUNNING")),
            Some(lrp("e", "cell-c", "RUNNING")),
        ),
    });
    assert_eq!(moved.matches_cell("cell-a"), Ok(true));
    assert_eq!(moved.matches_cell("cell-b"), Ok(true));
    assert_eq!(
        moved.matches_cell("cell-c"),
        Ok(false),
        "the after group resolves to its RUNNING instance"
    );
}

#[test]
fn crashed_and_instance_changed_events_use_their_own_instance_key() {
    let crashed = Event::ActualLrpCrashed(ActualLrpCrashedEvent {
        actual_lrp_instance_key: instance_key("i", "cell-a"),
        ..Default::default()
    });
    let changed = Event::ActualLrpInstanceChanged(ActualLrpInstanceChangedEvent {
        actual_lrp_instance_key: instance_key("i", "cell-a"),
        ..Default::default()
    });
    for event in [crashed, changed] {
        assert_eq!(event.matches_cell("cell-a"), Ok(true));
        assert_eq!(event.matches_cell("cell-b"), Ok(false));
    }
}

#[test]
fn instance_created_and_removed_events_use_the_instance_key_of_their_lrp() {
    let created = |l| {
        Event::ActualLrpInstanceCreated(ActualLrpInstanceCreatedEvent {
            actual_lrp: l,
            ..Default::default()
        })
    };
    let removed = |l| {
        Event::ActualLrpInstanceRemoved(ActualLrpInstanceRemovedEvent {
            actual_lrp: l,
            ..Default::default()
        })
    };
    for make in [created, removed] {
        let on_a = make(Some(Box::new(lrp("i", "cell-a", "RUNNING"))));
        assert_eq!(on_a.matches_cell("cell-a"), Ok(true));
        assert_eq!(on_a.matches_cell("cell-b"), Ok(false));
        assert_eq!(
            make(None).matches_cell("cell-a"),
            Ok(false),
            "no LRP is on no cell"
        );
    }
}

#[test]
fn the_subscription_body_encodes_like_the_go_client() {
    assert!(
        EventsByCellId::default().encode_to_vec().is_empty(),
        "an empty cell id is zero bytes"
    );
    let body = EventsByCellId {
        cell_id: s("cell-a"),
    }
    .encode_to_vec();
    assert_eq!(body, b"\x0a\x06cell-a");
    assert_eq!(
        EventsByCellId::decode(&body[..]).expect("decodes").cell_id,
        "cell-a"
    );
}

#[test]
fn a_group_resolves_like_the_bbs() {
    let instance = lrp("i", "cell-a", "CLAIMED");
    let evacuating = lrp("e", "cell-b", "RUNNING");
    let resolved = |g: Option<Box<ActualLrpGroup>>| {
        g.expect("group").resolve().map(|(l, evac)| {
            (
                String::from_utf8_lossy(&l.actual_lrp_instance_key.instance_guid).into_owned(),
                evac,
            )
        })
    };
    assert_eq!(resolved(group(None, None)), None);
    assert_eq!(
        resolved(group(Some(instance.clone()), None)),
        Some(("i".into(), false))
    );
    assert_eq!(
        resolved(group(None, Some(evacuating.clone()))),
        Some(("e".into(), true))
    );
    assert_eq!(
        resolved(group(Some(instance), Some(evacuating.clone()))),
        Some(("e".into(), true))
    );
    let running = lrp("i", "cell-a", "RUNNING");
    assert_eq!(
        resolved(group(Some(running), Some(evacuating))),
        Some(("i".into(), false))
    );
}
