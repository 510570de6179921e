//! Replays the conformance corpus (`tests/conformance/`, or `PORTCULLIS_CONFORMANCE_DIR`)
//! through [`RemoteEngine`] against a real `portcullis serve` process started with
//! `--test-control` on a private Unix socket. Prints one line per failing case, then
//! `N passed, M failed`; exits 1 when a case fails.
//!
//! usage: portcullis-conformance-remote [--server PATH-TO-portcullis-serve] [--dir DIR]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use portcullis_server::client::{Endpoint, RemoteEngine, RemoteError, RemoteOptions};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_CLOCK: &str = "2026-01-01T00:00:00Z";

fn parse_clock(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|e| format!("bad clock {s:?}: {e}"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn check_decision(d: &portcullis::Decision, expect: &Value) -> Result<(), String> {
    if d.code == portcullis::Code::Unavailable {
        return Err(format!("the remote engine was unavailable: {}", d.reason));
    }
    let got = d.to_value();
    let exp = expect.as_object().ok_or("expect is not an object")?;
    for (key, want) in exp {
        match key.as_str() {
            "reason_contains" => {
                let sub = want.as_str().ok_or("reason_contains is not a string")?;
                if !d.reason.contains(sub) {
                    return Err(format!("reason {:?} does not contain {sub:?}", d.reason));
                }
            }
            "policy" => {
                for (k, v) in want.as_object().ok_or("expect.policy is not an object")? {
                    let g = got
                        .pointer(&format!("/policy/{k}"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    if !same(&g, v) {
                        return Err(format!("policy.{k}: expected {v}, got {g}"));
                    }
                }
            }
            "effect" | "allowed" | "code" | "rule" | "reason" | "matched" | "shadow" | "params"
            | "retry_after_ms" | "action_hash" => {
                let g = got.get(key).cloned().unwrap_or(Value::Null);
                if !same(&g, want) {
                    return Err(format!(
                        "{key}: expected {want}, got {g} (reason: {:?})",
                        d.reason
                    ));
                }
            }
            other => return Err(format!("unknown expect key {other:?}")),
        }
    }
    Ok(())
}

fn check_error(path: &str, message: &str, expect: &Value) -> Result<(), String> {
    if let Some(want) = expect.get("path").and_then(Value::as_str) {
        if path != want {
            return Err(format!(
                "error path: expected {want:?}, got {path:?} ({message})"
            ));
        }
    }
    if let Some(sub) = expect.get("contains").and_then(Value::as_str) {
        if !message.contains(sub) {
            return Err(format!(
                "error message {message:?} does not contain {sub:?}"
            ));
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct RawCase<'a> {
    #[serde(borrow)]
    policy: Option<&'a RawValue>,
    #[serde(borrow, default)]
    steps: Vec<RawStep<'a>>,
}

#[derive(serde::Deserialize)]
struct RawStep<'a> {
    #[serde(borrow)]
    update_policy: Option<&'a RawValue>,
}

fn policy_text(
    holder: &Value,
    written: Option<&RawValue>,
    key: &str,
    raw_key: &str,
) -> Result<String, String> {
    match (holder.get(key), holder.get(raw_key)) {
        (Some(_), None) => written
            .map(|w| w.get().to_owned())
            .ok_or_else(|| format!("{key} not found")),
        (None, Some(Value::String(raw))) => Ok(raw.clone()),
        _ => Err(format!(
            "needs exactly one of {key:?} and {raw_key:?} (a string)"
        )),
    }
}

fn control(engine: &RemoteEngine, path: &str, body: &Value) -> Result<Value, (u16, Value)> {
    match engine.request("POST", path, body.to_string().as_bytes()) {
        Ok((status, bytes)) => {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status == 200 {
                Ok(v)
            } else {
                Err((status, v))
            }
        }
        Err(e) => Err((0, json!({"error": {"message": e}}))),
    }
}

fn run_case(
    engine: &RemoteEngine,
    case: &Value,
    written: &RawCase<'_>,
) -> Result<(), (Option<usize>, String)> {
    let whole = |m: String| (None, m);
    let clock = parse_clock(
        case.get("clock")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_CLOCK),
    )
    .map_err(whole)?;
    let policy = policy_text(case, written.policy, "policy", "policy_raw").map_err(whole)?;
    let loaded = control(
        engine,
        "/test/v1/reset",
        &json!({"policy": policy, "clock_ms": clock}),
    );
    if let Some(expect) = case.get("expect_error") {
        return match loaded {
            Ok(_) => Err(whole(
                "the policy loaded, but a load error was expected".into(),
            )),
            Err((422, v)) => check_error(
                v.pointer("/error/path")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                v.pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                expect,
            )
            .map_err(whole),
            Err((s, v)) => Err(whole(format!("reset failed with {s}: {v}"))),
        };
    }
    loaded.map_err(|(s, v)| whole(format!("policy failed to load ({s}): {v}")))?;
    let steps = case
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| whole("no steps".into()))?;
    for (i, step) in steps.iter().enumerate() {
        let fail = |m: String| (Some(i), m);
        let expect = step.get("expect").unwrap_or(&Value::Null);
        if let Some(action) = step.get("eval") {
            check_decision(&engine.evaluate_value(action), expect).map_err(fail)?;
        } else if let Some(raw) = step.get("eval_raw") {
            let raw = raw
                .as_str()
                .ok_or_else(|| fail("eval_raw is not a string".into()))?;
            check_decision(&engine.evaluate_json(raw.as_bytes()), expect).map_err(fail)?;
        } else if let Some(ms) = step.get("advance_ms") {
            let ms = ms
                .as_i64()
                .ok_or_else(|| fail("advance_ms is not an integer".into()))?;
            control(engine, "/test/v1/clock", &json!({"advance_ms": ms}))
                .map_err(|(s, v)| fail(format!("clock failed ({s}): {v}")))?;
        } else if let Some(at) = step.get("set_clock") {
            let at = parse_clock(at.as_str().unwrap_or_default()).map_err(fail)?;
            control(engine, "/test/v1/clock", &json!({"set_ms": at}))
                .map_err(|(s, v)| fail(format!("clock failed ({s}): {v}")))?;
        } else if let Some(action) = step.get("approve") {
            let ttl = step
                .get("ttl_ms")
                .and_then(Value::as_u64)
                .ok_or_else(|| fail("approve needs ttl_ms".into()))?;
            let uses = step.get("uses").and_then(Value::as_u64).unwrap_or(1) as u32;
            engine
                .approve_action_value(action, ttl, uses)
                .map_err(|e| fail(format!("approve failed: {e}")))?;
        } else if step.get("update_policy").is_some() || step.get("update_policy_raw").is_some() {
            let text = policy_text(
                step,
                written.steps.get(i).and_then(|s| s.update_policy),
                "update_policy",
                "update_policy_raw",
            )
            .map_err(fail)?;
            match (
                engine.update_policy(text.as_bytes()),
                step.get("expect_error"),
            ) {
                (Ok(()), None) => {}
                (Ok(()), Some(_)) => {
                    return Err(fail(
                        "the update loaded, but a load error was expected".into(),
                    ))
                }
                (Err(e), None) => return Err(fail(format!("update failed: {e}"))),
                (Err(RemoteError::Policy(e)), Some(expect)) => {
                    check_error(e.path(), e.message(), expect).map_err(fail)?
                }
                (Err(e), Some(_)) => return Err(fail(format!("update failed: {e}"))),
            }
        } else {
            return Err(fail(format!("unknown step {step}")));
        }
    }
    Ok(())
}

struct Server(Child, PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_server(bin: &Path) -> Result<(Server, PathBuf), String> {
    let dir = std::env::temp_dir().join(format!("portcullis-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let policy = dir.join("policy.json");
    std::fs::write(&policy, r#"{"portcullis": 1, "name": "boot", "rules": []}"#)
        .map_err(|e| e.to_string())?;
    let sock = dir.join("serve.sock");
    let child = Command::new(bin)
        .arg("--policy")
        .arg(&policy)
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .args([
            "--test-control",
            "--request-timeout-ms",
            "120000",
            "--watch-interval-ms",
            "0",
            "--log-level",
            "warn",
        ])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let server = Server(child, dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        if Instant::now() > deadline {
            return Err("the server did not create its socket within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((server, sock))
}

fn main() -> ExitCode {
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
    let dir = flag("--dir")
        .or_else(|| std::env::var("PORTCULLIS_CONFORMANCE_DIR").ok())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance"));
    let (_server, sock) = match start_server(&bin) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let engine = RemoteEngine::new(
        Endpoint::Unix(sock),
        RemoteOptions {
            timeout: Duration::from_secs(120),
            breaker_failures: 0,
            ..RemoteOptions::default()
        },
    );
    let mut files = Vec::new();
    collect(&dir, &mut files);
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        let shown = file
            .strip_prefix(&dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let parsed = if text.trim_start().starts_with('[') {
            serde_json::from_str::<Vec<&RawValue>>(&text)
        } else {
            serde_json::from_str::<&RawValue>(&text).map(|c| vec![c])
        };
        let Ok(cases) = parsed else {
            println!("FAIL {shown}: not a JSON case file");
            failed += 1;
            continue;
        };
        for (n, raw) in cases.iter().enumerate() {
            let (Ok(case), Ok(written)) = (
                serde_json::from_str::<Value>(raw.get()),
                serde_json::from_str::<RawCase<'_>>(raw.get()),
            ) else {
                println!("FAIL {shown}#{n}: not a case object");
                failed += 1;
                continue;
            };
            let name = case
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)");
            match run_case(&engine, &case, &written) {
                Ok(()) => passed += 1,
                Err((step, msg)) => {
                    failed += 1;
                    let at = step.map_or(String::new(), |s| format!(" step {s}"));
                    println!("FAIL {shown}#{n}{at} ({name}): {msg}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
