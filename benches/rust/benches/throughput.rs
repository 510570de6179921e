//! Throughput of one engine shared by 1 and 2 threads on the reference workload, without and
//! with a policy swap every millisecond (a third thread alternates two versions of the same
//! rules). One iteration is one evaluation, whichever thread makes it: criterion's time per
//! iteration is wall time divided by evaluations, so 2 threads that scale show half the time
//! of 1. Thread 0 moves the manual clock forward, once every `CLOCK_BATCH` of its actions (a
//! write on every call would make the other thread's clock reads miss the cache, a cost the
//! system clock does not have), continuing where the previous sample left it.
#![expect(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark stops at its first failure; its panic is the report"
)]
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use portcullis::Engine;
use portcullis_bench::workload::{self, Workload, STEP_MS};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const CLOCK_BATCH: usize = 16;

fn run(
    engine: &Engine,
    w: &Workload,
    versions: &[Vec<u8>; 2],
    threads: usize,
    swap: bool,
    iters: u64,
) -> Duration {
    let count = w.actions.len();
    let per_thread = (iters as usize).div_ceil(threads);
    let done = AtomicBool::new(false);
    let ready = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let swapper = swap.then(|| {
            s.spawn(|| {
                let mut next = Instant::now();
                let mut k = 0usize;
                while !done.load(Ordering::Relaxed) {
                    next += Duration::from_millis(1);
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    engine.update_policy(&versions[k % 2]).expect("swaps");
                    k += 1;
                }
            })
        });
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let ready = &ready;
                s.spawn(move || {
                    let offset = t * count / threads;
                    ready.wait();
                    let base = engine.now_ms();
                    for i in 0..per_thread {
                        black_box(engine.evaluate_value(&w.actions[(offset + i) % count]));
                        if t == 0 && i % CLOCK_BATCH == CLOCK_BATCH - 1 {
                            let step =
                                (i / CLOCK_BATCH + 1) as i64 * (CLOCK_BATCH * threads) as i64;
                            let _ = engine.set_time(base + step * STEP_MS);
                        }
                    }
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        for h in workers {
            h.join().expect("worker");
        }
        let wall = start.elapsed();
        done.store(true, Ordering::Relaxed);
        if let Some(h) = swapper {
            h.join().expect("swapper");
        }
        wall
    })
}

fn throughput(c: &mut Criterion) {
    let w = workload::load("ref").expect("workload");
    let versions = [
        workload::with_version(&w.policy, "a").expect("policy"),
        workload::with_version(&w.policy, "b").expect("policy"),
    ];
    let mut group = c.benchmark_group("throughput");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    for swap in [false, true] {
        for threads in [1usize, 2] {
            let engine = workload::engine(&w.policy).expect("engine");
            let name = if swap { "swap-every-ms" } else { "no-swap" };
            group.bench_function(BenchmarkId::new(name, format!("{threads}-threads")), |b| {
                b.iter_custom(|iters| run(&engine, &w, &versions, threads, swap, iters))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
