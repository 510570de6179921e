//! `portcullis serve` against real processes: identical decisions, the native and AuthZEN
//! APIs, errors, authentication, hot reload, and the drain on SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::{action, free_port, Dir, Server, POLICY};
use portcullis::{Code, Effect, Engine, EngineOptions};
use portcullis_server::client::{Endpoint, RemoteEngine, RemoteError, RemoteOptions};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

/// The decision without the fields that depend on when it was taken (the system clock).
fn strip(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("eval_ns");
    if let Some(r) = o.get_mut("retry_after_ms") {
        if r.is_number() {
            *r = json!("some");
        }
    }
    v
}

/// Replaces the policy file atomically (the watcher never reads a half-written file).
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn post(c: &RemoteEngine, path: &str, body: &Value) -> (u16, Value) {
    let (s, b) = c
        .request("POST", path, body.to_string().as_bytes())
        .unwrap();
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[test]
fn remote_decisions_equal_in_process_ones_and_the_socket_is_private() {
    let dir = Dir::new("same");
    let server = Server::start(&dir, &[]);
    let mode = std::fs::metadata(&server.sock)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let local = Engine::new(POLICY.as_bytes(), EngineOptions::default()).unwrap();
    let remote = server.client(RemoteOptions::default());
    let cases = [
        action("fs.read"),
        action("fs.write"),
        action("payments.send"),
        action("search"),
        action("search"),
        action("search"),
        json!({"tool": "fs.read"}),
        json!({"tool": "fs.read", "agent": {"id": "a1"}, "kind": "rpc"}),
    ];
    for a in &cases {
        let (l, r) = (local.evaluate_value(a), remote.evaluate_value(a));
        assert!(!r.fallback);
        assert_eq!(strip(l.to_value()), strip(r.to_value()), "{a}");
    }
    let raw = br#"{"tool": "x", "tool": "y", "agent": {"id": "a"}}"#;
    assert_eq!(
        strip(local.evaluate_json(raw).to_value()),
        strip(remote.evaluate_json(raw).to_value())
    );
    // Approvals go through the server.
    let pay = action("payments.send");
    let hash = remote.approve_action_value(&pay, 60_000, 1).unwrap();
    let d = remote.evaluate_value(&pay);
    assert_eq!((d.effect, d.code), (Effect::Allow, Code::Approved));
    assert_eq!(d.action_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(remote.evaluate_value(&pay).code, Code::ApprovalRequired);
    let err = remote.approve_action_value(&pay, 0, 1).unwrap_err();
    assert!(
        matches!(err, RemoteError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    // Policy read and update.
    assert_eq!(&*remote.policy_info().unwrap().name, "served");
    let bad = remote.update_policy(br#"{"portcullis": 1, "name": "x", "rules": [{"id": "r"}]}"#);
    match bad {
        Err(RemoteError::Policy(e)) => assert_eq!(e.path(), "rules[0]"),
        other => panic!("{other:?}"),
    }
    remote
        .update_policy(br#"{"portcullis": 1, "name": "v2", "default": "allow", "rules": []}"#)
        .unwrap();
    let d = remote.evaluate_value(&action("fs.write"));
    assert_eq!((d.effect, &*d.policy.name), (Effect::Allow, "v2"));
}

/// The request examples of the AuthZEN Authorization API 1.0 (evaluation, evaluations with
/// defaults and per-item overrides, evaluations semantics, discovery).
#[test]
fn authzen_answers_the_specs_own_examples() {
    let dir = Dir::new("authzen");
    std::fs::write(
        dir.path("policy.json"),
        r#"{"portcullis": 1, "name": "az", "rules": [
          {"id": "readers", "effect": "allow", "match": {"tool": ["can_read"]}}]}"#,
    )
    .unwrap();
    let server = Server::start(&dir, &[]);
    let c = server.client(RemoteOptions::default());
    let (s, v) = post(
        &c,
        "/access/v1/evaluation",
        &json!({
            "subject": {"type": "user", "id": "alice@example.com"},
            "resource": {"type": "account", "id": "123"},
            "action": {"name": "can_read", "properties": {"method": "GET"}},
            "context": {"time": "1985-10-26T01:22-07:00"}
        }),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["decision"], true);
    assert_eq!(v["context"]["effect"], "allow");
    assert_eq!(v["context"]["code"], "rule");
    assert_eq!(v["context"]["rule"], "readers");
    let (_, v) = post(
        &c,
        "/access/v1/evaluation",
        &json!({
            "subject": {"type": "user", "id": "alice@example.com",
                        "properties": {"department": "Sales", "ip_address": "172.217.22.14"}},
            "resource": {"type": "book", "id": "123",
                         "properties": {"library_record": {"title": "AuthZEN in Action", "isbn": "978-0593383322"}}},
            "action": {"name": "can_delete"}
        }),
    );
    assert_eq!(v["decision"], false);
    assert_eq!(v["context"]["code"], "default");
    let batch = json!({
        "subject": {"type": "user", "id": "alice@example.com"},
        "action": {"name": "can_read"},
        "evaluations": [
            {"resource": {"type": "document", "id": "boxcarring.md"}},
            {"resource": {"type": "document", "id": "subject-search.md"}},
            {"action": {"name": "can_edit"}, "resource": {"type": "document", "id": "resource-search.md"}}
        ]
    });
    let (s, v) = post(&c, "/access/v1/evaluations", &batch);
    assert_eq!(s, 200, "{v}");
    let decisions: Vec<bool> = v["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decision"].as_bool().unwrap())
        .collect();
    assert_eq!(decisions, [true, true, false]);
    let mut deny_first = batch.clone();
    deny_first["evaluations"]
        .as_array_mut()
        .unwrap()
        .rotate_right(1);
    deny_first["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
    let (_, v) = post(&c, "/access/v1/evaluations", &deny_first);
    assert_eq!(v["evaluations"].as_array().unwrap().len(), 1);
    let mut permit_first = batch.clone();
    permit_first["options"] = json!({"evaluations_semantic": "permit_on_first_permit"});
    let (_, v) = post(&c, "/access/v1/evaluations", &permit_first);
    assert_eq!(v["evaluations"].as_array().unwrap().len(), 1);
    assert_eq!(v["evaluations"][0]["decision"], true);
    // Missing subject: a 400 with a JSON error, never a decision.
    let (s, v) = post(
        &c,
        "/access/v1/evaluation",
        &json!({"action": {"name": "can_read"}}),
    );
    assert_eq!(s, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("subject"));
    let (s, b) = c
        .request("GET", "/.well-known/authzen-configuration", b"")
        .unwrap();
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(s, 200);
    let pdp = v["policy_decision_point"].as_str().unwrap();
    assert_eq!(
        v["access_evaluation_endpoint"].as_str().unwrap(),
        format!("{pdp}/access/v1/evaluation")
    );
    assert!(v["access_evaluations_endpoint"]
        .as_str()
        .unwrap()
        .ends_with("/access/v1/evaluations"));
}

#[test]
fn bad_requests_get_clear_json_errors() {
    let dir = Dir::new("errors");
    let server = Server::start(
        &dir,
        &[
            "--max-body-bytes",
            "2000000",
            "--header-timeout-ms",
            "300",
            "--request-timeout-ms",
            "500",
        ],
    );
    let c = server.client(RemoteOptions::default());
    let (s, v) = {
        let (s, b) = c.request("POST", "/v1/approve", b"{nope").unwrap();
        (s, serde_json::from_slice::<Value>(&b).unwrap())
    };
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_request")));
    let big = vec![b' '; 2_000_001];
    let (s, b) = c.request("POST", "/v1/decide", &big).unwrap();
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    // A body over 1 MiB but under the limit is the engine's invalid_action, as in-process.
    let mut over = br#"{"tool": "fs.read", "agent": {"id": "a1"}, "params": {"p": ""#.to_vec();
    over.extend(std::iter::repeat_n(b'x', 1 << 20));
    over.extend(b"\"}}");
    let d = c.evaluate_json(&over);
    assert_eq!(d.code, Code::InvalidAction);
    let (s, _) = c.request("GET", "/v1/decide", b"").unwrap();
    assert_eq!(s, 405);
    let (s, _) = c.request("GET", "/nowhere", b"").unwrap();
    assert_eq!(s, 404);
    let (s, b) = c
        .request("POST", "/test/v1/clock", b"{\"set_ms\": 1}")
        .unwrap();
    assert_eq!(s, 404, "{}", String::from_utf8_lossy(&b));
    // Slow headers: the server closes the connection (bounded wait, no timing asserted).
    let mut slow = std::os::unix::net::UnixStream::connect(&server.sock).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
    // Slow body: answered with a JSON error (timeout) or closed, never a decision.
    let mut slow = std::os::unix::net::UnixStream::connect(&server.sock).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    slow.write_all(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"to")
        .unwrap();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("\"effect\""), "{text}");
    // The server still answers.
    assert_eq!(c.evaluate_value(&action("fs.read")).effect, Effect::Allow);
}

#[test]
fn tcp_needs_the_token_and_non_loopback_needs_tls() {
    let dir = Dir::new("auth");
    std::fs::write(dir.path("token"), "0123456789abcdef0123\n").unwrap();
    let port = free_port();
    let listen = format!("tcp:127.0.0.1:{port}");
    let token = dir.path("token").display().to_string();
    let server = Server::start(&dir, &["--listen", &listen, "--token-file", &token]);
    let ep = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let anon = RemoteEngine::new(ep.clone(), RemoteOptions::default()).unwrap();
    let d = anon.evaluate_value(&action("fs.read"));
    assert_eq!((d.effect, d.code), (Effect::Deny, Code::Unavailable));
    assert!(d.reason.contains("401"), "{}", d.reason);
    let wrong = RemoteEngine::new(
        ep.clone(),
        RemoteOptions {
            token: Some("0123456789abcdef0124".into()),
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        wrong.evaluate_value(&action("fs.read")).code,
        Code::Unavailable
    );
    let good = RemoteEngine::new(
        ep,
        RemoteOptions {
            token: Some("0123456789abcdef0123".into()),
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        good.evaluate_value(&action("fs.read")).effect,
        Effect::Allow
    );
    // Over the socket no token is asked.
    assert_eq!(
        server
            .client(RemoteOptions::default())
            .evaluate_value(&action("fs.read"))
            .effect,
        Effect::Allow
    );
    // A non-loopback listener without TLS and token is refused at start.
    let policy = server.policy.display().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis-serve"))
        .args(["--policy", &policy, "--listen", "tcp:0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
    // The test clock control is refused with a non-loopback listener, even with TLS and token.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let (c, k) = (
        dir.path("cert.pem").display().to_string(),
        dir.path("key.pem").display().to_string(),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis-serve"))
        .args([
            "--policy",
            &policy,
            "--listen",
            "tcp:0.0.0.0:0",
            "--tls-cert",
            &c,
            "--tls-key",
            &k,
            "--token-file",
            &token,
            "--test-control",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--test-control is refused"));
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(c: &RemoteEngine, name: &str) -> u64 {
    let (_, b) = c.request("GET", "/metrics", b"").unwrap();
    String::from_utf8(b)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}

#[test]
fn hot_reload_keeps_the_current_policy_when_the_new_one_fails() {
    let dir = Dir::new("reload");
    let server = Server::start(&dir, &["--watch-interval-ms", "20"]);
    let c = server.client(RemoteOptions::default());
    replace(
        &server.policy,
        r#"{"portcullis": 1, "name": "second", "default": "allow", "rules": []}"#,
    );
    wait_until("the file reload", || {
        &*c.evaluate_value(&action("fs.write")).policy.name == "second"
    });
    assert!(metric(&c, "portcullis_policy_reloads_total") >= 1);
    replace(
        &server.policy,
        r#"{"portcullis": 1, "name": "broken", "rules": [{"id": 1}]}"#,
    );
    wait_until("readyz to report the failure", || !c.ready());
    let (s, b) = c.request("GET", "/readyz", b"").unwrap();
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(s, 503);
    assert_eq!(v["file"], server.policy.display().to_string());
    assert_eq!(v["error"]["path"], "rules[0]");
    assert!(metric(&c, "portcullis_policy_reload_failures_total") >= 1);
    assert_eq!(metric(&c, "portcullis_policy_reload_failing"), 1);
    let d = c.evaluate_value(&action("fs.write"));
    assert_eq!((&*d.policy.name, d.effect), ("second", Effect::Allow));
    // SIGHUP reloads too (the watcher is slow to notice nothing: same size and time are fine).
    replace(&server.policy, POLICY);
    server.signal("HUP");
    wait_until("the SIGHUP reload", || c.ready());
    assert_eq!(&*c.evaluate_value(&action("fs.read")).policy.name, "served");
    let text = String::from_utf8(c.request("GET", "/metrics", b"").unwrap().1).unwrap();
    assert!(
        text.contains("portcullis_decisions_total{effect=\"allow\",code=\"rule\"}"),
        "{text}"
    );
    assert!(text.contains("portcullis_decision_duration_seconds_bucket{le=\"+Inf\"}"));
    assert!(text.contains("portcullis_policy_info{name=\"served\",version=\"1\"} 1"));
}

#[test]
fn sigterm_drains_and_flushes_the_audit_trail() {
    let dir = Dir::new("term");
    let trail = dir.path("audit.jsonl");
    let t = trail.display().to_string();
    let mut server = Server::start(&dir, &["--audit", &t]);
    let c = server.client(RemoteOptions::default());
    for _ in 0..200 {
        c.evaluate_value(&action("fs.read"));
    }
    server.signal("TERM");
    assert_eq!(server.wait_exit(), Some(0));
    let lines = std::fs::read_to_string(&trail).unwrap().lines().count();
    assert_eq!(lines, 200);
    let report = portcullis::verify_files(&[trail]);
    assert!(report.failure.is_none(), "{report:?}");
    assert_eq!(report.decisions, 200);
    assert!(!server.sock.exists(), "the socket is removed on exit");
}

/// A request in flight when SIGTERM arrives is answered before the server exits; idle
/// keep-alive connections are closed at once.
#[test]
fn sigterm_answers_the_request_in_flight() {
    let dir = Dir::new("inflight");
    let mut server = Server::start(&dir, &["--log-level", "warn"]);
    let c = server.client(RemoteOptions::default());
    let body = action("fs.read").to_string();
    let (head, tail) = body.as_bytes().split_at(body.len() / 2);
    // The request's headers and half its body: the handler waits for the rest.
    let mut pending = std::os::unix::net::UnixStream::connect(&server.sock).unwrap();
    pending
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        pending,
        "POST /v1/decide HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    pending.write_all(head).unwrap();
    // In flight: this metrics request and the pending one.
    wait_until("the pending request to be in flight", || {
        metric(&c, "portcullis_http_requests_in_flight") == 2
    });
    // An idle keep-alive connection, to see the drain start.
    let mut idle = std::os::unix::net::UnixStream::connect(&server.sock).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    assert!(idle.read(&mut buf).unwrap() > 0);
    server.signal("TERM");
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // The drain has begun; the pending request still gets its decision.
    pending.write_all(tail).unwrap();
    let mut answer = Vec::new();
    pending.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"effect\":\"allow\""), "{answer}");
    assert_eq!(server.wait_exit(), Some(0));
}
