//! `agentgate-audit verify FILES...`: re-computes an audit trail's hash chain and reports the
//! first broken or missing record. Exit status 0 when the whole trail verifies, 1 otherwise.
use std::process::ExitCode;

const USAGE: &str = "usage: agentgate-audit verify FILE...   (rotated files first, oldest first, then the current file)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, files)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    if cmd != "verify" || files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    }
    let report = agentgate::verify_files(files);
    match &report.failure {
        None => {
            println!(
                "ok: {} records verify ({} decisions, {} dropped); last hash {}",
                report.valid_records, report.decisions, report.dropped, report.last_hash
            );
            ExitCode::SUCCESS
        }
        Some(f) => {
            println!(
                "{} records verify before the first problem",
                report.valid_records
            );
            println!("FAIL {}:{}: {}", f.file.display(), f.line, f.problem);
            ExitCode::FAILURE
        }
    }
}
