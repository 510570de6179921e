//! `portcullis test [--policy FILE] [--junit FILE] TESTS...`: replays policy tests written in
//! the conformance case format (see docs/cli/test.md).
//!
//! Besides `policy` / `policy_raw`, a case may give `"policy_file"`: a path to a policy
//! (.json, .yaml or .yml) relative to the case file. `--policy FILE` supplies the policy of
//! every case that names none. Every failing step prints one line with what was expected
//! and what the engine returned; the run ends with `N passed, M failed` (counting cases)
//! and exits 1 when any case failed.
use crate::input;
use portcullis::{ClockMode, Decision, Engine, EngineOptions, PolicyError};
use portcullis_conformance::{self as conformance, Case, ExpectError, PolicySource, Step};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The policy of every case that names none (`policy`, `policy_raw` or `policy_file`).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Case files, or directories searched recursively for `*.json` case files.
    #[arg(required = true, value_name = "TESTS")]
    tests: Vec<PathBuf>,
}

/// One case's result: its display name and the failure lines (empty when it passed).
struct CaseResult {
    file: String,
    name: String,
    failures: Vec<String>,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let mut files = Vec::new();
    for t in &args.tests {
        if t.is_dir() {
            files.extend(conformance::files(t));
        } else {
            files.push(t.clone());
        }
    }
    let mut results = Vec::new();
    for file in &files {
        run_file(file, args.policy.as_deref(), &mut results);
    }
    let failed = results.iter().filter(|r| !r.failures.is_empty()).count();
    let passed = results.len() - failed;
    for r in &results {
        for f in &r.failures {
            out!("FAIL {} ({}): {f}", r.file, r.name);
        }
    }
    out!("{passed} passed, {failed} failed");
    if let Some(junit) = &args.junit {
        std::fs::write(junit, junit_xml(&results))
            .map_err(|e| format!("cannot write {}: {e}", junit.display()))?;
    }
    Ok(if failed == 0 && !results.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_file(file: &Path, default_policy: Option<&Path>, results: &mut Vec<CaseResult>) {
    let shown = file.display().to_string();
    let fail_file = |results: &mut Vec<CaseResult>, m: String| {
        results.push(CaseResult {
            file: shown.clone(),
            name: "(file)".into(),
            failures: vec![m],
        })
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail_file(results, format!("cannot read: {e}")),
    };
    let cases = match conformance::read_file(&text) {
        Ok(c) => c,
        Err(e) => return fail_file(results, e),
    };
    let base = file.parent().unwrap_or(Path::new("."));
    for (n, raw) in cases.iter().enumerate() {
        let label = if cases.len() > 1 {
            format!("{shown}#{n}")
        } else {
            shown.clone()
        };
        let (name, failures) = match Case::parse(raw) {
            Ok(case) => (case.name.clone(), run_case(&case, base, default_policy)),
            Err(m) => ("(unnamed)".into(), vec![m]),
        };
        results.push(CaseResult {
            file: label,
            name,
            failures,
        });
    }
}

/// The policy of a case: its own (`policy`, `policy_raw` or `policy_file`), else `--policy`.
fn case_policy(case: &Case, base: &Path, default_policy: Option<&Path>) -> Result<Vec<u8>, String> {
    match case.policy.as_ref()? {
        Some(PolicySource::Text(text)) => Ok(text.as_bytes().to_vec()),
        Some(PolicySource::File(f)) => input::policy_text(&base.join(f)),
        None => match default_policy {
            Some(p) => input::policy_text(p),
            None => Err("the case names no policy and no --policy was given".into()),
        },
    }
}

/// Runs a case; returns one line per failing step (empty when it passed).
fn run_case(case: &Case, base: &Path, default_policy: Option<&Path>) -> Vec<String> {
    let clock = match &case.clock_ms {
        Ok(c) => *c,
        Err(m) => return vec![m.clone()],
    };
    let policy = match case_policy(case, base, default_policy) {
        Ok(p) => p,
        Err(m) => return vec![m],
    };
    let options = EngineOptions {
        clock: ClockMode::Manual { start_ms: clock },
        ..EngineOptions::default()
    };
    let loaded = Engine::new(&policy, options);
    if let Some(expect) = &case.expect_error {
        if case.steps.is_some() {
            return vec!["a case with expect_error must not have steps".into()];
        }
        let expect = match expect {
            Ok(e) => e,
            Err(m) => return vec![m.clone()],
        };
        return match loaded {
            Ok(_) => vec![format!(
                "expected load error {}, got a policy that loads",
                show_expect_error(expect)
            )],
            Err(e) => check_error(&e, expect).err().into_iter().collect(),
        };
    }
    let engine = match loaded {
        Ok(e) => e,
        Err(e) => return vec![format!("the policy failed to load: {e}")],
    };
    let steps = match case.steps() {
        Ok(steps) => steps,
        Err(m) => return vec![m],
    };
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let outcome = match step {
            Ok(step) => run_step(&engine, step),
            Err(m) => Err(Stop::Broken(m.clone())),
        };
        match outcome {
            Ok(()) => {}
            Err(Stop::Mismatch(m)) => failures.push(format!("step {i}: {m}")),
            Err(Stop::Broken(m)) => {
                failures.push(format!("step {i}: {m} (later steps not run)"));
                break;
            }
        }
    }
    failures
}

fn run_step(engine: &Engine, step: &Step) -> Result<(), Stop> {
    let broken = Stop::Broken;
    match step {
        Step::Eval { action, expect } => {
            check_decision(&engine.evaluate_value(action), expect).map_err(Stop::Mismatch)
        }
        Step::EvalRaw { text, expect } => {
            check_decision(&engine.evaluate_json(text.as_bytes()), expect).map_err(Stop::Mismatch)
        }
        Step::AdvanceMs(ms) => engine
            .set_time(engine.now_ms().saturating_add(*ms))
            .map_err(|e| broken(e.to_string())),
        Step::SetClock(at) => engine.set_time(*at).map_err(|e| broken(e.to_string())),
        Step::Approve {
            action,
            ttl_ms,
            uses,
        } => engine
            .approve_action_value(action, *ttl_ms, *uses)
            .map(|_| ())
            .map_err(|e| broken(format!("approve failed: {e}"))),
        Step::UpdatePolicy { text, expect_error } => {
            match (engine.update_policy(text.as_bytes()), expect_error) {
                (Ok(()), None) => Ok(()),
                (Ok(()), Some(want)) => Err(Stop::Mismatch(format!(
                    "expected update error {}, got an update that loads",
                    show_expect_error(want)
                ))),
                (Err(e), None) => Err(broken(format!("the update failed: {e}"))),
                (Err(e), Some(want)) => check_error(&e, want).map_err(Stop::Mismatch),
            }
        }
    }
}

/// An `expect_error` as the case file writes it.
fn show_expect_error(expect: &ExpectError) -> Value {
    let mut shown = serde_json::Map::new();
    if let Some(path) = &expect.path {
        shown.insert("path".into(), Value::from(path.as_str()));
    }
    if let Some(contains) = &expect.contains {
        shown.insert("contains".into(), Value::from(contains.as_str()));
    }
    Value::Object(shown)
}

enum Stop {
    /// The step's expectation does not hold; later steps still run.
    Mismatch(String),
    /// The step could not run; later steps would be meaningless.
    Broken(String),
}

/// Compares the keys `expect` gives; every mismatch is listed, as `key: expected X, got Y`.
fn check_decision(d: &Decision, expect: &Value) -> Result<(), String> {
    let bad = conformance::decision_mismatches(&d.to_value(), expect);
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (reason: {:?})", bad.join("; "), d.reason))
    }
}

fn check_error(err: &PolicyError, expect: &ExpectError) -> Result<(), String> {
    let bad = expect.mismatches(err.path(), err.message());
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters, even as references.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>`, one `<testcase>` per case (classname = file).
fn junit_xml(results: &[CaseResult]) -> String {
    let failed = results.iter().filter(|r| !r.failures.is_empty()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites tests=\"{0}\" failures=\"{1}\">\n  <testsuite name=\"portcullis\" tests=\"{0}\" failures=\"{1}\">\n",
        results.len(),
        failed
    ));
    for r in results {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(&r.file),
            xml_escape(&r.name)
        ));
        if r.failures.is_empty() {
            out.push_str("/>\n");
        } else {
            let text = r.failures.join("\n");
            out.push_str(&format!(
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                xml_escape(r.failures.first().map_or("", String::as_str)),
                xml_escape(&text)
            ));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
