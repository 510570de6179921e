//! The audit trail: lossless under load, counted drops, tamper detection, redaction,
//! rotation and crash recovery. `PORTCULLIS_AUDIT_DECISIONS` sets the size of the load test
//! (default 1,000,000; `make test` runs this file in release mode).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use portcullis::{
    verify_files, AuditOptions, AuditSink, ClockMode, Engine, EngineOptions, FileSink, Overflow,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;

#[path = "audit/disk.rs"]
mod disk;
#[path = "audit/files.rs"]
mod files;

const POLICY: &[u8] = br#"{"portcullis": 1, "name": "audited", "version": "7",
  "audit": {"include_params": ["params.table", "params.nested.id"]},
  "rules": [
    {"id": "reads", "effect": "allow", "match": {"tool": ["db.read"]}},
    {"id": "no-drop", "effect": "deny", "match": {"tool": ["db.drop"]}, "reason": "never"}]}"#;
const READ: &[u8] = br#"{"tool": "db.read", "agent": {"id": "a1"}, "params": {"table": "users"}}"#;

fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "portcullis-audit-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn options() -> EngineOptions {
    EngineOptions {
        clock: ClockMode::Manual {
            start_ms: 1_780_000_000_000,
        },
        ..EngineOptions::default()
    }
}

fn file_engine(path: &Path, configure: impl FnOnce(&mut AuditOptions)) -> Engine {
    let mut audit = AuditOptions {
        sink: AuditSink::File(FileSink::new(path)),
        ..AuditOptions::default()
    };
    configure(&mut audit);
    Engine::with_audit(POLICY, options(), &audit).unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

/// Decisions per load test: `PORTCULLIS_AUDIT_DECISIONS`, or 1,000,000.
fn decisions() -> usize {
    std::env::var("PORTCULLIS_AUDIT_DECISIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn hammer(engine: &Arc<Engine>, threads: usize, per_thread: usize) {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let engine = engine.clone();
            thread::spawn(move || {
                for _ in 0..per_thread {
                    assert!(engine.evaluate_json(READ).allowed());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn block_overflow_loses_nothing_under_two_threads() {
    let total = decisions();
    let dir = scratch("block");
    let path = dir.join("trail.jsonl");
    let engine = Arc::new(file_engine(&path, |a| a.queue_capacity = 4096));
    hammer(&engine, 2, total / 2);
    engine.flush_audit().unwrap();
    assert_eq!(engine.audit_stats().recorded, total as u64);
    assert_eq!(engine.audit_stats().dropped, 0);
    drop(engine);
    let report = verify_files(&[&path]);
    assert_eq!(report.failure, None);
    assert_eq!(report.valid_records, total as u64);
    assert_eq!(report.decisions, total as u64);
}

#[test]
fn drop_overflow_counts_every_dropped_record() {
    let dir = scratch("drop");
    let path = dir.join("trail.jsonl");
    let engine = Arc::new(file_engine(&path, |a| {
        a.queue_capacity = 2;
        a.overflow = Overflow::Drop;
    }));
    let total = decisions();
    hammer(&engine, 2, total / 2);
    let stats = engine.audit_stats();
    drop(engine);
    let report = verify_files(&[&path]);
    assert_eq!(report.failure, None);
    assert!(stats.dropped > 0, "a queue of 2 must overflow");
    assert_eq!(report.decisions + report.dropped, total as u64);
    assert_eq!(report.dropped, stats.dropped);
}

#[test]
fn records_carry_the_spec_fields_and_only_allowed_params() {
    let dir = scratch("fields");
    let path = dir.join("trail.jsonl");
    let engine = file_engine(&path, |_| {});
    engine.evaluate_json(
        br#"{"tool": "db.read", "agent": {"id": "a1"}, "target": "db-7",
             "params": {"table": "users", "password": "hunter2-secret", "nested": {"id": 9, "token": "tok-secret"}},
             "context": {"session": "ctx-secret"}}"#,
    );
    engine.evaluate_json(
        br#"{"tool": "db.drop", "agent": {"id": "a2"}, "params": {"table": "users"}}"#,
    );
    engine.evaluate_json(b"{not json");
    drop(engine);
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [
        "hunter2-secret",
        "tok-secret",
        "ctx-secret",
        "password",
        "session",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the trail");
    }
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    let first = &records[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["type"], "decision");
    assert_eq!(first["time"], "2026-05-28T20:26:40.000Z");
    assert_eq!(first["agent"], "a1");
    assert_eq!(first["kind"], "tool_call");
    assert_eq!(first["tool"], "db.read");
    assert_eq!(first["target"], "db-7");
    assert_eq!(first["effect"], "allow");
    assert_eq!(first["code"], "rule");
    assert_eq!(first["rule"], "reads");
    assert_eq!(
        first["policy"],
        serde_json::json!({"name": "audited", "version": "7"})
    );
    assert_eq!(
        first["params"],
        serde_json::json!({"params.table": "users", "params.nested.id": 9})
    );
    assert!(first["action_hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(first["eval_ns"].as_u64().unwrap() > 0);
    assert_eq!(first["prev"], portcullis::audit_genesis());
    assert_eq!(records[1]["prev"], first["hash"]);
    assert_eq!(
        (records[1]["effect"].as_str(), records[1]["reason"].as_str()),
        (Some("deny"), Some("never"))
    );
    assert_eq!(records[2]["code"], "invalid_action");
    assert_eq!(records[2]["agent"], serde_json::Value::Null);
}

fn ten_record_trail(name: &str) -> (PathBuf, Vec<String>) {
    let dir = scratch(name);
    let path = dir.join("trail.jsonl");
    let engine = file_engine(&path, |_| {});
    for _ in 0..10 {
        engine.evaluate_json(READ);
    }
    drop(engine);
    let l = lines(&path);
    assert_eq!(l.len(), 10);
    assert_eq!(verify_files(&[&path]).failure, None);
    (path, l)
}

#[test]
fn tampering_is_found_at_the_right_line() {
    let (path, original) = ten_record_trail("tamper");
    let check = |edited: Vec<String>, line: u64, words: &str| {
        write_lines(&path, &edited);
        let report = verify_files(&[&path]);
        let failure = report.failure.expect("tampering must be detected");
        assert_eq!(failure.line, line, "{}", failure.problem);
        assert!(failure.problem.contains(words), "{}", failure.problem);
        assert_eq!(report.valid_records, line - 1);
    };
    let mut edited = original.clone();
    edited[3] = edited[3].replace("\"effect\":\"allow\"", "\"effect\":\"deny\"");
    assert_ne!(edited[3], original[3]);
    check(edited, 4, "edited");
    let mut deleted = original.clone();
    deleted.remove(4);
    check(deleted, 5, "missing");
    let mut swapped = original.clone();
    swapped.swap(2, 3);
    check(swapped, 3, "out of order");
    // A truncated tail: the last line cut in half, without its newline.
    let mut text: String = original.iter().map(|l| format!("{l}\n")).collect();
    text.truncate(text.len() - 40);
    std::fs::write(&path, text).unwrap();
    let report = verify_files(&[&path]);
    assert_eq!(report.valid_records, 9);
    let failure = report.failure.unwrap();
    assert_eq!(failure.line, 10);
    assert!(failure.problem.contains("truncated"));
}

#[test]
fn memory_sink_drains_a_verifiable_chain() {
    let audit = AuditOptions {
        sink: AuditSink::Memory,
        ..AuditOptions::default()
    };
    let engine = Engine::with_audit(POLICY, options(), &audit).unwrap();
    for _ in 0..5 {
        engine.evaluate_json(READ);
    }
    let mut drained = engine.drain_audit(3);
    assert_eq!(drained.len(), 3);
    drained.extend(engine.drain_audit(100));
    assert_eq!(drained.len(), 5);
    assert!(engine.drain_audit(100).is_empty());
    assert_eq!(engine.audit_stats().recorded, 5);
    let dir = scratch("memory");
    let path = dir.join("drained.jsonl");
    std::fs::write(&path, drained.concat()).unwrap();
    let report = verify_files(&[&path]);
    assert_eq!((report.failure, report.decisions), (None, 5));
}

#[test]
fn rotation_and_reopening_continue_the_chain() {
    let dir = scratch("rotate");
    let path = dir.join("trail.jsonl");
    let engine = file_engine(&path, |a| {
        if let AuditSink::File(f) = &mut a.sink {
            f.max_bytes = 3000;
            f.flush_interval_ms = 1;
        }
    });
    for _ in 0..40 {
        engine.evaluate_json(READ);
        engine.flush_audit().unwrap();
    }
    drop(engine);
    // Reopening continues the sequence and the chain.
    let engine = file_engine(&path, |_| {});
    for _ in 0..5 {
        engine.evaluate_json(READ);
    }
    drop(engine);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let current = files.remove(0);
    assert_eq!(current, path);
    assert!(
        files.len() >= 3,
        "expected several rotated files, found {files:?}"
    );
    files.push(current);
    let report = verify_files(&files);
    assert_eq!(report.failure, None);
    assert_eq!(report.decisions, 45);
    // Leaving a rotated file out is detected.
    files.remove(1);
    assert!(verify_files(&files).failure.is_some());
}

#[test]
fn an_incomplete_last_line_is_cut_and_recorded_on_reopen() {
    let (path, original) = ten_record_trail("recover");
    let mut text: String = original.iter().map(|l| format!("{l}\n")).collect();
    text.truncate(text.len() - 25);
    std::fs::write(&path, &text).unwrap();
    let engine = file_engine(&path, |_| {});
    engine.evaluate_json(READ);
    drop(engine);
    let report = verify_files(&[&path]);
    assert_eq!(report.failure, None);
    assert_eq!(report.valid_records, 11); // 9 complete + the recovery record + 1 new
    assert!(lines(&path)[9].contains("\"type\":\"recovered\""));
}

#[test]
fn a_bad_policy_never_creates_a_trail() {
    let dir = scratch("badpolicy");
    let path = dir.join("trail.jsonl");
    let audit = AuditOptions {
        sink: AuditSink::File(FileSink::new(&path)),
        ..AuditOptions::default()
    };
    assert!(Engine::with_audit(b"{}", options(), &audit).is_err());
    assert!(!path.exists());
    let bad_dir = AuditOptions {
        sink: AuditSink::File(FileSink::new(dir.join("missing/dir/t.jsonl"))),
        ..audit
    };
    let err = Engine::with_audit(POLICY, options(), &bad_dir).unwrap_err();
    assert!(err.to_string().contains("missing/dir"), "{err}");
}

#[test]
fn an_oversized_queue_is_refused() {
    let audit = AuditOptions {
        sink: AuditSink::Memory,
        queue_capacity: usize::MAX,
        ..AuditOptions::default()
    };
    let err = Engine::with_audit(POLICY, options(), &audit).unwrap_err();
    assert!(err.to_string().contains("queue_capacity"), "{err}");
}

#[test]
fn decisions_made_outside_the_engine_are_audited() {
    let audit = AuditOptions {
        sink: AuditSink::Memory,
        ..AuditOptions::default()
    };
    let engine = Engine::with_audit(POLICY, options(), &audit).unwrap();
    let a = engine.deny_invalid_action("params.x: a cycle");
    let b = engine.deny_engine_error("the binding lost the engine");
    assert_eq!(
        (a.code.as_str(), b.code.as_str()),
        ("invalid_action", "engine_error")
    );
    let lines = engine.drain_audit(10);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].contains("params.x: a cycle") && lines[1].contains("the binding lost the engine")
    );
}
