//! The verifier: re-computes a trail's hash chain and checks that every record is exactly its
//! canonical (RFC 8785) form.
use super::record::seal_hash;
use super::GENESIS;
use crate::json::write_jcs;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// What a verification found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The file holding the first bad record.
    pub file: PathBuf,
    /// Its line number (1-based).
    pub line: u64,
    /// What is wrong.
    pub problem: String,
}

/// The result of verifying a trail: how many records form a valid chain from the start, and
/// the first problem after them, if any.
///
/// An unkeyed chain proves order and integrity only up to `last_hash`: whoever can write the
/// files can cut records off the end, or rewrite the whole chain. Anchor `last_hash` outside
/// the trail (print it and store it elsewhere, or make a keyed [`super::Checkpoint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records that verified, in order, before the first problem (also the `seq` of the last
    /// of them: sequence numbers start at 1 and have no gaps).
    pub valid_records: u64,
    /// Decision records among them.
    pub decisions: u64,
    /// The total of `dropped` records among them.
    pub dropped: u64,
    /// The hash of the last valid record.
    pub last_hash: String,
    /// The first problem: an edited, missing, reordered, truncated or non-canonical record.
    pub failure: Option<VerifyFailure>,
}

/// Re-computes the chain over `files` (in chain order: rotated files by increasing number,
/// then the current file, as [`super::trail_files`] lists them) and reports the first broken,
/// missing or non-canonical record.
pub fn verify_files<P: AsRef<Path>>(files: &[P]) -> VerifyReport {
    verify_chain(files, None)
}

/// [`verify_files`], also requiring the record numbered `anchor.0` to have hash `anchor.1`.
pub(super) fn verify_chain<P: AsRef<Path>>(
    files: &[P],
    anchor: Option<(u64, &str)>,
) -> VerifyReport {
    let mut report = VerifyReport {
        valid_records: 0,
        decisions: 0,
        dropped: 0,
        last_hash: GENESIS.to_owned(),
        failure: None,
    };
    for path in files {
        let path = path.as_ref();
        if let Err((line, problem)) = verify_file(path, anchor, &mut report) {
            report.failure = Some(VerifyFailure {
                file: path.to_owned(),
                line,
                problem,
            });
            break;
        }
    }
    report
}

/// Verifies one file's records, continuing the chain in `report`.
fn verify_file(
    path: &Path,
    anchor: Option<(u64, &str)>,
    report: &mut VerifyReport,
) -> Result<(), (u64, String)> {
    let file = File::open(path).map_err(|e| (0, format!("cannot open: {e}")))?;
    let mut reader = BufReader::new(file);
    let mut n = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err((n + 1, format!("cannot read: {e}"))),
        }
        n += 1;
        let Some(line) = buf.strip_suffix(b"\n") else {
            return Err((n, "truncated record: the last line is incomplete".into()));
        };
        check_line(line, anchor, report).map_err(|problem| (n, problem))?;
    }
}

/// `anchor`: a `(seq, hash)` the chain must hold (from a checked checkpoint).
fn check_line(
    line: &[u8],
    anchor: Option<(u64, &str)>,
    report: &mut VerifyReport,
) -> Result<(), String> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("not a JSON record: {e}"))?;
    // Byte-exact canonical form: no duplicate keys (which first-wins and last-wins readers
    // read differently), no escaped names, no reordering, no extra whitespace.
    let mut canonical = String::with_capacity(line.len());
    write_jcs(&value, &mut canonical);
    if canonical.as_bytes() != line {
        return Err(
            "the record is not in canonical form (RFC 8785 bytes): it was edited, or holds \
             duplicate or escaped keys"
                .into(),
        );
    }
    let Value::Object(mut fields) = value else {
        return Err("not a JSON object".into());
    };
    let hash = match fields.remove("hash") {
        Some(Value::String(h)) => h,
        _ => return Err("the record has no hash".into()),
    };
    let expected_seq = report.valid_records + 1;
    let seq = fields
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("the record has no seq")?;
    if seq != expected_seq {
        return Err(format!(
            "sequence {seq} where {expected_seq} was expected: a record is missing or out of order"
        ));
    }
    let prev = &report.last_hash;
    let got_prev = fields
        .get("prev")
        .and_then(Value::as_str)
        .ok_or("the record has no prev")?;
    if got_prev != prev {
        return Err(format!("prev {got_prev} does not match the previous record's hash {prev}: a record is missing or out of order"));
    }
    let record = Value::Object(fields);
    let computed = seal_hash(&record);
    if computed != hash {
        return Err(format!(
            "hash mismatch (recorded {hash}, computed {computed}): the record was edited"
        ));
    }
    if let Some((at, anchored)) = anchor {
        if seq == at && hash != anchored {
            return Err(format!(
                "record {seq} has hash {hash}, but the checkpoint says {anchored}: the chain \
                 was rewritten"
            ));
        }
    }
    match record.get("type").and_then(Value::as_str) {
        Some("decision") => report.decisions += 1,
        Some("dropped") => {
            report.dropped += record.get("dropped").and_then(Value::as_u64).unwrap_or(0)
        }
        _ => {}
    }
    report.valid_records += 1;
    report.last_hash = hash;
    Ok(())
}
