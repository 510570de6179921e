//! Field paths in conditions (`params.a.0.b`, or a JSON Pointer `/params/a.b`), resolved
//! against the action after defaults.
use crate::action::{ActionView, RootAt};
use crate::json::quote;
use crate::tape::{Shape, Tape};
use serde_json::Value;

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    Kind,
    Tool,
    AgentId,
    AgentRoles,
    Target,
    Params,
    Context,
}

/// One step below the root: a key, or a digit segment that indexes an array or names a key.
#[derive(Debug, Clone)]
struct Step {
    key: Box<str>,
    index: Option<usize>,
}

/// A compiled field path.
#[derive(Debug, Clone)]
pub(crate) struct FieldPath {
    root: Root,
    steps: Vec<Step>,
    /// See [`FieldPath::canonical`]; written once, when the path is compiled.
    canonical: std::sync::Arc<str>,
    /// Its slot in the per-evaluation lookup cache (shared by every leaf that reads the same
    /// field); `NO_SLOT` until the snapshot assigns one.
    pub(crate) slot: usize,
}

/// A field path that is not cached.
pub(crate) const NO_SLOT: usize = usize::MAX;

/// How many distinct fields one evaluation caches (more are resolved every time).
pub(crate) const CACHE_SLOTS: usize = 32;

/// The root, then each key prefixed with its length, so no key text (NUL, dots, digits
/// included) can make two different step lists read the same.
fn canonical_text(root: Root, steps: &[Step]) -> String {
    use std::fmt::Write as _;
    let mut out = format!("{root:?}");
    for step in steps {
        let _ = write!(out, "/{}:", step.key.len());
        out.push_str(&step.key);
    }
    out
}

/// One cached lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup<'a> {
    Unresolved,
    Resolved(Option<&'a Value>),
}

/// The fields one evaluation has resolved so far: each distinct field is looked up once,
/// however many conditions read it.
pub(crate) struct FieldCache<'a> {
    slots: [std::cell::Cell<Lookup<'a>>; CACHE_SLOTS],
}

impl<'a> FieldCache<'a> {
    pub(crate) fn new() -> FieldCache<'a> {
        FieldCache {
            slots: std::array::from_fn(|_| std::cell::Cell::new(Lookup::Unresolved)),
        }
    }

    /// The value at `path`, from the cache when this evaluation has read it before.
    pub(crate) fn get(
        &self,
        path: &FieldPath,
        action: &ActionView<'a>,
        roles: &'a Value,
    ) -> Option<&'a Value> {
        let Some(cell) = self.slots.get(path.slot) else {
            return path.resolve(action, roles);
        };
        match cell.get() {
            Lookup::Resolved(v) => v,
            Lookup::Unresolved => {
                let v = path.resolve(action, roles);
                cell.set(Lookup::Resolved(v));
                v
            }
        }
    }
}

/// Digits without leading zeros (`0`, `17`; not `07`).
fn array_index(s: &str) -> Option<usize> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

impl FieldPath {
    /// Compiles a dotted path or a JSON Pointer (RFC 6901) over the same roots.
    pub(crate) fn parse(text: &str) -> Result<FieldPath, String> {
        let q = quote(text);
        let segs: Vec<String> = if let Some(pointer) = text.strip_prefix('/') {
            pointer
                .split('/')
                .map(|t| {
                    unescape_pointer(t)
                        .ok_or_else(|| format!("field {q} has a bad JSON Pointer escape"))
                })
                .collect::<Result<_, _>>()?
        } else {
            let segs: Vec<String> = text.split('.').map(str::to_owned).collect();
            if segs.iter().any(String::is_empty) {
                return Err(format!("field {q} has an empty segment"));
            }
            segs
        };
        let mut it = segs.into_iter();
        let first = it.next().unwrap_or_default();
        let root = match first.as_str() {
            "kind" => Root::Kind,
            "tool" => Root::Tool,
            "target" => Root::Target,
            "params" => Root::Params,
            "context" => Root::Context,
            "agent" => match it.next().as_deref() {
                Some("id") => Root::AgentId,
                Some("roles") => Root::AgentRoles,
                _ => {
                    return Err(format!(
                        "field {q}: under \"agent\" only \"agent.id\" and \"agent.roles\" can be read"
                    ))
                }
            },
            _ => {
                return Err(format!(
                    "field {q} must start with kind, tool, agent.id, agent.roles, target, params or context"
                ))
            }
        };
        let steps: Vec<Step> = it
            .map(|s| Step {
                index: array_index(&s),
                key: s.into_boxed_str(),
            })
            .collect();
        if !steps.is_empty()
            && matches!(root, Root::Kind | Root::Tool | Root::AgentId | Root::Target)
        {
            return Err(format!("field {q}: a string field has no sub-fields"));
        }
        let canonical = canonical_text(root, &steps).into();
        Ok(FieldPath {
            root,
            steps,
            canonical,
            slot: NO_SLOT,
        })
    }

    /// A text that is equal for two paths exactly when they address the same field (the
    /// snapshot numbers cache slots by it on every load, so it is computed once).
    pub(crate) fn canonical(&self) -> &std::sync::Arc<str> {
        &self.canonical
    }

    /// The path as dotted text (`params.a.0`), for explanations.
    pub(crate) fn text(&self) -> String {
        let mut out = String::from(match self.root {
            Root::Kind => "kind",
            Root::Tool => "tool",
            Root::AgentId => "agent.id",
            Root::AgentRoles => "agent.roles",
            Root::Target => "target",
            Root::Params => "params",
            Root::Context => "context",
        });
        for step in &self.steps {
            out.push('.');
            out.push_str(&step.key);
        }
        out
    }

    /// Parses a `params.`-rooted dotted path as `modify` and `audit.include_params` use it;
    /// returns the keys below `params`.
    pub(crate) fn params_keys(text: &str) -> Option<Vec<String>> {
        let rest = text.strip_prefix("params.")?;
        let keys: Vec<String> = rest.split('.').map(str::to_owned).collect();
        (!keys.iter().any(String::is_empty)).then_some(keys)
    }

    /// The value at this path, or `None` when missing (JSON `null` counts as missing).
    pub(crate) fn resolve<'a>(
        &self,
        action: &ActionView<'a>,
        roles: &'a Value,
    ) -> Option<&'a Value> {
        let mut cur: &'a Value = match (self.root, action.root(self.root)) {
            (Root::AgentRoles, _) => roles,
            (_, RootAt::Value(v)) => v?,
            (_, RootAt::Node(tape, node)) => return self.resolve_in(tape, node),
        };
        for step in &self.steps {
            cur = match cur {
                Value::Object(m) => m.get(&*step.key)?,
                Value::Array(a) => a.get(step.index?)?,
                _ => return None,
            };
        }
        (!cur.is_null()).then_some(cur)
    }
}

impl FieldPath {
    /// [`FieldPath::resolve`] below a tape node: only the value found is built.
    fn resolve_in<'a>(&self, tape: &'a Tape<'a>, mut node: usize) -> Option<&'a Value> {
        for step in &self.steps {
            node = match tape.shape(node) {
                Shape::Object => tape.get(node, &step.key)?,
                _ => tape.index(node, step.index?)?,
            };
        }
        (tape.shape(node) != Shape::Null)
            .then(|| tape.value(node))
            .flatten()
    }
}

fn unescape_pointer(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_keys_indexes_and_pointers() {
        let v: Value = serde_json::from_str(
            r#"{"tool":"t","agent":{"id":"a"},"params":{"a.b":{"c":1},"list":[{"x":2}],"m":{"0":"zero"},"n":null,"s/t":{"~":3}}}"#,
        )
        .unwrap();
        let view = ActionView::from_value(&v).unwrap();
        let roles = Value::Array(vec![]);
        let get = |p: &str| FieldPath::parse(p).unwrap().resolve(&view, &roles).cloned();
        assert_eq!(get("params.list.0.x"), Some(Value::from(2)));
        assert_eq!(get("params.m.0"), Some(Value::from("zero")));
        assert_eq!(get("params.list.00"), None);
        assert_eq!(get("params.n"), None);
        assert_eq!(get("/params/a.b/c"), Some(Value::from(1)));
        assert_eq!(get("/params/s~1t/~0"), Some(Value::from(3)));
        assert_eq!(get("kind"), Some(Value::from("tool_call")));
        assert_eq!(get("target"), None);
        assert!(FieldPath::parse("timestamp").is_err());
        assert!(FieldPath::parse("agent").is_err());
        assert!(FieldPath::parse("params..x").is_err());
        assert!(FieldPath::parse("tool.x").is_err());
        assert!(FieldPath::parse("/params/~2").is_err());
    }

    #[test]
    fn canonical_keys_never_collide() {
        let c = |p: &str| FieldPath::parse(p).unwrap().canonical().clone();
        assert_ne!(c("/params/a\u{0}b"), c("params.a.b"));
        assert_ne!(c("/params/a\u{0}1:b"), c("params.a.b"));
        assert_ne!(c("/params/a/1:b"), c("/params/a\u{0}1:b"));
        assert_eq!(c("/params/a/b"), c("params.a.b"));
    }
}
