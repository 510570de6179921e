//! Property tests over the two parsers users feed us: policy documents and actions. Nothing
//! may panic, an invalid action is always denied, and no policy makes evaluation fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use portcullis::{ClockMode, Code, Effect, Engine, EngineOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("PORTCULLIS_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

fn opts() -> EngineOptions {
    EngineOptions {
        clock: ClockMode::Manual {
            start_ms: 1_780_000_000_000,
        },
        ..EngineOptions::default()
    }
}

/// Arbitrary JSON, biased toward the words the engine reads.
fn any_json() -> impl Strategy<Value = Value> {
    let words = prop_oneof![
        Just("tool".to_string()),
        Just("agent".to_string()),
        Just("id".to_string()),
        Just("params".to_string()),
        Just("kind".to_string()),
        Just("field".to_string()),
        Just("eq".to_string()),
        Just("all".to_string()),
        Just("not".to_string()),
        Just("rules".to_string()),
        Just("effect".to_string()),
        Just("deny".to_string()),
        "[a-z._*?/\\\\{}]{0,8}".prop_map(|s| s),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        words.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Conditions built from real operators with arbitrary operands and fields.
fn condition() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("params.x"),
        Just("params.a.0"),
        Just("tool"),
        Just("agent.roles"),
        Just("context.t"),
        Just("/params/x"),
    ];
    let op = prop_oneof![
        Just("exists"),
        Just("eq"),
        Just("ne"),
        Just("in"),
        Just("lt"),
        Just("gte"),
        Just("prefix"),
        Just("contains"),
        Just("matches"),
        Just("glob"),
        Just("path_within"),
        Just("host_in"),
    ];
    let leaf = (field, op, any_json()).prop_map(|(f, o, v)| json!({"field": f, o: v}));
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"all": v})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"any": v})),
            inner.prop_map(|c| json!({"not": c})),
        ]
    })
}

fn action() -> impl Strategy<Value = Value> {
    (prop_oneof![Just("t"), Just("search.web"), Just("x")], any_json(), any_json()).prop_map(|(tool, x, a)| {
        json!({"tool": tool, "agent": {"id": "a1"}, "params": {"x": x, "a": [a]}, "context": {"t": x}})
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Engine::new(&bytes, opts());
        let engine = Engine::new(br#"{"portcullis": 1, "name": "p", "default": "allow"}"#, opts()).unwrap();
        let d = engine.evaluate_json(&bytes);
        if d.code == Code::InvalidAction {
            prop_assert_eq!(d.effect, Effect::Deny);
            prop_assert!(d.action_hash.is_none());
        }
    }

    #[test]
    fn arbitrary_json_policies_and_actions_never_panic(policy in any_json(), act in any_json()) {
        let _ = Engine::new(policy.to_string().as_bytes(), opts());
        let engine = Engine::new(br#"{"portcullis": 1, "name": "p", "default": "allow"}"#, opts()).unwrap();
        let d = engine.evaluate_value(&act);
        prop_assert!(d.code != Code::EngineError);
    }

    #[test]
    fn generated_rules_load_or_fail_cleanly_and_never_fail_open(
        when in condition(), effect in prop_oneof![Just("allow"), Just("deny")], act in action()
    ) {
        let policy = json!({"portcullis": 1, "name": "p", "rules": [
            {"id": "r", "effect": effect, "when": when}]});
        if let Ok(engine) = Engine::new(policy.to_string().as_bytes(), opts()) {
            let d = engine.evaluate_value(&act);
            prop_assert!(d.code != Code::EngineError, "{}", d.reason);
            // With default deny, only the allow rule can allow.
            if effect == "deny" {
                prop_assert_eq!(d.effect, Effect::Deny);
            }
        }
    }
}
