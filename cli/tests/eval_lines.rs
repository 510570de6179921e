//! `eval` reads actions line by line as bytes: a line that is not UTF-8 is denied and the
//! lines after it are still evaluated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn a_non_utf8_line_is_denied_and_evaluation_goes_on() {
    let dir = std::env::temp_dir().join(format!("portcullis-lines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        br#"{"portcullis": 1, "name": "l", "default": "allow"}"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("eval")
        .arg(&policy)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let good = b"{\"tool\": \"t\", \"agent\": {\"id\": \"a\"}}";
    let mut input = Vec::new();
    input.extend_from_slice(good);
    input.extend_from_slice(b"\n{\"tool\": \"t\xff\", \"agent\": {\"id\": \"a\"}}\r\n");
    input.extend_from_slice(good);
    input.extend_from_slice(b"\r\n");
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["effect"], "allow");
    assert_eq!(lines[1]["effect"], "deny");
    assert_eq!(lines[1]["code"], "invalid_action");
    assert_eq!(lines[2]["effect"], "allow");
}
