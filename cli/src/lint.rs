//! `portcullis lint POLICY [--format text|json] [--deny-warnings]`: findings a load cannot
//! report because the policy is valid, each with a stable code, its JSON path, a severity and
//! a one-line fix. See docs/cli/lint.md for the list of codes.
use crate::input;
use portcullis::{Engine, EngineOptions};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The policy (.json, .yaml or .yml).
    policy: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 on warnings too (errors always fail).
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub path: String,
    pub message: String,
    pub fix: String,
}

fn finding(
    code: &'static str,
    severity: Severity,
    path: String,
    message: String,
    fix: &str,
) -> Finding {
    Finding {
        code,
        severity,
        path,
        message,
        fix: fix.to_owned(),
    }
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let text = input::policy_text(&args.policy)?;
    let findings = lint(&text);
    let fails = findings.iter().any(|f| {
        f.severity == Severity::Error || (args.deny_warnings && f.severity == Severity::Warning)
    });
    match args.format {
        Format::Json => {
            let list: Vec<Value> = findings
                .iter()
                .map(|f| {
                    json!({"code": f.code, "severity": f.severity.as_str(), "path": f.path,
                           "message": f.message, "fix": f.fix})
                })
                .collect();
            out!("{}", Value::Array(list));
        }
        Format::Text => {
            for f in &findings {
                out!(
                    "{}: {} {} at {}: {}\n  fix: {}",
                    args.policy.display(),
                    f.severity.as_str(),
                    f.code,
                    if f.path.is_empty() {
                        "(document)"
                    } else {
                        &f.path
                    },
                    f.message,
                    f.fix
                );
            }
            let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
            out!(
                "{} errors, {} warnings, {} notes",
                count(Severity::Error),
                count(Severity::Warning),
                count(Severity::Info)
            );
        }
    }
    Ok(if fails {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Every finding for a policy given as JSON text, sorted by severity then path order.
pub fn lint(text: &[u8]) -> Vec<Finding> {
    if let Err(e) = Engine::new(text, EngineOptions::default()) {
        return vec![finding(
            "PC001",
            Severity::Error,
            e.path().to_owned(),
            format!("the policy does not load: {}", e.message()),
            "fix the load error; `portcullis check` shows it too",
        )];
    }
    let Ok(doc) = serde_json::from_slice::<Value>(text) else {
        return Vec::new();
    };
    let rules: Vec<(usize, &Map<String, Value>)> = doc
        .get("rules")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .enumerate()
                .filter_map(|(i, r)| r.as_object().map(|r| (i, r)))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    let first_match = doc.get("combining").and_then(Value::as_str) == Some("first_match");
    for &(i, r) in &rules {
        rule_checks(i, r, &mut out);
    }
    shadowed(&rules, first_match, &mut out);
    shadow_copies(&rules, &mut out);
    unheld_roles(&doc, &rules, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

fn s<'a>(r: &'a Map<String, Value>, key: &str) -> &'a str {
    r.get(key).and_then(Value::as_str).unwrap_or("")
}

fn is_on(r: &Map<String, Value>) -> bool {
    r.get("enabled") != Some(&Value::Bool(false))
}

fn is_shadow(r: &Map<String, Value>) -> bool {
    r.get("shadow") == Some(&Value::Bool(true))
}

fn unconditional(r: &Map<String, Value>) -> bool {
    r.get("when").is_none() && r.get("unless").is_none()
}

fn rule_checks(i: usize, r: &Map<String, Value>, out: &mut Vec<Finding>) {
    let at = format!("rules[{i}]");
    let id = s(r, "id");
    if !is_on(r) {
        out.push(finding(
            "PC108",
            Severity::Info,
            format!("{at}.enabled"),
            format!("rule {id:?} is disabled and never evaluated"),
            "delete it, or remove \"enabled\": false when it should run",
        ));
        return;
    }
    let effect = s(r, "effect");
    let matches_all = r
        .get("match")
        .is_none_or(|m| m.as_object().is_some_and(Map::is_empty));
    if effect == "allow" && matches_all && unconditional(r) && !is_shadow(r) {
        out.push(finding("PC101", Severity::Error, at.clone(),
            format!("rule {id:?} allows every action: it has no match and no condition"),
            "add a match (tools, agents or roles) or a when condition; use \"default\": \"allow\" if that is really meant"));
    }
    if effect == "deny" && r.get("reason").is_none() {
        out.push(finding(
            "PC109",
            Severity::Info,
            at.clone(),
            format!("deny rule {id:?} has no reason; agents see only the rule id"),
            "add a \"reason\" the agent and the audit trail can show",
        ));
    }
    for key in ["when", "unless"] {
        if let Some(c) = r.get(key) {
            conditions(c, &format!("{at}.{key}"), id, out);
        }
    }
    if let Some(per) = r
        .get("limit")
        .and_then(|l| l.get("per"))
        .and_then(Value::as_array)
    {
        for (j, p) in per.iter().enumerate() {
            let Some(p) = p.as_str() else { continue };
            if p.starts_with("params.") || p.starts_with("context.") {
                out.push(finding("PC105", Severity::Warning, format!("{at}.limit.per[{j}]"),
                    format!("rate limit {id:?} keeps a counter per value of {p}, which the caller chooses: a new value each time is never limited"),
                    "count per agent, tool or role; or add a when condition that bounds the values (in / eq)"));
            }
        }
    }
}

const STRING_ROOTS: [&str; 4] = ["kind", "tool", "agent.id", "target"];
const NUMERIC_OPS: [&str; 4] = ["lt", "lte", "gt", "gte"];
const STRING_OPS: [&str; 6] = [
    "prefix",
    "suffix",
    "matches",
    "glob",
    "path_within",
    "host_in",
];
const KINDS: [&str; 3] = ["tool_call", "agent_message", "resource_access"];

fn conditions(c: &Value, at: &str, id: &str, out: &mut Vec<Finding>) {
    let Some(obj) = c.as_object() else { return };
    for node in ["all", "any"] {
        if let Some(items) = obj.get(node).and_then(Value::as_array) {
            for (j, item) in items.iter().enumerate() {
                conditions(item, &format!("{at}.{node}[{j}]"), id, out);
            }
        }
    }
    if let Some(inner) = obj.get("not") {
        conditions(inner, &format!("{at}.not"), id, out);
    }
    let Some(field) = obj.get("field").and_then(Value::as_str) else {
        return;
    };
    let never = |op: &str, why: String, out: &mut Vec<Finding>| {
        out.push(finding(
            "PC103",
            Severity::Warning,
            format!("{at}.{op}"),
            format!("in rule {id:?}, {why}"),
            "fix the field or the operator; as written the condition never holds",
        ));
    };
    if STRING_ROOTS.contains(&field) {
        for op in NUMERIC_OPS.iter().filter(|op| obj.contains_key(**op)) {
            never(
                op,
                format!("{field} is always a string, so \"{op}\" is always unknown"),
                out,
            );
        }
        if obj.get("exists") == Some(&Value::Bool(false)) && field != "target" {
            never(
                "exists",
                format!("{field} is always present, so \"exists\": false is always false"),
                out,
            );
        }
    }
    if field == "agent.roles" {
        for op in STRING_OPS
            .iter()
            .chain(&NUMERIC_OPS)
            .filter(|op| obj.contains_key(**op))
        {
            never(
                op,
                format!("agent.roles is an array, so \"{op}\" is always unknown (use contains)"),
                out,
            );
        }
    }
    if field == "kind" {
        if let Some(Value::String(k)) = obj.get("eq") {
            if !KINDS.contains(&k.as_str()) {
                never("eq", format!("kind is one of {KINDS:?}, never {k:?}"), out);
            }
        }
    }
    if let Some(dirs) = obj.get("path_within").and_then(Value::as_array) {
        for (j, d) in dirs.iter().enumerate() {
            if d.as_str()
                .is_some_and(|d| d.trim_end_matches('/').is_empty())
            {
                out.push(finding(
                    "PC106",
                    Severity::Warning,
                    format!("{at}.path_within[{j}]"),
                    format!("in rule {id:?}, path_within \"/\" admits every absolute path"),
                    "name the directories the agent may use, e.g. \"/srv/agents/{agent}\"",
                ));
            }
        }
    }
}

/// PC102: a rule that can never decide because an unconditional rule with the same match
/// always wins over it.
fn shadowed(rules: &[(usize, &Map<String, Value>)], first_match: bool, out: &mut Vec<Finding>) {
    let live: Vec<(usize, &Map<String, Value>)> = rules
        .iter()
        .copied()
        .filter(|(_, r)| is_on(r) && !is_shadow(r) && s(r, "effect") != "rate_limit")
        .collect();
    let rank = |e: &str| match e {
        "deny" => 0,
        "require_approval" => 1,
        _ => 2,
    };
    let prio = |r: &Map<String, Value>| r.get("priority").and_then(Value::as_i64).unwrap_or(0);
    for &(i, r) in &live {
        let winner = live.iter().find(|&&(j, w)| {
            j != i
                && unconditional(w)
                && w.get("match") == r.get("match")
                && if first_match {
                    (-prio(w), j) < (-prio(r), i)
                } else {
                    rank(s(w, "effect")) < rank(s(r, "effect"))
                        || (rank(s(w, "effect")) == rank(s(r, "effect"))
                            && j < i
                            && s(r, "effect") != "allow")
                }
        });
        if let Some((j, w)) = winner {
            out.push(finding("PC102", Severity::Warning, format!("rules[{i}]"),
                format!("rule {:?} can never decide: unconditional rule {:?} (rules[{j}], {}) has the same match and always wins",
                    s(r, "id"), s(w, "id"), s(w, "effect")),
                "narrow or condition the earlier rule, or delete this one"));
        }
    }
}

/// PC107: a shadow rule identical to a live rule reports nothing new.
fn shadow_copies(rules: &[(usize, &Map<String, Value>)], out: &mut Vec<Finding>) {
    let body = |r: &Map<String, Value>| -> Map<String, Value> {
        r.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "id" | "shadow" | "description" | "reason"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    for &(i, r) in rules.iter().filter(|(_, r)| is_on(r) && is_shadow(r)) {
        if let Some((j, live)) = rules
            .iter()
            .find(|(_, l)| is_on(l) && !is_shadow(l) && body(l) == body(r))
        {
            out.push(finding("PC107", Severity::Warning, format!("rules[{i}].shadow"),
                format!("shadow rule {:?} is identical to live rule {:?} (rules[{j}]): it only repeats its decisions", s(r, "id"), s(live, "id")),
                "change the shadow rule to the candidate you want to try, or delete it"));
        }
    }
}

/// PC104: `match.role` names a role no agents entry grants (directly or by inheritance).
fn unheld_roles(doc: &Value, rules: &[(usize, &Map<String, Value>)], out: &mut Vec<Finding>) {
    let mut held: BTreeSet<String> = doc
        .get("agents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("roles").and_then(Value::as_array))
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    let inherits = |role: &str| -> Vec<String> {
        doc.pointer(&format!(
            "/roles/{}",
            role.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(|r| r.get("inherits"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut todo: Vec<String> = held.iter().cloned().collect();
    while let Some(role) = todo.pop() {
        for parent in inherits(&role) {
            if held.insert(parent.clone()) {
                todo.push(parent);
            }
        }
    }
    for &(i, r) in rules.iter().filter(|(_, r)| is_on(r)) {
        let Some(list) = r
            .get("match")
            .and_then(|m| m.get("role"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for (j, role) in list.iter().enumerate() {
            let Some(role) = role.as_str() else { continue };
            if !held.contains(role) {
                out.push(finding("PC104", Severity::Warning, format!("rules[{i}].match.role[{j}]"),
                    format!("no agent can hold role {role:?}: no agents entry grants it or a role that inherits it"),
                    "grant the role to an agents entry, or remove it from the match"));
            }
        }
    }
}
