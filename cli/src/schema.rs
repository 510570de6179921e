//! `portcullis schema`: a JSON Schema (draft 2020-12) of the policy document, for editors.
//!
//! The schema checks the shape of a document: keys, types, enumerations, name patterns,
//! list lengths and the one-operator-per-leaf rule. It accepts some documents the loader
//! rejects (duplicate keys, undefined roles, role cycles, duplicate rule ids, bad regexes,
//! time zones, hosts, windows out of range, nesting limits: see docs/cli/schema.md), and it
//! must never reject a document the loader accepts. docs/policy.schema.json is this output.
use serde_json::{json, Value};
use std::process::ExitCode;

pub fn run() -> Result<ExitCode, String> {
    out!("{}", text());
    Ok(ExitCode::SUCCESS)
}

/// The schema as pretty-printed JSON (no trailing newline).
pub fn text() -> String {
    serde_json::to_string_pretty(&schema()).unwrap_or_default()
}

/// A non-empty list of `item`.
fn list_of(item: Value, description: &str) -> Value {
    let mut list = json!({ "type": "array", "minItems": 1, "items": item });
    if let (false, Some(map)) = (description.is_empty(), list.as_object_mut()) {
        map.insert("description".to_owned(), json!(description));
    }
    list
}

/// The whole schema.
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "portcullis policy, format version 1",
        "description": "A portcullis policy document (docs/policy-language.md). The engine checks more than this schema can: run `portcullis check`.",
        "type": "object",
        "required": ["portcullis", "name"],
        "additionalProperties": false,
        "properties": {
            "portcullis": { "const": 1, "description": "Format version; must be 1." },
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._-]{1,128}$",
                "description": "Policy name, echoed in decisions and audit records."
            },
            "version": {
                "type": "string",
                "maxLength": 128,
                "description": "Free text, echoed in decisions and audit records."
            },
            "default": {
                "enum": ["deny", "allow"],
                "description": "The effect when no deciding rule fires (default deny)."
            },
            "combining": {
                "enum": ["deny_overrides", "first_match"],
                "description": "How firing rules combine (default deny_overrides)."
            },
            "require_known_agent": {
                "type": "boolean",
                "description": "Deny agents that match no `agents` entry (code unknown_agent)."
            },
            "agents": {
                "type": "array",
                "items": { "$ref": "#/$defs/agent" },
                "description": "The identity registry: which agents hold which roles."
            },
            "roles": {
                "type": "object",
                "propertyNames": { "$ref": "#/$defs/roleName" },
                "additionalProperties": { "$ref": "#/$defs/role" },
                "description": "Role inheritance, by role name."
            },
            "rules": {
                "type": "array",
                "maxItems": 10000,
                "items": { "$ref": "#/$defs/rule" },
                "description": "The rules, in document order."
            },
            "audit": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "include_params": {
                        "type": "array",
                        "items": { "$ref": "#/$defs/paramsPath" },
                        "description": "The only parameter values audit records may contain."
                    }
                }
            }
        },
        "$defs": defs()
    })
}

fn defs() -> Value {
    let mut defs = json!({
        "roleName": { "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$" },
        "glob": {
            "type": "string",
            "description": "`*` any run of characters, `?` one character, `\\` escapes."
        },
        "globs": list_of(json!({ "$ref": "#/$defs/glob" }), "Matches when any glob matches."),
        "paramsPath": {
            "type": "string",
            "pattern": "^params(\\.[^.]+)+$",
            "description": "A path below params, e.g. params.table."
        },
        "notNull": { "not": { "type": "null" } },
        "agent": {
            "type": "object",
            "required": ["id"],
            "additionalProperties": false,
            "properties": {
                "id": { "type": "string", "minLength": 1, "description": "An agent id or a glob." },
                "roles": { "type": "array", "items": { "$ref": "#/$defs/roleName" } }
            }
        },
        "role": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "inherits": { "type": "array", "items": { "$ref": "#/$defs/roleName" } }
            }
        },
        "rule": rule(),
        "match": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "kind": list_of(
                    json!({
                        "type": "string",
                        "pattern": "^(tool_call|message|resource)$|[*?\\\\]"
                    }),
                    "tool_call, message or resource (or a glob)."
                ),
                "tool": { "$ref": "#/$defs/globs" },
                "agent": { "$ref": "#/$defs/globs" },
                "role": list_of(json!({ "$ref": "#/$defs/roleName" }), "Matches when the agent holds any of these roles."),
                "target": { "$ref": "#/$defs/globs" }
            }
        },
        "modify": modify(),
        "limit": limit(),
    });
    if let Some(map) = defs.as_object_mut() {
        for (name, def) in conditions() {
            map.insert(name.to_owned(), def);
        }
    }
    defs
}

fn rule() -> Value {
    json!({
        "type": "object",
        "required": ["id", "effect"],
        "additionalProperties": false,
        "properties": {
            "id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._:-]{1,128}$",
                "description": "Unique in the policy."
            },
            "effect": { "enum": ["allow", "deny", "require_approval", "rate_limit"] },
            "description": { "type": "string" },
            "reason": { "type": "string", "description": "Returned in the decision (default: the rule id)." },
            "enabled": { "type": "boolean" },
            "shadow": { "type": "boolean", "description": "Report when it fires; never change the outcome." },
            "priority": { "type": "integer", "description": "Used by first_match only (higher first)." },
            "match": { "$ref": "#/$defs/match" },
            "when": { "$ref": "#/$defs/condition" },
            "unless": { "$ref": "#/$defs/condition" },
            "modify": { "$ref": "#/$defs/modify" },
            "limit": { "$ref": "#/$defs/limit" }
        },
        "allOf": [
            {
                "if": { "required": ["effect"], "properties": { "effect": { "const": "rate_limit" } } },
                "then": { "required": ["limit"] },
                "else": { "not": { "required": ["limit"] } }
            },
            {
                "if": { "required": ["modify"] },
                "then": { "properties": { "effect": { "const": "allow" } } }
            }
        ]
    })
}

fn modify() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "description": "Changes to params, only on allow rules: set, then remove, then clamp.",
        "properties": {
            "set": {
                "type": "object",
                "propertyNames": { "$ref": "#/$defs/paramsPath" }
            },
            "remove": { "type": "array", "items": { "$ref": "#/$defs/paramsPath" } },
            "clamp": {
                "type": "object",
                "propertyNames": { "$ref": "#/$defs/paramsPath" },
                "additionalProperties": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": false,
                    "properties": { "min": { "type": "number" }, "max": { "type": "number" } }
                }
            }
        }
    })
}

fn limit() -> Value {
    json!({
        "type": "object",
        "required": ["max", "window"],
        "additionalProperties": false,
        "properties": {
            "max": { "type": "integer", "minimum": 1, "maximum": 1_000_000 },
            "window": {
                "type": "string",
                "pattern": "^[0-9]{1,12}(ms|s|m|h|d)$",
                "description": "One integer and one unit, 1ms to 31d: \"500ms\", \"30s\", \"1h\"."
            },
            "per": {
                "type": "array",
                "items": {
                    "anyOf": [
                        { "enum": ["agent", "tool", "target", "kind", "role"] },
                        { "type": "string", "pattern": "^(params|context)\\.[^.]" }
                    ]
                }
            }
        }
    })
}

/// `condition` and its five forms.
fn conditions() -> Vec<(&'static str, Value)> {
    let node = |key: &str, value: Value| {
        json!({
            "type": "object",
            "required": [key],
            "additionalProperties": false,
            "properties": { key: value }
        })
    };
    let cond_list = || list_of(json!({ "$ref": "#/$defs/condition" }), "");
    let strings = |description: &str| list_of(json!({ "type": "string" }), description);
    let hhmm = json!({ "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$" });
    let days = json!({ "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] });
    vec![
        (
            "condition",
            json!({
                "anyOf": [
                    { "$ref": "#/$defs/all" },
                    { "$ref": "#/$defs/any" },
                    { "$ref": "#/$defs/not" },
                    { "$ref": "#/$defs/time" },
                    { "$ref": "#/$defs/leaf" }
                ]
            }),
        ),
        ("all", node("all", cond_list())),
        ("any", node("any", cond_list())),
        ("not", node("not", json!({ "$ref": "#/$defs/condition" }))),
        (
            "time",
            node(
                "time",
                json!({
                    "type": "object",
                    "required": ["between"],
                    "additionalProperties": false,
                    "properties": {
                        "between": { "type": "array", "minItems": 2, "maxItems": 2, "items": hhmm },
                        "days": list_of(days, "The day the window starts."),
                        "tz": { "type": "string", "description": "IANA name, UTC or +HH:MM." }
                    }
                }),
            ),
        ),
        (
            "leaf",
            json!({
                "type": "object",
                "description": "{\"field\": PATH, OP: operand} with exactly one operator.",
                "required": ["field"],
                "minProperties": 2,
                "maxProperties": 2,
                "additionalProperties": false,
                "properties": {
                    "field": {
                        "type": "string",
                        "pattern": "^(/|(kind|tool|target|params|context|agent\\.id|agent\\.roles)(\\.[^.]+)*$)"
                    },
                    "exists": { "type": "boolean" },
                    "eq": { "$ref": "#/$defs/notNull" },
                    "ne": { "$ref": "#/$defs/notNull" },
                    "in": list_of(json!({ "$ref": "#/$defs/notNull" }), ""),
                    "not_in": list_of(json!({ "$ref": "#/$defs/notNull" }), ""),
                    "lt": { "type": "number" },
                    "lte": { "type": "number" },
                    "gt": { "type": "number" },
                    "gte": { "type": "number" },
                    "prefix": { "type": "string" },
                    "suffix": { "type": "string" },
                    "contains": { "$ref": "#/$defs/notNull" },
                    "matches": { "type": "string", "maxLength": 4096, "description": "A Rust regex, unanchored." },
                    "glob": { "anyOf": [{ "$ref": "#/$defs/glob" }, { "$ref": "#/$defs/globs" }] },
                    "path_within": {
                        "type": "array",
                        "minItems": 1,
                        "items": { "type": "string", "pattern": "^/" },
                        "description": "Absolute directories; {agent} is the acting agent's id."
                    },
                    "host_in": strings("Host patterns: example.com, *.example.com, *, IP literals.")
                }
            }),
        ),
    ]
}
