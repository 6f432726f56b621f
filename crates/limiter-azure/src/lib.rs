//! Capacity shared across processes through Azure Blob leases.
//!
//! This crate is being built; see the workspace README.
#![forbid(unsafe_code)]

#[doc(no_inline)]
pub use events_core;
