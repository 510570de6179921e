//! The Rust percentile harness: times single evaluations of the reference workload and prints
//! one `BENCH` line (and one `MIX` line) per case.
//!
//!     portcullis-bench [--n N] [--warmup W] [--cases CASE,CASE,...]
//!
//! Every case replays the 1,000 reference actions in order, again and again, on an engine with
//! a manual clock that starts at `START_MS` and moves `STEP_MS` after each action (outside the
//! timed region). `W` untimed evaluations come first (rate-limit windows reach their steady
//! state), then `N` timed ones: one `Instant::now()` before and after each call. Exits 1 when
//! a check fails (an evaluation failed, an audit record is missing, Cedar and portcullis
//! disagree on the subset, a scale policy decides differently from the reference policy).
use portcullis::{AuditOptions, AuditSink, Decision, Engine, FileSink};
use portcullis_bench::peer::{describe, CedarPeer};
use portcullis_bench::stats::{Mix, Summary};
use portcullis_bench::workload::{self, Workload, START_MS, STEP_MS};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const LANG: &str = "rust";

/// In the thread cases, thread 0 moves the clock once per this many of its actions.
const CLOCK_BATCH: usize = 16;

const ALL_CASES: &[&str] = &[
    "ref-value",
    "ref-json",
    "ref-json-verdict",
    "1k-value",
    "1k-json",
    "10k-value",
    "10k-json",
    "ref-value-audit-memory",
    "ref-value-audit-file",
    "ref-threads1",
    "ref-threads2",
    "ref-threads2-swap",
    "subset-value",
    "subset-verdict",
    "cedar-subset",
];

struct Args {
    n: usize,
    warmup: usize,
    cases: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        n: 200_000,
        warmup: 10_000,
        cases: ALL_CASES.iter().map(|c| (*c).to_owned()).collect(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--n" => args.n = value()?.parse().map_err(|e| format!("--n: {e}"))?,
            "--warmup" => args.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--cases" => {
                args.cases = value()?.split(',').map(str::to_owned).collect();
                if let Some(bad) = args.cases.iter().find(|c| !ALL_CASES.contains(&c.as_str())) {
                    return Err(format!(
                        "unknown case {bad:?}; cases: {}",
                        ALL_CASES.join(",")
                    ));
                }
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if args.n == 0 {
        return Err("--n must be at least 1".into());
    }
    Ok(args)
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout only loses the report; the exit status still tells.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Runs `warmup` untimed then `n` timed calls of `call(i)` (i counts from 0 over both);
/// `after(i, &result)` runs untimed after each call.
fn timed<R>(
    n: usize,
    warmup: usize,
    mut call: impl FnMut(usize) -> R,
    mut after: impl FnMut(usize, &R),
) -> Summary {
    for i in 0..warmup {
        let r = call(i);
        after(i, &r);
    }
    let mut samples = Vec::with_capacity(n);
    let start = Instant::now();
    for i in warmup..warmup + n {
        let t0 = Instant::now();
        let r = call(i);
        samples.push(elapsed_ns(t0));
        after(i, &r);
    }
    Summary::new(samples, elapsed_ns(start))
}

/// Context shared by the cases.
struct Run {
    args: Args,
    ok: bool,
}

impl Run {
    fn fail(&mut self, message: String) {
        eprintln!("FAIL {message}");
        self.ok = false;
    }

    fn report(&mut self, case: &str, summary: &Summary, mix: &Mix) {
        emit(&summary.line(LANG, case));
        emit(&mix.line(LANG, case));
        if mix.failed > 0 {
            self.fail(format!("{case}: {} evaluations failed", mix.failed));
        }
    }

    /// One engine, one thread, actions as values or as JSON text.
    fn single(&mut self, case: &str, w: &Workload, json: bool) -> Result<(), String> {
        let engine = workload::engine(&w.policy)?;
        let count = w.actions.len();
        let mut mix = Mix::default();
        let warmup = self.args.warmup;
        let summary = timed(
            self.args.n,
            warmup,
            |i| {
                if json {
                    engine.evaluate_json(w.texts.get(i % count).map_or(&[][..], Vec::as_slice))
                } else {
                    engine.evaluate_value(
                        w.actions.get(i % count).unwrap_or(&serde_json::Value::Null),
                    )
                }
            },
            |i, d: &Decision| {
                if i >= warmup {
                    mix.add_decision(d);
                }
                let _ = engine.set_time(START_MS + (i as i64 + 1) * STEP_MS);
            },
        );
        self.report(case, &summary, &mix);
        Ok(())
    }

    /// `evaluate_json_verdict` on the reference workload: effect, code and rule from JSON text,
    /// on the same actions and clock steps as `ref-json` (so the MIX lines must agree).
    fn json_verdict(&mut self, case: &str, w: &Workload) -> Result<(), String> {
        let engine = workload::engine(&w.policy)?;
        let count = w.texts.len();
        let mut mix = Mix::default();
        let warmup = self.args.warmup;
        let summary = timed(
            self.args.n,
            warmup,
            |i| engine.evaluate_json_verdict(w.texts.get(i % count).map_or(&[][..], Vec::as_slice)),
            |i, v: &portcullis::Verdict| {
                if i >= warmup {
                    mix.add(v.effect, v.code);
                }
                let _ = engine.set_time(START_MS + (i as i64 + 1) * STEP_MS);
            },
        );
        self.report(case, &summary, &mix);
        Ok(())
    }

    /// A scale policy must decide every reference action as the reference policy does: its
    /// extra rules only make the engine look at more rules.
    fn check_scale(&mut self, w: &Workload) -> Result<(), String> {
        let reference = workload::engine(&workload::policy("ref")?)?;
        let scaled = workload::engine(&w.policy)?;
        let mut differ = 0;
        for (i, action) in w.actions.iter().enumerate() {
            let (a, b) = (
                reference.evaluate_value(action),
                scaled.evaluate_value(action),
            );
            let same = a.effect == b.effect
                && a.code == b.code
                && a.rule == b.rule
                && a.matched == b.matched
                && a.shadow == b.shadow;
            if !same {
                differ += 1;
                eprintln!(
                    "{}: action {i} ({}) decided {:?}/{:?} by {:?}, the reference policy {:?}/{:?} by {:?}",
                    w.name, describe(action), b.effect, b.code, b.rule, a.effect, a.code, a.rule
                );
            }
            for e in [&reference, &scaled] {
                let _ = e.set_time(START_MS + (i as i64 + 1) * STEP_MS);
            }
        }
        if differ > 0 {
            self.fail(format!(
                "{}: {differ} actions decided differently from the reference policy",
                w.name
            ));
        }
        Ok(())
    }

    /// Audit on: a memory sink drained every 1,000 evaluations, or a file sink in a temporary
    /// directory written by the engine's background thread. Draining and the final flush are
    /// not timed; enqueuing the record is.
    fn audit(&mut self, case: &str, w: &Workload, file: bool) -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
        let sink = if file {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            AuditSink::File(FileSink::new(dir.join("audit.jsonl")))
        } else {
            AuditSink::Memory
        };
        let options = AuditOptions {
            sink,
            ..AuditOptions::default()
        };
        let engine = Engine::with_audit(&w.policy, workload::options(), &options)
            .map_err(|e| format!("audit engine: {e}"))?;
        let count = w.actions.len();
        let mut mix = Mix::default();
        let mut drained = 0usize;
        let warmup = self.args.warmup;
        let summary = timed(
            self.args.n,
            warmup,
            |i| engine.evaluate_value(w.actions.get(i % count).unwrap_or(&serde_json::Value::Null)),
            |i, d: &Decision| {
                if i >= warmup {
                    mix.add_decision(d);
                }
                let _ = engine.set_time(START_MS + (i as i64 + 1) * STEP_MS);
                if !file && (i + 1) % 1_000 == 0 {
                    drained += engine.drain_audit(usize::MAX).len();
                }
            },
        );
        let total = (warmup + self.args.n) as u64;
        if file {
            engine.flush_audit().map_err(|e| format!("flush: {e}"))?;
            let bytes = std::fs::metadata(dir.join("audit.jsonl")).map_or(0, |m| m.len());
            emit(&format!("# {case}: {bytes} bytes of audit trail written"));
            drop(engine);
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            drained += engine.drain_audit(usize::MAX).len();
            if drained as u64 != total {
                self.fail(format!(
                    "{case}: drained {drained} audit records for {total} decisions"
                ));
            }
            let stats = engine.audit_stats();
            if stats.recorded != total || stats.dropped != 0 {
                self.fail(format!(
                    "{case}: audit recorded {} and dropped {} of {total}",
                    stats.recorded, stats.dropped
                ));
            }
        }
        self.report(case, &summary, &mix);
        Ok(())
    }

    /// `threads` threads evaluate on one engine, each replaying the actions from its own
    /// offset; thread 0 moves the clock, every `CLOCK_BATCH` of its actions by `CLOCK_BATCH`
    /// × `threads` × `STEP_MS` (a write to the clock on every call would make the other
    /// thread's clock reads miss the cache, a cost the system clock does not have). With
    /// `swap`, another thread replaces the policy every millisecond (alternating two versions
    /// of the same rules) for the whole run. Throughput is every thread's timed calls over the
    /// wall time from the common start to the last thread's end.
    fn threads(
        &mut self,
        case: &str,
        w: &Workload,
        threads: usize,
        swap: bool,
    ) -> Result<(), String> {
        let engine = workload::engine(&w.policy)?;
        let versions = [
            workload::with_version(&w.policy, "a")?,
            workload::with_version(&w.policy, "b")?,
        ];
        let per_thread = self.args.n.div_ceil(threads);
        let warmup = self.args.warmup.div_ceil(threads);
        let count = w.actions.len();
        let done = AtomicBool::new(false);
        let swaps = AtomicU64::new(0);
        let swap_errors = AtomicU64::new(0);
        let start_line = Barrier::new(threads + 1);
        let (results, wall, swaps_timed) = std::thread::scope(|s| {
            let swapper = swap.then(|| {
                s.spawn(|| {
                    let mut next = Instant::now();
                    let mut k = 0usize;
                    while !done.load(Ordering::Relaxed) {
                        next += Duration::from_millis(1);
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let text = versions.get(k % 2).map_or(&[][..], Vec::as_slice);
                        if engine.update_policy(text).is_err() {
                            swap_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        swaps.fetch_add(1, Ordering::Relaxed);
                        k += 1;
                    }
                })
            });
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let (engine, start_line) = (&engine, &start_line);
                    s.spawn(move || {
                        let offset = t * count / threads;
                        let mut mix = Mix::default();
                        let mut names_ok = true;
                        let mut tick = 0i64;
                        let mut step = |i: usize| {
                            let d = engine.evaluate_value(
                                w.actions
                                    .get((offset + i) % count)
                                    .unwrap_or(&serde_json::Value::Null),
                            );
                            if t == 0 && i % CLOCK_BATCH == CLOCK_BATCH - 1 {
                                tick += 1;
                                let _ = engine.set_time(
                                    START_MS + tick * CLOCK_BATCH as i64 * STEP_MS * threads as i64,
                                );
                            }
                            d
                        };
                        for i in 0..warmup {
                            step(i);
                        }
                        start_line.wait();
                        let mut samples = Vec::with_capacity(per_thread);
                        let begin = Instant::now();
                        for i in warmup..warmup + per_thread {
                            let t0 = Instant::now();
                            let d = step(i);
                            samples.push(elapsed_ns(t0));
                            mix.add_decision(&d);
                            names_ok &= &*d.policy.name == "acme-agents";
                        }
                        (samples, mix, names_ok, begin.elapsed())
                    })
                })
                .collect();
            start_line.wait();
            let common_start = Instant::now();
            let swaps_before = swaps.load(Ordering::Relaxed);
            let results: Vec<_> = workers.into_iter().map(|h| h.join()).collect();
            let wall = elapsed_ns(common_start);
            let swaps_timed = swaps.load(Ordering::Relaxed) - swaps_before;
            done.store(true, Ordering::Relaxed);
            if let Some(h) = swapper {
                let _ = h.join();
            }
            (results, wall, swaps_timed)
        });
        let mut samples = Vec::with_capacity(per_thread * threads);
        let mut mix = Mix::default();
        for r in results {
            let (s, m, names_ok, _) = r.map_err(|_| format!("{case}: a worker thread panicked"))?;
            samples.extend(s);
            mix.merge(&m);
            if !names_ok {
                self.fail(format!(
                    "{case}: a decision came from a policy other than the one loaded"
                ));
            }
        }
        if swap {
            let errors = swap_errors.load(Ordering::Relaxed);
            // The swapper aims at one swap a millisecond; a swap that takes longer than that
            // makes the next one start late, so say how many there were.
            emit(&format!(
                "SWAPS lang={LANG} case={case} swaps={swaps_timed} wall_ms={} failed={errors}",
                wall / 1_000_000
            ));
            if errors > 0 {
                self.fail(format!("{case}: {errors} policy swaps failed"));
            }
        }
        self.report(case, &Summary::new(samples, wall), &mix);
        Ok(())
    }

    /// portcullis and Cedar on the shared subset: first both decide every action and must agree,
    /// then each is timed on the same actions. portcullis: `evaluate_value` of the parsed
    /// action (full decision, action hash included) and `evaluate_value_verdict` (effect, code
    /// and rule, no hash). Cedar: `is_authorized` of a prebuilt request against a prebuilt
    /// entity store.
    fn cedar(&mut self, cases: &[String]) -> Result<(), String> {
        let w = workload::load("subset")?;
        let cedar_path = workload::benches_dir().join("workload/subset-policy.cedar");
        let text = std::fs::read_to_string(&cedar_path)
            .map_err(|e| format!("{}: {e}", cedar_path.display()))?;
        let peer = CedarPeer::new(&text, &w.policy, &w.actions)?;
        let engine = workload::engine(&w.policy)?;
        let mut disagree = 0;
        let mut allowed = 0;
        for (i, action) in w.actions.iter().enumerate() {
            let ours = engine.evaluate_value(action).allowed();
            allowed += usize::from(ours);
            if ours != peer.allowed(i) {
                disagree += 1;
                eprintln!(
                    "subset: action {i} ({}): portcullis {} ({:?}), cedar {} ({:?})",
                    describe(action),
                    if ours { "allow" } else { "deny" },
                    engine.evaluate_value(action).rule,
                    if ours { "deny" } else { "allow" },
                    peer.reasons(i)
                );
            }
        }
        emit(&format!(
            "# subset: portcullis and Cedar agree on {} of {} actions ({allowed} allowed)",
            w.actions.len() - disagree,
            w.actions.len()
        ));
        if disagree > 0 {
            self.fail(format!(
                "subset: portcullis and Cedar disagree on {disagree} actions"
            ));
        }
        let count = w.actions.len();
        let (n, warmup) = (self.args.n, self.args.warmup);
        if cases.iter().any(|c| c == "subset-value") {
            let mut mix = Mix::default();
            let s = timed(
                n,
                warmup,
                |i| {
                    engine.evaluate_value(
                        w.actions.get(i % count).unwrap_or(&serde_json::Value::Null),
                    )
                },
                |i, d: &Decision| {
                    if i >= warmup {
                        mix.add_decision(d);
                    }
                },
            );
            self.report("subset-value", &s, &mix);
        }
        if cases.iter().any(|c| c == "subset-verdict") {
            let mut mix = Mix::default();
            let s = timed(
                n,
                warmup,
                |i| {
                    engine.evaluate_value_verdict(
                        w.actions.get(i % count).unwrap_or(&serde_json::Value::Null),
                    )
                },
                |i, v: &portcullis::Verdict| {
                    if i >= warmup {
                        mix.add(v.effect, v.code);
                    }
                },
            );
            self.report("subset-verdict", &s, &mix);
        }
        if cases.iter().any(|c| c == "cedar-subset") {
            let mut mix = Mix::default();
            let s = timed(
                n,
                warmup,
                |i| peer.allowed(i % count),
                |i, allowed: &bool| {
                    if i >= warmup {
                        if *allowed {
                            mix.allow += 1;
                        } else {
                            mix.deny += 1;
                        }
                    }
                },
            );
            self.report("cedar-subset", &s, &mix);
        }
        Ok(())
    }

    fn case(&mut self, case: &str) -> Result<(), String> {
        match case {
            "ref-value" | "ref-json" | "1k-value" | "1k-json" | "10k-value" | "10k-json" => {
                let (name, mode) = case.split_once('-').unwrap_or((case, "value"));
                let w = workload::load(name)?;
                if name != "ref" && mode == "value" {
                    self.check_scale(&w)?;
                }
                self.single(case, &w, mode == "json")
            }
            "ref-json-verdict" => self.json_verdict(case, &workload::load("ref")?),
            "ref-value-audit-memory" => self.audit(case, &workload::load("ref")?, false),
            "ref-value-audit-file" => self.audit(case, &workload::load("ref")?, true),
            "ref-threads1" => self.threads(case, &workload::load("ref")?, 1, false),
            "ref-threads2" => self.threads(case, &workload::load("ref")?, 2, false),
            "ref-threads2-swap" => self.threads(case, &workload::load("ref")?, 2, true),
            _ => Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("portcullis-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let cases = args.cases.clone();
    let mut run = Run { args, ok: true };
    for case in &cases {
        if case.starts_with("subset-") || case == "cedar-subset" {
            continue;
        }
        if let Err(e) = run.case(case) {
            run.fail(format!("{case}: {e}"));
        }
    }
    if cases
        .iter()
        .any(|c| c.starts_with("subset-") || c == "cedar-subset")
    {
        if let Err(e) = run.cedar(&cases) {
            run.fail(format!("subset: {e}"));
        }
    }
    if run.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
