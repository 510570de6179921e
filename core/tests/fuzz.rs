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

/// Values from a small set, so that conditions and actions meet often.
fn small_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-2i64..4).prop_map(Value::from),
        Just(json!(0.5)),
        Just(json!(-0.0)),
        Just(json!(1e300)),
        Just(json!(18446744073709551615u64)),
        Just(json!("a")),
        Just(json!("ab")),
        Just(json!("A\u{e9}\u{1f600}\"\\\n")),
        Just(json!("/srv/x")),
        Just(json!("https://a.example/x")),
        Just(json!([1, "a"])),
        Just(json!({"x": 1})),
        Just(json!({})),
    ]
}

/// A condition leaf with an operand its operator accepts, or a combination of them.
fn fitting_condition() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("params.x"),
        Just("params.a.0"),
        Just("params.a.1.x"),
        Just("params.n"),
        Just("params"),
        Just("/params/a/0"),
        Just("context.t"),
        Just("context"),
        Just("target"),
        Just("kind"),
        Just("tool"),
        Just("agent.id"),
    ];
    let op = prop_oneof![
        small_value().prop_map(|v| ("eq", v)),
        small_value().prop_map(|v| ("ne", v)),
        prop::collection::vec(small_value(), 1..3).prop_map(|v| ("in", Value::Array(v))),
        (-2i64..4).prop_map(|n| ("lt", json!(n))),
        (-2i64..4).prop_map(|n| ("gte", json!(n))),
        Just(("prefix", json!("a"))),
        Just(("suffix", json!("x"))),
        small_value().prop_map(|v| ("contains", v)),
        Just(("matches", json!("^a"))),
        Just(("glob", json!("a*"))),
        any::<bool>().prop_map(|b| ("exists", json!(b))),
        Just(("path_within", json!(["/srv"]))),
        Just(("host_in", json!(["a.example"]))),
    ];
    let leaf = (field, op).prop_map(|(f, (o, v))| json!({"field": f, o: v}));
    leaf.prop_recursive(3, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"all": v})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"any": v})),
            inner.prop_map(|c| json!({"not": c})),
        ]
    })
}

/// Actions over the small values, each top-level field sometimes any JSON (valid and invalid
/// shapes both come).
fn loose_action() -> impl Strategy<Value = Value> {
    let pick = |v: Value| prop_oneof![4 => Just(v), 1 => small_value(), 1 => any_json()];
    (
        (small_value(), small_value(), small_value(), small_value()),
        pick(json!("tool_call")),
        pick(json!("/srv/a.txt")),
        pick(json!({"id": "a1"})),
        pick(json!("2026-01-02T03:04:05Z")),
        prop_oneof![Just(json!("t")), Just(json!("ab")), small_value()],
        any_json(),
    )
        .prop_map(
            |((x, a, n, t), kind, target, agent, timestamp, tool, extra)| {
                json!({"tool": tool, "kind": kind, "target": target, "agent": agent,
                   "timestamp": timestamp, "extra": extra,
                   "params": {"x": x, "a": [a, {"x": x}], "n": n}, "context": {"t": t}})
            },
        )
}
/// The action as text, with at most one byte edited (deleted, replaced or inserted).
fn action_text() -> impl Strategy<Value = Vec<u8>> {
    (
        loose_action(),
        any::<prop::sample::Index>(),
        0u8..4,
        any::<u8>(),
    )
        .prop_map(|(a, at, edit, byte)| {
            let mut text = a.to_string().into_bytes();
            let i = at.index(text.len() + 1);
            match edit {
                0 => {}
                1 if i < text.len() => {
                    text.remove(i);
                }
                2 if i < text.len() => text[i] = byte,
                _ => text.insert(i, byte),
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The verdict from JSON text reads the action without building it whole; it must be the
    /// full decision's, whatever the rules read and whatever the text holds.
    #[test]
    fn the_verdict_from_text_is_the_full_decisions(
        allow in fitting_condition(), deny in fitting_condition(), approve in fitting_condition(),
        text in action_text()
    ) {
        let policy = json!({"portcullis": 1, "name": "p", "rules": [
            {"id": "watch", "effect": "deny", "shadow": true, "when": deny.clone()},
            {"id": "no", "effect": "deny", "when": deny},
            {"id": "ask", "effect": "require_approval", "when": approve},
            {"id": "rewrite", "effect": "allow", "when": allow.clone(),
             "modify": {"set": {"params.x": 1}, "remove": ["params.a"], "clamp": {"params.n": {"max": 3}}}},
            {"id": "yes", "effect": "allow", "when": allow},
            {"id": "target", "effect": "allow", "match": {"tool": ["t"]},
             "when": {"any": [{"field": "target", "prefix": "/srv/"}, {"field": "kind", "eq": "message"},
                              {"field": "agent.id", "glob": "a*"}, {"field": "params", "exists": true},
                              {"field": "context", "eq": {"t": null}}, {"field": "params.a.0.x", "exists": true}]}}]});
        let Ok(verdicts) = Engine::new(policy.to_string().as_bytes(), opts()) else {
            return Ok(());
        };
        let decisions = Engine::new(policy.to_string().as_bytes(), opts()).unwrap();
        let mut got = verdicts.evaluate_json_verdict(&text);
        let full = decisions.evaluate_json(&text);
        let mut want = portcullis::Verdict::from(&full);
        got.eval_ns = 0;
        want.eval_ns = 0;
        prop_assert_eq!(got, want, "{}", String::from_utf8_lossy(&text));
        // The full decision from text (also read into a tape) is the one from the same action
        // given as a value, hash and rewritten params included.
        if full.code != Code::InvalidAction {
            let values = Engine::new(policy.to_string().as_bytes(), opts()).unwrap();
            let value: Value = serde_json::from_slice(&text).unwrap();
            let strip = |d: &portcullis::Decision| {
                let mut v = d.to_value();
                v.as_object_mut().unwrap().remove("eval_ns");
                v
            };
            prop_assert_eq!(strip(&full), strip(&values.evaluate_value(&value)));
        }
    }
}
