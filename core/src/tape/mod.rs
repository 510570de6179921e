//! An action's JSON text read once into a flat list of nodes that point into the text: the
//! engine decides on it without building a `serde_json::Value` of the whole action, and a
//! value a rule reads is built when first asked for, once. The reading accepts exactly what
//! [`crate::json::parse_strict`] accepts (depth limit, duplicate keys, finite numbers, no lone
//! surrogates); strings with escapes and numbers other than plain integers are decoded by
//! serde_json, as the strict parser decodes them. The tests compare the two on random texts.
use crate::json;
use crate::small::SmallList;
use serde_json::{Map, Number, Value};
use std::cell::OnceCell;

mod scan;
#[cfg(test)]
mod tests;

/// Where a string's text is: a byte range of the action text (no escapes), or of the
/// decoded text of strings that had escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    Source(u32, u32),
    Decoded(u32, u32),
}

impl Text {
    fn len(self) -> u32 {
        match self {
            Text::Source(a, b) | Text::Decoded(a, b) => b.saturating_sub(a),
        }
    }
}

/// One node. A container's children follow it; `end` is the index after its last descendant.
/// An object's children are key, value, key, value...
#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    Num(Number),
    Str(Text),
    Key(Text),
    Arr { end: u32 },
    Obj { end: u32 },
}

/// What a node is, for the checks that read an action's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Null,
    Object,
    String,
    Other,
}

/// A checked action text, read into nodes.
#[derive(Debug)]
pub(crate) struct Tape<'a> {
    source: &'a str,
    decoded: String,
    nodes: Vec<Slot>,
}

/// A node, and its value once built.
#[derive(Debug)]
struct Slot {
    node: Node,
    built: OnceCell<Value>,
}

/// The root node's index.
pub(crate) const ROOT: usize = 0;

impl<'a> Tape<'a> {
    /// Reads `source` strictly (containers nested deeper than `max_depth` are an error);
    /// `None` when it is not a single valid JSON value.
    pub(crate) fn read(source: &'a str, max_depth: usize) -> Option<Tape<'a>> {
        let (decoded, nodes) = scan::read(source, max_depth)?;
        Some(Tape {
            source,
            decoded,
            nodes,
        })
    }

    fn node(&self, i: usize) -> Option<&Node> {
        self.nodes.get(i).map(|s| &s.node)
    }

    fn text(&self, t: Text) -> &str {
        let (s, from, to) = match t {
            Text::Source(a, b) => (self.source, a, b),
            Text::Decoded(a, b) => (self.decoded.as_str(), a, b),
        };
        s.get(from as usize..to as usize).unwrap_or_default()
    }

    /// The index after node `i` and its descendants.
    fn after(&self, i: usize) -> usize {
        match self.node(i) {
            Some(Node::Arr { end } | Node::Obj { end }) => *end as usize,
            _ => i + 1,
        }
    }

    pub(crate) fn shape(&self, i: usize) -> Shape {
        match self.node(i) {
            Some(Node::Null) => Shape::Null,
            Some(Node::Obj { .. }) => Shape::Object,
            Some(Node::Str(_)) => Shape::String,
            _ => Shape::Other,
        }
    }

    /// The text of string node `i`.
    pub(crate) fn str(&self, i: usize) -> Option<&str> {
        match self.node(i) {
            Some(Node::Str(t)) => Some(self.text(*t)),
            _ => None,
        }
    }

    /// The keys and value nodes of object node `i`; `None` when it is not an object.
    pub(crate) fn entries(&self, i: usize) -> Option<impl Iterator<Item = (&str, usize)> + '_> {
        let Some(Node::Obj { end }) = self.node(i) else {
            return None;
        };
        let end = *end as usize;
        let mut at = i + 1;
        Some(std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let key = match self.node(at) {
                Some(Node::Key(t)) => self.text(*t),
                _ => "",
            };
            let value = at + 1;
            at = self.after(value);
            Some((key, value))
        }))
    }

    /// The value of `key` in object node `i`.
    pub(crate) fn get(&self, i: usize, key: &str) -> Option<usize> {
        self.entries(i)?.find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Element `index` of array node `i`.
    pub(crate) fn index(&self, i: usize, index: usize) -> Option<usize> {
        let Some(Node::Arr { end }) = self.node(i) else {
            return None;
        };
        let mut at = i + 1;
        for _ in 0..index {
            if at >= *end as usize {
                return None;
            }
            at = self.after(at);
        }
        (at < *end as usize).then_some(at)
    }

    /// The value of node `i`, built once.
    pub(crate) fn value(&self, i: usize) -> Option<&Value> {
        let slot = self.nodes.get(i)?;
        Some(slot.built.get_or_init(|| self.build(i)))
    }

    /// Writes the JCS form of node `i`, as [`json::write_jcs`] writes its built value.
    pub(crate) fn write_jcs(&self, i: usize, out: &mut String) {
        match self.node(i) {
            None | Some(Node::Null | Node::Key(_)) => out.push_str("null"),
            Some(Node::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            Some(Node::Num(n)) => json::write_es_number(json::num(n), out),
            Some(Node::Str(t)) => json::write_jcs_string(self.text(*t), out),
            Some(Node::Arr { end }) => {
                out.push('[');
                let mut at = i + 1;
                while at < *end as usize {
                    if at > i + 1 {
                        out.push(',');
                    }
                    self.write_jcs(at, out);
                    at = self.after(at);
                }
                out.push(']');
            }
            Some(Node::Obj { .. }) => {
                let mut members: SmallList<(usize, usize), 8> = SmallList::new((0, 0));
                members.extend(
                    self.entries(i)
                        .into_iter()
                        .flatten()
                        .map(|(_, v)| (v - 1, v)),
                );
                let key = |k: usize| match self.node(k) {
                    Some(Node::Key(t)) => self.text(*t),
                    _ => "",
                };
                members
                    .as_mut_slice()
                    .sort_unstable_by(|a, b| json::utf16_cmp(key(a.0), key(b.0)));
                out.push('{');
                for (n, (k, v)) in members.as_slice().iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    json::write_jcs_string(key(*k), out);
                    out.push(':');
                    self.write_jcs(*v, out);
                }
                out.push('}');
            }
        }
    }

    fn build(&self, i: usize) -> Value {
        match self.node(i) {
            None | Some(Node::Null | Node::Key(_)) => Value::Null,
            Some(Node::Bool(b)) => Value::Bool(*b),
            Some(Node::Num(n)) => Value::Number(n.clone()),
            Some(Node::Str(t)) => Value::String(self.text(*t).to_owned()),
            Some(Node::Arr { end }) => {
                let mut out = Vec::new();
                let mut at = i + 1;
                while at < *end as usize {
                    out.push(self.build(at));
                    at = self.after(at);
                }
                Value::Array(out)
            }
            Some(Node::Obj { end }) => {
                let mut out = Map::new();
                let mut at = i + 1;
                while at < *end as usize {
                    if let Some(Node::Key(t)) = self.node(at) {
                        out.insert(self.text(*t).to_owned(), self.build(at + 1));
                    }
                    at = self.after(at + 1);
                }
                Value::Object(out)
            }
        }
    }
}
