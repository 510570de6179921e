//! `portcullis serve --state`: two servers sharing one real Redis count one limit together and
//! see each other's approvals; a bad URL stops the server at startup with a clear error.
//! Needs `redis-server` and `redis-cli` (Debian's redis-server package, `make redis-server`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::{action, free_port, Dir, Server};
use portcullis::Code;
use portcullis_server::client::RemoteOptions;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server on a free loopback port, without persistence, killed when dropped.
struct Redis {
    port: u16,
    child: Child,
    _dir: Dir,
}

impl Redis {
    fn start() -> Redis {
        let dir = Dir::new("redis");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (install it: make redis-server)");
        let redis = Redis {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pong = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "ping"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"));
            if pong {
                return redis;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_servers_on_one_redis_admit_max_together_and_share_approvals() {
    let redis = Redis::start();
    let url = redis.url();
    let (dir_a, dir_b) = (Dir::new("state-a"), Dir::new("state-b"));
    let a = Server::start(&dir_a, &["--state", &url]);
    let b = Server::start(&dir_b, &["--state", &url]);
    let (ca, cb) = (
        a.client(RemoteOptions::default()),
        b.client(RemoteOptions::default()),
    );

    // `burst` admits 2 searches a minute: 2 in total across both servers, not 2 each.
    let codes: Vec<Code> = (0..6)
        .map(|i| {
            let c = if i % 2 == 0 { &ca } else { &cb };
            c.evaluate_value(&action("search")).code
        })
        .collect();
    let admitted = codes.iter().filter(|c| **c == Code::Rule).count();
    let limited = codes.iter().filter(|c| **c == Code::RateLimited).count();
    assert_eq!((admitted, limited), (2, 4), "{codes:?}");

    // An approval granted through one server is used through the other, once.
    let pay = action("payments.send");
    assert_eq!(cb.evaluate_value(&pay).code, Code::ApprovalRequired);
    ca.approve_action_value(&pay, 60_000, 1).unwrap();
    assert_eq!(cb.evaluate_value(&pay).code, Code::Approved);
    assert_eq!(ca.evaluate_value(&pay).code, Code::ApprovalRequired);
}

#[test]
fn a_server_whose_redis_is_down_denies_what_needs_state_only() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/0?timeout_ms=200");
    let dir = Dir::new("state-down");
    let server = Server::start(&dir, &["--state", &url]);
    let c = server.client(RemoteOptions::default());
    assert_eq!(c.evaluate_value(&action("search")).code, Code::Unavailable);
    assert_eq!(c.evaluate_value(&action("fs.read")).code, Code::Rule);
    let (status, body) = c
        .request(
            "POST",
            "/v1/approve",
            br#"{"action": {"tool": "payments.send", "agent": {"id": "a1"}}, "ttl_ms": 1000}"#,
        )
        .unwrap();
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn a_malformed_state_url_stops_the_server_with_a_clear_error() {
    let dir = Dir::new("state-bad");
    std::fs::write(dir.path("policy.json"), common::POLICY).unwrap();
    for url in ["http://127.0.0.1:6379", "redis://", "redis://host:port"] {
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis-serve"))
            .args(["--policy", dir.path("policy.json").to_str().unwrap()])
            .args([
                "--listen",
                &format!("unix:{}", dir.path("s.sock").display()),
            ])
            .args(["--state", url])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
        assert!(stderr.contains("--state: state URL"), "{url}: {stderr}");
        assert!(!stderr.contains("panicked"), "{url}: {stderr}");
    }
}
