//! Evaluation cost per policy size: the reference policy (100 rules) and the generated
//! 1,000- and 10,000-rule policies, on the 1,000 reference actions in turn, with actions as
//! parsed values and as JSON text. Each iteration evaluates the next action and moves the
//! manual clock 10 ms (an atomic store, inside the measured time).
#![expect(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark stops at its first failure; its panic is the report"
)]
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use portcullis_bench::workload::{self, START_MS, STEP_MS};
use std::hint::black_box;
use std::time::Duration;

fn evaluate(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    for name in ["ref", "1k", "10k"] {
        let w = workload::load(name).expect("workload");
        let count = w.actions.len();
        for json in [false, true] {
            let engine = workload::engine(&w.policy).expect("engine");
            let mut i = 0usize;
            let mode = if json { "json" } else { "value" };
            group.bench_function(BenchmarkId::new(mode, name), |b| {
                b.iter(|| {
                    let k = i % count;
                    let d = if json {
                        engine.evaluate_json(&w.texts[k])
                    } else {
                        engine.evaluate_value(&w.actions[k])
                    };
                    i += 1;
                    let _ = engine.set_time(START_MS + i as i64 * STEP_MS);
                    black_box(d)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
