//! The policy document parser: strict JSON (duplicate keys, non-finite numbers, lone
//! surrogates and invalid UTF-8 are errors) read without recursion, so a document nested up to
//! [`MAX_POLICY_DEPTH`] levels loads on a thread with a small stack. Object keys are recorded
//! in document order, by the object's path: those of the `roles` object always (role order is
//! part of what a policy means), every object's with [`Order::All`] (load errors name the first
//! problem in document order, so a loader that fails parses again with it).
use super::known::{extent, KnownRules, RuleSpan};
use super::reader::KeyOrder;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Deepest nesting a policy document may have (the document object is level 1).
pub(crate) const MAX_POLICY_DEPTH: usize = 512;

/// Why a policy document is not readable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Not JSON: what is wrong, at a line and column (both from 1).
    #[error("{message} at line {line} column {column}")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// A key occurs twice in one object; `path` names the object.
    #[error("duplicate key {}", crate::json::quote(.key))]
    Duplicate { path: String, key: String },
    /// Containers nested deeper than [`MAX_POLICY_DEPTH`].
    #[error("the policy is nested deeper than {limit} levels (the limit is {limit})")]
    TooDeep { limit: usize },
}

/// Which objects' key order to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// The top-level `roles` object's only.
    Roles,
    /// Every object's.
    All,
}

/// A parsed policy document.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) value: Value,
    /// The key order asked for.
    pub(crate) order: KeyOrder,
    /// Every object element of the top-level `rules` array, in order.
    pub(crate) rules: Vec<RuleSpan>,
}

/// One open container.
enum Frame {
    Array(Vec<Value>),
    /// The object so far, the key whose value is being read, and (when `Some`) the keys in
    /// document order.
    Object(Map<String, Value>, String, Option<Vec<String>>),
}

/// One step of the path to the value being read. A key is kept as the byte range of its
/// (already checked) string token and decoded only to name a path in an error.
enum Seg {
    Key(std::ops::Range<usize>),
    Index(usize),
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Frame>,
    path: Vec<Seg>,
    order: KeyOrder,
    record: Order,
    known: &'a mut dyn KnownRules,
    rules: Vec<RuleSpan>,
}

/// Parses a policy document, recording the key order `record` asks for. An element of the
/// top-level `rules` array whose exact text is one of `known`'s is not parsed: the loader
/// holds it compiled from an earlier load, where the same bytes at the same depth parsed and
/// compiled without error.
pub(crate) fn parse_policy<'a>(
    bytes: &'a [u8],
    record: Order,
    known: &'a mut dyn KnownRules,
) -> Result<Parsed, ParseError> {
    let mut p = Parser {
        bytes,
        pos: 0,
        stack: Vec::new(),
        path: Vec::new(),
        order: KeyOrder::new(),
        record,
        known,
        rules: Vec::new(),
    };
    let value = p.document()?;
    Ok(Parsed {
        value,
        order: p.order,
        rules: p.rules,
    })
}

impl Parser<'_> {
    fn document(&mut self) -> Result<Value, ParseError> {
        let mut value = self.value_start()?;
        loop {
            value = match value {
                Some(v) => match self.attach(v)? {
                    Attached::Done(v) => {
                        self.skip_space();
                        if self.pos < self.bytes.len() {
                            return Err(self.syntax("trailing characters"));
                        }
                        return Ok(v);
                    }
                    Attached::Closed(v) => Some(v),
                    Attached::More => self.value_start()?,
                },
                // An empty container was opened and closed, or a container was opened.
                None => self.after_open()?,
            };
        }
    }

    /// Reads the start of a value: a scalar (returned) or an opening bracket (pushed; `None`).
    fn value_start(&mut self) -> Result<Option<Value>, ParseError> {
        self.skip_space();
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(self.syntax("EOF while parsing a value"));
        };
        match b {
            b'{' | b'[' => {
                if self.stack.len() >= MAX_POLICY_DEPTH {
                    return Err(ParseError::TooDeep {
                        limit: MAX_POLICY_DEPTH,
                    });
                }
                if b == b'{' {
                    if let Some(skipped) = self.rule_element() {
                        return Ok(skipped);
                    }
                }
                self.pos += 1;
                self.stack.push(if b == b'{' {
                    let keys = self.records_here().then(Vec::new);
                    Frame::Object(Map::new(), String::new(), keys)
                } else {
                    Frame::Array(Vec::new())
                });
                Ok(None)
            }
            b'"' => self.string().map(|s| Some(Value::String(s))),
            b't' => self.literal("true", Value::Bool(true)).map(Some),
            b'f' => self.literal("false", Value::Bool(false)).map(Some),
            b'n' => self.literal("null", Value::Null).map(Some),
            b'-' | b'0'..=b'9' => self.number().map(Some),
            _ => Err(self.syntax("expected value")),
        }
    }

    /// Just after an opening bracket: closes an empty container, or starts its first member.
    fn after_open(&mut self) -> Result<Option<Value>, ParseError> {
        self.skip_space();
        let next = self.bytes.get(self.pos).copied();
        match self.stack.last() {
            Some(Frame::Array(_)) if next == Some(b']') => {
                self.pos += 1;
                Ok(Some(self.close()))
            }
            Some(Frame::Array(_)) => {
                self.path.push(Seg::Index(0));
                self.value_start()
            }
            Some(Frame::Object(..)) if next == Some(b'}') => {
                self.pos += 1;
                Ok(Some(self.close()))
            }
            _ => {
                self.key()?;
                self.value_start()
            }
        }
    }

    /// Adds a finished value to the open container, then reads what follows it.
    fn attach(&mut self, v: Value) -> Result<Attached, ParseError> {
        let Some(frame) = self.stack.last_mut() else {
            return Ok(Attached::Done(v));
        };
        self.path.pop();
        let len = match frame {
            Frame::Array(items) => {
                items.push(v);
                items.len()
            }
            Frame::Object(map, key, _) => {
                map.insert(std::mem::take(key), v);
                0
            }
        };
        let is_array = matches!(frame, Frame::Array(_));
        self.skip_space();
        let next = self.bytes.get(self.pos).copied();
        match (is_array, next) {
            (_, Some(b',')) => {
                self.pos += 1;
                if is_array {
                    self.path.push(Seg::Index(len));
                } else {
                    self.skip_space();
                    self.key()?;
                }
                Ok(Attached::More)
            }
            (true, Some(b']')) | (false, Some(b'}')) => {
                self.pos += 1;
                Ok(Attached::Closed(self.close()))
            }
            (true, None) => Err(self.syntax("EOF while parsing a list")),
            (false, None) => Err(self.syntax("EOF while parsing an object")),
            (true, _) => Err(self.syntax("expected `,` or `]`")),
            (false, _) => Err(self.syntax("expected `,` or `}`")),
        }
    }

    /// Pops the innermost container as a value, recording an object's key order.
    fn close(&mut self) -> Value {
        match self.stack.pop() {
            Some(Frame::Array(items)) => Value::Array(items),
            Some(Frame::Object(map, _, keys)) => {
                if let Some(keys) = keys {
                    self.order.insert(self.path_text(), keys);
                }
                Value::Object(map)
            }
            None => Value::Null,
        }
    }

    /// Reads `"key":` into the innermost object (which must not hold it yet).
    fn key(&mut self) -> Result<(), ParseError> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return Err(match self.bytes.get(self.pos) {
                None => self.syntax("EOF while parsing an object"),
                Some(_) => self.syntax("key must be a string"),
            });
        }
        let start = self.pos;
        let key = self.string()?;
        let token = start..self.pos;
        self.skip_space();
        if self.bytes.get(self.pos) != Some(&b':') {
            return Err(self.syntax("expected `:`"));
        }
        self.pos += 1;
        if matches!(self.stack.last(), Some(Frame::Object(map, ..)) if map.contains_key(&key)) {
            let path = self.path_text();
            return Err(ParseError::Duplicate { path, key });
        }
        self.path.push(Seg::Key(token));
        if let Some(Frame::Object(_, slot, keys)) = self.stack.last_mut() {
            if let Some(keys) = keys {
                keys.push(key.clone());
            }
            *slot = key;
        }
        Ok(())
    }

    /// At an object element of the top-level `rules` array: records its span and, when its
    /// text is known, steps over it (`Some(null)`). `None`: parse it.
    fn rule_element(&mut self) -> Option<Option<Value>> {
        let index = match (self.stack.len(), self.path.as_slice()) {
            (2, [Seg::Key(token), Seg::Index(i)]) if self.key_is(token, "rules") => *i,
            _ => return None,
        };
        let rest = self.bytes.get(self.pos..)?;
        let (end, known) = match self.known.next(index, rest) {
            Some((id, len)) => (self.pos + len, Some(id)),
            None => {
                let end = extent(self.bytes, self.pos)?;
                let text = self.bytes.get(self.pos..end)?;
                (end, self.known.find(index, text))
            }
        };
        let skipped = known.is_some();
        self.rules.push(RuleSpan {
            index,
            text: self.pos..end,
            known,
        });
        if !skipped {
            return None;
        }
        self.pos = end;
        Some(Some(Value::Null))
    }

    /// Whether a key token spells `name` (escapes decoded).
    fn key_is(&self, token: &std::ops::Range<usize>, name: &str) -> bool {
        let raw = self.bytes.get(token.clone()).unwrap_or_default();
        if raw.contains(&b'\\') {
            return self.key_text(token) == name;
        }
        raw.get(1..raw.len().saturating_sub(1)) == Some(name.as_bytes())
    }

    /// Whether the object opening here has its key order recorded: every object with
    /// [`Order::All`], else only the value of the document's `roles` key.
    fn records_here(&self) -> bool {
        match (self.record, self.stack.len(), self.path.as_slice()) {
            (Order::All, ..) => true,
            (Order::Roles, 1, [Seg::Key(token)]) => self.key_is(token, "roles"),
            _ => false,
        }
    }

    /// A key's text from its string token (checked when it was read).
    fn key_text(&self, token: &std::ops::Range<usize>) -> String {
        let bytes = self.bytes.get(token.clone()).unwrap_or_default();
        serde_json::from_slice::<String>(bytes).unwrap_or_default()
    }

    /// Reads a string token (at its opening quote); escapes, surrogates and UTF-8 are checked
    /// by serde_json on the token alone.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            match self.bytes.get(i) {
                None => {
                    self.pos = i;
                    return Err(self.syntax("EOF while parsing a string"));
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                Some(_) => i += 1,
            }
        }
        let token = self.bytes.get(start..=i).unwrap_or_default();
        let inner = self.bytes.get(start + 1..i).unwrap_or_default();
        let out = match std::str::from_utf8(inner) {
            Ok(s) if !escaped && !s.bytes().any(|b| b < 0x20) => Ok(s.to_owned()),
            _ => serde_json::from_slice::<String>(token),
        };
        match out {
            Ok(s) => {
                self.pos = i + 1;
                Ok(s)
            }
            Err(e) => {
                self.pos = start + e.column().saturating_sub(1);
                Err(self.syntax(&bare_message(&e)))
            }
        }
    }

    /// Reads a number token; serde_json converts it (nearest double, integers kept exact).
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let len = self
            .bytes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        let token = self.bytes.get(start..start + len).unwrap_or_default();
        match serde_json::from_slice::<Value>(token) {
            Ok(v @ Value::Number(_)) => {
                self.pos = start + len;
                Ok(v)
            }
            Ok(_) => Err(self.syntax("invalid number")),
            Err(e) => {
                self.pos = start + e.column().saturating_sub(1);
                Err(self.syntax(&bare_message(&e)))
            }
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, ParseError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(v)
        } else {
            Err(self.syntax("expected value"))
        }
    }

    fn skip_space(&mut self) {
        while matches!(self.bytes.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// The path of the value being read, in dotted form (`rules[3].when`).
    fn path_text(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(token) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&self.key_text(token));
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }

    /// A syntax error at the current position.
    fn syntax(&self, message: &str) -> ParseError {
        let before = self.bytes.get(..self.pos).unwrap_or(self.bytes);
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |n| n + 1);
        ParseError::Syntax {
            message: message.to_owned(),
            line,
            column: self.pos - line_start + 1,
        }
    }
}

/// What follows a value added to its container.
enum Attached {
    /// It was the whole document.
    Done(Value),
    /// It was the container's last member: the container is finished too.
    Closed(Value),
    /// Another member follows (its key, if any, is read).
    More,
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text.get(..cut).unwrap_or(&text).to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::super::known::NoKnownRules;
    use super::*;

    fn nested(depth: usize) -> String {
        let mut s = String::from("{\"a\":");
        s.push_str(&"[".repeat(depth - 1));
        s.push_str(&"]".repeat(depth - 1));
        s.push('}');
        s
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let texts = [
            r#"{"a": [1, -0, 1.5e3, 18446744073709551616, -9223372036854775809, 0.1], "b": {"c": null, "d": true, "e": false}}"#,
            r#"{"k\u0000ey": "\ud83d\ude00 \n \"", "": [[], {}], "x": "é"}"#,
            "  {\"a\" :\t[ 1 , 2 ] }\n",
        ];
        for text in texts {
            let Parsed { value: v, .. } =
                parse_policy(text.as_bytes(), Order::All, &mut NoKnownRules).unwrap();
            let want: Value = serde_json::from_str(text).unwrap();
            assert_eq!(v, want, "{text}");
        }
    }

    #[test]
    fn rejects_what_strict_json_rejects() {
        for text in [
            "",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\" 1}",
            "{a:1}",
            "[1e400]",
            "[\"\\ud800\"]",
            "[01]",
            "{} x",
            "[\"a\nb\"]",
            "[tru]",
            "[\"\\x\"]",
            "[-]",
            "[1 2]",
            "\"",
        ] {
            assert!(
                matches!(
                    parse_policy(text.as_bytes(), Order::All, &mut NoKnownRules),
                    Err(ParseError::Syntax { .. })
                ),
                "{text:?}"
            );
        }
        assert!(matches!(
            parse_policy(b"[\xff]", Order::All, &mut NoKnownRules),
            Err(ParseError::Syntax { .. })
        ));
        let e = parse_policy(b"{\n  \"a\": tru\n}", Order::All, &mut NoKnownRules).unwrap_err();
        assert_eq!(e.to_string(), "expected value at line 2 column 8");
    }

    #[test]
    fn duplicate_keys_name_the_object_and_orders_are_kept() {
        let e = parse_policy(
            br#"{"r":[{"a":{"b":1,"b":2}}]}"#,
            Order::Roles,
            &mut NoKnownRules,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ParseError::Duplicate {
                path: "r[0].a".into(),
                key: "b".into()
            }
        );
        let Parsed { order, .. } = parse_policy(
            br#"{"z":1,"a":{"y":1,"b":2},"m":[{"q":1,"p":2}]}"#,
            Order::All,
            &mut NoKnownRules,
        )
        .unwrap();
        assert_eq!(order[""], ["z", "a", "m"]);
        assert_eq!(order["a"], ["y", "b"]);
        assert_eq!(order["m[0]"], ["q", "p"]);
        // Without `All`, only the top-level `roles` object's order (also under an escaped key).
        let text = br#"{"z":1,"rol\u0065s":{"w":[],"a":[]},"a":{"roles":{"y":1,"b":2}}}"#;
        let Parsed { order, .. } = parse_policy(text, Order::Roles, &mut NoKnownRules).unwrap();
        assert_eq!(order.len(), 1);
        assert_eq!(order["roles"], ["w", "a"]);
    }

    #[test]
    fn depth_is_limited_to_512_without_recursion() {
        assert!(parse_policy(
            nested(MAX_POLICY_DEPTH).as_bytes(),
            Order::All,
            &mut NoKnownRules
        )
        .is_ok());
        assert_eq!(
            parse_policy(
                nested(MAX_POLICY_DEPTH + 1).as_bytes(),
                Order::All,
                &mut NoKnownRules
            )
            .unwrap_err(),
            ParseError::TooDeep { limit: 512 }
        );
        // Far deeper input fails the same way, on a small stack.
        let deep = "[".repeat(1_000_000);
        let e = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                parse_policy(deep.as_bytes(), Order::All, &mut NoKnownRules).unwrap_err()
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(e, ParseError::TooDeep { limit: 512 });
    }
}
