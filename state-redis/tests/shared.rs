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

const THREE: &str = r#"{"portcullis": 1, "name": "tls", "default": "allow", "rules": [
  {"id": "cap", "effect": "rate_limit", "match": {"tool": ["send"]},
   "limit": {"max": 3, "window": "1h", "per": []}}]}"#;

fn engine_on(url: &str, policy: &str) -> Result<Engine, String> {
    let state = RedisState::connect(url).map_err(|e| e.to_string())?;
    let options = EngineOptions {
        state: Some(Arc::new(state)),
        ..EngineOptions::default()
    };
    Engine::new(policy.as_bytes(), options).map_err(|e| e.to_string())
}

#[test]
fn rediss_with_the_urls_ca_counts_limits_over_tls() {
    let tls = common::TlsServer::start();
    let url = format!(
        "rediss://127.0.0.1:{}/0?tls_ca={}&timeout_ms=2000",
        tls.tls_port,
        tls.ca()
    );
    let (a, b) = (
        engine_on(&url, THREE).unwrap(),
        engine_on(&url, THREE).unwrap(),
    );
    let codes: Vec<Code> = (0..6)
        .map(|i| {
            let e = if i % 2 == 0 { &a } else { &b };
            e.evaluate_json(SEND.as_bytes()).code
        })
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == Code::Default).count(), 3);
    assert_eq!(
        codes.iter().filter(|c| **c == Code::RateLimited).count(),
        3,
        "{codes:?}"
    );
    // The admissions are in the server the plain port also reaches: one store.
    let plain = engine_on(&tls.server.url(), THREE).unwrap();
    assert_eq!(plain.evaluate_json(SEND.as_bytes()).code, Code::RateLimited);
}

#[test]
fn rediss_without_a_trusted_ca_is_unavailable_not_unverified() {
    let tls = common::TlsServer::start();
    // The test CA is not in the system's store: the handshake must fail (fail closed).
    let url = format!("rediss://127.0.0.1:{}/0?timeout_ms=2000", tls.tls_port);
    let e = engine_on(&url, THREE).unwrap();
    let d = e.evaluate_json(SEND.as_bytes());
    assert_eq!(d.code, Code::Unavailable, "{}", d.reason);
}

#[test]
fn malformed_state_urls_are_refused_when_the_engine_is_created() {
    for url in [
        "http://127.0.0.1:6379",
        "redis://",
        "redis://127.0.0.1:notaport",
        "redis://a:1,b:2",
        "redis://127.0.0.1?timeout_ms=soon",
        "redis://127.0.0.1?tls_ca=/etc/hostname",
        "rediss://127.0.0.1?tls_ca=/nonexistent/ca.pem",
    ] {
        let error = engine_on(url, THREE).unwrap_err();
        assert!(error.contains("state URL"), "{url}: {error}");
    }
}
