//! The conformance case format (`tests/conformance/*.json`, described in
//! `docs/cli/test.md`), read once for every runner: the core's test, `portcullis test`
//! and the remote runner.
//!
//! [`files`] lists the case files of a directory, [`read_file`] splits one into cases,
//! [`Case::parse`] reads a case into typed members and [`Step`]s, and [`decision_mismatches`]
//! / [`ExpectError::mismatches`] compare what an engine returned with what a case expects.
//! Policies are kept as written (key order decides which load error is reported first).
//! Values may nest deeper than serde_json's default limit of 128 levels: read them on a
//! thread with a large stack ([`on_big_stack`]).
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The clock of a case that gives none.
pub const DEFAULT_CLOCK: &str = "2026-01-01T00:00:00Z";

/// The `*.json` files under `dir`, recursively, in sorted order (none when `dir` cannot be
/// read).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect(dir, &mut out);
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Reads JSON text without serde_json's 128-level recursion limit.
fn from_json<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Reads JSON text of any nesting depth (on a large stack, see [`on_big_stack`]).
pub fn read_value(text: &str) -> serde_json::Result<Value> {
    from_json(text)
}

/// Splits the text of a case file (one case object, or an array of them) into the text of
/// each case; `Err` says why it is not a case file.
pub fn read_file(text: &str) -> Result<Vec<&str>, String> {
    let cases = if text.trim_start().starts_with('[') {
        from_json::<Vec<&RawValue>>(text)
    } else {
        from_json::<&RawValue>(text).map(|c| vec![c])
    };
    cases
        .map(|cases| cases.into_iter().map(RawValue::get).collect())
        .map_err(|e| format!("not a JSON case file: {e}"))
}

/// Runs `f` on a thread with a 256 MiB stack, enough for the deepest values a case may hold.
///
/// # Panics
/// When the thread cannot be started, or `f` panics.
#[expect(
    clippy::expect_used,
    reason = "a runner cannot go on without its thread; the panic is its failure report"
)]
pub fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(f)
        .expect("cannot start the replay thread")
        .join()
        .expect("the replay thread panicked")
}

/// Replays every case under `dir` with `run`, which returns the first failure as the step it
/// happened at (`None` for the case itself) and a message. Prints one line per failing case
/// (`FAIL file#n step s (name): message`) and returns the numbers of passed and failed cases;
/// a file that is not a case file counts as one failure.
pub fn replay_dir(
    dir: &Path,
    mut run: impl FnMut(&Case) -> Result<(), (Option<usize>, String)>,
) -> (usize, usize) {
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files(dir) {
        let shown = file.strip_prefix(dir).unwrap_or(file).display().to_string();
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let cases = match read_file(&text) {
            Ok(cases) => cases,
            Err(e) => {
                println!("FAIL {shown}: {e}");
                failed += 1;
                continue;
            }
        };
        for (n, raw) in cases.iter().enumerate() {
            let Ok(case) = Case::parse(raw) else {
                println!("FAIL {shown}#{n}: not a case object");
                failed += 1;
                continue;
            };
            match run(&case) {
                Ok(()) => passed += 1,
                Err((step, msg)) => {
                    failed += 1;
                    let at = step.map_or(String::new(), |s| format!(" step {s}"));
                    println!("FAIL {shown}#{n}{at} ({}): {msg}", case.name);
                }
            }
        }
    }
    (passed, failed)
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp.
pub fn parse_clock(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|e| format!("bad clock {s:?}: {e}"))
}

/// Where a case's policy comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// The policy text: `policy` as written in the file, or the string `policy_raw`.
    Text(String),
    /// `policy_file`: a path relative to the case file (only `portcullis test` reads these).
    File(String),
}

/// A case's `expect_error` (or an update step's): what the load error must say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectError {
    /// The error's path must equal this.
    pub path: Option<String>,
    /// The error's message must contain this.
    pub contains: Option<String>,
}

impl ExpectError {
    fn parse(v: &Value) -> Result<ExpectError, String> {
        let text = |key: &str| match v.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("expect_error.{key} is not a string")),
        };
        Ok(ExpectError {
            path: text("path")?,
            contains: text("contains")?,
        })
    }

    /// One line per expectation the error at `path` saying `message` does not meet.
    pub fn mismatches(&self, path: &str, message: &str) -> Vec<String> {
        let mut bad = Vec::new();
        if let Some(want) = self.path.as_deref().filter(|want| *want != path) {
            bad.push(format!(
                "error path: expected {want:?}, got {path:?} ({message})"
            ));
        }
        if let Some(sub) = self.contains.as_deref().filter(|s| !message.contains(s)) {
            bad.push(format!(
                "error message: expected to contain {sub:?}, got {message:?} (path {path:?})"
            ));
        }
        bad
    }
}

/// One step of a case, in the order the case lists them.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `eval`: decide the action; `expect` holds the expected decision keys (null: none).
    Eval { action: Value, expect: Value },
    /// `eval_raw`: decide the action given as text.
    EvalRaw { text: String, expect: Value },
    /// `advance_ms`: move the manual clock.
    AdvanceMs(i64),
    /// `set_clock`: set the manual clock (milliseconds since the epoch).
    SetClock(i64),
    /// `approve`: grant an approval for the action.
    Approve {
        action: Value,
        ttl_ms: u64,
        uses: u32,
    },
    /// `update_policy` / `update_policy_raw`: replace the policy, expecting a load error when
    /// `expect_error` is given.
    UpdatePolicy {
        text: String,
        expect_error: Option<ExpectError>,
    },
}

impl Step {
    /// Reads a step; `written` holds its members as written in the file.
    fn parse(step: &Value, written: Option<&BTreeMap<String, &RawValue>>) -> Result<Step, String> {
        let expect = || step.get("expect").cloned().unwrap_or(Value::Null);
        if let Some(action) = step.get("eval") {
            return Ok(Step::Eval {
                action: action.clone(),
                expect: expect(),
            });
        }
        if let Some(raw) = step.get("eval_raw") {
            let text = raw.as_str().ok_or("eval_raw is not a string")?;
            return Ok(Step::EvalRaw {
                text: text.to_owned(),
                expect: expect(),
            });
        }
        if let Some(ms) = step.get("advance_ms") {
            return Ok(Step::AdvanceMs(
                ms.as_i64().ok_or("advance_ms is not an integer")?,
            ));
        }
        if let Some(at) = step.get("set_clock") {
            return parse_clock(at.as_str().unwrap_or_default()).map(Step::SetClock);
        }
        if let Some(action) = step.get("approve") {
            let ttl_ms = step
                .get("ttl_ms")
                .and_then(Value::as_u64)
                .ok_or("approve needs ttl_ms")?;
            let uses = step.get("uses").and_then(Value::as_u64).unwrap_or(1);
            let uses = u32::try_from(uses).map_err(|_| "uses is too large".to_owned())?;
            return Ok(Step::Approve {
                action: action.clone(),
                ttl_ms,
                uses,
            });
        }
        if step.get("update_policy").is_some() || step.get("update_policy_raw").is_some() {
            let text = match (
                written.and_then(|w| w.get("update_policy")),
                step.get("update_policy_raw"),
            ) {
                (Some(w), None) => w.get().to_owned(),
                (None, Some(Value::String(raw))) => raw.clone(),
                _ => {
                    return Err(
                        "give exactly one of update_policy and update_policy_raw (a string)".into(),
                    )
                }
            };
            let expect_error = step
                .get("expect_error")
                .map(ExpectError::parse)
                .transpose()?;
            return Ok(Step::UpdatePolicy { text, expect_error });
        }
        Err(format!("unknown step {step}"))
    }
}

/// One case of a case file.
#[derive(Debug, Clone)]
pub struct Case {
    /// `name`, or "(unnamed)".
    pub name: String,
    /// The manual clock's start (`clock`, or [`DEFAULT_CLOCK`]), or why it is not a clock.
    pub clock_ms: Result<i64, String>,
    /// The case's policy (`None` when it names none), or why it is ambiguous.
    pub policy: Result<Option<PolicySource>, String>,
    /// `expect_error`: the policy must be rejected (then the case has no steps).
    pub expect_error: Option<Result<ExpectError, String>>,
    /// The steps, each read or with why it cannot be; `None` when the case has no `steps`
    /// array.
    pub steps: Option<Vec<Result<Step, String>>>,
}

impl Case {
    /// Reads the text of one case (as [`read_file`] returns it).
    pub fn parse(raw: &str) -> Result<Case, String> {
        let value: Value = from_json(raw).map_err(|e| format!("not a case: {e}"))?;
        let written: BTreeMap<String, &RawValue> =
            from_json(raw).map_err(|_| "a case must be a JSON object".to_owned())?;
        let steps_written: Vec<BTreeMap<String, &RawValue>> = match written.get("steps") {
            Some(s) => from_json(s.get())
                .map_err(|_| "\"steps\" must be an array of objects".to_owned())?,
            None => Vec::new(),
        };
        let steps = value.get("steps").and_then(Value::as_array).map(|steps| {
            steps
                .iter()
                .enumerate()
                .map(|(i, step)| Step::parse(step, steps_written.get(i)))
                .collect()
        });
        Ok(Case {
            name: value
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_owned(),
            clock_ms: parse_clock(
                value
                    .get("clock")
                    .and_then(Value::as_str)
                    .unwrap_or(DEFAULT_CLOCK),
            ),
            policy: policy_source(&value, written.get("policy").copied()),
            expect_error: value.get("expect_error").map(ExpectError::parse),
            steps,
        })
    }

    /// The steps to run: an error when the case has none, or has some besides an
    /// `expect_error`.
    pub fn steps(&self) -> Result<&[Result<Step, String>], String> {
        match (&self.steps, &self.expect_error) {
            (Some(_), Some(_)) => Err("a case with expect_error must not have steps".into()),
            (Some(steps), None) => Ok(steps),
            (None, _) => Err("the case has no \"steps\" array".into()),
        }
    }
}

fn policy_source(
    value: &Value,
    written: Option<&RawValue>,
) -> Result<Option<PolicySource>, String> {
    let given = ["policy", "policy_raw", "policy_file"]
        .iter()
        .filter(|k| value.get(**k).is_some())
        .count();
    if given > 1 {
        return Err("give only one of \"policy\", \"policy_raw\" and \"policy_file\"".into());
    }
    if let Some(w) = written {
        return Ok(Some(PolicySource::Text(w.get().to_owned())));
    }
    match (value.get("policy_raw"), value.get("policy_file")) {
        (Some(Value::String(raw)), _) => Ok(Some(PolicySource::Text(raw.clone()))),
        (Some(_), _) => Err("\"policy_raw\" must be a string".into()),
        (_, Some(Value::String(f))) => Ok(Some(PolicySource::File(f.clone()))),
        (_, Some(_)) => Err("\"policy_file\" must be a string".into()),
        (None, None) => Ok(None),
    }
}

/// Numbers compare as doubles; everything else structurally.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// One line per key of `expect` that the decision `got` (its JSON form, with `reason`) does
/// not meet, as `key: expected X, got Y`. A null `expect` expects nothing.
pub fn decision_mismatches(got: &Value, expect: &Value) -> Vec<String> {
    let Some(exp) = expect.as_object() else {
        return if expect.is_null() {
            Vec::new()
        } else {
            vec!["\"expect\" is not an object".into()]
        };
    };
    let reason = got.get("reason").and_then(Value::as_str).unwrap_or("");
    let mut bad = Vec::new();
    for (key, want) in exp {
        match key.as_str() {
            "reason_contains" => match want.as_str() {
                Some(sub) if reason.contains(sub) => {}
                Some(sub) => bad.push(format!(
                    "reason: expected to contain {sub:?}, got {reason:?}"
                )),
                None => bad.push("reason_contains is not a string".into()),
            },
            "policy" => match want.as_object() {
                Some(want) => {
                    for (k, v) in want {
                        let g = got.pointer(&format!("/policy/{k}")).unwrap_or(&Value::Null);
                        if !same(g, v) {
                            bad.push(format!("policy.{k}: expected {v}, got {g}"));
                        }
                    }
                }
                None => bad.push("expect.policy is not an object".into()),
            },
            "effect" | "allowed" | "code" | "rule" | "reason" | "matched" | "shadow" | "params"
            | "retry_after_ms" | "action_hash" => {
                let g = got.get(key).unwrap_or(&Value::Null);
                if !same(g, want) {
                    bad.push(format!("{key}: expected {want}, got {g}"));
                }
            }
            other => bad.push(format!("unknown expect key {other:?}")),
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_case_keeps_its_policy_as_written_and_reads_its_steps() {
        let case = Case::parse(
            r#"{"name": "n", "policy": {"b": 1, "a": 2}, "steps": [
                {"eval": {"tool": "t"}, "expect": {"effect": "deny"}},
                {"advance_ms": 5},
                {"approve": {"tool": "t"}},
                {"update_policy": {"z": 1, "y": 2}, "expect_error": {"path": "z"}},
                {"jump": 1}
            ]}"#,
        )
        .unwrap();
        assert_eq!(case.name, "n");
        assert_eq!(
            case.policy,
            Ok(Some(PolicySource::Text(r#"{"b": 1, "a": 2}"#.into())))
        );
        let steps = case.steps().unwrap();
        assert_eq!(
            steps[0],
            Ok(Step::Eval {
                action: json!({"tool": "t"}),
                expect: json!({"effect": "deny"})
            })
        );
        assert_eq!(steps[1], Ok(Step::AdvanceMs(5)));
        assert_eq!(steps[2], Err("approve needs ttl_ms".into()));
        assert_eq!(
            steps[3],
            Ok(Step::UpdatePolicy {
                text: r#"{"z": 1, "y": 2}"#.into(),
                expect_error: Some(ExpectError {
                    path: Some("z".into()),
                    contains: None
                })
            })
        );
        assert!(steps[4].as_ref().unwrap_err().starts_with("unknown step"));
    }

    #[test]
    fn deep_cases_are_read_past_serde_jsons_limit() {
        let depth = 600;
        let text = format!(
            r#"{{"policy_raw": "x", "steps": [{{"eval": {}1{}}}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let steps = on_big_stack(move || Case::parse(&text).map(|c| c.steps.map(|s| s.len())));
        assert_eq!(steps, Ok(Some(1)));
    }

    #[test]
    fn two_policies_are_an_error() {
        let case = Case::parse(r#"{"policy": {}, "policy_raw": "{}"}"#).unwrap();
        assert!(case.policy.is_err());
    }

    #[test]
    fn mismatches_name_the_key() {
        let got = json!({"effect": "deny", "reason": "no", "retry_after_ms": 1000});
        assert_eq!(
            decision_mismatches(&got, &json!({"effect": "allow", "retry_after_ms": 1e3})),
            vec!["effect: expected \"allow\", got \"deny\"".to_owned()]
        );
        let want = ExpectError {
            path: Some("a".into()),
            contains: Some("x".into()),
        };
        assert_eq!(want.mismatches("a", "has x"), Vec::<String>::new());
        assert_eq!(want.mismatches("b", "y").len(), 2);
    }
}
