//! A full disk: a small tmpfs that fills up, then frees space. Mounting needs root (`make
//! test-rust` runs as root in CI). Without it these tests fail with a message saying so;
//! `PORTCULLIS_AUDIT_NO_TMPFS=1` skips them explicitly (and says so on stderr).
use super::{options, scratch, POLICY, READ};
use portcullis::{verify_files, AuditOptions, AuditSink, Engine, FileSink, Overflow};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// A mounted tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "256k"); `None` when explicitly skipped.
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        if std::env::var_os("PORTCULLIS_AUDIT_NO_TMPFS").is_some() {
            eprintln!("SKIPPED {name}: PORTCULLIS_AUDIT_NO_TMPFS is set");
            return None;
        }
        let dir = scratch(name);
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "cannot mount a tmpfs at {} ({status:?}): run the audit tests as root, or set \
             PORTCULLIS_AUDIT_NO_TMPFS=1 to skip the full-disk tests explicitly",
            dir.display()
        );
        Some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // A failed test may leave the engine's writer holding the file: detach lazily then,
        // so no mount outlives the test.
        let unmounted = Command::new("umount").arg(&self.0).status();
        if !matches!(unmounted, Ok(s) if s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills the file system holding `dir` with a file `filler` until it is full.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    // Fill the last partial block too.
    while f.write_all(&block[..1]).is_ok() {}
    filler
}

fn engine_on(path: &Path, overflow: Overflow, queue: usize) -> Engine {
    let audit = AuditOptions {
        sink: AuditSink::File(FileSink {
            flush_interval_ms: 1,
            ..FileSink::new(path)
        }),
        queue_capacity: queue,
        overflow,
    };
    Engine::with_audit(POLICY, options(), &audit).unwrap()
}

/// Waits (bounded) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..20_000 {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("gave up waiting for {what}");
}

#[test]
fn block_mode_waits_on_a_full_disk_and_writes_every_record_once_space_frees() {
    let Some(fs) = Tmpfs::mount("full-block", "256k") else {
        return;
    };
    let path = fs.0.join("trail.jsonl");
    let engine = Arc::new(engine_on(&path, Overflow::Block, 8));
    let filler = fill(&fs.0);
    const N: usize = 300;
    let producer = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            for _ in 0..N {
                assert!(engine.evaluate_json(READ).allowed());
            }
        })
    };
    // The writer cannot write: it keeps its batch, takes nothing more, and the producer
    // blocks on the full queue.
    wait_for("the write failure", || engine.flush_audit().is_err());
    wait_for("a full queue", || engine.audit_stats().unwritten > 8);
    let stats = engine.audit_stats();
    assert_eq!(stats.recorded, 0, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert!(!producer.is_finished(), "block mode must wait: {stats:?}");
    // The bound holds: the queue plus the one batch the writer holds.
    assert!(stats.unwritten <= 8 + 9 + 1, "{stats:?}");
    let err = engine.flush_audit().unwrap_err().to_string();
    assert!(err.contains("records not written"), "{err}");
    // Space frees: the writer retries, the producer resumes, nothing is lost.
    std::fs::remove_file(&filler).unwrap();
    producer.join().unwrap();
    engine.flush_audit().unwrap();
    let stats = engine.audit_stats();
    assert_eq!((stats.recorded, stats.unwritten), (N as u64, 0));
    Arc::into_inner(engine).unwrap().close().unwrap();
    let report = verify_files(&[&path]);
    assert_eq!(report.failure, None);
    assert_eq!(report.decisions, N as u64);
}

#[test]
fn closing_on_a_full_disk_reports_the_records_it_could_not_write() {
    let Some(fs) = Tmpfs::mount("full-close", "256k") else {
        return;
    };
    let path = fs.0.join("trail.jsonl");
    let engine = engine_on(&path, Overflow::Block, 8);
    fill(&fs.0);
    for _ in 0..5 {
        assert!(engine.evaluate_json(READ).allowed());
    }
    let err = engine.close().unwrap_err().to_string();
    assert!(
        err.contains("5 accepted records could not be written"),
        "{err}"
    );
}

#[test]
fn drop_mode_on_a_full_disk_counts_what_it_drops_and_records_the_count() {
    let Some(fs) = Tmpfs::mount("full-drop", "256k") else {
        return;
    };
    let path = fs.0.join("trail.jsonl");
    let engine = engine_on(&path, Overflow::Drop, 4);
    let filler = fill(&fs.0);
    for _ in 0..2000 {
        assert!(engine.evaluate_json(READ).allowed());
    }
    let stats = engine.audit_stats();
    assert_eq!(stats.recorded, 0);
    // The writer stopped taking records, so the bounded queue drops (and counts) the rest.
    assert!(stats.dropped >= 2000 - 4 - 9, "{stats:?}");
    std::fs::remove_file(&filler).unwrap();
    wait_for("the retry", || engine.flush_audit().is_ok());
    engine.close().unwrap();
    let report = verify_files(&[&path]);
    assert_eq!(report.failure, None);
    assert_eq!(report.decisions + report.dropped, 2000);
    assert_eq!(report.dropped, stats.dropped);
}
