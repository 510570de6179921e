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
use portcullis_conformance::{self as conformance, on_big_stack, Case, PolicySource, Step};
use serde_json::Value;
use std::path::Path;

fn summary(d: &Decision) -> Value {
    let mut v = d.to_value();
    let o = v.as_object_mut().unwrap();
    o.remove("eval_ns");
    v
}

fn replay(case: &Case, where_: &str, checked: &mut usize) {
    if case.expect_error.is_some() {
        return;
    }
    let options = EngineOptions {
        clock: ClockMode::Manual {
            start_ms: case.clock_ms.clone().unwrap(),
        },
        ..EngineOptions::default()
    };
    let Ok(Some(PolicySource::Text(policy))) = &case.policy else {
        return;
    };
    let Ok(engine) = Engine::new(policy.as_bytes(), options) else {
        return;
    };
    for (i, step) in case.steps().unwrap().iter().enumerate() {
        let text = match step.as_ref().unwrap() {
            Step::Eval { action, .. } => action.to_string(),
            Step::EvalRaw { text, .. } => text.clone(),
            Step::AdvanceMs(ms) => {
                engine.set_time(engine.now_ms() + ms).unwrap();
                continue;
            }
            Step::SetClock(at) => {
                engine.set_time(*at).unwrap();
                continue;
            }
            Step::Approve {
                action,
                ttl_ms,
                uses,
            } => {
                engine.approve_action_value(action, *ttl_ms, *uses).unwrap();
                continue;
            }
            Step::UpdatePolicy { text, .. } => {
                let _ = engine.update_policy(text.as_bytes());
                continue;
            }
        };
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
        let json = conformance::read_value(&first.to_json()).unwrap();
        assert_eq!(json["decision"]["effect"], summary(&decided)["effect"]);
        *checked += 1;
    }
}

#[test]
fn explain_predicts_every_conformance_decision_without_consuming() {
    on_big_stack(predict_every_conformance_decision);
}

fn predict_every_conformance_decision() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut checked = 0;
    for file in &conformance::files(&dir) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, raw) in conformance::read_file(&text).unwrap().iter().enumerate() {
            let case = Case::parse(raw).unwrap();
            replay(&case, &format!("{}#{n}", file.display()), &mut checked);
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
