//! Benchmarks of portcullis on the reference workload (`benches/workload/`): shared pieces of
//! the criterion benches (`benches/*.rs`) and the percentile harness (`src/main.rs`).
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod peer;
pub mod stats;
pub mod workload;
