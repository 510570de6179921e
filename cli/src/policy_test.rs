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
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const DEFAULT_CLOCK: &str = "2026-01-01T00:00:00Z";

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
            collect(t, &mut files);
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

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
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
    let parsed = if text.trim_start().starts_with('[') {
        from_json::<Vec<&RawValue>>(&text)
    } else {
        from_json::<&RawValue>(&text).map(|c| vec![c])
    };
    let cases = match parsed {
        Ok(c) => c,
        Err(e) => return fail_file(results, format!("not a JSON case file: {e}")),
    };
    let base = file.parent().unwrap_or(Path::new("."));
    for (n, raw) in cases.iter().enumerate() {
        let label = if cases.len() > 1 {
            format!("{shown}#{n}")
        } else {
            shown.clone()
        };
        let (name, failures) = match Case::parse(raw.get()) {
            Ok(case) => {
                let name = case.name();
                (name, case.run(base, default_policy))
            }
            Err(m) => ("(unnamed)".into(), vec![m]),
        };
        results.push(CaseResult {
            file: label,
            name,
            failures,
        });
    }
}

/// Reads JSON without serde_json's 128-level recursion limit: a case may hold a policy nested
/// up to the policy language's 512 levels (a few hundred bytes of stack per level).
fn from_json<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A case, with its members both parsed and as written (policies keep their key order, so
/// load errors are the ones the engine reports for the file as written).
struct Case<'a> {
    value: Value,
    written: BTreeMap<String, &'a RawValue>,
    steps_written: Vec<BTreeMap<String, &'a RawValue>>,
}

impl<'a> Case<'a> {
    fn parse(raw: &'a str) -> Result<Case<'a>, String> {
        let value: Value = from_json(raw).map_err(|e| format!("not a case: {e}"))?;
        let written: BTreeMap<String, &RawValue> =
            from_json(raw).map_err(|_| "a case must be a JSON object".to_owned())?;
        let steps_written = match written.get("steps") {
            Some(s) => from_json(s.get())
                .map_err(|_| "\"steps\" must be an array of objects".to_owned())?,
            None => Vec::new(),
        };
        Ok(Case {
            value,
            written,
            steps_written,
        })
    }

    fn name(&self) -> String {
        self.value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
            .to_owned()
    }

    fn policy(&self, base: &Path, default_policy: Option<&Path>) -> Result<Vec<u8>, String> {
        let given = ["policy", "policy_raw", "policy_file"]
            .iter()
            .filter(|k| self.value.get(**k).is_some())
            .count();
        if given > 1 {
            return Err("give only one of \"policy\", \"policy_raw\" and \"policy_file\"".into());
        }
        if let Some(w) = self.written.get("policy") {
            return Ok(w.get().as_bytes().to_vec());
        }
        match (self.value.get("policy_raw"), self.value.get("policy_file")) {
            (Some(Value::String(raw)), _) => Ok(raw.as_bytes().to_vec()),
            (Some(_), _) => Err("\"policy_raw\" must be a string".into()),
            (_, Some(Value::String(f))) => input::policy_text(&base.join(f)),
            (_, Some(_)) => Err("\"policy_file\" must be a string".into()),
            (None, None) => match default_policy {
                Some(p) => input::policy_text(p),
                None => Err("the case names no policy and no --policy was given".into()),
            },
        }
    }

    /// Runs the case; returns one line per failing step (empty when it passed).
    fn run(&self, base: &Path, default_policy: Option<&Path>) -> Vec<String> {
        let clock = match parse_clock(
            self.value
                .get("clock")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_CLOCK),
        ) {
            Ok(c) => c,
            Err(m) => return vec![m],
        };
        let policy = match self.policy(base, default_policy) {
            Ok(p) => p,
            Err(m) => return vec![m],
        };
        let options = EngineOptions {
            clock: ClockMode::Manual { start_ms: clock },
            ..EngineOptions::default()
        };
        let loaded = Engine::new(&policy, options);
        if let Some(expect) = self.value.get("expect_error") {
            if self.value.get("steps").is_some() {
                return vec!["a case with expect_error must not have steps".into()];
            }
            return match loaded {
                Ok(_) => vec![format!(
                    "expected load error {expect}, got a policy that loads"
                )],
                Err(e) => check_error(&e, expect).err().into_iter().collect(),
            };
        }
        let engine = match loaded {
            Ok(e) => e,
            Err(e) => return vec![format!("the policy failed to load: {e}")],
        };
        let Some(steps) = self.value.get("steps").and_then(Value::as_array) else {
            return vec!["the case has no \"steps\" array".into()];
        };
        let mut failures = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            match self.step(&engine, i, step) {
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

    fn step(&self, engine: &Engine, i: usize, step: &Value) -> Result<(), Stop> {
        let expect = step.get("expect").unwrap_or(&Value::Null);
        let broken = |m: String| Stop::Broken(m);
        if let Some(action) = step.get("eval") {
            return check_decision(&engine.evaluate_value(action), expect).map_err(Stop::Mismatch);
        }
        if let Some(raw) = step.get("eval_raw") {
            let raw = raw
                .as_str()
                .ok_or(broken("eval_raw is not a string".into()))?;
            return check_decision(&engine.evaluate_json(raw.as_bytes()), expect)
                .map_err(Stop::Mismatch);
        }
        if let Some(ms) = step.get("advance_ms") {
            let ms = ms
                .as_i64()
                .ok_or(broken("advance_ms is not an integer".into()))?;
            return engine
                .set_time(engine.now_ms().saturating_add(ms))
                .map_err(|e| broken(e.to_string()));
        }
        if let Some(at) = step.get("set_clock") {
            let at = parse_clock(at.as_str().unwrap_or_default()).map_err(broken)?;
            return engine.set_time(at).map_err(|e| broken(e.to_string()));
        }
        if let Some(action) = step.get("approve") {
            let ttl = step
                .get("ttl_ms")
                .and_then(Value::as_u64)
                .ok_or(broken("approve needs ttl_ms".into()))?;
            let uses = step.get("uses").and_then(Value::as_u64).unwrap_or(1);
            let uses = u32::try_from(uses).map_err(|_| broken("uses is too large".into()))?;
            return engine
                .approve_action_value(action, ttl, uses)
                .map(|_| ())
                .map_err(|e| broken(format!("approve failed: {e}")));
        }
        if step.get("update_policy").is_some() || step.get("update_policy_raw").is_some() {
            let bytes = match (
                self.steps_written
                    .get(i)
                    .and_then(|s| s.get("update_policy")),
                step.get("update_policy_raw"),
            ) {
                (Some(w), None) => w.get().as_bytes().to_vec(),
                (None, Some(Value::String(raw))) => raw.as_bytes().to_vec(),
                _ => {
                    return Err(broken(
                        "give exactly one of update_policy and update_policy_raw (a string)".into(),
                    ))
                }
            };
            return match (engine.update_policy(&bytes), step.get("expect_error")) {
                (Ok(()), None) => Ok(()),
                (Ok(()), Some(want)) => Err(Stop::Mismatch(format!(
                    "expected update error {want}, got an update that loads"
                ))),
                (Err(e), None) => Err(broken(format!("the update failed: {e}"))),
                (Err(e), Some(want)) => check_error(&e, want).map_err(Stop::Mismatch),
            };
        }
        Err(broken(format!("unknown step {step}")))
    }
}

enum Stop {
    /// The step's expectation does not hold; later steps still run.
    Mismatch(String),
    /// The step could not run; later steps would be meaningless.
    Broken(String),
}

fn parse_clock(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|e| format!("bad clock {s:?}: {e}"))
}

/// Numbers compare as doubles; everything else structurally.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Compares the keys `expect` gives; every mismatch is listed, as `key: expected X, got Y`.
fn check_decision(d: &Decision, expect: &Value) -> Result<(), String> {
    let got = d.to_value();
    let Some(exp) = expect.as_object() else {
        return if expect.is_null() {
            Ok(())
        } else {
            Err("\"expect\" is not an object".into())
        };
    };
    let mut bad = Vec::new();
    for (key, want) in exp {
        match key.as_str() {
            "reason_contains" => match want.as_str() {
                Some(sub) if d.reason.contains(sub) => {}
                Some(sub) => bad.push(format!(
                    "reason: expected to contain {sub:?}, got {:?}",
                    d.reason
                )),
                None => bad.push("reason_contains is not a string".into()),
            },
            "policy" => match want.as_object() {
                Some(want) => {
                    for (k, v) in want {
                        let g = got.pointer(&format!("/policy/{k}")).unwrap_or(&Value::Null);
                        if !same(g, v) {
                            bad.push(format!("policy.{k}: expected {v}, got {g}"));
                        }
                    }
                }
                None => bad.push("expect.policy is not an object".into()),
            },
            "effect" | "allowed" | "code" | "rule" | "reason" | "matched" | "shadow" | "params"
            | "retry_after_ms" | "action_hash" => {
                let g = got.get(key).unwrap_or(&Value::Null);
                if !same(g, want) {
                    bad.push(format!("{key}: expected {want}, got {g}"));
                }
            }
            other => bad.push(format!("unknown expect key {other:?}")),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (reason: {:?})", bad.join("; "), d.reason))
    }
}

fn check_error(err: &PolicyError, expect: &Value) -> Result<(), String> {
    let mut bad = Vec::new();
    match expect.get("path") {
        Some(Value::String(p)) if *p != err.path() => {
            bad.push(format!("error path: expected {p:?}, got {:?}", err.path()));
        }
        Some(Value::String(_)) | None => {}
        Some(_) => bad.push("expect_error.path is not a string".into()),
    }
    match expect.get("contains") {
        Some(Value::String(s)) if !err.message().contains(s.as_str()) => bad.push(format!(
            "error message: expected to contain {s:?}, got {:?}",
            err.message()
        )),
        Some(Value::String(_)) | None => {}
        Some(_) => bad.push("expect_error.contains is not a string".into()),
    }
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
