//! `portcullis check` prints every load error it finds; the first is always the one the
//! engine reports (checked over the whole conformance corpus).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use portcullis::{Engine, EngineOptions};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn here(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn check(file: &str) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", file])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8(o.stdout).unwrap())
}

#[test]
fn check_prints_every_error_with_its_path() {
    let (code, out) = check("tests/fixtures/many-errors.json");
    assert_eq!(code, Some(1));
    let want = "\
tests/fixtures/many-errors.json: error at default: \"block\" is not one of \"deny\", \"allow\"
tests/fixtures/many-errors.json: error at rules[0].when: unknown key \"equals\"
tests/fixtures/many-errors.json: error at rules[2].match.tool: expected a list, found \"fs.write\"
tests/fixtures/many-errors.json: error at rules[3].id: duplicate rule id \"fine\" (first used by rules[1])
tests/fixtures/many-errors.json: error at rules[5].limit.max: max must be an integer from 1 to 1000000, found 0
tests/fixtures/many-errors.json: error at audit.include_params[0]: \"table\" must be a path starting with \"params.\"
tests/fixtures/many-errors.json: error at rules[4].match.role[0]: undefined role \"admin\": no agent entry grants it and no role defines it
7 errors
";
    assert_eq!(out, want);
    let (code, out) = check("tests/fixtures/bad-policy.json");
    assert_eq!(code, Some(1));
    assert!(out.ends_with("\n1 error\n"), "{out}");
}

#[test]
fn yaml_errors_are_reported_like_load_errors() {
    let dir = std::env::temp_dir().join(format!("portcullis-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.yaml");
    std::fs::write(&file, "portcullis: 1\nname: p\nrequire_known_agent: on\n").unwrap();
    let (code, out) = check(file.to_str().unwrap());
    std::fs::write(
        &file,
        "portcullis: 1\nname: p\ndefault: block\nrules: [{id: r, effect: nope}]\n",
    )
    .unwrap();
    let (code2, out2) = check(file.to_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("error at require_known_agent: the plain value on"),
        "{out}"
    );
    assert!(
        out.contains("(YAML line 3, column 22)") && out.ends_with("1 error\n"),
        "{out}"
    );
    assert_eq!(code2, Some(1));
    assert!(
        out2.contains("error at default:") && out2.contains("error at rules[0].effect:"),
        "{out2}"
    );
    assert!(out2.ends_with("2 errors\n"), "{out2}");
}

/// Parses JSON of any depth (corpus policies nest up to 512 levels).
fn parse(text: &[u8]) -> Value {
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    Value::deserialize(&mut de).unwrap()
}

#[test]
fn the_first_error_is_the_engines_across_the_corpus() {
    let checked = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let mut checked = 0;
            for entry in std::fs::read_dir(here("../tests/conformance")).unwrap() {
                let file = entry.unwrap().path();
                if file.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let cases = match parse(&std::fs::read(&file).unwrap()) {
                    Value::Array(items) => items,
                    one => vec![one],
                };
                let steps = |c: &Value| c.get("steps").and_then(Value::as_array).cloned();
                for case in &cases {
                    let mut texts: Vec<Vec<u8>> = Vec::new();
                    let mut take = |v: Option<&Value>, raw: Option<&Value>| {
                        if let Some(v) = v {
                            texts.push(serde_json::to_vec(v).unwrap());
                        }
                        if let Some(Value::String(s)) = raw {
                            texts.push(s.as_bytes().to_vec());
                        }
                    };
                    take(case.get("policy"), case.get("policy_raw"));
                    for step in steps(case).into_iter().flatten() {
                        take(step.get("update_policy"), step.get("update_policy_raw"));
                    }
                    for text in texts {
                        let errors = portcullis::policy_errors(&text);
                        match Engine::new(&text, EngineOptions::default()) {
                            Ok(_) => assert!(errors.is_empty(), "{}: {errors:?}", file.display()),
                            Err(e) => assert_eq!(errors.first(), Some(&e), "{}", file.display()),
                        }
                        checked += 1;
                    }
                }
            }
            checked
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(checked > 700, "{checked}");
}
