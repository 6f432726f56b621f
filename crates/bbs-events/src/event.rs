//! The typed BBS event, its wire names, and payload decoding and encoding.

/// The wire name of a BBS event (placeholder until the models land).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {}

/// A decoded BBS event (placeholder until the models land).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {}

/// A payload that could not be decoded (placeholder).
#[derive(Debug, thiserror::Error)]
#[error("invalid payload")]
pub struct DecodeError;
