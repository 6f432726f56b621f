//! Map fields keep their entries in wire order, so re-encoding a multi-entry map is byte-identical.

use bbs_events::models::{
    ActualLrp, MetricTagEntry, MetricTagValue, Network, ProtoRoutes, RouteEntry, StringEntry,
};
use bytes::Bytes;
use prost::Message as _;

fn s(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

#[test]
fn string_map_entries_round_trip_in_order() {
    let network = Network {
        properties: vec![
            StringEntry {
                key: s("zeta"),
                value: s("1"),
            },
            StringEntry {
                key: s("alpha"),
                value: Bytes::new(),
            },
            StringEntry {
                key: Bytes::new(),
                value: s("no key"),
            },
        ],
    };
    let bytes = network.encode_to_vec();
    let decoded = Network::decode(&bytes[..]).expect("decodes");
    assert_eq!(decoded, network);
    assert_eq!(decoded.encode_to_vec(), bytes);
}

#[test]
fn an_entry_without_key_or_value_on_the_wire_reads_as_empty_strings() {
    // ActualLRP.metric_tags (field 12) holding one entry with neither key nor value.
    let decoded = ActualLrp::decode(&b"\x62\x00"[..]).expect("decodes");
    assert_eq!(decoded.metric_tags, [StringEntry::default()]);
    // The BBS writes both key and value, so the re-encoded entry spells them out.
    let again = decoded.encode_to_vec();
    assert!(
        again.windows(6).any(|w| w == b"\x62\x04\x0a\x00\x12\x00"),
        "{again:?}"
    );
}

#[test]
fn route_and_metric_tag_entries_round_trip_in_order() {
    let routes = ProtoRoutes {
        routes: vec![
            RouteEntry {
                key: s("tcp-router"),
                value: s("[{\"port\":1}]"),
            },
            RouteEntry {
                key: s("cf-router"),
                value: Bytes::new(),
            },
        ],
    };
    let bytes = routes.encode_to_vec();
    assert_eq!(ProtoRoutes::decode(&bytes[..]).expect("decodes"), routes);

    let tags = vec![
        MetricTagEntry {
            key: s("b"),
            value: Some(MetricTagValue {
                dynamic: 1,
                ..Default::default()
            }),
        },
        MetricTagEntry {
            key: s("a"),
            value: None,
        },
        MetricTagEntry {
            key: s("c"),
            value: Some(MetricTagValue::default()),
        },
    ];
    let lrp = bbs_events::models::DesiredLrp {
        metric_tags: tags.clone(),
        ..Default::default()
    };
    let bytes = lrp.encode_to_vec();
    let decoded = bbs_events::models::DesiredLrp::decode(&bytes[..]).expect("decodes");
    assert_eq!(decoded.metric_tags, tags);
    assert_eq!(decoded.encode_to_vec(), bytes);
}

#[test]
fn a_repeated_key_keeps_its_last_value_in_json_like_a_map() {
    let network = Network {
        properties: vec![
            StringEntry {
                key: s("k"),
                value: s("first"),
            },
            StringEntry {
                key: s("k"),
                value: s("last"),
            },
        ],
    };
    assert_eq!(
        serde_json::to_value(&network).expect("serialises"),
        serde_json::json!({"properties": {"k": "last"}})
    );
}
