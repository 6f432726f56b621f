//! A client and server for the Cloud Foundry BBS event stream, wire-compatible with a real BBS.
//!
//! (Crate documentation and example to be completed.)
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
mod event;
pub mod models;
pub mod server;
pub mod sse;

#[doc(inline)]
pub use crate::event::{CellFilterError, DecodeError, Event, EventType, UnknownEventType};
