//! `Engine::explain` predicts the decision evaluation returns, and is a dry run: replaying the
//! conformance corpus with two explanations before every evaluation, each explanation's
//! decision equals the evaluation's (a consumed limit or approval would make them differ).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use portcullis::{ClockMode, Decision, Engine, EngineOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn clock(s: Option<&Value>) -> i64 {
    let s = s.and_then(Value::as_str).unwrap_or("2026-01-01T00:00:00Z");
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

fn policy_text(holder: &Value, key: &str) -> Option<Vec<u8>> {
    match (holder.get(key), holder.get(format!("{key}_raw"))) {
        (Some(p), _) => Some(p.to_string().into_bytes()),
        (None, Some(Value::String(raw))) => Some(raw.clone().into_bytes()),
        _ => None,
    }
}

fn summary(d: &Decision) -> Value {
    let mut v = d.to_value();
    let o = v.as_object_mut().unwrap();
    o.remove("eval_ns");
    v
}

fn replay(case: &Value, where_: &str, checked: &mut usize) {
    if case.get("expect_error").is_some() {
        return;
    }
    let options = EngineOptions {
        clock: ClockMode::Manual {
            start_ms: clock(case.get("clock")),
        },
        ..EngineOptions::default()
    };
    let Some(policy) = policy_text(case, "policy") else {
        return;
    };
    let Ok(engine) = Engine::new(&policy, options) else {
        return;
    };
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let text = match (step.get("eval"), step.get("eval_raw")) {
            (Some(a), _) => Some(a.to_string()),
            (None, Some(Value::String(raw))) => Some(raw.clone()),
            _ => None,
        };
        if let Some(text) = text {
            let first = engine.explain(text.as_bytes());
            let second = engine.explain(text.as_bytes());
            let decided = engine.evaluate_json(text.as_bytes());
            assert_eq!(
                summary(&first.decision),
                summary(&decided),
                "{where_} step {i}"
            );
            assert_eq!(
                summary(&second.decision),
                summary(&decided),
                "{where_} step {i}"
            );
            let json: Value = read_unbounded(&first.to_json());
            assert_eq!(json["decision"]["effect"], summary(&decided)["effect"]);
            *checked += 1;
        } else if let Some(ms) = step.get("advance_ms").and_then(Value::as_i64) {
            engine.set_time(engine.now_ms() + ms).unwrap();
        } else if let Some(at) = step.get("set_clock") {
            engine.set_time(clock(Some(at))).unwrap();
        } else if let Some(action) = step.get("approve") {
            let ttl = step["ttl_ms"].as_u64().unwrap();
            let uses = step.get("uses").and_then(Value::as_u64).unwrap_or(1) as u32;
            engine.approve_action_value(action, ttl, uses).unwrap();
        } else if let Some(p) = policy_text(step, "update_policy") {
            let _ = engine.update_policy(&p);
        }
    }
}

/// Reads JSON text without serde_json's 128-level recursion limit (cases may hold values
/// nested up to the policy limit of 512 levels; the test runs on a thread with a large stack).
fn read_unbounded(text: &str) -> Value {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = serde::Deserialize::deserialize(&mut de).unwrap();
    de.end().unwrap();
    value
}

#[test]
fn explain_predicts_every_conformance_decision_without_consuming() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(predict_every_conformance_decision)
        .unwrap()
        .join()
        .unwrap();
}

fn predict_every_conformance_decision() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let v = read_unbounded(&text);
        let cases = match v {
            Value::Array(items) => items,
            one => vec![one],
        };
        for (n, case) in cases.iter().enumerate() {
            replay(case, &format!("{}#{n}", file.display()), &mut checked);
        }
    }
    assert!(checked > 500, "only {checked} evaluations checked");
}

#[test]
fn explain_traces_rules_conditions_and_the_index() {
    let policy = br#"{"portcullis": 1, "name": "p", "rules": [
        {"id": "big", "effect": "deny", "match": {"tool": ["pay"]}, "when": {"field": "params.amount", "gt": 100}},
        {"id": "pay", "effect": "allow", "match": {"tool": ["pay"]}},
        {"id": "mail", "effect": "allow", "match": {"tool": ["mail.send"]}}]}"#;
    let engine = Engine::new(policy, EngineOptions::default()).unwrap();
    let e = engine.explain(br#"{"tool": "pay", "agent": {"id": "a"}, "params": {"amount": 500}}"#);
    let v = e.to_value();
    assert_eq!(v["decision"]["rule"], "big");
    assert_eq!(v["rules"][0]["when"]["value"], 500);
    assert_eq!(v["rules"][0]["when"]["result"], "true");
    assert_eq!(v["rules"][2]["considered"], false);
    assert!(v["rules"][2]["skipped"]
        .as_str()
        .unwrap()
        .contains("match.tool"));
    let e = engine.explain(br#"{"tool": "pay", "agent": {"id": "a"}}"#);
    assert_eq!(e.to_value()["rules"][0]["when"]["result"], "unknown");
    assert_eq!(e.to_value()["rules"][0]["fires"], true);
    let e = engine.explain(b"{not json");
    assert_eq!(e.to_value()["decision"]["code"], "invalid_action");
}

#[test]
fn explain_names_the_guard_that_skipped_a_rule() {
    let policy = br#"{"portcullis": 1, "name": "p", "rules": [
        {"id": "t-acme", "effect": "deny", "match": {"tool": ["pay"]},
         "when": {"all": [{"field": "context.tenant", "exists": true}, {"field": "context.tenant", "eq": "acme"}]}},
        {"id": "t-globex", "effect": "deny", "match": {"tool": ["pay"]}, "when": {"field": "context.tenant", "in": ["globex"]}},
        {"id": "pay", "effect": "allow", "match": {"tool": ["pay"]}}]}"#;
    let engine = Engine::new(policy, EngineOptions::default()).unwrap();
    let e = engine
        .explain(br#"{"tool": "pay", "agent": {"id": "a"}, "context": {"tenant": "globex"}}"#);
    let v = e.to_value();
    assert_eq!(v["decision"]["rule"], "t-globex");
    assert_eq!(v["rules"][0]["considered"], false);
    let why = v["rules"][0]["skipped"].as_str().unwrap();
    assert!(
        why.contains("context.tenant") && why.contains("eq"),
        "{why}"
    );
    assert_eq!(v["rules"][1]["considered"], true);
    assert!(v["steps"][0].as_str().unwrap().contains("offered 2 of 3"));
    // A missing field makes the guard unknown: the index offers the rule.
    let e = engine.explain(br#"{"tool": "pay", "agent": {"id": "a"}}"#);
    assert_eq!(e.to_value()["rules"][1]["considered"], true);
    assert_eq!(e.to_value()["rules"][1]["fires"], true);
}
