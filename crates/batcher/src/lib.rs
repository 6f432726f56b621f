//! Cost-aware batching of operations under a rate limit.
//!
//! This crate is being built; see the workspace README.
#![forbid(unsafe_code)]

#[doc(no_inline)]
pub use events_core;
