//! Latency (p50/p99) and throughput of decisions with state on Redis on loopback, next to the
//! same decisions with state in process; and decisions that need no state on both.
//!
//! `portcullis-redis-bench [URL] [DECISIONS]`: without a URL, starts its own redis-server
//! (no persistence, a free loopback port, a temporary directory) and stops it at the end.
use portcullis::{Engine, EngineOptions};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLICY: &str = r#"{"portcullis": 1, "name": "bench", "default": "allow", "rules": [
  {"id": "cap", "effect": "rate_limit", "match": {"tool": ["send"]},
   "limit": {"max": 1000000, "window": "1h", "per": ["agent"]}}]}"#;
const LIMITED: &str = r#"{"tool": "send", "agent": {"id": "bench"}, "params": {"to": "x"}}"#;
const FREE: &str = r#"{"tool": "read", "agent": {"id": "bench"}, "params": {"path": "/a"}}"#;

fn main() {
    if let Err(e) = run() {
        eprintln!("portcullis-redis-bench: {e}");
        std::process::exit(2);
    }
}

fn engine(url: Option<&str>) -> Result<Engine, String> {
    let mut options = EngineOptions::default();
    if let Some(url) = url {
        let state = portcullis_redis::RedisState::connect(url).map_err(|e| e.to_string())?;
        options.state = Some(Arc::new(state));
    }
    Engine::new(POLICY.as_bytes(), options).map_err(|e| e.to_string())
}

/// Decides `action` `n` times; returns sorted latencies (ns), the wall time, and how many
/// decisions were not allowed.
fn measure(e: &Engine, action: &str, n: usize) -> (Vec<u64>, Duration, usize) {
    let mut lat = Vec::with_capacity(n);
    let mut denied = 0;
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let v = e.evaluate_json_verdict(action.as_bytes());
        lat.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        denied += usize::from(!v.allowed());
    }
    let wall = start.elapsed();
    lat.sort_unstable();
    (lat, wall, denied)
}

fn pct(sorted: &[u64], p: usize) -> f64 {
    let i = (sorted.len().saturating_sub(1) * p) / 100;
    sorted.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

fn line(label: &str, procs: usize, lat: &[u64], wall: Duration, denied: usize) {
    let per_s = lat.len() as f64 / wall.as_secs_f64().max(1e-9);
    println!(
        "{label:<34} procs={procs} p50={:>8.2}us p99={:>8.2}us throughput={:>10.0}/s denied={denied}",
        pct(lat, 50),
        pct(lat, 99),
        per_s
    );
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, url, n, action] = args.as_slice() {
        if flag == "--worker" {
            let n: usize = n.parse().map_err(|_| "bad count")?;
            let e = engine(Some(url))?;
            let (lat, wall, denied) = measure(&e, action, n);
            let lat: Vec<String> = lat.iter().map(u64::to_string).collect();
            println!("{} {} {}", wall.as_nanos(), denied, lat.join(","));
            return Ok(());
        }
    }
    let n: usize = match args.get(1) {
        Some(n) => n.parse().map_err(|_| "DECISIONS is not a number")?,
        None => 20_000,
    };
    let mut server = None;
    let url = match args.first() {
        Some(u) if u != "-" => u.clone(),
        _ => {
            let (child, url, dir) = start_server()?;
            server = Some((child, dir));
            url
        }
    };
    let result = bench(&url, n);
    if let Some((mut child, dir)) = server {
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn bench(url: &str, n: usize) -> Result<(), String> {
    let local = engine(None)?;
    let shared = engine(Some(url))?;
    // Warm up both (connections, script cache, allocator).
    let _ = measure(&local, LIMITED, 1000);
    let _ = measure(&shared, LIMITED, 1000);
    let _ = measure(&shared, FREE, 1000);
    let (lat, wall, d) = measure(&local, LIMITED, n);
    line("limited, in process", 1, &lat, wall, d);
    let (lat, wall, d) = measure(&shared, LIMITED, n);
    line("limited, Redis loopback", 1, &lat, wall, d);
    for procs in [1, 2] {
        let (lat, wall, d) = processes(url, procs, n)?;
        line("limited, Redis loopback (processes)", procs, &lat, wall, d);
    }
    let (lat, wall, d) = measure(&local, FREE, n);
    line("no state needed, in process", 1, &lat, wall, d);
    let (lat, wall, d) = measure(&shared, FREE, n);
    line("no state needed, Redis backend", 1, &lat, wall, d);
    Ok(())
}

/// Runs `procs` worker processes at once; merges their latencies; throughput over the slowest.
fn processes(url: &str, procs: usize, n: usize) -> Result<(Vec<u64>, Duration, usize), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let children: Vec<Child> = (0..procs)
        .map(|_| {
            Command::new(&exe)
                .args(["--worker", url, &n.to_string(), LIMITED])
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let (mut all, mut wall, mut denied) = (Vec::new(), Duration::ZERO, 0);
    for c in children {
        let out = c.wait_with_output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut parts = text.trim().splitn(3, ' ');
        let w: u64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or("bad worker output")?;
        let d: usize = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or("bad worker output")?;
        wall = wall.max(Duration::from_nanos(w));
        denied += d;
        all.extend(
            parts
                .next()
                .unwrap_or("")
                .split(',')
                .filter_map(|s| s.parse::<u64>().ok()),
        );
    }
    all.sort_unstable();
    Ok((all, wall, denied))
}

fn start_server() -> Result<(Child, String, std::path::PathBuf), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = std::env::temp_dir().join(format!("portcullis-redis-bench-{port}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            format!("redis-server: {e}")
        })?;
    let url = format!("redis://127.0.0.1:{port}/0");
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((child, url, dir));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    Err("redis-server did not start".into())
}
