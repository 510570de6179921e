//! Policy load + compile (`Engine::new`) and policy swap (`update_policy` on an engine that
//! already holds the same rules, so counters carry over) per policy size.
#![expect(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark stops at its first failure; its panic is the report"
)]
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use portcullis_bench::workload;
use std::hint::black_box;
use std::time::Duration;

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    for name in ["ref", "1k", "10k"] {
        let policy = workload::policy(name).expect("policy");
        group.bench_function(BenchmarkId::new("load", name), |b| {
            b.iter(|| black_box(workload::engine(black_box(&policy)).expect("loads")))
        });
        let versions = [
            workload::with_version(&policy, "a").expect("policy"),
            workload::with_version(&policy, "b").expect("policy"),
        ];
        let engine = workload::engine(&policy).expect("engine");
        let mut k = 0usize;
        group.bench_function(BenchmarkId::new("swap", name), |b| {
            b.iter(|| {
                k += 1;
                engine.update_policy(&versions[k % 2]).expect("swaps")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
