//! Replays the conformance corpus (`tests/conformance/` at the repository root, or the
//! directory named by `PORTCULLIS_CONFORMANCE_DIR`) through the Rust API.
//!
//! Prints one line per failing case with its file and step index, then `N passed, M failed`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use portcullis::{ClockMode, Decision, Engine, EngineOptions, Verdict};
use serde_json::value::RawValue;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where each case's engine keeps its limits and grants: in process here. Another runner may
/// include this file as a module and define its own `case_state` at its crate root (the Redis
/// backend's runner does), so every case is replayed on a shared store.
#[allow(dead_code)]
fn case_state() -> Option<std::sync::Arc<dyn portcullis::StateBackend>> {
    None
}

const DEFAULT_CLOCK: &str = "2026-01-01T00:00:00Z";

/// Reads JSON text without serde_json's 128-level recursion limit: cases may hold values
/// nested deeper (the replay runs on a thread with a large stack).
fn read<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Runs `f` on a thread with a 256 MiB stack (deep case values are read recursively).
fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn parse_clock(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|e| format!("bad clock {s:?}: {e}"))
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

fn check_decision(d: &Decision, expect: &Value) -> Result<(), String> {
    let got = d.to_value();
    let exp = expect.as_object().ok_or("expect is not an object")?;
    for (key, want) in exp {
        match key.as_str() {
            "reason_contains" => {
                let sub = want.as_str().ok_or("reason_contains is not a string")?;
                if !d.reason.contains(sub) {
                    return Err(format!("reason {:?} does not contain {sub:?}", d.reason));
                }
            }
            "policy" => {
                let want = want.as_object().ok_or("expect.policy is not an object")?;
                for (k, v) in want {
                    let g = got
                        .pointer(&format!("/policy/{k}"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    if !same(&g, v) {
                        return Err(format!("policy.{k}: expected {v}, got {g}"));
                    }
                }
            }
            "effect" | "allowed" | "code" | "rule" | "reason" | "matched" | "shadow" | "params"
            | "retry_after_ms" | "action_hash" => {
                let g = got.get(key).cloned().unwrap_or(Value::Null);
                if !same(&g, want) {
                    return Err(format!(
                        "{key}: expected {want}, got {g} (reason: {:?})",
                        d.reason
                    ));
                }
            }
            other => return Err(format!("unknown expect key {other:?}")),
        }
    }
    Ok(())
}

/// The hot-path verdict must agree with every expectation it can express.
fn check_verdict(v: &Verdict, expect: &Value) -> Result<(), String> {
    let exp = expect.as_object().ok_or("expect is not an object")?;
    let eq = |key: &str, got: Value| -> Result<(), String> {
        match exp.get(key) {
            Some(want) if !same(&got, want) => {
                Err(format!("verdict {key}: expected {want}, got {got}"))
            }
            _ => Ok(()),
        }
    };
    eq("effect", Value::from(v.effect.as_str()))?;
    eq("allowed", Value::from(v.allowed()))?;
    eq("code", Value::from(v.code.as_str()))?;
    eq("rule", v.rule.as_deref().map_or(Value::Null, Value::from))?;
    eq(
        "retry_after_ms",
        v.retry_after_ms.map_or(Value::Null, Value::from),
    )?;
    if let Some(Value::Array(m)) = exp.get("matched") {
        if m.len() != v.matched_count as usize {
            return Err(format!(
                "verdict matched_count {} but {} expected",
                v.matched_count,
                m.len()
            ));
        }
    }
    if let Some(Value::Array(s)) = exp.get("shadow") {
        if s.len() != v.shadow_count as usize {
            return Err(format!(
                "verdict shadow_count {} but {} expected",
                v.shadow_count,
                s.len()
            ));
        }
    }
    if let Some(p) = exp.get("params") {
        if p.is_null() == v.params_modified {
            return Err(format!(
                "verdict params_modified {} but params {p} expected",
                v.params_modified
            ));
        }
    }
    Ok(())
}

fn check_error(err: &portcullis::PolicyError, expect: &Value) -> Result<(), String> {
    if let Some(path) = expect.get("path") {
        let path = path.as_str().ok_or("expect_error.path is not a string")?;
        if err.path() != path {
            return Err(format!(
                "error path: expected {path:?}, got {:?} ({})",
                err.path(),
                err.message()
            ));
        }
    }
    if let Some(sub) = expect.get("contains") {
        let sub = sub
            .as_str()
            .ok_or("expect_error.contains is not a string")?;
        if !err.message().contains(sub) {
            return Err(format!(
                "error message {:?} does not contain {sub:?} (path {:?})",
                err.message(),
                err.path()
            ));
        }
    }
    Ok(())
}

/// The policy-bearing members of a case, as written in the file (key order included).
#[derive(serde::Deserialize)]
struct RawCase<'a> {
    #[serde(borrow)]
    policy: Option<&'a RawValue>,
    #[serde(borrow, default)]
    steps: Vec<RawStep<'a>>,
}

#[derive(serde::Deserialize)]
struct RawStep<'a> {
    #[serde(borrow)]
    update_policy: Option<&'a RawValue>,
}

fn policy_bytes(
    holder: &Value,
    written: Option<&RawValue>,
    key: &str,
    raw_key: &str,
) -> Result<Vec<u8>, String> {
    match (holder.get(key), holder.get(raw_key)) {
        (Some(_), None) => written
            .map(|w| w.get().as_bytes().to_vec())
            .ok_or_else(|| format!("{key} not found")),
        (None, Some(Value::String(raw))) => Ok(raw.as_bytes().to_vec()),
        _ => Err(format!(
            "needs exactly one of {key:?} and {raw_key:?} (a string)"
        )),
    }
}

/// Runs one case; `Err((step, message))` on the first failure (`step` None for the case itself).
fn run_case(
    case: &Value,
    written: &RawCase<'_>,
    verdict: bool,
) -> Result<(), (Option<usize>, String)> {
    let whole = |m: String| (None, m);
    let clock = parse_clock(
        case.get("clock")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_CLOCK),
    )
    .map_err(whole)?;
    let policy = policy_bytes(case, written.policy, "policy", "policy_raw").map_err(whole)?;
    let options = EngineOptions {
        clock: ClockMode::Manual { start_ms: clock },
        state: crate::case_state(),
        ..EngineOptions::default()
    };
    let loaded = Engine::new(&policy, options);
    if let Some(expect) = case.get("expect_error") {
        if case.get("steps").is_some() {
            return Err(whole("a case with expect_error must not have steps".into()));
        }
        return match loaded {
            Ok(_) => Err(whole(
                "the policy loaded, but a load error was expected".into(),
            )),
            Err(e) => check_error(&e, expect).map_err(whole),
        };
    }
    let engine = loaded.map_err(|e| whole(format!("policy failed to load: {e}")))?;
    let steps = case
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| whole("no steps".into()))?;
    for (i, step) in steps.iter().enumerate() {
        let fail = |m: String| (Some(i), m);
        let expect = step.get("expect").unwrap_or(&Value::Null);
        if let Some(action) = step.get("eval") {
            if verdict {
                check_verdict(&engine.evaluate_value_verdict(action), expect).map_err(fail)?;
            } else {
                check_decision(&engine.evaluate_value(action), expect).map_err(fail)?;
            }
        } else if let Some(raw) = step.get("eval_raw") {
            let raw = raw
                .as_str()
                .ok_or_else(|| fail("eval_raw is not a string".into()))?;
            if verdict {
                check_verdict(&engine.evaluate_json_verdict(raw.as_bytes()), expect)
                    .map_err(fail)?;
            } else {
                check_decision(&engine.evaluate_json(raw.as_bytes()), expect).map_err(fail)?;
            }
        } else if let Some(ms) = step.get("advance_ms") {
            let ms = ms
                .as_i64()
                .ok_or_else(|| fail("advance_ms is not an integer".into()))?;
            engine
                .set_time(engine.now_ms() + ms)
                .map_err(|e| fail(e.to_string()))?;
        } else if let Some(at) = step.get("set_clock") {
            let at = parse_clock(at.as_str().unwrap_or_default()).map_err(fail)?;
            engine.set_time(at).map_err(|e| fail(e.to_string()))?;
        } else if let Some(action) = step.get("approve") {
            let ttl = step
                .get("ttl_ms")
                .and_then(Value::as_u64)
                .ok_or_else(|| fail("approve needs ttl_ms".into()))?;
            let uses = step.get("uses").and_then(Value::as_u64).unwrap_or(1) as u32;
            engine
                .approve_action_value(action, ttl, uses)
                .map_err(|e| fail(format!("approve failed: {e}")))?;
        } else if step.get("update_policy").is_some() || step.get("update_policy_raw").is_some() {
            let bytes = policy_bytes(
                step,
                written.steps.get(i).and_then(|s| s.update_policy),
                "update_policy",
                "update_policy_raw",
            )
            .map_err(fail)?;
            match (engine.update_policy(&bytes), step.get("expect_error")) {
                (Ok(()), None) => {}
                (Ok(()), Some(_)) => {
                    return Err(fail(
                        "the update loaded, but a load error was expected".into(),
                    ))
                }
                (Err(e), None) => return Err(fail(format!("update failed: {e}"))),
                (Err(e), Some(expect)) => check_error(&e, expect).map_err(fail)?,
            }
        } else {
            return Err(fail(format!("unknown step {step}")));
        }
    }
    Ok(())
}

pub(crate) fn replay(verdict: bool) -> (usize, usize) {
    let dir = std::env::var_os("PORTCULLIS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance"));
    let mut files = Vec::new();
    collect(&dir, &mut files);
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        let shown = file
            .strip_prefix(&dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let parsed = if text.trim_start().starts_with('[') {
            read::<Vec<&RawValue>>(&text)
        } else {
            read::<&RawValue>(&text).map(|c| vec![c])
        };
        let cases = match parsed {
            Ok(cases) => cases,
            Err(e) => {
                println!("FAIL {shown}: not a JSON case file: {e}");
                failed += 1;
                continue;
            }
        };
        for (n, raw) in cases.iter().enumerate() {
            let (case, written): (Value, RawCase<'_>) = match (read(raw.get()), read(raw.get())) {
                (Ok(c), Ok(w)) => (c, w),
                _ => {
                    println!("FAIL {shown}#{n}: not a case object");
                    failed += 1;
                    continue;
                }
            };
            let name = case
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)");
            match run_case(&case, &written, verdict) {
                Ok(()) => passed += 1,
                Err((step, msg)) => {
                    failed += 1;
                    let at = step.map_or(String::new(), |s| format!(" step {s}"));
                    println!("FAIL {shown}#{n}{at} ({name}): {msg}");
                }
            }
        }
    }
    assert!(
        passed + failed > 0,
        "no conformance case found in {}",
        dir.display()
    );
    (passed, failed)
}

/// Replays every case through the full decision API.
#[test]
fn conformance() {
    let (passed, failed) = on_big_stack(|| replay(false));
    println!("{passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{failed} conformance cases failed");
}

/// Replays every case through the hot-path verdict API.
#[test]
fn conformance_verdict() {
    let (passed, failed) = on_big_stack(|| replay(true));
    println!("verdict: {passed} passed, {failed} failed");
    assert_eq!(
        failed, 0,
        "{failed} conformance cases failed on the verdict path"
    );
}
