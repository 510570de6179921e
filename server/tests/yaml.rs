//! YAML policies: the same documents as JSON ones, read as strictly, with the same load-error
//! paths; `portcullis-serve --policy x.yaml` serves and hot-reloads them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::{action, Dir, Server};
use portcullis::{Effect, Engine, EngineOptions, PolicyError};
use portcullis_server::client::RemoteOptions;
use portcullis_server::yaml::to_json;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn here(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn yaml(text: &str) -> Result<Value, PolicyError> {
    to_json(text.as_bytes()).map(|j| serde_json::from_str(&j).unwrap())
}

/// The `policy` of the case named `name` in a corpus file.
fn corpus_policy(file: &str, name: &str) -> Value {
    let text = std::fs::read_to_string(here("../tests/conformance").join(file)).unwrap();
    let cases = match serde_json::from_str(&text).unwrap() {
        Value::Array(items) => items,
        one => vec![one],
    };
    cases
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name:?} in {file}"))["policy"]
        .clone()
}

#[test]
fn yaml_fixtures_equal_their_corpus_policies() {
    let table = [
        (
            "support-bot.yaml",
            "docs-examples.json",
            "docs/policy-language.md: block 0 policy loads",
        ),
        (
            "modify.yaml",
            "modify.json",
            "allow rules can rewrite parameters; unchanged parameters are not reported",
        ),
        (
            "time-window.yaml",
            "time-zones.json",
            "America/New_York on the spring-forward day 2026-03-08: the window follows the new offset",
        ),
        (
            "roles.yaml",
            "identity-roles.json",
            "match.role sees roles inherited transitively",
        ),
    ];
    for (fixture, file, case) in table {
        let text = std::fs::read_to_string(here("tests/fixtures").join(fixture)).unwrap();
        let got = yaml(&text).unwrap_or_else(|e| panic!("{fixture}: {e}"));
        assert_eq!(got, corpus_policy(file, case), "{fixture}");
        let json = to_json(text.as_bytes()).unwrap();
        Engine::new(json.as_bytes(), EngineOptions::default()).unwrap();
    }
}

#[test]
fn plain_scalars_follow_the_yaml_1_2_core_schema() {
    let v = yaml(
        "a: null\nb: Null\nc: true\nd: FALSE\ne: 42\nf: -7\ng: +3\nh: 1.5e3\ni: .5\nj: 1.\n\
         k: 12345678901234567890\nl: 1.2.3\nm: v1\n'n': 12abc\no: '017'\np: \"yes\"\nq: |\n  x\n\
         r:\ns: 0\nt: -0.25\nu: 'true'\nv: 09-17\nw: tool.*\nx: 1e-3\n",
    )
    .unwrap();
    let want = json!({
        "a": null, "b": null, "c": true, "d": false, "e": 42, "f": -7, "g": 3, "h": 1500.0,
        "i": 0.5, "j": 1.0, "k": 12345678901234567890u64, "l": "1.2.3", "m": "v1",
        "n": "12abc", "o": "017", "p": "yes", "q": "x\n", "r": null, "s": 0, "t": -0.25,
        "u": "true", "v": "09-17", "w": "tool.*", "x": 0.001
    });
    assert_eq!(v, want);
}

/// Each strictness rule: the error's path, a piece of its message, and its line and column.
#[test]
fn surprises_are_errors_with_path_line_and_column() {
    let cases = [
        (
            "a: 1\nb: 2\na: 3\n",
            "",
            "duplicate key \"a\"",
            "line 3, column 1",
        ),
        (
            "rules:\n  - {id: r, id: s}\n",
            "rules[0]",
            "duplicate key \"id\"",
            "line 2",
        ),
        ("a: &x 1\nb: *x\n", "a", "anchors", "line 1"),
        ("a: &x [1]\n", "a", "anchors", "line 1"),
        ("a: [1]\nb: *x\n", "", "not valid YAML", "line 2"),
        ("a: !!str 1\n", "a", "tags", "line 1"),
        ("a: !custom x\n", "a", "tags", "line 1"),
        (
            "b: {x: 1}\na:\n  <<: {x: 1}\n",
            "a",
            "merge keys",
            "line 3, column 3",
        ),
        (
            "shadow: yes\n",
            "shadow",
            "boolean to YAML 1.1",
            "line 1, column 9",
        ),
        ("x: [No]\n", "x[0]", "boolean", "line 1"),
        ("x: on\n", "x", "boolean", ""),
        ("x: OFF\n", "x", "boolean", ""),
        ("x: y\n", "x", "boolean", ""),
        ("x: n\n", "x", "boolean", ""),
        ("x: ~\n", "x", "null", ""),
        ("x: 0o17\n", "x", "octal", ""),
        ("x: 017\n", "x", "octal", ""),
        ("x: 0x1f\n", "x", "hex", ""),
        ("x: .inf\n", "x", "infinity", ""),
        ("x: -.Inf\n", "x", "infinity", ""),
        ("x: .NaN\n", "x", "not-a-number", ""),
        ("x: 1_000\n", "x", "_ separators", ""),
        ("x: 1e400\n", "x", "too large", ""),
        ("x: 17:00\n", "x", "base-60", ""),
        ("x: 2026-05-01\n", "x", "timestamp", ""),
        ("x: 2026-05-01T10:00:00Z\n", "x", "timestamp", ""),
        ("yes: 1\n", "", "boolean", "line 1, column 1"),
        ("1: x\n", "", "not a string", ""),
        ("? [a]\n: x\n", "", "not a collection", ""),
        ("a: 1\n---\nb: 2\n", "", "one YAML document", "line 2"),
        ("a: [1, 2\n", "", "not valid YAML", ""),
    ];
    for (text, path, message, position) in cases {
        let e = match yaml(text) {
            Err(e) => e,
            Ok(v) => panic!("{text:?} was accepted as {v}"),
        };
        assert_eq!(e.path(), path, "{text:?}: {e}");
        assert!(e.message().contains(message), "{text:?}: {e}");
        assert!(e.message().contains(position), "{text:?}: {e}");
    }
    assert!(to_json(b"a: \xff\n").is_err());
}

#[test]
fn load_errors_name_the_same_path_as_for_json() {
    let pairs = [
        (
            "portcullis: 1\nname: p\nrules:\n  - id: r\n    effect: deny\n    when: {field: tool, equals: x}\n",
            r#"{"portcullis": 1, "name": "p", "rules": [{"id": "r", "effect": "deny", "when": {"field": "tool", "equals": "x"}}]}"#,
        ),
        (
            "portcullis: 2\nname: p\n",
            r#"{"portcullis": 2, "name": "p"}"#,
        ),
        (
            "portcullis: 1\nname: p\nrules:\n  - id: r\n    effect: allow\n    match: {tool: search}\n",
            r#"{"portcullis": 1, "name": "p", "rules": [{"id": "r", "effect": "allow", "match": {"tool": "search"}}]}"#,
        ),
        ("- 1\n- 2\n", "[1, 2]"),
        ("", "null"),
    ];
    for (y, j) in pairs {
        let from_yaml = Engine::new(
            to_json(y.as_bytes()).unwrap().as_bytes(),
            EngineOptions::default(),
        )
        .unwrap_err();
        let from_json = Engine::new(j.as_bytes(), EngineOptions::default()).unwrap_err();
        assert_eq!(from_yaml, from_json, "{y:?}");
    }
}

#[test]
fn deep_yaml_does_not_overflow_the_stack() {
    // 512 levels convert and load (the document is level 1); one more is the loader's error.
    let ok = format!("x:\n{}1\n", "- ".repeat(511));
    let json = to_json(ok.as_bytes()).unwrap();
    Engine::new(json.as_bytes(), EngineOptions::default()).unwrap_err();
    assert!(json.starts_with("{\"x\":[[["), "{json}");
    assert_eq!(json.matches('[').count(), 511);
    let e = to_json(format!("x:\n{}1\n", "- ".repeat(512)).as_bytes()).unwrap_err();
    let from_json = Engine::new(
        format!("{{\"x\": {}1{}}}", "[".repeat(512), "]".repeat(512)).as_bytes(),
        EngineOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.path(), "");
    assert!(
        e.message().starts_with(from_json.message()),
        "{e} / {from_json}"
    );
    // Far deeper block nesting stops at the limit (the parser is slow on deep nesting).
    let deep = format!("{}1\n", "- ".repeat(1_000_000));
    assert!(to_json(deep.as_bytes())
        .unwrap_err()
        .message()
        .contains("512"));
    // The YAML parser limits flow nesting ([[[...) to 255 levels: a clear error.
    let deep = format!("x: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let e = to_json(deep.as_bytes()).unwrap_err();
    assert!(e.message().contains("not valid YAML"), "{e}");
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn serve_reads_and_hot_reloads_a_yaml_policy() {
    let dir = Dir::new("yaml");
    let policy = dir.path("policy.yaml");
    std::fs::write(
        &policy,
        "portcullis: 1\nname: first\nrules:\n  - {id: reads, effect: allow, match: {tool: [fs.read]}}\n",
    )
    .unwrap();
    let sock = dir.path("serve.sock");
    let mut server = Server {
        child: None,
        sock: sock.clone(),
        policy: policy.clone(),
        args: [
            "--policy",
            &policy.display().to_string(),
            "--listen",
            &format!("unix:{}", sock.display()),
            "--watch-interval-ms",
            "20",
            "--log-level",
            "error",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    server.spawn();
    let c = server.client(RemoteOptions::default());
    let d = c.evaluate_value(&action("fs.read"));
    assert_eq!((&*d.policy.name, d.effect), ("first", Effect::Allow));
    replace(
        &policy,
        "portcullis: 1\nname: second\ndefault: allow\nrules: []\n",
    );
    wait_until("the YAML reload", || {
        &*c.evaluate_value(&action("fs.write")).policy.name == "second"
    });
    // A strictness error on reload keeps the current policy and reports the path.
    replace(
        &policy,
        "portcullis: 1\nname: third\nrequire_known_agent: yes\n",
    );
    wait_until("readyz to report the failure", || !c.ready());
    let (s, b) = c.request("GET", "/readyz", b"").unwrap();
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(s, 503);
    assert_eq!(v["error"]["path"], "require_known_agent", "{v}");
    let d = c.evaluate_value(&action("fs.write"));
    assert_eq!((&*d.policy.name, d.effect), ("second", Effect::Allow));
}

/// Mangled YAML gets an error or a conversion, never a panic or a hang.
#[test]
fn mangled_yaml_never_panics() {
    let specials = [
        ":",
        "-",
        "[",
        "]",
        "{",
        "}",
        "&a",
        "*a",
        "!",
        "|",
        ">",
        "'",
        "\"",
        "#",
        "\n",
        " ",
        "\t",
        "? ",
        ",",
        "---",
        "...",
        "%YAML 1.2\n",
        "\\",
        "\u{feff}",
        "~",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut converted = 0;
    for fixture in ["support-bot.yaml", "modify.yaml", "roles.yaml"] {
        let text = std::fs::read_to_string(here("tests/fixtures").join(fixture)).unwrap();
        for _ in 0..2_000 {
            let mut t: Vec<char> = text.chars().collect();
            for _ in 0..1 + next(3) {
                let at = next(t.len() + 1);
                if next(2) == 0 && at < t.len() {
                    t.remove(at);
                } else {
                    let s = specials[next(specials.len())];
                    for (k, c) in s.chars().enumerate() {
                        t.insert(at + k, c);
                    }
                }
            }
            let mangled: String = t.into_iter().collect();
            if let Ok(json) = to_json(mangled.as_bytes()) {
                serde_json::from_str::<Value>(&json)
                    .unwrap_or_else(|e| panic!("{mangled:?} gave bad JSON {json}: {e}"));
                converted += 1;
            }
        }
    }
    assert!(converted > 0);
}
