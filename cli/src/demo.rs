//! `portcullis demo POLICY ACTIONS`: the decision table every language's demo prints.
use crate::input;
use portcullis::Decision;
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;

/// One table row: label, effect, code, rule (the same layout every language's demo prints).
pub fn row(label: &str, d: &Decision) -> String {
    format!(
        "  {label:<38} {:<17} {:<18} {}",
        d.effect.as_str(),
        d.code.as_str(),
        d.rule.as_deref().unwrap_or("-")
    )
}

pub fn run(policy: &Path, actions: &Path) -> Result<ExitCode, String> {
    let engine = input::load(policy)?;
    let list: Value = serde_json::from_slice(&input::read(actions)?)
        .map_err(|e| format!("{}: {e}", actions.display()))?;
    let items = list
        .as_array()
        .ok_or(format!("{}: expected a JSON array", actions.display()))?;
    out!("== Rust ==");
    for item in items {
        let label = item.get("label").and_then(Value::as_str).unwrap_or("?");
        let action = item.get("action").unwrap_or(&Value::Null);
        out!("{}", row(label, &engine.evaluate_value(action)));
    }
    Ok(ExitCode::SUCCESS)
}
