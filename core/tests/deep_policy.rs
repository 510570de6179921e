//! Policies nested up to the 512-level limit load and evaluate on a thread with a small
//! (256 KiB) stack; one level more is a load error naming the limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use portcullis::{limits_info::MAX_POLICY_DEPTH, Effect, Engine, EngineOptions};

/// A policy whose total nesting depth is `depth`: a deny rule whose `ne` operand is a nested
/// list (document 1, rules 2, rule 3, when 4, operand 5 and below).
fn policy(depth: usize) -> String {
    let operand = format!("{}{}", "[".repeat(depth - 4), "]".repeat(depth - 4));
    format!(
        r#"{{"portcullis": 1, "name": "deep", "default": "allow", "rules": [
            {{"id": "deep", "effect": "deny", "when": {{"field": "params.x", "ne": {operand}}}}}]}}"#
    )
}

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn depth_512_loads_and_evaluates_on_a_256_kib_stack() {
    assert_eq!(MAX_POLICY_DEPTH, 512);
    let effects = on_small_stack(|| {
        let engine = Engine::new(policy(512).as_bytes(), EngineOptions::default()).unwrap();
        let deep = engine
            .evaluate_json(br#"{"tool": "t", "agent": {"id": "a"}, "params": {"x": [[[]]]}}"#);
        let flat =
            engine.evaluate_json(br#"{"tool": "t", "agent": {"id": "a"}, "params": {"x": 1}}"#);
        engine
            .update_policy(policy(511).as_bytes())
            .expect("511 levels load");
        drop(engine);
        (deep.effect, flat.effect)
    });
    assert_eq!(effects, (Effect::Deny, Effect::Deny));
}

#[test]
fn depth_513_is_a_load_error_at_the_root_naming_the_limit() {
    for text in [policy(513), "[".repeat(100_000)] {
        let err = on_small_stack(move || {
            Engine::new(text.as_bytes(), EngineOptions::default()).unwrap_err()
        });
        assert_eq!(err.path(), "");
        assert!(err.message().contains("512"), "{}", err.message());
    }
}
