//! The action: strict reading, validation, defaults, and the canonical action hash.
use crate::field::Root;
use crate::json::{self, StrictError};
use crate::tape::{Shape, Tape, ROOT};
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Largest action accepted, in UTF-8 bytes of its JSON text.
pub(crate) const MAX_ACTION_BYTES: usize = 1 << 20;
/// Deepest nesting accepted (the action object is level 1).
pub(crate) const MAX_ACTION_DEPTH: usize = 64;

static EMPTY_OBJECT: LazyLock<Value> = LazyLock::new(|| Value::Object(Map::new()));
static KIND_TOOL_CALL: LazyLock<Value> = LazyLock::new(|| Value::String("tool_call".into()));

/// What the action is: a tool call, an agent-to-agent message, or a resource access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ToolCall,
    Message,
    Resource,
}

impl Kind {
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        match s {
            "tool_call" => Some(Kind::ToolCall),
            "message" => Some(Kind::Message),
            "resource" => Some(Kind::Resource),
            _ => None,
        }
    }
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::ToolCall => "tool_call",
            Kind::Message => "message",
            Kind::Resource => "resource",
        }
    }
}

/// Reads action JSON text strictly; the error is the reason of the `invalid_action` decision.
pub(crate) fn parse_action_json(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() > MAX_ACTION_BYTES {
        return Err(format!(
            "the action is {} bytes; at most {MAX_ACTION_BYTES} bytes (1 MiB) are accepted",
            bytes.len()
        ));
    }
    json::parse_strict(bytes, MAX_ACTION_DEPTH).map_err(|e| match e {
        StrictError::Syntax(m) if m.contains("hex escape") || m.contains("surrogate") => {
            format!("the action is not valid JSON: a string holds a lone surrogate or a bad \\u escape ({m})")
        }
        StrictError::Syntax(m) => format!("the action is not valid JSON: {m}"),
        StrictError::Duplicate { key, .. } => {
            format!("the action has a duplicate key {}", json::quote(&key))
        }
        StrictError::TooDeep { limit } => {
            format!("the action is nested deeper than {limit} levels")
        }
    })
}

/// Checks the size and depth limits of an action a binding passes as a value.
pub(crate) fn check_action_value(v: &Value) -> Result<(), String> {
    match json::within_limits(v, MAX_ACTION_DEPTH, MAX_ACTION_BYTES) {
        Ok(()) => Ok(()),
        Err(json::Over::Depth) => Err(format!(
            "the action is nested deeper than {MAX_ACTION_DEPTH} levels"
        )),
        Err(json::Over::Size) => Err(format!(
            "the action's JSON is larger than {MAX_ACTION_BYTES} bytes (1 MiB)"
        )),
    }
}

/// A valid action with defaults applied, borrowing from the parsed JSON or from a [`Tape`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionView<'a> {
    pub(crate) kind: Kind,
    pub(crate) tool: &'a str,
    pub(crate) agent: &'a str,
    pub(crate) target: Option<&'a str>,
    values: Values<'a>,
}

/// Where the action's values are.
#[derive(Debug, Clone, Copy)]
enum Values<'a> {
    Parsed {
        kind: &'a Value,
        tool: &'a Value,
        agent: &'a Value,
        target: Option<&'a Value>,
        /// Always an object (`{}` when absent).
        params: &'a Value,
        /// Always an object (`{}` when absent).
        context: &'a Value,
    },
    /// Nodes of the tape (`None`: absent or null, so the default).
    Tape {
        tape: &'a Tape<'a>,
        kind: Option<usize>,
        tool: usize,
        agent: usize,
        target: Option<usize>,
        params: Option<usize>,
        context: Option<usize>,
    },
}

/// A field root's place: a value, or a tape node (`None`: the root's default).
pub(crate) enum RootAt<'a> {
    Value(Option<&'a Value>),
    Node(&'a Tape<'a>, usize),
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

impl<'a> ActionView<'a> {
    /// Validates the action's shape; the error says what is wrong.
    pub(crate) fn from_value(v: &'a Value) -> Result<ActionView<'a>, String> {
        let obj = v.as_object().ok_or("the action is not a JSON object")?;
        // One pass over the (small) top-level object instead of a hashed lookup per field.
        let mut fields: [Option<&'a Value>; 7] = [None; 7];
        for (k, v) in obj {
            let slot = match k.as_str() {
                "kind" => 0,
                "tool" => 1,
                "agent" => 2,
                "target" => 3,
                "params" => 4,
                "context" => 5,
                "timestamp" => 6,
                _ => continue,
            };
            if let Some(f) = fields.get_mut(slot) {
                *f = Some(v);
            }
        }
        let [kind_field, tool_field, agent_field, target_field, params_field, context_field, timestamp_field] =
            fields;
        let (kind, kind_value) = read_kind(kind_field)?;
        let tool_value = tool_field.ok_or("the action lacks \"tool\"")?;
        let tool = read_name(tool_value, "tool", "the action lacks \"tool\"")?;
        let agent_value = read_agent(agent_field)?;
        let agent = read_name(agent_value, "agent.id", "the action lacks \"agent.id\"")?;
        let (target, target_value) = match present(target_field) {
            None => (None, None),
            Some(t @ Value::String(s)) => (Some(s.as_str()), Some(t)),
            Some(other) => {
                return Err(format!(
                    "\"target\" must be a string or null, not {}",
                    json::show(other)
                ))
            }
        };
        let params = object_field("params", params_field)?;
        let context = object_field("context", context_field)?;
        check_timestamp(timestamp_field)?;
        Ok(ActionView {
            kind,
            tool,
            agent,
            target,
            values: Values::Parsed {
                kind: kind_value,
                tool: tool_value,
                agent: agent_value,
                target: target_value,
                params,
                context,
            },
        })
    }

    /// Validates the action read into `tape`, building no value when it is valid. Anything
    /// the quick checks do not accept is decided by [`ActionView::from_value`] on the built
    /// value, so the answer and its error are always that function's.
    pub(crate) fn from_tape(tape: &'a Tape<'a>) -> Result<ActionView<'a>, String> {
        match Self::quick(tape) {
            Some(view) => Ok(view),
            None => ActionView::from_value(tape.value(ROOT).unwrap_or(&Value::Null)),
        }
    }

    fn quick(tape: &'a Tape<'a>) -> Option<ActionView<'a>> {
        let mut fields: [Option<usize>; 7] = [None; 7];
        for (key, node) in tape.entries(ROOT)? {
            let slot = match key {
                "kind" => 0,
                "tool" => 1,
                "agent" => 2,
                "target" => 3,
                "params" => 4,
                "context" => 5,
                "timestamp" => 6,
                _ => continue,
            };
            if let Some(f) = fields.get_mut(slot) {
                *f = (tape.shape(node) != Shape::Null).then_some(node);
            }
        }
        let [kind_node, tool_node, agent_node, target_node, params_node, context_node, timestamp_node] =
            fields;
        let kind = match kind_node {
            None => Kind::ToolCall,
            Some(k) => Kind::parse(tape.str(k)?)?,
        };
        let tool = tape.str(tool_node?).filter(|s| !s.is_empty())?;
        let agent_id = tape.get(agent_node?, "id")?;
        let agent = tape.str(agent_id).filter(|s| !s.is_empty())?;
        let target = match target_node {
            None => None,
            Some(t) => Some(tape.str(t)?),
        };
        let object = |node: Option<usize>| match node {
            Some(n) if tape.shape(n) != Shape::Object => None,
            n => Some(n),
        };
        let (params, context) = (object(params_node)?, object(context_node)?);
        if let Some(t) = timestamp_node {
            chrono::DateTime::parse_from_rfc3339(tape.str(t)?).ok()?;
        }
        Some(ActionView {
            kind,
            tool,
            agent,
            target,
            values: Values::Tape {
                tape,
                kind: kind_node,
                tool: tool_node?,
                agent: agent_id,
                target: target_node,
                params,
                context,
            },
        })
    }

    /// Where a field root is (`agent.roles` is not the action's; it is `None` here).
    pub(crate) fn root(&self, root: Root) -> RootAt<'a> {
        match self.values {
            Values::Parsed {
                kind,
                tool,
                agent,
                target,
                params,
                context,
            } => RootAt::Value(match root {
                Root::Kind => Some(kind),
                Root::Tool => Some(tool),
                Root::AgentId => Some(agent),
                Root::Target => target,
                Root::Params => Some(params),
                Root::Context => Some(context),
                Root::AgentRoles => None,
            }),
            Values::Tape {
                tape,
                kind,
                tool,
                agent,
                target,
                params,
                context,
            } => {
                let (node, default) = match root {
                    Root::Kind => (kind, Some(&*KIND_TOOL_CALL)),
                    Root::Tool => (Some(tool), None),
                    Root::AgentId => (Some(agent), None),
                    Root::Target => (target, None),
                    Root::Params => (params, Some(&*EMPTY_OBJECT)),
                    Root::Context => (context, Some(&*EMPTY_OBJECT)),
                    Root::AgentRoles => (None, None),
                };
                match node {
                    Some(n) => RootAt::Node(tape, n),
                    None => RootAt::Value(default),
                }
            }
        }
    }

    /// The params: always an object (`{}` when absent).
    pub(crate) fn params(&self) -> &'a Value {
        match self.root(Root::Params) {
            RootAt::Value(v) => v.unwrap_or(&*EMPTY_OBJECT),
            RootAt::Node(tape, n) => tape.value(n).unwrap_or(&*EMPTY_OBJECT),
        }
    }

    /// `"sha256:"` + hex SHA-256 of the JCS form of
    /// `{"agent", "kind", "params", "target", "tool"}` (keys already in JCS order).
    pub(crate) fn hash(&self) -> String {
        let mut text = String::with_capacity(256);
        text.push_str("{\"agent\":");
        json::write_jcs_string(self.agent, &mut text);
        text.push_str(",\"kind\":\"");
        text.push_str(self.kind.as_str());
        text.push_str("\",\"params\":");
        match self.root(Root::Params) {
            RootAt::Value(v) => json::write_jcs(v.unwrap_or(&*EMPTY_OBJECT), &mut text),
            RootAt::Node(tape, n) => tape.write_jcs(n, &mut text),
        }
        text.push_str(",\"target\":");
        match self.target {
            Some(t) => json::write_jcs_string(t, &mut text),
            None => text.push_str("null"),
        }
        text.push_str(",\"tool\":");
        json::write_jcs_string(self.tool, &mut text);
        text.push('}');
        crate::digest::sha256_tag(text.as_bytes())
    }
}

/// `kind`: `tool_call` when absent or null.
fn read_kind(field: Option<&Value>) -> Result<(Kind, &Value), String> {
    match present(field) {
        None => Ok((Kind::ToolCall, &*KIND_TOOL_CALL)),
        Some(k @ Value::String(s)) => match Kind::parse(s) {
            Some(kind) => Ok((kind, k)),
            None => Err(format!(
                "\"kind\" is {}; expected \"tool_call\", \"message\" or \"resource\"",
                json::quote(s)
            )),
        },
        Some(other) => Err(format!(
            "\"kind\" must be a string, not {}",
            json::show(other)
        )),
    }
}

/// A required, non-empty string (`tool`, `agent.id`); `missing` is the reason when it is null.
fn read_name<'a>(v: &'a Value, name: &str, missing: &str) -> Result<&'a str, String> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.as_str()),
        Value::String(_) => Err(format!("\"{name}\" is empty")),
        Value::Null => Err(missing.to_owned()),
        other => Err(format!(
            "\"{name}\" must be a string, not {}",
            json::show(other)
        )),
    }
}

/// `agent.id`'s value: `agent` must be an object holding `id`.
fn read_agent(field: Option<&Value>) -> Result<&Value, String> {
    let agent = match field {
        Some(Value::Object(a)) => a,
        None | Some(Value::Null) => return Err("the action lacks \"agent.id\"".into()),
        Some(other) => {
            return Err(format!(
                "\"agent\" must be an object, not {}",
                json::show(other)
            ))
        }
    };
    agent
        .get("id")
        .ok_or_else(|| "the action lacks \"agent.id\"".into())
}

/// `params` or `context`: an object, `{}` when absent or null.
fn object_field<'a>(name: &str, field: Option<&'a Value>) -> Result<&'a Value, String> {
    match present(field) {
        None => Ok(&*EMPTY_OBJECT),
        Some(o @ Value::Object(_)) => Ok(o),
        Some(other) => Err(format!(
            "\"{name}\" must be an object, not {}",
            json::show(other)
        )),
    }
}

/// `timestamp`, when present, is an RFC 3339 date-time string.
fn check_timestamp(field: Option<&Value>) -> Result<(), String> {
    match present(field) {
        None => Ok(()),
        Some(Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_err() => Err(format!(
            "\"timestamp\" {} is not an RFC 3339 date-time",
            json::quote(s)
        )),
        Some(Value::String(_)) => Ok(()),
        Some(other) => Err(format!(
            "\"timestamp\" must be a string, not {}",
            json::show(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn view_err(text: &str) -> String {
        let v = parse_action_json(text.as_bytes()).unwrap();
        ActionView::from_value(&v).unwrap_err()
    }

    #[test]
    fn shape_errors_say_what_is_wrong() {
        assert!(view_err(r#"{"agent":{"id":"a"}}"#).contains("tool"));
        assert!(view_err(r#"{"tool":"t"}"#).contains("agent.id"));
        assert!(view_err(r#"{"tool":"t","agent":{"id":"a"},"kind":"rpc"}"#).contains("rpc"));
        assert!(view_err(r#"{"tool":"t","agent":{"id":"a"},"params":[]}"#).contains("params"));
        assert!(
            view_err(r#"{"tool":"t","agent":{"id":"a"},"timestamp":"yesterday"}"#)
                .contains("RFC 3339")
        );
        assert!(parse_action_json(br#"{"tool":"t","tool":"u"}"#)
            .unwrap_err()
            .contains("duplicate"));
    }

    #[test]
    fn hash_ignores_key_order_number_form_and_context() {
        let h = |t: &str| {
            let v = parse_action_json(t.as_bytes()).unwrap();
            ActionView::from_value(&v).unwrap().hash()
        };
        let a = h(r#"{"tool":"p","agent":{"id":"a"},"params":{"x":1,"y":"z"}}"#);
        let b = h(
            r#"{"params":{"y":"z","x":1.0},"agent":{"id":"a"},"tool":"p","context":{"s":1},"kind":"tool_call"}"#,
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            h(r#"{"tool":"p","agent":{"id":"a"},"params":{"x":2,"y":"z"}}"#)
        );
        assert!(a.starts_with("sha256:") && a.len() == 71);
        // Known vector: sha256 of {"agent":"a","kind":"tool_call","params":{},"target":null,"tool":"t"}.
        let text = r#"{"agent":"a","kind":"tool_call","params":{},"target":null,"tool":"t"}"#;
        let want: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            h(r#"{"tool":"t","agent":{"id":"a"}}"#),
            format!("sha256:{want}")
        );
    }
}
