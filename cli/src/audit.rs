//! `portcullis audit verify [OPTIONS] FILE...`: re-computes an audit trail's hash chain and
//! reports the first broken, missing or non-canonical record. Exit status 0 when the whole
//! trail verifies (and matches the checkpoint, when one is given), 1 otherwise.
//!
//! An unkeyed chain proves order and integrity only up to its last hash, which is printed:
//! anchor it outside the trail. With a key (`--key-file PATH` or `--key-env NAME`, at least
//! 32 bytes), `--write-checkpoint OUT` writes an HMAC-SHA256 checkpoint of the verified head,
//! and `--checkpoint IN` requires the trail to still hold the record it anchors.
use portcullis::{trail_files, verify_files, Checkpoint, VerifyReport};
use std::path::PathBuf;
use std::process::ExitCode;

pub const VERIFY_USAGE: &str = "usage: portcullis audit verify [--trail PATH | FILE...]
         [--key-file KEY | --key-env NAME] [--checkpoint IN] [--write-checkpoint OUT]
  FILE...               the trail's files in chain order (rotated files by increasing number,
                        then the current file)
  --trail PATH          verify the trail at PATH: its rotated files PATH.N by number, then PATH
  --key-file KEY        the checkpoint key, read from the file KEY (at least 32 bytes)
  --key-env NAME        the checkpoint key, read from the environment variable NAME
  --checkpoint IN       require the trail to hold the record the checkpoint in IN anchors
  --write-checkpoint OUT  after a successful verification, write a checkpoint of the last
                        record to OUT";

#[derive(Default)]
struct Args {
    files: Vec<PathBuf>,
    trail: Option<PathBuf>,
    key: Option<Vec<u8>>,
    checkpoint: Option<PathBuf>,
    write_checkpoint: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or(format!("{arg} needs a value\n{VERIFY_USAGE}"))
        };
        match arg.as_str() {
            "--trail" => out.trail = Some(value()?.into()),
            "--key-file" => {
                let path = value()?;
                out.key =
                    Some(std::fs::read(&path).map_err(|e| format!("cannot read {path}: {e}"))?);
            }
            "--key-env" => {
                let name = value()?;
                let key = std::env::var_os(&name)
                    .ok_or(format!("the environment variable {name} is not set"))?;
                out.key = Some(key.into_encoded_bytes());
            }
            "--checkpoint" => out.checkpoint = Some(value()?.into()),
            "--write-checkpoint" => out.write_checkpoint = Some(value()?.into()),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{VERIFY_USAGE}"))
            }
            file => out.files.push(file.into()),
        }
    }
    if let Some(trail) = &out.trail {
        if !out.files.is_empty() {
            return Err(format!("give --trail or FILE..., not both\n{VERIFY_USAGE}"));
        }
        out.files =
            trail_files(trail).map_err(|e| format!("cannot list {}: {e}", trail.display()))?;
    }
    if out.files.is_empty() {
        return Err(VERIFY_USAGE.to_owned());
    }
    if (out.checkpoint.is_some() || out.write_checkpoint.is_some()) && out.key.is_none() {
        return Err(format!(
            "checkpoints need a key (--key-file or --key-env)\n{VERIFY_USAGE}"
        ));
    }
    Ok(out)
}

fn report_of(args: &Args, key: &[u8]) -> Result<VerifyReport, String> {
    match &args.checkpoint {
        None => Ok(verify_files(&args.files)),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let cp = Checkpoint::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            cp.verify(&args.files, key).map_err(|e| e.to_string())
        }
    }
}

fn run(args: &[String]) -> Result<bool, String> {
    let args = parse(args)?;
    let key = args.key.clone().unwrap_or_default();
    let report = report_of(&args, &key)?;
    if let Some(f) = &report.failure {
        println!(
            "{} records verify before the first problem",
            report.valid_records
        );
        println!("FAIL {}:{}: {}", f.file.display(), f.line, f.problem);
        return Ok(false);
    }
    println!(
        "ok: {} records verify ({} decisions, {} dropped); last record {} hash {}",
        report.valid_records,
        report.decisions,
        report.dropped,
        report.valid_records,
        report.last_hash
    );
    if args.checkpoint.is_some() {
        println!("ok: the trail holds the checkpoint's record");
    }
    match &args.write_checkpoint {
        Some(out) => {
            let cp = Checkpoint::sign(report.valid_records, &report.last_hash, &key)
                .map_err(|e| e.to_string())?;
            std::fs::write(out, cp.to_line() + "\n")
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!("checkpoint written to {}", out.display());
        }
        None => println!(
            "an unkeyed chain proves order and integrity only up to this hash: store it (or a \
             keyed checkpoint, --write-checkpoint) outside the trail"
        ),
    }
    Ok(true)
}

/// Verifies the trail `args` name and prints the result.
pub fn verify(args: &[String]) -> ExitCode {
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
