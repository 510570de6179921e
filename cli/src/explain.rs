//! `portcullis explain POLICY ACTION [--format text|json]`: why an action gets its
//! decision. A dry run: no rate limit is used, no approval consumed, nothing audited.
use crate::input;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The policy (.json, .yaml or .yml).
    policy: PathBuf,
    /// The action as a JSON file, or `-` for stdin.
    action: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let engine = input::load(&args.policy)?;
    let action = input::read(&args.action)?;
    let explanation = engine.explain(&action);
    match args.format {
        Format::Json => out!("{}", explanation.to_json()),
        Format::Text => out!("{}", render(explanation.to_value()).trim_end()),
    }
    Ok(ExitCode::SUCCESS)
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The explanation as indented text (its JSON form has the same content).
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    let d = &v["decision"];
    if let Some(a) = v.get("action") {
        let _ = writeln!(
            out,
            "action: {} {} by agent {}{}",
            s(&a["kind"]),
            s(&a["tool"]),
            s(&a["agent"]),
            a["target"]
                .as_str()
                .map_or(String::new(), |t| format!(" on {t}"))
        );
        let ag = &v["agent"];
        let _ = writeln!(
            out,
            "agent: {} in the registry, roles {}",
            if ag["known"] == Value::Bool(true) {
                "known"
            } else {
                "not"
            },
            ag["roles"]
        );
        let _ = writeln!(
            out,
            "policy: combining {}, default {}",
            s(&v["combining"]),
            s(&v["default"])
        );
    }
    let rules = v["rules"].as_array().map_or(&[][..], Vec::as_slice);
    if !rules.is_empty() {
        out.push_str("rules:\n");
    }
    for r in rules {
        render_rule(&mut out, r);
    }
    out.push_str("steps:\n");
    for step in v["steps"].as_array().map_or(&[][..], Vec::as_slice) {
        let _ = writeln!(out, "  - {}", s(step));
    }
    let _ = writeln!(
        out,
        "decision: {} (code {}, rule {}): {}",
        s(&d["effect"]),
        s(&d["code"]),
        d["rule"].as_str().unwrap_or("-"),
        s(&d["reason"])
    );
    out
}

fn render_rule(out: &mut String, r: &Value) {
    let shadow = if r["shadow"] == Value::Bool(true) {
        " shadow"
    } else {
        ""
    };
    let head = format!("  {} [{}{shadow}]", s(&r["id"]), s(&r["effect"]));
    if r["considered"] == Value::Bool(false) {
        let _ = writeln!(out, "{head}: not considered: {}", s(&r["skipped"]));
        return;
    }
    let fires = if r["fires"] == Value::Bool(true) {
        "fires"
    } else {
        "does not fire"
    };
    let _ = writeln!(out, "{head}: {fires}");
    let keys = r
        .pointer("/match/keys")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if keys.is_empty() {
        out.push_str("    match: (matches every action)\n");
    }
    for k in keys {
        let _ = writeln!(
            out,
            "    match.{} = {} -> {}",
            s(&k["key"]),
            k["value"],
            k["result"]
        );
    }
    for key in ["when", "unless"] {
        if let Some(c) = r.get(key) {
            render_cond(out, c, 2);
        }
    }
    if let Some(note) = r.get("note") {
        let _ = writeln!(out, "    ({})", s(note));
    }
}

fn render_cond(out: &mut String, c: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let result = s(&c["result"]);
    match c.get("field") {
        Some(field) => {
            let operand = c.get("operand").map_or(String::new(), |o| format!(" {o}"));
            let value = if c["present"] == Value::Bool(true) {
                c["value"].to_string()
            } else {
                "(missing)".into()
            };
            let _ = writeln!(
                out,
                "{pad}{}: {} {}{operand}; value {value} -> {result}",
                s(&c["path"]),
                s(field),
                s(&c["op"])
            );
        }
        None => {
            let _ = writeln!(out, "{pad}{}: {} -> {result}", s(&c["path"]), s(&c["op"]));
        }
    }
    for child in c["children"].as_array().map_or(&[][..], Vec::as_slice) {
        render_cond(out, child, depth + 1);
    }
}
