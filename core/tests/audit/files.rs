//! Trail files: records of any accepted size reopen, restart after rotation continues the
//! chain, rotated numbers are never reused, the verifier wants canonical bytes, checkpoints
//! anchor the head, and trail files are private, link-free and locked.
use super::{file_engine, options, scratch, ten_record_trail, write_lines, POLICY, READ};
use portcullis::{
    trail_files, verify_files, AuditOptions, AuditSink, Checkpoint, Engine, FileSink,
};
use std::path::{Path, PathBuf};

fn rotating(path: &Path, max_bytes: u64) -> Engine {
    file_engine(path, |a| {
        if let AuditSink::File(f) = &mut a.sink {
            f.max_bytes = max_bytes;
            f.flush_interval_ms = 1;
        }
    })
}

#[test]
fn a_record_larger_than_one_mebibyte_reopens() {
    let dir = scratch("big");
    let path = dir.join("trail.jsonl");
    // An action just under the 1 MiB limit whose audited fields (tool, target and the
    // included `params.table`) make a record over 1 MiB.
    let third = (1 << 20) / 3 - 64;
    let big = "x".repeat(third);
    let action = format!(
        r#"{{"tool":"db.read{big}","agent":{{"id":"a1"}},"target":"{big}","params":{{"table":"{big}"}}}}"#
    );
    assert!(action.len() < 1 << 20);
    let engine = file_engine(&path, |_| {});
    let d = engine.evaluate_json(action.as_bytes());
    assert_ne!(d.code.as_str(), "invalid_action", "{}", d.reason);
    engine.close().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1 << 20);
    // Reopening continues the chain after the big record.
    let engine = file_engine(&path, |_| {});
    engine.evaluate_json(READ);
    engine.close().unwrap();
    let report = verify_files(&[&path]);
    assert_eq!((report.failure, report.decisions), (None, 2));
}

#[test]
fn restart_right_after_rotation_continues_the_chain() {
    let dir = scratch("restart-rotated");
    let path = dir.join("trail.jsonl");
    // Every batch rotates, so the current file is empty whenever the engine stops.
    for _ in 0..3 {
        let engine = rotating(&path, 1);
        for _ in 0..2 {
            engine.evaluate_json(READ);
            engine.flush_audit().unwrap();
        }
        engine.close().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }
    let files = trail_files(&path).unwrap();
    assert_eq!(files.len(), 7, "{files:?}"); // 6 rotated files and the empty current one
    let report = verify_files(&files);
    assert_eq!(report.failure, None);
    assert_eq!(report.decisions, 6);
}

fn rotated(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("trail.jsonl.0"))
        .collect();
    names.sort();
    names
}

#[test]
fn rotated_numbers_are_never_reused_and_order_is_unambiguous() {
    let dir = scratch("numbering");
    let path = dir.join("trail.jsonl");
    let engine = rotating(&path, 1);
    for _ in 0..3 {
        engine.evaluate_json(READ);
        engine.flush_audit().unwrap();
    }
    engine.close().unwrap();
    // The oldest file is archived elsewhere: its number must not come back.
    let archive = scratch("numbering-archive").join("trail.jsonl.000001");
    std::fs::rename(dir.join("trail.jsonl.000001"), &archive).unwrap();
    let engine = rotating(&path, 1);
    engine.evaluate_json(READ);
    engine.close().unwrap();
    assert_eq!(
        rotated(&dir),
        [
            "trail.jsonl.000002",
            "trail.jsonl.000003",
            "trail.jsonl.000004"
        ]
    );
    let mut files = vec![archive];
    files.extend(trail_files(&path).unwrap());
    let report = verify_files(&files);
    assert_eq!((report.failure, report.decisions), (None, 4));
}

#[test]
fn trail_files_orders_rotated_files_by_number_not_by_name() {
    let dir = scratch("order");
    let path = dir.join("t.log");
    for name in [
        "t.log.10",
        "t.log.9",
        "t.log.000011",
        "t.log",
        "t.log.lock",
        "t.log.x1",
    ] {
        std::fs::write(dir.join(name), "").unwrap();
    }
    let names: Vec<String> = trail_files(&path)
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["t.log.9", "t.log.10", "t.log.000011", "t.log"]);
}

#[test]
fn verify_requires_canonical_bytes() {
    let (path, original) = ten_record_trail("canonical");
    assert!(original[3].contains(r#""effect":"allow""#));
    let check = |edited: String| {
        let mut all = original.clone();
        all[3] = edited;
        write_lines(&path, &all);
        let report = verify_files(&[&path]);
        let failure = report
            .failure
            .expect("a non-canonical record must be refused");
        assert_eq!(failure.line, 4, "{}", failure.problem);
        assert!(failure.problem.contains("canonical"), "{}", failure.problem);
    };
    // A duplicate key a first-wins reader reads as "deny" (the hash covers the last one).
    check(original[3].replace(r#""effect":"allow""#, r#""effect":"deny","effect":"allow""#));
    // An escaped name hides from grep.
    check(original[3].replace(r#""effect":"allow""#, r#""effect":"allo\u0077""#));
    check(original[3].replace(r#""effect":"#, r#""effect": "#));
}

#[test]
fn a_keyed_checkpoint_anchors_the_head_of_the_chain() {
    let (path, original) = ten_record_trail("checkpoint");
    let key = [42u8; 32];
    let report = verify_files(&[&path]);
    let cp = Checkpoint::sign(report.valid_records, &report.last_hash, &key).unwrap();
    let cp = Checkpoint::parse(&cp.to_line()).unwrap();
    assert_eq!(cp.verify(&[&path], &key).unwrap().failure, None);
    // More records after the checkpoint are fine.
    let engine = file_engine(&path, |_| {});
    engine.evaluate_json(READ);
    engine.close().unwrap();
    assert_eq!(cp.verify(&[&path], &key).unwrap().failure, None);
    // Cutting records off the end verifies unkeyed, but not against the checkpoint.
    write_lines(&path, &original[..7]);
    assert_eq!(verify_files(&[&path]).failure, None);
    let failure = cp.verify(&[&path], &key).unwrap().failure.unwrap();
    assert!(failure.problem.contains("cut off"), "{}", failure.problem);
    // A chain rewritten from genesis (here: ten denials) does not hold the anchored hash.
    std::fs::remove_file(&path).unwrap();
    let engine = file_engine(&path, |_| {});
    for _ in 0..10 {
        engine.evaluate_json(br#"{"tool": "db.drop", "agent": {"id": "a1"}}"#);
    }
    engine.close().unwrap();
    assert_eq!(verify_files(&[&path]).failure, None);
    let failure = cp.verify(&[&path], &key).unwrap().failure.unwrap();
    assert!(failure.problem.contains("rewritten"), "{}", failure.problem);
    // A wrong key, or a forged mac, is refused.
    write_lines(&path, &original);
    let failure = cp.verify(&[&path], &[1u8; 32]).unwrap().failure.unwrap();
    assert!(failure.problem.contains("mac"), "{}", failure.problem);
}

#[cfg(unix)]
#[test]
fn trail_files_are_created_owner_only_or_with_the_configured_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("mode");
    let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let path = dir.join("trail.jsonl");
    let engine = rotating(&path, 1);
    engine.evaluate_json(READ);
    engine.close().unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.join("trail.jsonl.000001")), 0o600);
    let shared = dir.join("shared.jsonl");
    let engine = file_engine(&shared, |a| {
        if let AuditSink::File(f) = &mut a.sink {
            f.mode = 0o640;
        }
    });
    engine.close().unwrap();
    assert_eq!(mode(&shared), 0o640);
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_refused() {
    let dir = scratch("symlink");
    let victim = dir.join("victim");
    std::fs::write(&victim, "keep\n").unwrap();
    let path = dir.join("trail.jsonl");
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    let audit = AuditOptions {
        sink: AuditSink::File(FileSink::new(&path)),
        ..AuditOptions::default()
    };
    let err = Engine::with_audit(POLICY, options(), &audit)
        .unwrap_err()
        .to_string();
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
}

#[test]
fn a_second_engine_cannot_open_a_trail_in_use() {
    let dir = scratch("lock");
    let path = dir.join("trail.jsonl");
    let first = file_engine(&path, |_| {});
    let audit = AuditOptions {
        sink: AuditSink::File(FileSink::new(&path)),
        ..AuditOptions::default()
    };
    let err = Engine::with_audit(POLICY, options(), &audit)
        .unwrap_err()
        .to_string();
    assert!(err.contains("in use by another engine"), "{err}");
    first.evaluate_json(READ);
    first.close().unwrap();
    // Once the first engine is gone, the trail opens again and the chain continues.
    let second = Engine::with_audit(POLICY, options(), &audit).unwrap();
    second.evaluate_json(READ);
    second.close().unwrap();
    let report = verify_files(&[&path]);
    assert_eq!((report.failure, report.decisions), (None, 2));
}
