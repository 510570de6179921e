//! Faults with real processes: SIGKILL and SIGSTOP under load, and reloads every 10 ms under
//! load. Clients fail closed (`unavailable`, or the fallback's decision), never otherwise allow,
//! and recover.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::{action, Dir, Server};
use portcullis::{Code, Decision, Effect, Engine, EngineOptions};
use portcullis_server::client::RemoteOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server's policy allows: `fs.read` by rule `reads` only (`search` is rate-limited).
fn served_allow(d: &Decision) -> bool {
    !d.fallback && d.rule.as_deref() == Some("reads") && &*d.policy.name == "served"
}

const FALLBACK: &str = r#"{"portcullis": 1, "name": "fallback", "rules": [
  {"id": "fb-list", "effect": "allow", "match": {"tool": ["fs.list"]}}]}"#;

/// Runs `threads` clients in a loop until `stop`, collecting every decision.
fn load(
    server: &Server,
    threads: usize,
    fallback: bool,
    timeout_ms: u64,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<Decision>>> {
    (0..threads)
        .map(|i| {
            let client = server.client(RemoteOptions {
                timeout: Duration::from_millis(timeout_ms),
                fallback: fallback
                    .then(|| Engine::new(FALLBACK.as_bytes(), EngineOptions::default()).unwrap()),
                breaker_failures: 3,
                breaker_cooldown: Duration::from_millis(50),
                ..RemoteOptions::default()
            });
            let stop = stop.clone();
            std::thread::spawn(move || {
                let tools = ["fs.read", "fs.write", "fs.list"];
                let mut out = Vec::new();
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    out.push(client.evaluate_value(&action(tools[n % 3])));
                    n += 1;
                }
                out
            })
        })
        .collect()
}

fn check_fail_closed(all: &[Decision], fallback: bool) -> (usize, usize) {
    let (mut unavailable, mut fell_back) = (0, 0);
    for d in all {
        if d.fallback {
            assert!(fallback, "a fallback decision without a fallback policy");
            assert_eq!(&*d.policy.name, "fallback");
            assert!(d.to_json().ends_with(",\"fallback\":true}"));
            if d.allowed() {
                assert_eq!(d.rule.as_deref(), Some("fb-list"));
            }
            fell_back += 1;
        } else if d.code == Code::Unavailable {
            assert_eq!(d.effect, Effect::Deny);
            assert!(!d.reason.is_empty());
            assert!(!d.to_json().contains("fallback"));
            unavailable += 1;
        } else if d.allowed() {
            assert!(served_allow(d), "an allow from nowhere: {}", d.to_json());
        }
    }
    (unavailable, fell_back)
}

fn run_kill(fallback: bool) {
    let dir = Dir::new(if fallback { "kill-fb" } else { "kill" });
    let mut server = Server::start(&dir, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&server, 2, fallback, 200, stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    server.signal("KILL");
    server.wait_exit();
    std::thread::sleep(Duration::from_millis(300));
    server.spawn();
    // Recovery: a fresh decision from the restarted server.
    let probe = server.client(RemoteOptions::default());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !served_allow(&probe.evaluate_value(&action("fs.read"))) {
        assert!(Instant::now() < deadline, "no recovery");
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let per: Vec<Vec<Decision>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    for decisions in &per {
        // Each client recovered: its last decision came from the server again.
        let last = decisions.last().unwrap();
        assert!(
            !last.fallback && last.code != Code::Unavailable,
            "{}",
            last.to_json()
        );
    }
    let all: Vec<Decision> = per.into_iter().flatten().collect();
    let (unavailable, fell_back) = check_fail_closed(&all, fallback);
    if fallback {
        assert!(fell_back > 0 && unavailable == 0);
    } else {
        assert!(unavailable > 0 && fell_back == 0);
    }
    println!(
        "sigkill (fallback {fallback}): {} decisions, {unavailable} unavailable, {fell_back} fallback",
        all.len()
    );
}

#[test]
fn sigkill_under_load_fails_closed_and_recovers() {
    run_kill(false);
}

#[test]
fn sigkill_under_load_uses_the_fallback_policy_and_recovers() {
    run_kill(true);
}

#[test]
fn sigstop_timeouts_hold() {
    let dir = Dir::new("stop");
    let server = Server::start(&dir, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&server, 2, false, 100, stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    server.signal("STOP");
    server.wait_stopped();
    let client = server.client(RemoteOptions {
        timeout: Duration::from_millis(100),
        breaker_failures: 0,
        ..RemoteOptions::default()
    });
    let d = client.evaluate_value(&action("fs.read"));
    assert_eq!((d.effect, d.code), (Effect::Deny, Code::Unavailable));
    assert!(
        d.reason.contains("did not answer within 100 ms"),
        "{}",
        d.reason
    );
    std::thread::sleep(Duration::from_millis(300));
    server.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !served_allow(&client.evaluate_value(&action("fs.read"))) {
        assert!(Instant::now() < deadline, "no recovery after SIGCONT");
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let all: Vec<Decision> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let (unavailable, _) = check_fail_closed(&all, false);
    assert!(unavailable > 0);
}

#[test]
fn reload_every_10ms_under_load_fails_no_decision() {
    let dir = Dir::new("reload10");
    let server = Server::start(&dir, &["--watch-interval-ms", "5"]);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&server, 2, false, 2000, stop.clone());
    let names = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let policy = server.policy.clone();
    let mut reloads = 0;
    let end = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < end {
        let name = format!("served-{}", reloads % 2);
        let text = common::POLICY.replace("\"served\"", &format!("\"{name}\""));
        // Write a sibling then rename: the watcher never sees a half-written file.
        let tmp = dir.path("policy.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &policy).unwrap();
        if reloads % 5 == 0 {
            server.signal("HUP");
        }
        reloads += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let all: Vec<Decision> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    for d in &all {
        assert!(
            d.code != Code::Unavailable && d.code != Code::EngineError,
            "a failed decision during reloads: {}",
            d.to_json()
        );
        names.lock().unwrap().insert(d.policy.name.to_string());
    }
    let names = names.lock().unwrap();
    assert!(names.iter().all(|n| n.starts_with("served")), "{names:?}");
    let c = server.client(RemoteOptions::default());
    assert!(c.ready(), "no reload failed");
    println!(
        "reloads: {reloads} file writes, {} decisions, zero failed, policies seen {names:?}",
        all.len()
    );
}
