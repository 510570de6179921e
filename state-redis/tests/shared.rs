//! Shared state on real Redis servers: exact limits and grants across processes, failure and
//! recovery. Needs `redis-server` and `redis-cli` (Debian's redis-server package).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::{count, counts, hammer, Cluster, Server};
use portcullis::{Code, Engine, EngineOptions};
use portcullis_redis::RedisState;
use std::sync::Arc;

const LIMITED: &str = r#"{"portcullis": 1, "name": "fleet", "default": "allow", "rules": [
  {"id": "cap", "effect": "rate_limit", "match": {"tool": ["send"]},
   "limit": {"max": 1000, "window": "1h", "per": []}},
  {"id": "ask", "effect": "require_approval", "match": {"tool": ["pay"]}}]}"#;
const SEND: &str = r#"{"tool": "send", "agent": {"id": "a"}}"#;
const PAY: &str = r#"{"tool": "pay", "agent": {"id": "a"}, "params": {"to": "x"}}"#;
const READ: &str = r#"{"tool": "read", "agent": {"id": "a"}}"#;

fn engine(url: &str) -> Engine {
    let state = RedisState::connect(url).unwrap();
    let options = EngineOptions {
        state: Some(Arc::new(state)),
        ..EngineOptions::default()
    };
    Engine::new(LIMITED.as_bytes(), options).unwrap()
}

fn race(url: &str) {
    let procs: Vec<_> = (0..4).map(|_| hammer(url, LIMITED, SEND, 2, 400)).collect();
    let (mut admitted, mut limited) = (0, 0);
    for p in procs {
        let c = counts(p);
        admitted += count(&c, "default");
        limited += count(&c, "rate_limited");
        assert_eq!(count(&c, "unavailable"), 0, "{c}");
    }
    assert_eq!(admitted, 1000);
    assert_eq!(limited, 4 * 2 * 400 - 1000);
}

#[test]
fn four_processes_racing_on_one_limit_admit_exactly_max() {
    let server = Server::start(&[]);
    race(&server.url());
}

#[test]
fn a_cluster_counts_exactly_too() {
    let cluster = Cluster::start();
    race(&cluster.url());
}

#[test]
fn a_grant_of_five_uses_is_consumed_five_times_across_processes() {
    let server = Server::start(&[]);
    let url = server.url();
    let approver = engine(&url);
    assert_eq!(
        approver.evaluate_json(PAY.as_bytes()).code,
        Code::ApprovalRequired
    );
    approver
        .approve_action_json(PAY.as_bytes(), 3_600_000, 5)
        .unwrap();
    let procs: Vec<_> = (0..4).map(|_| hammer(&url, LIMITED, PAY, 2, 20)).collect();
    let (mut approved, mut pending) = (0, 0);
    for p in procs {
        let c = counts(p);
        approved += count(&c, "approved");
        pending += count(&c, "approval_required");
    }
    assert_eq!(approved, 5);
    assert_eq!(pending, 4 * 2 * 20 - 5);
}

#[test]
fn losing_redis_denies_only_what_needs_it_and_recovers_without_a_restart() {
    let mut server = Server::start(&[]);
    let e = engine(&format!("{}?timeout_ms=200", server.url()));
    assert_eq!(e.evaluate_json(SEND.as_bytes()).code, Code::Default);

    server.kill();
    for _ in 0..20 {
        let d = e.evaluate_json(SEND.as_bytes());
        assert_eq!(d.code, Code::Unavailable, "{}", d.reason);
        assert!(!d.allowed());
        assert_eq!(e.evaluate_json(PAY.as_bytes()).code, Code::Unavailable);
        // No state needed: decided as before.
        assert_eq!(e.evaluate_json(READ.as_bytes()).code, Code::Default);
    }
    assert!(e.approve_action_json(PAY.as_bytes(), 1000, 1).is_err());

    // Without persistence the counters restart empty; the engine reconnects by itself.
    server.restart();
    let mut recovered = false;
    for _ in 0..50 {
        if e.evaluate_json(SEND.as_bytes()).code == Code::Default {
            recovered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(recovered);
}

#[test]
fn a_stopped_redis_makes_every_call_return_unavailable() {
    let server = Server::start(&[]);
    let e = Arc::new(engine(&format!("{}?timeout_ms=100", server.url())));
    assert_eq!(e.evaluate_json(SEND.as_bytes()).code, Code::Default);
    server.signal("-STOP");
    // Every call returns (bounded by the timeout) with a deny; the test ends because they do.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let d = e.evaluate_json(SEND.as_bytes());
                    assert_eq!(d.code, Code::Unavailable, "{}", d.reason);
                    assert_eq!(e.evaluate_json(READ.as_bytes()).code, Code::Default);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    server.signal("-CONT");
    let mut recovered = false;
    for _ in 0..50 {
        if e.evaluate_json(SEND.as_bytes()).code == Code::Default {
            recovered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(recovered);
}
