//! A client and server for the Cloud Foundry BBS event stream.
//!
//! This crate is being built; see the workspace README.
#![forbid(unsafe_code)]

#[doc(no_inline)]
pub use events_core;
