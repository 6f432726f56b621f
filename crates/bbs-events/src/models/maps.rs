//! Map fields, kept as their entries in wire order.
//!
//! A protobuf map is a repeated entry message on the wire. Keeping the entries (rather than a hash map)
//! keeps their order, so re-encoding is byte-identical, and lets each entry type write exactly what the
//! BBS writes: string-to-string entries always write key and value, route entries leave an empty value
//! out, and metric-tag entries leave out a missing value.

use bytes::{Buf, BufMut, Bytes};
use prost::DecodeError;
use prost::encoding::{self, DecodeContext, WireType};
use serde::ser::SerializeMap;

use super::MetricTagValue;
use super::ser::{Base64, JsonMapEntry, Lossy};

/// An entry of a `map<string, string>` (`Network.properties`, `ActualLRP.metric_tags`).
///
/// Both key and value are always written, even when empty, as the BBS does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StringEntry {
    /// The key.
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
}

impl prost::Message for StringEntry {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encoding::bytes::encode(1, &self.key, buf);
        encoding::bytes::encode(2, &self.value, buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::bytes::merge(wire_type, &mut self.key, buf, ctx),
            2 => encoding::bytes::merge(wire_type, &mut self.value, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        encoding::bytes::encoded_len(1, &self.key) + encoding::bytes::encoded_len(2, &self.value)
    }

    fn clear(&mut self) {
        *self = StringEntry::default();
    }
}

impl JsonMapEntry for StringEntry {
    fn serialize_entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry(&Lossy(&self.key), &Lossy(&self.value))
    }
}

/// An entry of `ProtoRoutes.routes` (`map<string, bytes>`): a router name and its raw JSON routes.
///
/// The key is always written; an empty value is left out, as the BBS does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteEntry {
    /// The router name, e.g. `cf-router`.
    pub key: Bytes,
    /// The routes of that router, usually JSON.
    pub value: Bytes,
}

impl prost::Message for RouteEntry {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encoding::bytes::encode(1, &self.key, buf);
        if !self.value.is_empty() {
            encoding::bytes::encode(2, &self.value, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::bytes::merge(wire_type, &mut self.key, buf, ctx),
            2 => encoding::bytes::merge(wire_type, &mut self.value, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let value = if self.value.is_empty() {
            0
        } else {
            encoding::bytes::encoded_len(2, &self.value)
        };
        encoding::bytes::encoded_len(1, &self.key) + value
    }

    fn clear(&mut self) {
        *self = RouteEntry::default();
    }
}

impl JsonMapEntry for RouteEntry {
    fn serialize_entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry(&Lossy(&self.key), &Base64(&self.value))
    }
}

/// An entry of a `map<string, MetricTagValue>` (`DesiredLRP.metric_tags`, `TaskDefinition.metric_tags`).
///
/// The key is always written; the value is written whenever it is present, even when empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricTagEntry {
    /// The tag name.
    pub key: Bytes,
    /// The tag value; `None` when the entry carried no value.
    pub value: Option<MetricTagValue>,
}

impl prost::Message for MetricTagEntry {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        encoding::bytes::encode(1, &self.key, buf);
        if let Some(value) = &self.value {
            encoding::message::encode(2, value, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::bytes::merge(wire_type, &mut self.key, buf, ctx),
            2 => encoding::message::merge(
                wire_type,
                self.value.get_or_insert_with(MetricTagValue::default),
                buf,
                ctx,
            ),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let value = self
            .value
            .as_ref()
            .map_or(0, |v| encoding::message::encoded_len(2, v));
        encoding::bytes::encoded_len(1, &self.key) + value
    }

    fn clear(&mut self) {
        *self = MetricTagEntry::default();
    }
}

impl JsonMapEntry for MetricTagEntry {
    fn serialize_entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        // A missing value reads as an empty message, as in any proto3 map.
        let empty = MetricTagValue::default();
        map.serialize_entry(&Lossy(&self.key), self.value.as_ref().unwrap_or(&empty))
    }
}
