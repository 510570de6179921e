//! Benchmarks of portcullis on the reference workload (`benches/workload/`): shared pieces of
//! the criterion benches (`benches/*.rs`) and the percentile harness (`src/main.rs`).

pub mod peer;
pub mod stats;
pub mod workload;
