//! Serde helpers that give the messages the proto3 JSON mapping: 64-bit integers as strings, enums as
//! names, bytes as base64, strings decoded lossily, and maps as objects.

use base64::Engine as _;
use bytes::Bytes;
use serde::ser::{SerializeMap, Serializer};

use super::ProtoEnum;

/// Whether a scalar holds its proto3 default, which the JSON mapping leaves out.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Whether a string or bytes field is empty, which the JSON mapping leaves out.
pub(crate) fn is_empty(value: &Bytes) -> bool {
    value.is_empty()
}

/// A protobuf `string` kept as raw bytes; invalid UTF-8 becomes U+FFFD in JSON.
pub(crate) fn string<S: Serializer>(value: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(value))
}

/// A repeated protobuf `string`.
pub(crate) fn strings<S: Serializer>(values: &[Bytes], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(|v| String::from_utf8_lossy(v)))
}

/// A protobuf `bytes` value: standard padded base64.
pub(crate) fn base64<S: Serializer>(value: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(value))
}

/// An `int64`: a decimal string.
pub(crate) fn int64<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// A `uint64`: a decimal string.
pub(crate) fn uint64<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// A `uint64` with presence: a decimal string when set.
pub(crate) fn opt_uint64<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// An enum: its value name, or the number for a value this schema does not know.
pub(crate) fn enumeration<E: ProtoEnum, S: Serializer>(
    value: &i32,
    s: S,
) -> Result<S::Ok, S::Error> {
    match E::name_of(*value) {
        Some(name) => s.serialize_str(name),
        None => s.serialize_i32(*value),
    }
}

/// A map field kept as its entries: a JSON object (a repeated key keeps its last value, as in a map).
pub(crate) fn map<E: JsonMapEntry, S: Serializer>(entries: &[E], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(entries.len()))?;
    for entry in entries {
        entry.serialize_entry(&mut map)?;
    }
    map.end()
}

/// A map entry that knows how to write itself into a JSON object.
pub(crate) trait JsonMapEntry {
    /// Writes the key and value.
    fn serialize_entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
}

/// Serialises a `Bytes` string lossily as a map key or value.
pub(crate) struct Lossy<'a>(pub(crate) &'a Bytes);

impl serde::Serialize for Lossy<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        string(self.0, s)
    }
}

/// Serialises `Bytes` as base64 as a map value.
pub(crate) struct Base64<'a>(pub(crate) &'a Bytes);

impl serde::Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64(self.0, s)
    }
}
