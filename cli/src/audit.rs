//! `portcullis audit verify FILES...`: re-computes an audit trail's hash chain and reports the
//! first broken or missing record. Exit status 0 when the whole trail verifies, 1 otherwise.
use std::process::ExitCode;

/// Verifies `files` (rotated files first, oldest first, then the current file) and prints
/// the result.
pub fn verify(files: &[String]) -> ExitCode {
    let report = portcullis::verify_files(files);
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
