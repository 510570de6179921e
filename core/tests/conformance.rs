//! Replays the conformance corpus (`tests/conformance/` at the repository root, or the
//! directory named by `PORTCULLIS_CONFORMANCE_DIR`) through the Rust API.
//!
//! Prints one line per failing case with its file and step index, then `N passed, M failed`.
use portcullis::{ClockMode, Decision, Engine, EngineOptions, Verdict};
use portcullis_conformance::{
    self as conformance, on_big_stack, Case, ExpectError, PolicySource, Step,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where each case's engine keeps its limits and grants: in process here. Another runner may
/// include this file as a module and define its own `case_state` at its crate root (the Redis
/// backend's runner does), so every case is replayed on a shared store.
#[allow(dead_code)]
fn case_state() -> Option<std::sync::Arc<dyn portcullis::StateBackend>> {
    None
}

fn check_decision(d: &Decision, expect: &Value) -> Result<(), String> {
    match conformance::decision_mismatches(&d.to_value(), expect).first() {
        None => Ok(()),
        Some(m) => Err(format!("{m} (reason: {:?})", d.reason)),
    }
}

/// The hot-path verdict must agree with every expectation it can express.
fn check_verdict(v: &Verdict, expect: &Value) -> Result<(), String> {
    let exp = expect.as_object().ok_or("expect is not an object")?;
    let eq = |key: &str, got: Value| -> Result<(), String> {
        match exp.get(key) {
            Some(want) if !conformance::same(&got, want) => {
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

fn check_error(err: &portcullis::PolicyError, expect: &ExpectError) -> Result<(), String> {
    match expect.mismatches(err.path(), err.message()).first() {
        None => Ok(()),
        Some(m) => Err(m.clone()),
    }
}

/// The policy text of a case: `policy` as written, or `policy_raw`.
fn policy_text(case: &Case) -> Result<&str, String> {
    match case.policy.as_ref()? {
        Some(PolicySource::Text(text)) => Ok(text),
        _ => Err("needs exactly one of \"policy\" and \"policy_raw\" (a string)".into()),
    }
}

/// Runs one case; `Err((step, message))` on the first failure (`step` None for the case itself).
fn run_case(case: &Case, verdict: bool) -> Result<(), (Option<usize>, String)> {
    let whole = |m: String| (None, m);
    let clock = case.clock_ms.clone().map_err(whole)?;
    let policy = policy_text(case).map_err(whole)?;
    let options = EngineOptions {
        clock: ClockMode::Manual { start_ms: clock },
        state: crate::case_state(),
        ..EngineOptions::default()
    };
    let loaded = Engine::new(policy.as_bytes(), options);
    if let Some(expect) = &case.expect_error {
        let expect = expect.clone().map_err(whole)?;
        if case.steps.is_some() {
            return Err(whole("a case with expect_error must not have steps".into()));
        }
        return match loaded {
            Ok(_) => Err(whole(
                "the policy loaded, but a load error was expected".into(),
            )),
            Err(e) => check_error(&e, &expect).map_err(whole),
        };
    }
    let engine = loaded.map_err(|e| whole(format!("policy failed to load: {e}")))?;
    for (i, step) in case.steps().map_err(whole)?.iter().enumerate() {
        let fail = |m: String| (Some(i), m);
        run_step(
            &engine,
            step.as_ref().map_err(|m| fail(m.clone()))?,
            verdict,
        )
        .map_err(fail)?;
    }
    Ok(())
}

fn run_step(engine: &Engine, step: &Step, verdict: bool) -> Result<(), String> {
    match step {
        Step::Eval { action, expect } if verdict => {
            check_verdict(&engine.evaluate_value_verdict(action), expect)
        }
        Step::Eval { action, expect } => check_decision(&engine.evaluate_value(action), expect),
        Step::EvalRaw { text, expect } if verdict => {
            check_verdict(&engine.evaluate_json_verdict(text.as_bytes()), expect)
        }
        Step::EvalRaw { text, expect } => {
            check_decision(&engine.evaluate_json(text.as_bytes()), expect)
        }
        Step::AdvanceMs(ms) => engine
            .set_time(engine.now_ms() + ms)
            .map_err(|e| e.to_string()),
        Step::SetClock(at) => engine.set_time(*at).map_err(|e| e.to_string()),
        Step::Approve {
            action,
            ttl_ms,
            uses,
        } => engine
            .approve_action_value(action, *ttl_ms, *uses)
            .map(|_| ())
            .map_err(|e| format!("approve failed: {e}")),
        Step::UpdatePolicy { text, expect_error } => {
            match (engine.update_policy(text.as_bytes()), expect_error) {
                (Ok(()), None) => Ok(()),
                (Ok(()), Some(_)) => Err("the update loaded, but a load error was expected".into()),
                (Err(e), None) => Err(format!("update failed: {e}")),
                (Err(e), Some(expect)) => check_error(&e, expect),
            }
        }
    }
}

pub(crate) fn replay(verdict: bool) -> (usize, usize) {
    let dir = std::env::var_os("PORTCULLIS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance"));
    let (passed, failed) = conformance::replay_dir(&dir, |case| run_case(case, verdict));
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
