//! The bbs-events command line (placeholder).
fn main() {}
