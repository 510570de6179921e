//! Policy updates reuse the compiled form of rules whose JSON is unchanged: what an update
//! decides must be exactly what a fresh engine with the new document decides.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use portcullis::{Effect, Engine, EngineOptions};
use serde_json::{json, Value};

fn policy(version: &str, rules: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "portcullis": 1, "name": "update", "version": version, "default": "deny",
        "rules": rules
    }))
    .unwrap()
}

fn effect(engine: &Engine, tool: &str, params: Value) -> (Effect, Option<String>) {
    // `q` is always present: a missing field makes r2's deny condition unknown, which denies.
    let mut params = params;
    params
        .as_object_mut()
        .unwrap()
        .entry("q")
        .or_insert(json!("select"));
    let action = json!({"tool": tool, "agent": {"id": "a"}, "params": params});
    let d = engine.evaluate_value(&action);
    (d.effect, d.rule.map(|r| r.to_string()))
}

#[test]
fn unchanged_rules_decide_the_same_and_changed_ones_take_effect() {
    let allow = json!({"id": "r1", "effect": "allow", "match": {"tool": ["t"]},
                       "when": {"field": "params.n", "lt": 10}});
    let deny_q = json!({"id": "r2", "effect": "deny", "match": {"tool": ["t"]},
                        "when": {"field": "params.q", "matches": "^drop"}});
    let engine = Engine::new(
        &policy("1", json!([allow, deny_q])),
        EngineOptions::default(),
    )
    .unwrap();
    assert_eq!(effect(&engine, "t", json!({"n": 1})).0, Effect::Allow);

    // Same rules, another version: reused, same decisions.
    engine
        .update_policy(&policy("2", json!([allow, deny_q])))
        .unwrap();
    assert_eq!(effect(&engine, "t", json!({"n": 1})).0, Effect::Allow);
    assert_eq!(
        effect(&engine, "t", json!({"n": 1, "q": "drop table"})),
        (Effect::Deny, Some("r2".into()))
    );
    assert_eq!(engine.policy_info().version.as_deref(), Some("2"));

    // r1's text changes under the same id: the new condition applies.
    let allow_20 = json!({"id": "r1", "effect": "allow", "match": {"tool": ["t"]},
                          "when": {"field": "params.n", "lt": 20}});
    engine
        .update_policy(&policy("3", json!([deny_q, allow_20])))
        .unwrap();
    assert_eq!(effect(&engine, "t", json!({"n": 15})).0, Effect::Allow);

    // Back to the first r1 after an intervening policy: still the first condition.
    engine
        .update_policy(&policy("4", json!([allow, deny_q])))
        .unwrap();
    assert_eq!(effect(&engine, "t", json!({"n": 15})).0, Effect::Deny);

    // A rule disabled in place stops deciding; enabled again, it decides again.
    let mut off = allow.clone();
    off["enabled"] = json!(false);
    engine
        .update_policy(&policy("5", json!([off, deny_q])))
        .unwrap();
    assert_eq!(effect(&engine, "t", json!({"n": 1})).0, Effect::Deny);
    engine
        .update_policy(&policy("6", json!([allow, deny_q])))
        .unwrap();
    assert_eq!(effect(&engine, "t", json!({"n": 1})).0, Effect::Allow);
}

#[test]
fn an_unchanged_rule_repeated_under_its_id_is_still_a_duplicate() {
    let r = json!({"id": "r1", "effect": "allow", "match": {"tool": ["t"]}});
    let engine = Engine::new(&policy("1", json!([r])), EngineOptions::default()).unwrap();
    let e = engine
        .update_policy(&policy("2", json!([r, r])))
        .unwrap_err();
    assert_eq!(e.path(), "rules[1].id");
    assert!(e.message().contains("duplicate rule id"), "{e}");
    // The failed update kept the policy, and the next update still loads.
    assert_eq!(engine.policy_info().version.as_deref(), Some("1"));
    engine.update_policy(&policy("3", json!([r]))).unwrap();
    assert_eq!(effect(&engine, "t", json!({})).0, Effect::Allow);
}

#[test]
fn a_reused_rule_is_checked_against_the_new_roles() {
    // The rule is unchanged, but the role it names is no longer defined anywhere.
    let r = json!({"id": "r1", "effect": "allow", "match": {"role": ["ops"]}});
    let with_role = serde_json::to_vec(&json!({
        "portcullis": 1, "name": "update", "default": "deny",
        "agents": [{"id": "a", "roles": ["ops"]}], "rules": [r]
    }))
    .unwrap();
    let engine = Engine::new(&with_role, EngineOptions::default()).unwrap();
    assert_eq!(effect(&engine, "t", json!({})).0, Effect::Allow);
    let e = engine.update_policy(&policy("2", json!([r]))).unwrap_err();
    assert!(e.message().contains("undefined role"), "{e}");
}

/// A document with several problems reports the first in document order, whether it is a new
/// engine's policy or an update (the loader records key order only when a load fails), and
/// the order of `roles` is kept on every load.
#[test]
fn load_errors_name_the_first_problem_in_document_order() {
    let text = br#"{"portcullis": 1, "name": "p", "zeta": 1,
        "rules": [{"id": "r", "effect": "allow", "when": {"field": "tool", "op": "eq", "value": "t"}, "yank": 1, "beta": 2}],
        "alpha": 2}"#;
    let first = Engine::new(text, EngineOptions::default()).unwrap_err();
    assert!(first.to_string().contains("\"zeta\""), "{first}");
    let engine = Engine::new(&policy("1", json!([])), EngineOptions::default()).unwrap();
    let again = engine.update_policy(text).unwrap_err();
    assert_eq!(again.to_string(), first.to_string());
    let in_rule = br#"{"portcullis": 1, "name": "p",
        "rules": [{"id": "r", "effect": "allow", "yank": 1, "beta": 2}]}"#;
    let e = engine.update_policy(in_rule).unwrap_err();
    assert!(e.to_string().contains("\"yank\""), "{e}");
}

/// Rules whose bytes are unchanged are not parsed again; the same rules written with other
/// white space are recognised by value; brackets and quotes inside strings do not confuse
/// where a rule's text ends.
#[test]
fn rules_reused_by_text_and_by_value_decide_as_a_fresh_engine() {
    let tricky = json!({"id": "r1", "effect": "deny", "match": {"tool": ["t"]},
                        "when": {"field": "params.q", "matches": "^\\]\"\\}"}});
    let allow = json!({"id": "r2", "effect": "allow", "match": {"tool": ["t"]}});
    let extra = json!({"id": "r3", "effect": "deny", "match": {"tool": ["other"]}});
    let compact = |version: &str, rules: Value| policy(version, rules);
    let pretty = |version: &str, rules: Value| {
        serde_json::to_vec_pretty(&json!({
            "portcullis": 1, "name": "update", "version": version, "default": "deny",
            "rules": rules
        }))
        .unwrap()
    };
    let engine = Engine::new(
        &compact("1", json!([tricky, allow])),
        EngineOptions::default(),
    )
    .unwrap();
    let check = |engine: &Engine| {
        assert_eq!(
            effect(engine, "t", json!({"q": "]\"} x"})),
            (Effect::Deny, Some("r1".into()))
        );
        assert_eq!(
            effect(engine, "t", json!({"q": "x"})),
            (Effect::Allow, Some("r2".into()))
        );
    };
    check(&engine);
    for (version, text) in [
        ("2", compact("2", json!([tricky, allow]))),
        ("3", compact("3", json!([tricky, allow]))),
        ("4", pretty("4", json!([tricky, allow]))),
        ("5", pretty("5", json!([allow, tricky]))),
        ("6", compact("6", json!([tricky, allow]))),
        ("7", compact("7", json!([extra, tricky, allow]))),
        ("8", compact("8", json!([tricky, extra, allow]))),
        ("9", compact("9", json!([tricky, allow]))),
        ("10", compact("10", json!([allow, extra, tricky]))),
    ] {
        engine.update_policy(&text).unwrap();
        assert_eq!(engine.policy_info().version.as_deref(), Some(version));
        check(&engine);
        let fresh = Engine::new(&text, EngineOptions::default()).unwrap();
        check(&fresh);
    }
    assert_eq!(effect(&engine, "other", json!({})).0, Effect::Deny);
    // A changed rule after text reuse takes effect.
    let deny_all = json!({"id": "r2", "effect": "deny", "match": {"tool": ["t"]}});
    engine
        .update_policy(&compact("7", json!([tricky, deny_all])))
        .unwrap();
    assert_eq!(
        effect(&engine, "t", json!({"q": "x"})),
        (Effect::Deny, Some("r2".into()))
    );
}
