//! A process killed with SIGKILL mid-run leaves an audit file whose chain verifies up to its
//! last complete line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn sigkill_leaves_a_verifiable_prefix() {
    let dir = std::env::temp_dir().join(format!("portcullis-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        br#"{"portcullis": 1, "name": "k", "default": "allow"}"#,
    )
    .unwrap();
    let trail = dir.join("trail.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("eval")
        .arg(&policy)
        .arg("-")
        .arg("--audit")
        .arg(&trail)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let line = b"{\"tool\": \"t\", \"agent\": {\"id\": \"a\"}, \"params\": {\"pad\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}\n";
        while stdin.write_all(line).is_ok() {}
    });
    // Kill once the writer has flushed a good number of records.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&trail).map_or(0, |m| m.len()) < 200_000
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    feeder.join().unwrap();

    let text = std::fs::read(&trail).unwrap();
    let complete = text.iter().filter(|b| **b == b'\n').count() as u64;
    assert!(complete > 100, "the writer flushed only {complete} records");
    let report = portcullis::verify_files(&[&trail]);
    assert_eq!(report.valid_records, complete, "{:?}", report.failure);
    if let Some(f) = &report.failure {
        // The only acceptable problem is an incomplete last line.
        assert!(f.problem.contains("truncated"), "{}", f.problem);
        assert_eq!(f.line, complete + 1);
    }
    // The CLI verifier agrees.
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "verify"])
        .arg(&trail)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{complete} records verify")),
        "{stdout}"
    );
    assert_eq!(out.status.success(), report.failure.is_none());
}
