//! Instructions and heap allocations per decision on the reference workload.
//!
//!     portcullis-instructions [--mode json|value|verdict|swap] [--n N] [--policy FILE]
//!
//! Loads `benches/workload/reference-policy.json` (or `FILE`, e.g. a scale policy written by
//! `benches/generate.py scale`) into an engine with a manual clock, replays
//! the 1,000 reference actions once untimed (rate-limit windows reach their steady state),
//! then evaluates `N` more actions and prints one `ALLOC` line: heap allocations per decision,
//! counted by a global allocator. Mode `swap` replaces the policy instead of deciding: each step
//! is one `update_policy` with the same rules under an alternating `version` (10 untimed). Under `valgrind --tool=callgrind` the difference between the
//! totals of a run with `--n N` and one with `--n 0` is `N` decisions' worth of instructions:
//! `benches/instructions.py` does that subtraction and compares with the committed baseline.
use portcullis::{ClockMode, Engine, EngineOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting every allocation and reallocation.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the counter has no effect on
// the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The manual clock of every harness (benches/rust/src/workload.rs): 2026-03-02T15:00:00Z.
const START_MS: i64 = 1_772_463_600_000;
/// The clock moves this much after every action.
const STEP_MS: i64 = 10;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Json,
    Value,
    Verdict,
    Swap,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Json => "json",
            Mode::Value => "value",
            Mode::Verdict => "verdict",
            Mode::Swap => "swap",
        }
    }
}

struct Args {
    mode: Mode,
    n: usize,
    policy: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        mode: Mode::Json,
        n: 2_000,
        policy: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--n" => args.n = value.parse().map_err(|e| format!("--n: {e}"))?,
            "--policy" => args.policy = Some(PathBuf::from(value)),
            "--mode" => {
                args.mode = match value.as_str() {
                    "json" => Mode::Json,
                    "value" => Mode::Value,
                    "verdict" => Mode::Verdict,
                    "swap" => Mode::Swap,
                    other => {
                        return Err(format!(
                            "unknown mode {other:?}: json, value, verdict or swap"
                        ))
                    }
                }
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

fn workload_file(name: &str) -> Result<Vec<u8>, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../workload")
        .join(name);
    std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Evaluates one action and returns whether the engine could decide it (no `engine_error`).
fn evaluate(engine: &Engine, mode: Mode, text: &[u8], value: &serde_json::Value) -> bool {
    match mode {
        Mode::Swap => true,
        Mode::Json => engine.evaluate_json(text).code != portcullis::Code::EngineError,
        Mode::Value => engine.evaluate_value(value).code != portcullis::Code::EngineError,
        Mode::Verdict => engine.evaluate_json_verdict(text).code != portcullis::Code::EngineError,
    }
}

/// The policy under two `version`s: a swap between them changes no rule.
fn policy_versions(policy: &[u8]) -> Result<[Vec<u8>; 2], String> {
    let mut doc: serde_json::Value =
        serde_json::from_slice(policy).map_err(|e| format!("policy: {e}"))?;
    let mut versioned = |v: &str| {
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("version".into(), v.into());
        }
        serde_json::to_vec(&doc).map_err(|e| e.to_string())
    };
    Ok([versioned("swap-a")?, versioned("swap-b")?])
}

fn run(args: &Args) -> Result<(), String> {
    let options = EngineOptions {
        clock: ClockMode::Manual { start_ms: START_MS },
        ..EngineOptions::default()
    };
    let policy = match &args.policy {
        Some(path) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => workload_file("reference-policy.json")?,
    };
    let engine = Engine::new(&policy, options).map_err(|e| format!("policy: {e}"))?;
    let actions: Vec<serde_json::Value> =
        serde_json::from_slice(&workload_file("reference-actions.json")?)
            .map_err(|e| format!("reference actions: {e}"))?;
    let texts = actions
        .iter()
        .map(|a| serde_json::to_vec(a).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let versions = policy_versions(&policy)?;
    let mut step = 0i64;
    let mut replay = |count: usize| -> Result<(), String> {
        for (text, value) in texts.iter().zip(&actions).cycle().take(count) {
            if args.mode == Mode::Swap {
                let version = versions
                    .get(step.unsigned_abs() as usize % 2)
                    .ok_or("versions")?;
                engine
                    .update_policy(version)
                    .map_err(|e| format!("update {step}: {e}"))?;
            } else if !evaluate(&engine, args.mode, text, value) {
                return Err(format!("action {step} gave engine_error"));
            }
            step += 1;
            engine
                .set_time(START_MS + step * STEP_MS)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    // Rate-limit windows need the whole replay to settle; swaps have no state to warm.
    replay(if args.mode == Mode::Swap {
        10
    } else {
        actions.len()
    })?;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    replay(args.n)?;
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    if args.n > 0 {
        println!(
            "ALLOC mode={} decisions={} allocations={allocations} per_decision={:.2}",
            args.mode.name(),
            args.n,
            allocations as f64 / args.n as f64
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis-instructions: {e}");
            ExitCode::FAILURE
        }
    }
}
