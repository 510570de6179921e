//! Loads a policy into an engine sharing its state on Redis and decides one action over and
//! over from several threads; prints one JSON line of counts per decision code.
//!
//! `portcullis-redis-hammer URL POLICY_FILE ACTION_JSON THREADS PER_THREAD [DELAY_MS]`
//! (URL `-` keeps state in process).
use portcullis::{Engine, EngineOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    if let Err(e) = run() {
        eprintln!("portcullis-redis-hammer: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, policy, action, threads, per, rest @ ..] = args.as_slice() else {
        return Err("usage: URL POLICY_FILE ACTION_JSON THREADS PER_THREAD [DELAY_MS]".into());
    };
    let threads: usize = threads.parse().map_err(|_| "THREADS is not a number")?;
    let per: usize = per.parse().map_err(|_| "PER_THREAD is not a number")?;
    let delay: u64 = match rest.first() {
        Some(d) => d.parse().map_err(|_| "DELAY_MS is not a number")?,
        None => 0,
    };
    let policy = std::fs::read(policy).map_err(|e| format!("{policy}: {e}"))?;
    let mut options = EngineOptions::default();
    if url != "-" {
        let state = portcullis_redis::RedisState::connect(url).map_err(|e| e.to_string())?;
        options.state = Some(Arc::new(state));
    }
    let engine = Arc::new(Engine::new(&policy, options).map_err(|e| e.to_string())?);
    let action = Arc::new(action.clone().into_bytes());
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (engine, action) = (engine.clone(), action.clone());
            std::thread::spawn(move || {
                let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
                for _ in 0..per {
                    let d = engine.evaluate_json(&action);
                    *counts.entry(d.code.as_str()).or_default() += 1;
                    if delay > 0 {
                        std::thread::sleep(Duration::from_millis(delay));
                    }
                }
                counts
            })
        })
        .collect();
    let mut total: BTreeMap<&'static str, u64> = BTreeMap::new();
    for w in workers {
        let counts = w.join().map_err(|_| "a worker panicked")?;
        for (code, n) in counts {
            *total.entry(code).or_default() += n;
        }
    }
    let fields: Vec<String> = total.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
    println!("{{{}}}", fields.join(", "));
    Ok(())
}
