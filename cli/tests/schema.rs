//! `portcullis schema`: the committed docs/policy.schema.json is the command's output; every
//! policy of the conformance corpus that the engine loads validates against it (no false
//! rejections), and typical mistakes do not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use portcullis::{Engine, EngineOptions};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn schema_output() -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout).unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&schema_output()).unwrap();
    assert!(
        jsonschema::draft202012::meta::is_valid(&schema),
        "the schema is not a valid draft 2020-12 schema"
    );
    jsonschema::draft202012::new(&schema).unwrap()
}

/// Parses JSON of any depth (corpus policies nest up to 512 levels).
fn parse(text: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    let v = Value::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Runs `f` on a thread with a stack deep enough for 512-level documents.
fn big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// Every policy text in a case: `policy`/`policy_raw` and each step's
/// `update_policy`/`update_policy_raw`.
fn policies(case: &Value, out: &mut Vec<Vec<u8>>) {
    let mut take = |v: Option<&Value>, raw: Option<&Value>| {
        if let Some(v) = v {
            out.push(serde_json::to_vec(v).unwrap());
        }
        if let Some(Value::String(s)) = raw {
            out.push(s.as_bytes().to_vec());
        }
    };
    take(case.get("policy"), case.get("policy_raw"));
    for step in case
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        take(step.get("update_policy"), step.get("update_policy_raw"));
    }
}

#[test]
fn committed_schema_is_the_command_output() {
    let got = schema_output();
    let path = root("docs/policy.schema.json");
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        got,
        want,
        "{} differs from `portcullis schema` (regenerate with PORTCULLIS_BLESS=1)",
        path.display()
    );
}

#[test]
fn every_policy_the_engine_loads_validates() {
    let validator = validator();
    let (valid, invalid, invalid_rejected) = big_stack(move || {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root("tests/conformance"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let (mut valid, mut invalid, mut invalid_rejected) = (0, 0, 0);
        for file in files {
            let doc = parse(&std::fs::read(&file).unwrap()).unwrap();
            let cases = match doc {
                Value::Array(items) => items,
                one => vec![one],
            };
            let mut texts = Vec::new();
            for case in &cases {
                policies(case, &mut texts);
            }
            for text in texts {
                let loaded = Engine::new(&text, EngineOptions::default()).is_ok();
                let value = parse(&text).ok();
                let accepted = value.as_ref().is_some_and(|v| validator.is_valid(v));
                if loaded {
                    valid += 1;
                    if !accepted {
                        let v = value.unwrap();
                        let errors: Vec<String> = validator
                            .iter_errors(&v)
                            .map(|e| format!("{} at {}", e, e.instance_path))
                            .collect();
                        panic!(
                            "{}: a policy the engine loads fails the schema: {errors:?}",
                            file.display()
                        );
                    }
                } else {
                    invalid += 1;
                    invalid_rejected += usize::from(!accepted);
                }
            }
        }
        (valid, invalid, invalid_rejected)
    });
    println!(
        "{valid} valid policies validate; the schema rejects {invalid_rejected} of {invalid} invalid ones"
    );
    assert!(valid > 100, "only {valid} valid policies found");
    assert!(invalid_rejected > invalid / 3);
}

/// A policy with a rule of every kind the mistakes below start from.
fn base() -> Value {
    json!({
        "portcullis": 1,
        "name": "p",
        "agents": [{ "id": "a-*", "roles": ["ops"] }],
        "rules": [
            { "id": "r", "effect": "deny", "match": { "tool": ["db.write"] },
              "when": { "field": "params.table", "eq": "users" } },
            { "id": "cap", "effect": "allow", "modify": { "clamp": { "params.n": { "max": 5 } } } },
            { "id": "rl", "effect": "rate_limit", "limit": { "max": 3, "window": "1m" } }
        ]
    })
}

#[test]
fn typical_mistakes_fail_both_the_engine_and_the_schema() {
    let validator = validator();
    let good = base();
    assert!(Engine::new(
        &serde_json::to_vec(&good).unwrap(),
        EngineOptions::default()
    )
    .is_ok());
    assert!(validator.is_valid(&good));
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mistakes: Vec<(&str, Mutation)> = vec![
        ("unknown top-level key", Box::new(|p| p["rule"] = json!([]))),
        (
            "unknown rule key",
            Box::new(|p| p["rules"][0]["efect"] = json!("deny")),
        ),
        (
            "wrong effect name",
            Box::new(|p| p["rules"][0]["effect"] = json!("block")),
        ),
        ("format version 2", Box::new(|p| p["portcullis"] = json!(2))),
        ("missing name", Box::new(|p| p["name"] = Value::Null)),
        (
            "a string where a list is wanted",
            Box::new(|p| p["rules"][0]["match"]["tool"] = json!("db.write")),
        ),
        (
            "misspelled operator",
            Box::new(|p| p["rules"][0]["when"] = json!({ "field": "tool", "equals": "x" })),
        ),
        (
            "two operators in one leaf",
            Box::new(|p| p["rules"][0]["when"]["ne"] = json!("x")),
        ),
        (
            "an empty all",
            Box::new(|p| p["rules"][0]["when"] = json!({ "all": [] })),
        ),
        (
            "modify on a deny rule",
            Box::new(|p| p["rules"][1]["effect"] = json!("deny")),
        ),
        (
            "rate_limit without limit",
            Box::new(|p| {
                p["rules"][2].as_object_mut().unwrap().remove("limit");
            }),
        ),
        (
            "a limit on a deny rule",
            Box::new(|p| p["rules"][2]["effect"] = json!("deny")),
        ),
        (
            "a bad window",
            Box::new(|p| p["rules"][2]["limit"]["window"] = json!("1 minute")),
        ),
        (
            "a bad time",
            Box::new(|p| {
                p["rules"][0]["when"] = json!({ "time": { "between": ["9:00", "17:00"] } })
            }),
        ),
        (
            "a rule id with a space",
            Box::new(|p| p["rules"][0]["id"] = json!("no writes")),
        ),
        (
            "an unknown field root",
            Box::new(|p| p["rules"][0]["when"]["field"] = json!("param.table")),
        ),
        (
            "a modify path outside params",
            Box::new(|p| p["rules"][1]["modify"] = json!({ "set": { "context.x": 1 } })),
        ),
        ("default block", Box::new(|p| p["default"] = json!("block"))),
    ];
    for (name, mutate) in mistakes {
        let mut p = good.clone();
        mutate(&mut p);
        if p["name"].is_null() {
            p.as_object_mut().unwrap().remove("name");
        }
        let text = serde_json::to_vec(&p).unwrap();
        assert!(
            Engine::new(&text, EngineOptions::default()).is_err(),
            "{name}: the engine loads it"
        );
        assert!(!validator.is_valid(&p), "{name}: the schema accepts it");
    }
}

/// Unusual but valid spellings: the schema must accept whatever the engine loads.
#[test]
fn unusual_valid_policies_validate() {
    let validator = validator();
    let policies = [
        json!({ "portcullis": 1.0, "name": "p" }),
        json!({ "portcullis": 1, "name": "p", "rules": [
            { "id": "a:b", "effect": "allow", "priority": 2.0, "enabled": false, "shadow": true,
              "match": { "kind": ["tool_*", "message"], "tool": ["\\*"] },
              "when": { "field": "/params/a~1b", "glob": "x*" },
              "unless": { "not": { "field": "agent.roles", "contains": "r" } },
              "modify": { "set": {}, "remove": [], "clamp": { "params.n": { "min": -1.5 } } } },
            { "id": "lim", "effect": "rate_limit", "limit": { "max": 3.0, "window": "500ms", "per": [] } },
            { "id": "t", "effect": "deny", "when": { "time": { "between": ["23:00", "01:00"],
              "days": ["sun"], "tz": "+05:30" } } },
            { "id": "deep", "effect": "deny", "when": { "field": "params.x", "eq": { "a": [[[null]]] } } }
        ]}),
        json!({ "portcullis": 1, "name": "p", "agents": [], "roles": {}, "rules": [],
                "audit": {}, "require_known_agent": true, "version": "" }),
    ];
    for p in policies {
        let text = serde_json::to_vec(&p).unwrap();
        if let Err(e) = Engine::new(&text, EngineOptions::default()) {
            panic!("the engine rejects {p}: {e}");
        }
        assert!(validator.is_valid(&p), "the schema rejects {p}");
    }
}
