//! The `portcullis` command line: argument handling, eval's line alignment, test, check and
//! explain (golden output in tests/golden/; regenerate with PORTCULLIS_BLESS=1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn here(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Compares `got` with tests/golden/NAME, or writes it there with PORTCULLIS_BLESS=1.
fn golden(name: &str, got: &str) {
    let path = here("tests/golden").join(name);
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(got, want, "golden file {} differs", path.display());
}

#[test]
fn help_and_version_exit_zero_on_stdout() {
    for flag in ["--help", "-h"] {
        let o = run(&[flag], b"");
        assert!(o.status.success());
        assert!(text(&o.stdout).contains("Usage: portcullis <COMMAND>"));
    }
    let o = run(&["--version"], b"");
    assert!(o.status.success());
    assert_eq!(
        text(&o.stdout).trim(),
        format!("portcullis {}", env!("CARGO_PKG_VERSION"))
    );
    let o = run(&["test", "--help"], b"");
    assert!(o.status.success() && text(&o.stdout).contains("--junit"));
}

#[test]
fn unknown_subcommands_and_flags_are_named() {
    let o = run(&["chek", "x.json"], b"");
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("'chek'") && err.contains("'check'"), "{err}");
    let o = run(&["eval", "p.json", "--bogus"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("'--bogus'"));
}

#[test]
fn completions_are_generated() {
    let o = run(&["completions", "bash"], b"");
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("explain"));
    assert!(!run(&["completions", "nosuchshell"], b"").status.success());
}

#[test]
fn eval_prints_one_line_per_input_line() {
    let input: &[u8] = b"{\"tool\":\"mail.send\",\"agent\":{\"id\":\"a\"}}\n\n\xff\xfe\n{not json\r\n{\"tool\":\"pay\",\"agent\":{\"id\":\"a\"},\"params\":{\"amount\":5,\"to\":\"shop\"}}";
    let o = run(&["eval", "tests/fixtures/pay-policy.json"], input);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].contains("\"effect\":\"allow\""));
    for l in &lines[1..4] {
        assert!(l.contains("\"code\":\"invalid_action\""), "{l}");
    }
    assert!(lines[4].contains("\"rule\":\"pay\""));
}

#[test]
fn check_reports_the_load_error_with_its_path() {
    let o = run(&["check", "tests/fixtures/bad-policy.json"], b"");
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains("error at rules[0].when"), "{out}");
    let o = run(&["check", "tests/fixtures/pay-policy.json"], b"");
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("\"payments\""));
}

#[test]
fn test_passes_the_conformance_corpus() {
    let o = run(&["test", "../tests/conformance"], b"");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.trim_end().ends_with(" passed, 0 failed"), "{out}");
}

#[test]
fn test_reports_each_failing_step_and_writes_junit() {
    let junit = std::env::temp_dir().join(format!("portcullis-junit-{}.xml", std::process::id()));
    let o = run(
        &[
            "test",
            "tests/fixtures/pay-tests.json",
            "tests/fixtures/pay-tests-failing.json",
            "--junit",
            junit.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(
        out.contains("step 0: effect: expected \"allow\", got \"deny\""),
        "{out}"
    );
    assert!(
        out.contains("step 2: code: expected \"rule\", got \"default\""),
        "{out}"
    );
    assert!(!out.contains("step 1:"), "{out}");
    assert!(out.trim_end().ends_with("2 passed, 1 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    std::fs::remove_file(&junit).unwrap();
    assert!(xml.contains("tests=\"3\" failures=\"1\""), "{xml}");
    assert!(xml.contains("<failure message=\"step 0: effect"), "{xml}");
}

#[test]
fn test_uses_the_policy_flag_for_cases_without_one() {
    let o = run(&["test", "tests/fixtures/no-policy-tests.json"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("no --policy"));
    let o = run(
        &[
            "test",
            "--policy",
            "tests/fixtures/pay-policy.json",
            "tests/fixtures/no-policy-tests.json",
        ],
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stdout));
}

#[test]
fn explain_golden() {
    let o = run(
        &[
            "explain",
            "tests/fixtures/pay-policy.json",
            "tests/fixtures/pay-action.json",
        ],
        b"",
    );
    assert!(o.status.success());
    golden("explain-pay.txt", &text(&o.stdout));
    let action = br#"{"tool": "pay", "agent": {"id": "a1"}, "context": {"test": true}}"#;
    let o = run(
        &[
            "explain",
            "tests/fixtures/pay-policy.json",
            "-",
            "--format",
            "json",
        ],
        action,
    );
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    golden(
        "explain-pay-unknown.json",
        &format!("{}\n", serde_json::to_string_pretty(&v).unwrap()),
    );
}

#[test]
fn lint_golden_and_exit_status() {
    let o = run(&["lint", "tests/fixtures/lint-policy.json"], b"");
    assert_eq!(o.status.code(), Some(1), "an error finding fails");
    golden("lint-policy.txt", &text(&o.stdout));
    let o = run(
        &[
            "lint",
            "tests/fixtures/lint-policy.json",
            "--format",
            "json",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    golden(
        "lint-policy.json",
        &format!("{}\n", serde_json::to_string_pretty(&v).unwrap()),
    );
    // Warnings alone pass, unless --deny-warnings.
    let o = run(&["lint", "tests/fixtures/pay-policy.json"], b"");
    assert!(o.status.success(), "{}", text(&o.stdout));
    let warn = br#"{"portcullis": 1, "name": "w", "rules": [
        {"id": "r", "effect": "rate_limit", "match": {"tool": ["s"]}, "limit": {"max": 1, "window": "1m", "per": ["params.q"]}}]}"#;
    let dir = std::env::temp_dir().join(format!("portcullis-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("warn.json");
    std::fs::write(&file, warn).unwrap();
    let f = file.to_str().unwrap();
    assert!(run(&["lint", f], b"").status.success());
    assert_eq!(
        run(&["lint", f, "--deny-warnings"], b"").status.code(),
        Some(1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let o = run(
        &["lint", "tests/fixtures/bad-policy.json", "--format", "json"],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("\"code\":\"PC001\""));
}

#[test]
fn diff_golden_in_every_format() {
    for (format, file) in [
        ("text", "diff.txt"),
        ("markdown", "diff.md"),
        ("json", "diff.json"),
    ] {
        let o = run(
            &[
                "diff",
                "tests/fixtures/pay-policy.json",
                "tests/fixtures/pay-policy-new.json",
                "tests/fixtures/diff-actions.jsonl",
                "--format",
                format,
                "--examples",
                "2",
            ],
            b"",
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        golden(file, &text(&o.stdout));
    }
}

#[test]
fn diff_progress_goes_to_stderr_and_leaves_the_report_alone() {
    let args = [
        "diff",
        "tests/fixtures/pay-policy.json",
        "tests/fixtures/pay-policy-new.json",
        "tests/fixtures/diff-actions.jsonl",
        "--examples",
        "2",
    ];
    let lines = std::fs::read_to_string(here("tests/fixtures/diff-actions.jsonl"))
        .unwrap()
        .lines()
        .count();
    let plain = run(&[&args[..], &["--progress", "never"]].concat(), b"");
    let shown = run(&[&args[..], &["--progress", "always"]].concat(), b"");
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert_eq!(text(&plain.stdout), text(&shown.stdout));
    assert_eq!(text(&plain.stderr), "");
    assert!(
        text(&shown.stderr).ends_with(&format!("diff: {lines} lines, 100%\n")),
        "{}",
        text(&shown.stderr)
    );
    // Not a terminal: auto shows nothing.
    assert_eq!(text(&run(&args, b"").stderr), "");
}

#[test]
fn yaml_policies_decide_as_their_json_twins() {
    let input: &[u8] = b"{\"tool\":\"pay\",\"agent\":{\"id\":\"a\"},\"params\":{\"amount\":500}}\n{\"tool\":\"pay\",\"agent\":{\"id\":\"a\"},\"params\":{\"amount\":5,\"to\":\"shop\"}}\n";
    let strip = |o: Output| -> Vec<String> {
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("eval_ns");
                v.to_string()
            })
            .collect()
    };
    let json = strip(run(&["eval", "tests/fixtures/pay-policy.json"], input));
    let yaml = strip(run(&["eval", "tests/fixtures/pay-policy.yaml"], input));
    assert_eq!(json.len(), 2);
    assert_eq!(json, yaml);
    let o = run(&["check", "tests/fixtures/pay-policy.yaml"], b"");
    assert!(o.status.success(), "{}", text(&o.stdout));
    let o = run(
        &[
            "test",
            "--policy",
            "tests/fixtures/pay-policy.yaml",
            "tests/fixtures/no-policy-tests.json",
        ],
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stdout));
    let o = run(&["lint", "tests/fixtures/pay-policy.yaml"], b"");
    assert!(o.status.success(), "{}", text(&o.stdout));
}
