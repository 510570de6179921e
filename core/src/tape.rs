//! An action's JSON text read once into a flat list of nodes that point into the text: the
//! verdict path decides on it without building a `serde_json::Value` of the whole action. The
//! reading is exactly as strict as [`crate::json::parse_strict`] (the same tokenizer, depth
//! limit, duplicate keys, finite numbers); a value a rule reads is built when first asked for,
//! once.
use crate::small::SmallList;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::{OnceCell, RefCell};
use std::fmt;

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
    nodes: Vec<Node>,
    /// Values built from nodes, by node index, when first asked for.
    built: Vec<OnceCell<Value>>,
}

/// The root node's index.
pub(crate) const ROOT: usize = 0;

impl<'a> Tape<'a> {
    /// Reads `source` strictly (containers nested deeper than `max_depth` are an error);
    /// `None` when it is not a single valid JSON value.
    pub(crate) fn read(source: &'a str, max_depth: usize) -> Option<Tape<'a>> {
        let builder = Builder {
            source,
            max_depth,
            out: RefCell::new(Out {
                decoded: String::new(),
                nodes: Vec::with_capacity(32),
            }),
        };
        let mut de = serde_json::Deserializer::from_str(source);
        let read = Slot {
            depth: 1,
            builder: &builder,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        read.ok()?;
        let Out { decoded, nodes } = builder.out.into_inner();
        let built = std::iter::repeat_with(OnceCell::new)
            .take(nodes.len())
            .collect();
        Some(Tape {
            source,
            decoded,
            nodes,
            built,
        })
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
        match self.nodes.get(i) {
            Some(Node::Arr { end } | Node::Obj { end }) => *end as usize,
            _ => i + 1,
        }
    }

    pub(crate) fn shape(&self, i: usize) -> Shape {
        match self.nodes.get(i) {
            Some(Node::Null) => Shape::Null,
            Some(Node::Obj { .. }) => Shape::Object,
            Some(Node::Str(_)) => Shape::String,
            _ => Shape::Other,
        }
    }

    /// The text of string node `i`.
    pub(crate) fn str(&self, i: usize) -> Option<&str> {
        match self.nodes.get(i) {
            Some(Node::Str(t)) => Some(self.text(*t)),
            _ => None,
        }
    }

    /// The keys and value nodes of object node `i`; `None` when it is not an object.
    pub(crate) fn entries(&self, i: usize) -> Option<impl Iterator<Item = (&str, usize)> + '_> {
        let Some(Node::Obj { end }) = self.nodes.get(i) else {
            return None;
        };
        let end = *end as usize;
        let mut at = i + 1;
        Some(std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let key = match self.nodes.get(at) {
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
        let Some(Node::Arr { end }) = self.nodes.get(i) else {
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
        let cell = self.built.get(i)?;
        Some(cell.get_or_init(|| self.build(i)))
    }

    fn build(&self, i: usize) -> Value {
        match self.nodes.get(i) {
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
                    if let Some(Node::Key(t)) = self.nodes.get(at) {
                        out.insert(self.text(*t).to_owned(), self.build(at + 1));
                    }
                    at = self.after(at + 1);
                }
                Value::Object(out)
            }
        }
    }
}

struct Out {
    decoded: String,
    nodes: Vec<Node>,
}

struct Builder<'a> {
    source: &'a str,
    max_depth: usize,
    out: RefCell<Out>,
}

impl Builder<'_> {
    /// Where `s` is: in the source when it is a slice of it, else copied to the decoded text.
    fn text(&self, s: &str) -> Option<Text> {
        let base = self.source.as_ptr() as usize;
        let at = (s.as_ptr() as usize).wrapping_sub(base);
        if at <= self.source.len() && s.len() <= self.source.len() - at {
            return Some(Text::Source(
                u32::try_from(at).ok()?,
                u32::try_from(at + s.len()).ok()?,
            ));
        }
        let mut out = self.out.borrow_mut();
        let from = u32::try_from(out.decoded.len()).ok()?;
        out.decoded.push_str(s);
        Some(Text::Decoded(from, u32::try_from(out.decoded.len()).ok()?))
    }

    fn push(&self, node: Node) -> usize {
        let mut out = self.out.borrow_mut();
        out.nodes.push(node);
        out.nodes.len() - 1
    }

    fn close(&self, at: usize) -> Option<()> {
        let mut out = self.out.borrow_mut();
        let end = u32::try_from(out.nodes.len()).ok()?;
        if let Some(Node::Arr { end: e } | Node::Obj { end: e }) = out.nodes.get_mut(at) {
            *e = end;
        }
        Some(())
    }

    fn string<E: de::Error>(&self, s: &str, key: bool) -> Result<Text, E> {
        let t = self
            .text(s)
            .ok_or_else(|| E::custom("the action text is too long"))?;
        self.push(if key { Node::Key(t) } else { Node::Str(t) });
        Ok(t)
    }

    /// True when two of `keys` are the same text.
    fn repeats(&self, keys: &[Text]) -> bool {
        let out = self.out.borrow();
        let text = |t: Text| {
            let (s, a, b) = match t {
                Text::Source(a, b) => (self.source, a, b),
                Text::Decoded(a, b) => (out.decoded.as_str(), a, b),
            };
            s.get(a as usize..b as usize).unwrap_or_default()
        };
        if keys.len() <= 16 {
            // Texts of different lengths differ: most pairs are told apart without reading them.
            return keys.iter().enumerate().any(|(i, a)| {
                keys.iter()
                    .skip(i + 1)
                    .any(|b| a.len() == b.len() && text(*a) == text(*b))
            });
        }
        let mut sorted: Vec<&str> = keys.iter().map(|t| text(*t)).collect();
        sorted.sort_unstable();
        sorted.windows(2).any(|w| w.first() == w.get(1))
    }
}

/// Reads one value into the tape at nesting level `depth`.
#[derive(Clone, Copy)]
struct Slot<'b, 'a> {
    depth: usize,
    builder: &'b Builder<'a>,
}

impl Slot<'_, '_> {
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        if self.depth > self.builder.max_depth {
            return Err(E::custom("nested too deeply"));
        }
        Ok(Slot {
            depth: self.depth + 1,
            builder: self.builder,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Slot<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Slot<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.builder.push(Node::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.builder.push(Node::Num(v.into()));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.builder.push(Node::Num(v.into()));
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let n = Number::from_f64(v).ok_or_else(|| E::custom("number is not a finite double"))?;
        self.builder.push(Node::Num(n));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.builder.string(v, false).map(|_| ())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.builder.push(Node::Null);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let child = self.enter()?;
        let at = self.builder.push(Node::Arr { end: 0 });
        while seq.next_element_seed(child)?.is_some() {}
        self.builder
            .close(at)
            .ok_or_else(|| de::Error::custom("the action text is too long"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let child = self.enter()?;
        let at = self.builder.push(Node::Obj { end: 0 });
        let mut keys: SmallList<Text, 16> = SmallList::new(Text::Source(0, 0));
        while let Some(key) = map.next_key_seed(KeySlot(self.builder))? {
            keys.push(key);
            map.next_value_seed(child)?;
        }
        if self.builder.repeats(keys.as_slice()) {
            return Err(de::Error::custom("duplicate key"));
        }
        self.builder
            .close(at)
            .ok_or_else(|| de::Error::custom("the action text is too long"))
    }
}

/// Reads one object key into the tape.
struct KeySlot<'b, 'a>(&'b Builder<'a>);

impl<'de> DeserializeSeed<'de> for KeySlot<'_, '_> {
    type Value = Text;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySlot<'_, '_> {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        self.0.string(v, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_strict;

    /// The tape accepts exactly what the strict parser accepts, and builds the same value.
    fn same_as_parser(text: &str, depth: usize) {
        let tape = Tape::read(text, depth);
        match parse_strict(text.as_bytes(), depth) {
            Ok(want) => {
                let tape = tape.unwrap_or_else(|| panic!("the tape refused {text:?}"));
                assert_eq!(tape.value(ROOT), Some(&want), "{text:?}");
            }
            Err(e) => assert!(tape.is_none(), "the tape took {text:?} ({e:?})"),
        }
    }

    const TEXTS: &[&str] = &[
        r#"{"tool":"t","agent":{"id":"a"},"params":{"x":[1,-2,3.5,1e300,-0,0.1e-3,18446744073709551615,-9223372036854775808,18446744073709551616]}}"#,
        r#"{"a":"\u00e9\ud83d\ude00\n\"\\\/","b\u0041":true,"c":null,"d":[],"e":{}}"#,
        r#"  [ 1 , { "x" : [ { } ] } ]  "#,
        r#"{"a":1,"b":{"a":1,"b":2},"c":[{"a":1},{"a":2}]}"#,
        r#"{"a":1,"a":2}"#,
        r#"{"a":{"b":1,"b":1}}"#,
        r#"[{"x":1,"y":2,"x":3}]"#,
        r#"{"\u0061":1,"a":2}"#,
        r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}"#,
        r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19}"#,
        r#"["\ud800"]"#,
        r#"["\udc00\ud800"]"#,
        "[\"a\u{1}\"]",
        r#"[1e400]"#,
        r#"[-1e400]"#,
        r#"[01]"#,
        r#"[1.]"#,
        r#"[.5]"#,
        r#"[+1]"#,
        r#"[1,]"#,
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{1:1}"#,
        r#"[tru]"#,
        r#"[nul]"#,
        r#"{} x"#,
        r#"{}{}"#,
        "",
        "   ",
        r#""just a string""#,
        r#"[NaN]"#,
        r#"["\x"]"#,
        r#"["\u12"]"#,
    ];

    #[test]
    fn reads_what_the_parser_reads_and_refuses_what_it_refuses() {
        for text in TEXTS {
            same_as_parser(text, 64);
        }
        for depth in [1, 2, 3, 64] {
            for levels in [depth - 1, depth, depth + 1] {
                let nested = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
                same_as_parser(&nested, depth);
                let objects = format!("{}1{}", "{\"k\":".repeat(levels), "}".repeat(levels));
                same_as_parser(&objects, depth);
            }
        }
    }

    /// Every text one edit away from the corpus (deleting, doubling or replacing a byte with
    /// one of JSON's own) is read alike.
    #[test]
    fn texts_one_edit_away_are_read_alike() {
        let bytes = br#"{}[]:,"\u0 1e-.tfn"#;
        for text in TEXTS.iter().take(10) {
            let t = text.as_bytes();
            for i in 0..t.len() {
                let mut edits = vec![
                    [&t[..i], &t[i + 1..]].concat(),
                    [&t[..=i], &t[i..]].concat(),
                ];
                for b in bytes {
                    edits.push([&t[..i], &[*b][..], &t[i + 1..]].concat());
                }
                for e in edits {
                    if let Ok(s) = std::str::from_utf8(&e) {
                        same_as_parser(s, 64);
                    }
                }
            }
        }
    }

    #[test]
    fn finds_keys_and_elements() {
        let tape = Tape::read(r#"{"a":[10,{"b":"\u00e9"},[1,2]],"c":"d","e\n":null}"#, 64).unwrap();
        let a = tape.get(ROOT, "a").unwrap();
        assert_eq!(tape.shape(a), Shape::Other);
        let b = tape.get(tape.index(a, 1).unwrap(), "b").unwrap();
        assert_eq!(tape.str(b), Some("é"));
        assert_eq!(
            tape.value(tape.index(a, 0).unwrap()),
            Some(&Value::from(10))
        );
        assert_eq!(tape.index(a, 3), None);
        assert_eq!(tape.str(tape.get(ROOT, "c").unwrap()), Some("d"));
        assert_eq!(tape.shape(tape.get(ROOT, "e\n").unwrap()), Shape::Null);
        assert_eq!(tape.get(ROOT, "x"), None);
        assert_eq!(tape.get(a, "a"), None);
    }
}
