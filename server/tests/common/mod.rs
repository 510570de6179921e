//! Starts real `portcullis-serve` processes for the integration and fault tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use portcullis_server::client::{Endpoint, RemoteEngine, RemoteOptions};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const POLICY: &str = r#"{"portcullis": 1, "name": "served", "version": "1", "rules": [
  {"id": "reads", "effect": "allow", "match": {"tool": ["fs.read"]}},
  {"id": "pay", "effect": "require_approval", "match": {"tool": ["payments.send"]}},
  {"id": "burst", "effect": "rate_limit", "match": {"tool": ["search"]}, "limit": {"max": 2, "window": "1m"}},
  {"id": "search", "effect": "allow", "match": {"tool": ["search"]}}
]}"#;

pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "pc-serve-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    pub child: Option<Child>,
    pub sock: PathBuf,
    pub policy: PathBuf,
    pub args: Vec<String>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Starts a server on `dir/serve.sock` with the policy file `dir/policy.json` and `extra`
    /// flags; waits until `/readyz` answers.
    pub fn start(dir: &Dir, extra: &[&str]) -> Server {
        let policy = dir.path("policy.json");
        if !policy.exists() {
            std::fs::write(&policy, POLICY).unwrap();
        }
        let sock = dir.path("serve.sock");
        let mut args = vec![
            "--policy".to_owned(),
            policy.display().to_string(),
            "--listen".to_owned(),
            format!("unix:{}", sock.display()),
        ];
        if !extra.contains(&"--log-level") {
            args.extend(["--log-level".to_owned(), "warn".to_owned()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut s = Server {
            child: None,
            sock,
            policy,
            args,
        };
        s.spawn();
        s
    }

    pub fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis-serve"))
            .args(&self.args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let probe = self.client(RemoteOptions::default());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !probe.ready() {
            assert!(Instant::now() < deadline, "the server did not become ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits (bounded) until every thread of the process is stopped: `kill -STOP` returns
    /// before the signal takes effect.
    pub fn wait_stopped(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).unwrap();
            let stopped = tasks.flatten().all(|task| {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                stat.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.starts_with(" T"))
            });
            if stopped {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within 5 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client(&self, opts: RemoteOptions) -> RemoteEngine {
        RemoteEngine::new(Endpoint::Unix(self.sock.clone()), opts).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn action(tool: &str) -> serde_json::Value {
    serde_json::json!({"tool": tool, "agent": {"id": "a1"}})
}
