//! A fixed, provisioned capacity for the flowgate batcher.
//!
//! This crate is being built; see the workspace README.
#![forbid(unsafe_code)]

#[doc(no_inline)]
pub use events_core;
