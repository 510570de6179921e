//! An action's JSON text read once into a flat list of nodes that point into the text: the
//! verdict path decides on it without building a `serde_json::Value` of the whole action. The
//! reading is exactly as strict as [`crate::json::parse_strict`] (the same tokenizer, depth
//! limit, duplicate keys, finite numbers); a value a rule reads is built when first asked for,
//! once.
use crate::small::SmallList;
use serde_json::{Map, Number, Value};
use std::cell::OnceCell;

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
        let mut scan = Scanner {
            text: source,
            bytes: source.as_bytes(),
            at: 0,
            max_depth,
            decoded: String::new(),
            nodes: Vec::with_capacity(32),
        };
        scan.value(1)?;
        scan.space();
        if scan.at != scan.bytes.len() {
            return None;
        }
        let Scanner { decoded, nodes, .. } = scan;
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

/// Reads JSON text (RFC 8259) into nodes. Strings without escapes and small non-negative
/// integers are read here; a string with escapes and any other number are handed to
/// serde_json, so that their meaning (and what is refused) is exactly the strict parser's.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    max_depth: usize,
    decoded: String,
    nodes: Vec<Slot>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Skips JSON whitespace.
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `b` after whitespace.
    fn expect(&mut self, b: u8) -> Option<()> {
        self.space();
        (self.peek()? == b).then(|| self.at += 1)
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(Slot {
            node,
            built: OnceCell::new(),
        });
        self.nodes.len() - 1
    }

    fn offset(n: usize) -> Option<u32> {
        u32::try_from(n).ok()
    }

    /// One value, after whitespace, at nesting level `depth` (a container deeper than the
    /// limit is refused, as the strict parser refuses it).
    fn value(&mut self, depth: usize) -> Option<()> {
        self.space();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => {
                let t = self.string()?;
                self.push(Node::Str(t));
                Some(())
            }
            b't' => self.word("true", Node::Bool(true)),
            b'f' => self.word("false", Node::Bool(false)),
            b'n' => self.word("null", Node::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn word(&mut self, word: &str, node: Node) -> Option<()> {
        self.bytes
            .get(self.at..)?
            .starts_with(word.as_bytes())
            .then_some(())?;
        self.at += word.len();
        self.push(node);
        Some(())
    }

    fn close(&mut self, at: usize) -> Option<()> {
        let end = Self::offset(self.nodes.len())?;
        if let Some(Slot {
            node: Node::Arr { end: e } | Node::Obj { end: e },
            ..
        }) = self.nodes.get_mut(at)
        {
            *e = end;
        }
        Some(())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > self.max_depth {
            return None;
        }
        self.at += 1;
        let at = self.push(Node::Arr { end: 0 });
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return self.close(at);
        }
        loop {
            self.value(depth + 1)?;
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return self.close(at);
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > self.max_depth {
            return None;
        }
        self.at += 1;
        let at = self.push(Node::Obj { end: 0 });
        let mut keys: SmallList<Text, 8> = SmallList::new(Text::Source(0, 0));
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
            return self.close(at);
        }
        loop {
            self.space();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.push(Node::Key(key));
            keys.push(key);
            self.expect(b':')?;
            self.value(depth + 1)?;
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    break;
                }
                _ => return None,
            }
        }
        if self.repeats(keys.as_slice()) {
            return None;
        }
        self.close(at)
    }

    /// A string at the cursor (which is on its opening quote).
    fn string(&mut self) -> Option<Text> {
        let start = self.at;
        let rest = self.bytes.get(start + 1..)?;
        let stop = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\\' | 0..=0x1f))?;
        let mut i = start + 1 + stop;
        match rest.get(stop)? {
            b'"' => {
                self.at = i + 1;
                return Some(Text::Source(Self::offset(start + 1)?, Self::offset(i)?));
            }
            b'\\' => {}
            _ => return None,
        }
        // Escapes: find the closing quote (an escape is a backslash and one more byte; \uXXXX
        // continues with hex digits), then let serde_json decode and check the whole literal.
        loop {
            match *self.bytes.get(i)? {
                b'"' => break,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        let literal = self.text.get(start..=i)?;
        let text: String = serde_json::from_str(literal).ok()?;
        self.at = i + 1;
        let from = Self::offset(self.decoded.len())?;
        self.decoded.push_str(&text);
        Some(Text::Decoded(from, Self::offset(self.decoded.len())?))
    }

    /// A number at the cursor: the longest run of number characters, read by serde_json
    /// unless it is a plain non-negative integer below 10^19.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        let mut end = start;
        let mut plain = true;
        while let Some(b) = self.bytes.get(end) {
            match b {
                b'0'..=b'9' => {}
                b'-' | b'+' | b'.' | b'e' | b'E' => plain = false,
                _ => break,
            }
            end += 1;
        }
        let literal = self.text.get(start..end)?;
        let digits = literal.as_bytes();
        let n =
            if plain && digits.len() < 20 && (digits.len() == 1 || digits.first() != Some(&b'0')) {
                Number::from(literal.parse::<u64>().ok()?)
            } else {
                serde_json::from_str::<Number>(literal).ok()?
            };
        self.at = end;
        self.push(Node::Num(n));
        Some(())
    }

    /// True when two of `keys` are the same text.
    fn repeats(&self, keys: &[Text]) -> bool {
        let text = |t: Text| {
            let (s, a, b) = match t {
                Text::Source(a, b) => (self.text, a, b),
                Text::Decoded(a, b) => (self.decoded.as_str(), a, b),
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

    /// Random token sequences, most of them not JSON: read alike.
    #[test]
    fn random_token_sequences_are_read_alike() {
        const TOKENS: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\n",
            "\"a\"",
            "\"b\"",
            "\"a\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud800\"",
            "\"\\n\\\"\"",
            "\"\u{1}\"",
            "\"a\u{1f}\"",
            "\"é\"",
            "\"",
            "\\",
            "0",
            "1",
            "-",
            "-0",
            "12345678901234567890",
            "1.5e3",
            "1e400",
            "01",
            ".",
            "e",
            "+",
            "true",
            "false",
            "null",
            "nul",
            "x",
            "\t",
            "\u{7f}",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut valid = 0;
        for _ in 0..60_000 {
            let len = 1 + next(10);
            let text: String = (0..len).map(|_| TOKENS[next(TOKENS.len())]).collect();
            if parse_strict(text.as_bytes(), 3).is_ok() {
                valid += 1;
            }
            same_as_parser(&text, 3);
        }
        // Enough of them are JSON for the comparison to mean something.
        assert!(valid > 1000, "{valid}");
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
