//! Replays the conformance corpus (`tests/conformance/`, or `PORTCULLIS_CONFORMANCE_DIR`)
//! through [`RemoteEngine`] against a real `portcullis serve` process started with
//! `--test-control` on a private Unix socket. Prints one line per failing case, then
//! `N passed, M failed`; exits 1 when a case fails.
//!
//! usage: portcullis-conformance-remote [--server PATH-TO-portcullis-serve] [--dir DIR]
#![expect(
    clippy::unwrap_used,
    reason = "a test runner stops at a broken setup; its panic is the report"
)]
use portcullis_conformance::{
    self as conformance, on_big_stack, Case, ExpectError, PolicySource, Step,
};
use portcullis_server::client::{Endpoint, RemoteEngine, RemoteError, RemoteOptions};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

fn check_decision(d: &portcullis::Decision, expect: &Value) -> Result<(), String> {
    if d.code == portcullis::Code::Unavailable {
        return Err(format!("the remote engine was unavailable: {}", d.reason));
    }
    match conformance::decision_mismatches(&d.to_value(), expect).first() {
        None => Ok(()),
        Some(m) => Err(format!("{m} (reason: {:?})", d.reason)),
    }
}

fn check_error(path: &str, message: &str, expect: &ExpectError) -> Result<(), String> {
    match expect.mismatches(path, message).first() {
        None => Ok(()),
        Some(m) => Err(m.clone()),
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
        Err(e) => Err((0, json!({"error": {"message": e.to_string()}}))),
    }
}

fn run_case(engine: &RemoteEngine, case: &Case) -> Result<(), (Option<usize>, String)> {
    let whole = |m: String| (None, m);
    let clock = case.clock_ms.clone().map_err(whole)?;
    let policy = match case.policy.clone().map_err(whole)? {
        Some(PolicySource::Text(text)) => text,
        _ => {
            return Err(whole(
                "needs exactly one of \"policy\" and \"policy_raw\" (a string)".into(),
            ))
        }
    };
    let loaded = control(
        engine,
        "/test/v1/reset",
        &json!({"policy": policy, "clock_ms": clock}),
    );
    if let Some(expect) = &case.expect_error {
        let expect = expect.clone().map_err(whole)?;
        if case.steps.is_some() {
            return Err(whole("a case with expect_error must not have steps".into()));
        }
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
                &expect,
            )
            .map_err(whole),
            Err((s, v)) => Err(whole(format!("reset failed with {s}: {v}"))),
        };
    }
    loaded.map_err(|(s, v)| whole(format!("policy failed to load ({s}): {v}")))?;
    for (i, step) in case.steps().map_err(whole)?.iter().enumerate() {
        let fail = |m: String| (Some(i), m);
        run_step(engine, step.as_ref().map_err(|m| fail(m.clone()))?).map_err(fail)?;
    }
    Ok(())
}

fn run_step(engine: &RemoteEngine, step: &Step) -> Result<(), String> {
    let clock = |body: Value| {
        control(engine, "/test/v1/clock", &body)
            .map(|_| ())
            .map_err(|(s, v)| format!("clock failed ({s}): {v}"))
    };
    match step {
        Step::Eval { action, expect } => check_decision(&engine.evaluate_value(action), expect),
        Step::EvalRaw { text, expect } => {
            check_decision(&engine.evaluate_json(text.as_bytes()), expect)
        }
        Step::AdvanceMs(ms) => clock(json!({"advance_ms": ms})),
        Step::SetClock(at) => clock(json!({"set_ms": at})),
        Step::Approve {
            action,
            ttl_ms,
            uses,
        } => engine
            .approve_action_value(action, *ttl_ms, *uses)
            .map(|_| ())
            .map_err(|e| format!("approve failed: {e}")),
        Step::UpdatePolicy { text, expect_error } => {
            match (engine.update_policy(text.as_bytes()), expect_error) {
                (Ok(()), None) => Ok(()),
                (Ok(()), Some(_)) => Err("the update loaded, but a load error was expected".into()),
                (Err(RemoteError::Policy(e)), Some(expect)) => {
                    check_error(e.path(), e.message(), expect)
                }
                (Err(e), _) => Err(format!("update failed: {e}")),
            }
        }
    }
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
    let engine = match RemoteEngine::new(
        Endpoint::Unix(sock),
        RemoteOptions {
            timeout: Duration::from_secs(120),
            breaker_failures: 0,
            ..RemoteOptions::default()
        },
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Case files may nest values deeper than serde_json's default limit: read them on a
    // large stack.
    let (passed, failed) =
        on_big_stack(move || conformance::replay_dir(&dir, |case| run_case(&engine, case)));
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
