//! Serialisation (serde) is the proto3 JSON mapping with the .proto field names.

use bbs_events::Event;
use bbs_events::models::{
    ActualLrp, ActualLrpInfo, ActualLrpInstanceChangedEvent, ActualLrpInstanceCreatedEvent,
    DesiredLrp, DesiredLrpCreatedEvent, MetricTagEntry, MetricTagValue, Presence, ProtoRoutes,
    ResourceLimits, RouteEntry, RunAction, StringEntry, UpdateStrategy,
};
use bytes::Bytes;
use serde_json::json;

fn s(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

#[test]
fn defaults_are_left_out_and_required_sub_messages_are_empty_objects() {
    let event = Event::ActualLrpInstanceCreated(ActualLrpInstanceCreatedEvent {
        actual_lrp: Some(Box::default()),
        trace_id: Bytes::new(),
    });
    assert_eq!(
        serde_json::to_value(&event).expect("serialises"),
        json!({"actual_lrp": {
            "actual_lrp_key": {}, "actual_lrp_instance_key": {}, "actual_lrp_net_info": {}, "modification_tag": {}
        }})
    );
}

#[test]
fn sixty_four_bit_integers_are_strings_and_presence_fields_show_false_and_zero() {
    let lrp = ActualLrp {
        since: -1,
        crash_count: -5,
        routable: Some(false),
        ..Default::default()
    };
    let json = serde_json::to_value(&lrp).expect("serialises");
    assert_eq!(json["since"], "-1");
    assert_eq!(json["crash_count"], -5);
    assert_eq!(json["routable"], false);

    let info = ActualLrpInfo {
        routable: Some(true),
        ..Default::default()
    };
    let json = serde_json::to_value(&info).expect("serialises");
    assert_eq!(
        json["Routable"], true,
        "ActualLRPInfo spells it with a capital R"
    );

    let limits = ResourceLimits {
        nofile: Some(0),
        nproc: None,
    };
    assert_eq!(
        serde_json::to_value(&limits).expect("serialises"),
        json!({"nofile": "0"})
    );
}

#[test]
fn enums_are_names_and_unknown_values_are_numbers() {
    let lrp = ActualLrp {
        presence: Presence::Evacuating as i32,
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&lrp).expect("serialises")["presence"],
        "EVACUATING"
    );
    let lrp = ActualLrp {
        presence: 42,
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&lrp).expect("serialises")["presence"],
        42
    );
    let lrp = DesiredLrp {
        update_strategy: UpdateStrategy::Recreate as i32,
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&lrp).expect("serialises")["update_strategy"],
        "RECREATE"
    );
}

#[test]
fn maps_are_objects_bytes_are_base64_and_field_names_are_the_proto_names() {
    let lrp = DesiredLrp {
        placement_tags: vec![s("a"), Bytes::new()],
        routes: Some(ProtoRoutes {
            routes: vec![RouteEntry {
                key: s("cf-router"),
                value: s("[]"),
            }],
        }),
        metric_tags: vec![
            MetricTagEntry {
                key: s("source_id"),
                value: Some(MetricTagValue {
                    r#static: s("x"),
                    dynamic: 0,
                }),
            },
            MetricTagEntry {
                key: s("missing"),
                value: None,
            },
        ],
        action: Some(bbs_events::models::Action {
            run_action: Some(Box::new(RunAction {
                path: s("/bin/true"),
                ..Default::default()
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let event = Event::DesiredLrpCreated(DesiredLrpCreatedEvent {
        desired_lrp: Some(Box::new(lrp)),
        trace_id: s("t"),
    });
    assert_eq!(
        serde_json::to_value(&event).expect("serialises"),
        json!({
            "desired_lrp": {
                "PlacementTags": ["a", ""],
                "routes": {"routes": {"cf-router": "W10="}},
                "metric_tags": {"source_id": {"static": "x"}, "missing": {}},
                "action": {"run_action": {"path": "/bin/true"}},
            },
            "trace_id": "t",
        })
    );
}

#[test]
fn string_maps_write_empty_keys_and_values_and_route_maps_leave_out_empty_values() {
    use prost::Message as _;
    let entry = StringEntry::default();
    assert_eq!(entry.encode_to_vec(), b"\x0a\x00\x12\x00");
    let route = RouteEntry {
        key: s("r"),
        value: Bytes::new(),
    };
    assert_eq!(route.encode_to_vec(), b"\x0a\x01r");
    let tag = MetricTagEntry {
        key: s("k"),
        value: Some(MetricTagValue::default()),
    };
    assert_eq!(tag.encode_to_vec(), b"\x0a\x01k\x12\x00");
    let nil = MetricTagEntry {
        key: s("k"),
        value: None,
    };
    assert_eq!(nil.encode_to_vec(), b"\x0a\x01k");
}

#[test]
fn the_instance_changed_event_always_writes_its_keys() {
    let event = Event::ActualLrpInstanceChanged(ActualLrpInstanceChangedEvent::default());
    assert_eq!(event.encode_to_vec(), b"\x0a\x00\x12\x00");
}
