//! Counting stays exact and snapshots never mix under concurrency.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use portcullis::{ClockMode, Code, Effect, Engine, EngineOptions};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

fn manual() -> EngineOptions {
    EngineOptions {
        clock: ClockMode::Manual {
            start_ms: 1_700_000_000_000,
        },
        ..EngineOptions::default()
    }
}

fn race(
    engine: &Arc<Engine>,
    threads: usize,
    per_thread: usize,
    action: &'static str,
) -> (usize, usize) {
    let allowed = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (engine, allowed, limited) = (engine.clone(), allowed.clone(), limited.clone());
            thread::spawn(move || {
                for _ in 0..per_thread {
                    let d = engine.evaluate_json(action.as_bytes());
                    match (d.effect, d.code) {
                        (Effect::Allow, _) => allowed.fetch_add(1, Ordering::SeqCst),
                        (Effect::Deny, Code::RateLimited) => limited.fetch_add(1, Ordering::SeqCst),
                        other => panic!("unexpected decision {other:?}: {}", d.reason),
                    };
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    (
        allowed.load(Ordering::SeqCst),
        limited.load(Ordering::SeqCst),
    )
}

#[test]
fn racing_threads_admit_exactly_max() {
    let policy = br#"{"portcullis": 1, "name": "p", "default": "allow", "rules": [
        {"id": "cap", "effect": "rate_limit", "limit": {"max": 1000, "window": "1h", "per": []}},
        {"id": "cap-per-agent", "effect": "rate_limit", "limit": {"max": 1500, "window": "1h"}}]}"#;
    let engine = Arc::new(Engine::new(policy, manual()).unwrap());
    let (allowed, limited) = race(&engine, 8, 400, r#"{"tool": "t", "agent": {"id": "a1"}}"#);
    assert_eq!(allowed, 1000);
    assert_eq!(limited, 8 * 400 - 1000);
}

#[test]
fn racing_threads_consume_a_grant_exactly_uses_times() {
    let policy = br#"{"portcullis": 1, "name": "p", "rules": [
        {"id": "ask", "effect": "require_approval", "match": {"tool": ["pay"]}}]}"#;
    let engine = Arc::new(Engine::new(policy, manual()).unwrap());
    let action = r#"{"tool": "pay", "agent": {"id": "a1"}, "params": {"amount": 5}}"#;
    engine
        .approve_action_json(action.as_bytes(), 60_000, 25)
        .unwrap();
    let approved = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (engine, approved) = (engine.clone(), approved.clone());
            thread::spawn(move || {
                for _ in 0..50 {
                    let d = engine.evaluate_json(action.as_bytes());
                    if d.code == Code::Approved {
                        approved.fetch_add(1, Ordering::SeqCst);
                    } else {
                        assert_eq!(d.code, Code::ApprovalRequired);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(approved.load(Ordering::SeqCst), 25);
}

#[test]
fn policy_swap_storm_never_mixes_snapshots() {
    // Every field of a decision must come from one snapshot: policy a denies with rule
    // "deny-a", policy b allows with rule "allow-b" and rewrites a parameter.
    let a = br#"{"portcullis": 1, "name": "a", "version": "1", "rules": [
        {"id": "deny-a", "effect": "deny", "match": {"tool": ["x"]}, "reason": "from a"}]}"#;
    let b = br#"{"portcullis": 1, "name": "b", "version": "2", "rules": [
        {"id": "allow-b", "effect": "allow", "match": {"tool": ["x"]}, "reason": "from b",
         "modify": {"set": {"params.by": "b"}}}]}"#;
    let engine = Arc::new(Engine::new(a, manual()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (engine, stop, seen) = (engine.clone(), stop.clone(), seen.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let d = engine.evaluate_json(br#"{"tool": "x", "agent": {"id": "a1"}}"#);
                    match &*d.policy.name {
                        "a" => {
                            assert_eq!(
                                (d.effect, d.rule.as_deref(), &*d.reason),
                                (Effect::Deny, Some("deny-a"), "from a")
                            );
                            assert_eq!(d.policy.version.as_deref(), Some("1"));
                            assert!(d.params.is_none());
                            seen[0].fetch_add(1, Ordering::Relaxed);
                        }
                        "b" => {
                            assert_eq!(
                                (d.effect, d.rule.as_deref(), &*d.reason),
                                (Effect::Allow, Some("allow-b"), "from b")
                            );
                            assert_eq!(d.policy.version.as_deref(), Some("2"));
                            assert_eq!(d.params, Some(serde_json::json!({"by": "b"})));
                            seen[1].fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("unknown policy {other}"),
                    }
                }
            })
        })
        .collect();
    for i in 0..3000 {
        engine
            .update_policy(if i % 2 == 0 { b } else { a })
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(seen[0].load(Ordering::Relaxed) > 0 && seen[1].load(Ordering::Relaxed) > 0);
}

#[test]
fn counters_carry_over_an_update_that_keeps_the_limit() {
    let p1 = br#"{"portcullis": 1, "name": "p", "default": "allow", "rules": [
        {"id": "cap", "effect": "rate_limit", "limit": {"max": 2, "window": "60s", "per": ["agent", "tool"]}}]}"#;
    let p2 = br#"{"portcullis": 1, "name": "p2", "default": "allow", "rules": [
        {"id": "other", "effect": "deny", "match": {"tool": ["nope"]}},
        {"id": "cap", "effect": "rate_limit", "limit": {"max": 2, "window": "1m", "per": ["tool", "agent"]}}]}"#;
    let engine = Engine::new(p1, manual()).unwrap();
    let act = br#"{"tool": "t", "agent": {"id": "a"}}"#;
    assert!(engine.evaluate_json(act).allowed());
    assert!(engine.evaluate_json(act).allowed());
    engine.update_policy(p2).unwrap();
    let d = engine.evaluate_json(act);
    assert_eq!(
        (d.code, d.rule.as_deref()),
        (Code::RateLimited, Some("cap"))
    );
    // A changed max starts the counters afresh.
    engine
        .update_policy(&p2.replace(b"\"max\": 2", b"\"max\": 3"))
        .unwrap();
    assert!(engine.evaluate_json(act).allowed());
}

trait Replace {
    fn replace(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}
impl Replace for [u8] {
    fn replace(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace(
                &*String::from_utf8_lossy(from),
                &String::from_utf8_lossy(to),
            )
            .into_bytes()
    }
}

/// Two limits listed in one order, then in the other: their counters carry over the update, so
/// a decision on the old snapshot and one on the new lock the same two counters. Locking them
/// in document order would let the two decisions wait for each other forever.
#[test]
fn reordering_two_limits_while_deciding_never_deadlocks() {
    let rule_a = r#"{"id": "a", "effect": "rate_limit", "limit": {"max": 1000000, "window": "1h", "per": ["agent"]}}"#;
    let rule_b = r#"{"id": "b", "effect": "rate_limit", "limit": {"max": 1000000, "window": "1h", "per": ["tool"]}}"#;
    let policy = |first: &str, second: &str| {
        format!(
            r#"{{"portcullis": 1, "name": "p", "default": "allow", "rules": [{first}, {second}]}}"#
        )
    };
    let versions = [policy(rule_a, rule_b), policy(rule_b, rule_a)];
    let engine = Arc::new(Engine::new(versions[0].as_bytes(), manual()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (engine, stop, done_tx) = (engine.clone(), stop.clone(), done_tx.clone());
        workers.push(thread::spawn(move || {
            let mut allowed = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let d = engine.evaluate_json(br#"{"tool": "t", "agent": {"id": "a1"}}"#);
                assert_eq!(d.effect, Effect::Allow, "{}", d.reason);
                allowed += 1;
            }
            done_tx.send(allowed).unwrap();
        }));
    }
    {
        let (engine, stop) = (engine.clone(), stop.clone());
        workers.push(thread::spawn(move || {
            for k in 0..20000 {
                engine.update_policy(versions[k % 2].as_bytes()).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
        }));
    }
    drop(done_tx);
    let mut total = 0;
    for _ in 0..2 {
        total += done_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("two decisions waited for each other's rate-limit lock");
    }
    assert!(total > 0);
    for w in workers {
        w.join().unwrap();
    }
}
