//! Every load error of a document that can be found (for `portcullis check`). The loader stops
//! at the first error; this reads on: each section, and each rule, is checked whatever an
//! earlier one held. Checks across sections run where the sections they read loaded (role
//! cycles need `roles`; undefined roles need `agents` and `roles`, and are checked for each
//! rule that compiled). The errors come in the loader's order, so the first is the error
//! loading reports.
use super::known::NoKnownRules;
use super::load::{
    check_rule_role, defined_roles, parse, read_agents, read_audit, read_header, root_object,
    rule_list, ROOT_KEYS,
};
use super::parse::Order;
use super::reader::{err, Reader};
use super::roles::{close_roles, read_roles};
use super::rules::compile_rule;
use super::Interner;
use crate::error::PolicyError;
use crate::json::quote;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Every load error found in `bytes`, in document order; empty when the policy loads.
pub(crate) fn all_errors(bytes: &[u8]) -> Vec<PolicyError> {
    let (doc, order) = match parse(bytes, Order::All, &mut NoKnownRules) {
        Ok(parsed) => (parsed.value, parsed.order),
        Err(e) => return vec![e],
    };
    let root = match root_object(&doc) {
        Ok(root) => root,
        Err(e) => return vec![e],
    };
    let mut rd = Reader::new(order, HashMap::new());
    let mut errors = root_key_errors(root, &rd);
    let agents = match root.get("agents") {
        Some(v) => keep(read_agents(v, &rd), &mut errors),
        None => Some(Vec::new()),
    };
    let inherits = match root.get("roles") {
        Some(v) => keep(read_roles(v, &rd), &mut errors),
        None => Some(Vec::new()),
    };
    let mut rules = Vec::new();
    if let Some(list) = root
        .get("rules")
        .and_then(|v| keep(rule_list(v), &mut errors))
    {
        let interner = Interner::default();
        let mut seen = HashMap::new();
        for (i, rule) in list.iter().enumerate() {
            if let Some(r) = keep(
                compile_rule(rule, i, &mut rd, &interner, &mut seen),
                &mut errors,
            ) {
                rules.push((i, r));
            }
        }
    }
    if let Some(v) = root.get("audit") {
        keep(read_audit(v, &rd), &mut errors);
    }
    if let Some(inherits) = &inherits {
        keep(close_roles(inherits), &mut errors);
    }
    if let (Some(agents), Some(inherits)) = (&agents, &inherits) {
        let defined = defined_roles(agents, inherits);
        for (i, rule) in &rules {
            keep(check_rule_role(*i, rule, &defined), &mut errors);
        }
    }
    errors
}

/// The value, or `None` with the error kept.
fn keep<T>(result: Result<T, PolicyError>, errors: &mut Vec<PolicyError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// Every unknown top-level key, then every missing required one, then (when none is
/// missing) the first error of the header settings.
fn root_key_errors(root: &Map<String, Value>, rd: &Reader) -> Vec<PolicyError> {
    let mut errors: Vec<PolicyError> = rd
        .keys(root, "")
        .into_iter()
        .filter(|k| !ROOT_KEYS.contains(&k.as_str()))
        .map(|k| err("", format!("unknown key {}", quote(k))))
        .collect();
    let mut missing = false;
    for key in ["portcullis", "name"] {
        if !root.contains_key(key) {
            missing = true;
            errors.push(err("", format!("missing required key {}", quote(key))));
        }
    }
    if !missing {
        if let Err(e) = read_header(root) {
            errors.push(e);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_in_independent_rules_and_sections_are_all_reported() {
        let doc = br#"{"portcullis": 1, "name": "p", "bogus": 1, "default": "block",
            "agents": [{"id": ""}],
            "rules": [
                {"id": "a", "effect": "deny", "when": {"field": "tool", "equals": "x"}},
                {"id": "ok", "effect": "allow"},
                {"id": "b", "effect": "nope"},
                {"id": "ok", "effect": "allow"}
            ],
            "roles": {"x": {"inherits": ["y"]}, "y": {"inherits": ["x"]}}}"#;
        let errors: Vec<String> = all_errors(doc)
            .iter()
            .map(|e| e.path().to_owned())
            .collect();
        assert_eq!(
            errors,
            [
                "",
                "default",
                "agents[0].id",
                "rules[0].when",
                "rules[2].effect",
                "rules[3].id",
                "roles.y.inherits[0]"
            ]
        );
        assert!(all_errors(br#"{"portcullis": 1, "name": "p"}"#).is_empty());
        assert_eq!(all_errors(b"{").len(), 1);
        assert_eq!(all_errors(b"[]").len(), 1);
    }
}
