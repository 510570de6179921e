//! `portcullis eval POLICY [ACTIONS] [--audit FILE]`: decide JSON lines.
//!
//! Output line N is the decision for input line N, always: a blank line, a line that is not
//! UTF-8 or not JSON is decided like any other malformed action (deny, `invalid_action`)
//! and evaluation goes on. A final line without a newline counts; an empty input prints
//! nothing.
use crate::input;
use portcullis::{AuditOptions, AuditSink, Engine, EngineOptions, FileSink};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The policy (.json, .yaml or .yml).
    policy: PathBuf,
    /// JSON lines of actions; stdin when absent or `-`.
    actions: Option<PathBuf>,
    /// Record every decision in this audit trail file (appended to).
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
}

fn load(policy: &Path, trail: Option<&Path>) -> Result<Engine, String> {
    let Some(trail) = trail else {
        return input::load(policy);
    };
    let audit = AuditOptions {
        sink: AuditSink::File(FileSink::new(trail)),
        ..AuditOptions::default()
    };
    Engine::with_audit(
        &input::policy_text(policy)?,
        EngineOptions::default(),
        &audit,
    )
    .map_err(|e| match e {
        portcullis::CreateError::Policy(e) => input::show_error(policy, &e),
        other => other.to_string(),
    })
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let engine = load(&args.policy, args.audit.as_deref())?;
    let reader: Box<dyn BufRead> = match &args.actions {
        Some(file) if file.as_os_str() != "-" => Box::new(std::io::Cursor::new(input::read(file)?)),
        _ => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    decide_lines(&engine, reader, &mut std::io::stdout().lock())?;
    // Fails when audit records could not be written (a full disk): the decisions printed
    // above are then not all in the trail.
    engine.close().map_err(|e| format!("audit trail: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes one decision per input line.
pub fn decide_lines(
    engine: &Engine,
    mut reader: impl BufRead,
    out: &mut impl Write,
) -> Result<(), String> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read actions: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let decision = engine.evaluate_json(text);
        writeln!(out, "{}", decision.to_json()).map_err(|e| e.to_string())?;
    }
}
