//! Round-trip benchmark of `portcullis serve` through the Rust client: p50/p99 latency over the
//! Unix socket and loopback TCP, and throughput with 1 and 2 client threads. Prints numbers,
//! asserts nothing (targets: socket p50 ≤ 50 µs, p99 ≤ 200 µs).
//!
//! usage: portcullis-serve-bench [--server PATH] [--n ROUND_TRIPS]
//!        portcullis-serve-bench --write-workload DIR   (its policy.json and actions.json, for
//!        timing another client on the same workload; see benches/serve_go.sh)
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a benchmark tool stops at its first failure; its panic is the report"
)]
use portcullis_server::client::{Endpoint, RemoteEngine, RemoteOptions};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLICY: &str = r#"{"portcullis": 1, "name": "bench", "rules": [
  {"id": "reads", "effect": "allow", "match": {"tool": ["fs.read"]}},
  {"id": "no-rm", "effect": "deny", "match": {"tool": ["fs.delete"]}}]}"#;
const ACTION: &[u8] = br#"{"tool":"fs.read","agent":{"id":"agent-1"},"params":{"path":"/tmp/x"}}"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latency(name: &str, client: &RemoteEngine, n: usize) {
    for _ in 0..2000 {
        client.evaluate_json(ACTION);
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let d = client.evaluate_json(ACTION);
        v.push(t.elapsed());
        assert!(d.allowed(), "{}", d.reason);
    }
    v.sort();
    println!(
        "{name:<19} round trip  p50 {:>7.1} µs  p99 {:>7.1} µs  ({n} calls)",
        percentile(&v, 0.50).as_secs_f64() * 1e6,
        percentile(&v, 0.99).as_secs_f64() * 1e6
    );
}

fn throughput(name: &str, client: &Arc<RemoteEngine>, threads: usize, n: usize) {
    let t = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let c = client.clone();
            std::thread::spawn(move || {
                for _ in 0..n {
                    c.evaluate_json(ACTION);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let rate = (threads * n) as f64 / t.elapsed().as_secs_f64();
    println!("{name:<19} throughput  {threads} thread(s)  {rate:>9.0} decisions/s");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bin = flag("--server").map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe()
            .unwrap()
            .with_file_name("portcullis-serve")
    });
    if let Some(out) = flag("--write-workload") {
        let out = PathBuf::from(out);
        std::fs::write(out.join("policy.json"), POLICY).unwrap();
        let action = std::str::from_utf8(ACTION).unwrap();
        std::fs::write(out.join("actions.json"), format!("[{action}]\n")).unwrap();
        return;
    }
    let n: usize = flag("--n").and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.json");
    std::fs::write(&policy, POLICY).unwrap();
    let sock = dir.join("serve.sock");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(&bin)
        .arg("--policy")
        .arg(&policy)
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .arg("--listen")
        .arg(format!("tcp:127.0.0.1:{port}"))
        .args(["--log-level", "warn", "--worker-threads", "2"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let unix = Arc::new(
        RemoteEngine::new(
            Endpoint::Unix(sock.clone()),
            RemoteOptions {
                timeout: Duration::from_secs(5),
                ..RemoteOptions::default()
            },
        )
        .unwrap(),
    );
    let tcp = Arc::new(
        RemoteEngine::new(
            Endpoint::parse(&format!("tcp:127.0.0.1:{port}")).unwrap(),
            RemoteOptions {
                timeout: Duration::from_secs(5),
                ..RemoteOptions::default()
            },
        )
        .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(unix.ready() && tcp.ready()) {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let asleep = RemoteEngine::new(
        Endpoint::Unix(sock.clone()),
        RemoteOptions {
            timeout: Duration::from_secs(5),
            spin_wait: Duration::ZERO,
            ..RemoteOptions::default()
        },
    )
    .unwrap();
    println!("== portcullis serve round trip (Rust client, HTTP/1.1 keep-alive) ==");
    latency("socket", &unix, n);
    latency("tcp", &tcp, n);
    // The client sleeping on the answer at once instead of polling for up to spin_wait.
    latency("socket, spin_wait 0", &asleep, n);
    for threads in [1, 2] {
        throughput("socket", &unix, threads, n / 2);
        throughput("tcp", &tcp, threads, n / 2);
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
