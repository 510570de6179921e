//! `portcullis`: check a policy, evaluate actions against it, run the demo table, or verify
//! an audit trail.
mod audit;

use portcullis::{AuditOptions, AuditSink, Decision, Engine, EngineOptions, FileSink};
use serde_json::Value;
use std::io::{BufRead, Write};
use std::process::ExitCode;

const USAGE: &str = "usage:
  portcullis check POLICY.json              validate a policy (prints the first load error)
  portcullis eval POLICY.json [ACTIONS] [--audit FILE]
                                           decide each action (JSON lines, from a file or stdin),
                                           recording every decision in the audit trail FILE
  portcullis demo POLICY.json ACTIONS.json  decide a list of {\"label\", \"action\"} as a table
  portcullis serve --policy FILE --listen unix:PATH|tcp:HOST:PORT ...
                                           serve decisions over HTTP (see docs/serve.md)
  portcullis audit verify FILE...          re-compute an audit trail's hash chain (rotated files
                                           first, oldest first, then the current file)";

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn load(path: &str) -> Result<Engine, String> {
    Engine::new(&read(path)?, EngineOptions::default()).map_err(|e| format!("{path}: {e}"))
}

fn load_audited(path: &str, trail: &str) -> Result<Engine, String> {
    let audit = AuditOptions {
        sink: AuditSink::File(FileSink::new(trail)),
        ..AuditOptions::default()
    };
    Engine::with_audit(&read(path)?, EngineOptions::default(), &audit)
        .map_err(|e| format!("{path}: {e}"))
}

/// One table row: label, effect, code, rule (the same layout every language's demo prints).
pub fn row(label: &str, d: &Decision) -> String {
    format!(
        "  {label:<38} {:<17} {:<18} {}",
        d.effect.as_str(),
        d.code.as_str(),
        d.rule.as_deref().unwrap_or("-")
    )
}

fn run(args: &[String]) -> Result<(), String> {
    let out = std::io::stdout();
    let mut out = out.lock();
    let w = |out: &mut std::io::StdoutLock<'_>, s: &str| {
        writeln!(out, "{s}").map_err(|e| e.to_string())
    };
    match args {
        [cmd, policy] if cmd == "check" => {
            let engine = load(policy)?;
            let info = engine.policy_info();
            w(
                &mut out,
                &format!(
                    "ok: policy {:?} version {:?}",
                    info.name,
                    info.version.as_deref().unwrap_or("-")
                ),
            )
        }
        [cmd, policy, rest @ ..] if cmd == "eval" => {
            let (engine, rest) = match rest {
                [r @ .., flag, trail] if flag == "--audit" => (load_audited(policy, trail)?, r),
                r => (load(policy)?, r),
            };
            if rest.len() > 1 {
                return Err(USAGE.to_owned());
            }
            let input: Box<dyn BufRead> = match rest.first() {
                Some(file) if file != "-" => Box::new(std::io::Cursor::new(read(file)?)),
                _ => Box::new(std::io::BufReader::new(std::io::stdin())),
            };
            for line in input.lines() {
                let line = line.map_err(|e| e.to_string())?;
                if !line.trim().is_empty() {
                    w(&mut out, &engine.evaluate_json(line.as_bytes()).to_json())?;
                }
            }
            Ok(())
        }
        [cmd, policy, actions] if cmd == "demo" => {
            let engine = load(policy)?;
            let list: Value =
                serde_json::from_slice(&read(actions)?).map_err(|e| format!("{actions}: {e}"))?;
            let items = list
                .as_array()
                .ok_or(format!("{actions}: expected a JSON array"))?;
            w(&mut out, "== Rust ==")?;
            for item in items {
                let label = item.get("label").and_then(Value::as_str).unwrap_or("?");
                let action = item.get("action").unwrap_or(&Value::Null);
                w(&mut out, &row(label, &engine.evaluate_value(action)))?;
            }
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    }
}

// `portcullis serve ...`: the flags of `portcullis_server::ServeArgs`.
#[derive(clap::Parser)]
#[command(
    name = "portcullis serve",
    about = "Serve decisions over a Unix socket or HTTP(S) (see docs/serve.md)"
)]
struct Serve {
    #[command(flatten)]
    args: portcullis_server::ServeArgs,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "serve") {
        return portcullis_server::run(<Serve as clap::Parser>::parse_from(&args).args);
    }
    if let [cmd, sub, files @ ..] = args.as_slice() {
        if cmd == "audit" && sub == "verify" && !files.is_empty() {
            return audit::verify(files);
        }
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
