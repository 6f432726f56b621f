//! Shared helpers for flowgate's criterion benchmarks.
//!
//! The benchmarks live in `benches/benches/`; run them with `cargo xtask bench`.
#![forbid(unsafe_code)]

pub mod azure;
pub mod batcher;
pub mod bbs;
pub mod report;
pub mod resources;
