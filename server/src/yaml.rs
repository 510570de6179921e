//! YAML policies: a strict YAML-to-JSON conversion, so a `.yaml`/`.yml` policy loads through
//! the same JSON loader (and reports the same load-error paths) as a `.json` one.
//!
//! Read as strictly as JSON: one document; no anchors, aliases, tags or merge keys (`<<`);
//! no duplicate keys; keys are strings. Plain scalars map as the YAML 1.2 core schema says
//! (`null`, `true`/`false`, decimal integers and floats); anything else is a string. A plain
//! scalar that other YAML readers (YAML 1.1) type differently is an error, so a file never
//! means two things: `yes`/`no`/`on`/`off`/`y`/`n`, `~`, `0o17`/`017`/`0x1f`/`0b1`, `1_000`,
//! `.inf`/`.nan`, `1:30` (base 60), timestamps. Quoted scalars and block scalars are
//! always strings. Errors carry the JSON path and the line and column.
//!
//! The conversion streams events into JSON text with an explicit stack, so a deeply nested
//! document cannot overflow the thread's stack; nesting beyond the JSON limit (512) stops it.
use portcullis::PolicyError;
use std::collections::HashSet;
use std::path::Path;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest YAML policy read, in bytes (the limit of a JSON policy).
const MAX_YAML_BYTES: usize = portcullis::limits_info::MAX_POLICY_BYTES;
/// Deepest nesting read (the document is level 1), as for a JSON policy.
const MAX_DEPTH: usize = portcullis::limits_info::MAX_POLICY_DEPTH;

/// True for a `.yaml` or `.yml` file name (any case).
pub fn is_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// The policy text to load from the bytes of `path`: YAML files converted to JSON, other
/// files as they are.
pub fn policy_json(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, PolicyError> {
    if is_yaml(path) {
        to_json(&bytes).map(String::into_bytes)
    } else {
        Ok(bytes)
    }
}

/// Reads the policy file at `path` (YAML converted to JSON).
pub fn read_policy(path: &Path) -> Result<Vec<u8>, PolicyError> {
    let bytes = std::fs::read(path)
        .map_err(|e| PolicyError::new("", format!("cannot read the policy file: {e}")))?;
    policy_json(path, bytes)
}

/// An open collection while converting.
enum Frame {
    Seq {
        path: String,
        len: usize,
    },
    Map {
        path: String,
        keys: HashSet<String>,
        /// The key whose value comes next; `None` while a key is expected.
        key: Option<String>,
    },
}

/// Converts one YAML document to JSON text.
pub fn to_json(text: &[u8]) -> Result<String, PolicyError> {
    if text.len() > MAX_YAML_BYTES {
        return Err(PolicyError::new(
            "",
            format!(
                "the policy is {} bytes; the limit is {MAX_YAML_BYTES} bytes (16 MiB)",
                text.len()
            ),
        ));
    }
    let text = std::str::from_utf8(text)
        .map_err(|e| PolicyError::new("", format!("the YAML policy is not UTF-8: {e}")))?;
    let mut conv = Converter::default();
    let mut parser = Parser::new_from_str(text);
    loop {
        // Like a JSON syntax error, a YAML one is reported at the document (path "").
        let (event, mark) = parser.next_token().map_err(|e| {
            at_mark(
                String::new(),
                e.marker(),
                &format!("the policy is not valid YAML: {}", e.info()),
            )
        })?;
        if conv.event(event, mark)? {
            break;
        }
    }
    if conv.out.is_empty() {
        conv.out.push_str("null");
    }
    Ok(conv.out)
}

fn at_mark(path: String, mark: &Marker, message: &str) -> PolicyError {
    PolicyError::new(
        path,
        format!(
            "{message} (YAML line {}, column {})",
            mark.line(),
            mark.col() + 1
        ),
    )
}

#[derive(Default)]
struct Converter {
    out: String,
    stack: Vec<Frame>,
    documents: usize,
}

impl Converter {
    /// The JSON path of the value being read (the collection's path while a key is expected).
    fn here(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { path, len }) => format!("{path}[{len}]"),
            Some(Frame::Map { path, key, .. }) => match key {
                Some(k) => child(path, k),
                None => path.clone(),
            },
        }
    }

    /// Handles one event; true at the end of the stream.
    fn event(&mut self, event: Event, mark: Marker) -> Result<bool, PolicyError> {
        let fail = |conv: &Converter, message: &str| Err(at_mark(conv.here(), &mark, message));
        match event {
            Event::StreamEnd => return Ok(true),
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    return fail(
                        self,
                        "a policy file holds one YAML document, found a second",
                    );
                }
            }
            Event::Alias(_) => {
                return fail(self, "aliases (*name) are not allowed: write the value out")
            }
            Event::Scalar(value, style, anchor, tag) => {
                check_node(self, anchor, tag.is_some(), &mark)?;
                if self.expects_key() {
                    return self.key(value, style, &mark);
                }
                let json = scalar(&value, style).map_err(|m| at_mark(self.here(), &mark, &m))?;
                self.value_start();
                self.out.push_str(&json);
                self.value_end();
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(anchor, tag.is_some(), &mark, '[')?;
            }
            Event::MappingStart(anchor, tag) => {
                self.open(anchor, tag.is_some(), &mark, '{')?;
            }
            Event::SequenceEnd => {
                self.out.push(']');
                self.stack.pop();
                self.value_end();
            }
            Event::MappingEnd => {
                self.out.push('}');
                self.stack.pop();
                self.value_end();
            }
        }
        Ok(false)
    }

    /// Opens a list (`[`) or a mapping (`{`).
    fn open(
        &mut self,
        anchor: usize,
        tagged: bool,
        mark: &Marker,
        bracket: char,
    ) -> Result<(), PolicyError> {
        check_node(self, anchor, tagged, mark)?;
        if self.expects_key() {
            return Err(at_mark(
                self.here(),
                mark,
                "a key must be a plain or quoted string, not a collection",
            ));
        }
        // Checked while reading: the parser slows down on deep block nesting, so a deeper
        // document stops here rather than after the whole file.
        if self.stack.len() >= MAX_DEPTH {
            return Err(at_mark(
                String::new(),
                mark,
                &format!("the policy is nested deeper than {MAX_DEPTH} levels (the limit is {MAX_DEPTH})"),
            ));
        }
        let path = self.here();
        self.value_start();
        self.out.push(bracket);
        self.stack.push(if bracket == '[' {
            Frame::Seq { path, len: 0 }
        } else {
            Frame::Map {
                path,
                keys: HashSet::new(),
                key: None,
            }
        });
        Ok(())
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// Writes the separator before a value in a list.
    fn value_start(&mut self) {
        if let Some(Frame::Seq { len, .. }) = self.stack.last() {
            if *len > 0 {
                self.out.push(',');
            }
        }
    }

    /// Counts a finished value in its collection.
    fn value_end(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Seq { len, .. }) => *len += 1,
            Some(Frame::Map { key, .. }) => *key = None,
            None => {}
        }
    }

    /// A mapping key: a string, new in its mapping.
    fn key(
        &mut self,
        value: String,
        style: TScalarStyle,
        mark: &Marker,
    ) -> Result<bool, PolicyError> {
        if style == TScalarStyle::Plain {
            if value == "<<" {
                return Err(at_mark(
                    self.here(),
                    mark,
                    "merge keys (<<) are not allowed: write the keys out",
                ));
            }
            let json = scalar(&value, style).map_err(|m| at_mark(self.here(), mark, &m))?;
            if !json.starts_with('"') {
                return Err(at_mark(
                    self.here(),
                    mark,
                    &format!("the key {value} is not a string in YAML: quote it"),
                ));
            }
        }
        let path = self.here();
        let Some(Frame::Map { keys, key, .. }) = self.stack.last_mut() else {
            return Ok(false);
        };
        if !keys.insert(value.clone()) {
            return Err(at_mark(
                path,
                mark,
                &format!("duplicate key {}", quote(&value)),
            ));
        }
        if keys.len() > 1 {
            self.out.push(',');
        }
        self.out.push_str(&quote(&value));
        self.out.push(':');
        *key = Some(value);
        Ok(false)
    }
}

/// Anchors and tags are errors on every node.
fn check_node(
    conv: &Converter,
    anchor: usize,
    tagged: bool,
    mark: &Marker,
) -> Result<(), PolicyError> {
    if anchor != 0 {
        return Err(at_mark(
            conv.here(),
            mark,
            "anchors (&name) are not allowed: write each value out",
        ));
    }
    if tagged {
        return Err(at_mark(
            conv.here(),
            mark,
            "tags (!name, !!type) are not allowed: write plain values or quote strings",
        ));
    }
    Ok(())
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The JSON text of a scalar, or why it is refused.
fn scalar(value: &str, style: TScalarStyle) -> Result<String, String> {
    if style != TScalarStyle::Plain {
        return Ok(quote(value));
    }
    match value {
        "" | "null" | "Null" | "NULL" => return Ok("null".to_owned()),
        "true" | "True" | "TRUE" => return Ok("true".to_owned()),
        "false" | "False" | "FALSE" => return Ok("false".to_owned()),
        _ => {}
    }
    if let Some(why) = surprise(value) {
        return Err(format!(
            "the plain value {value} {why}; quote it if a string is meant"
        ));
    }
    if let Some(number) = number(value) {
        if number.parse::<f64>().is_ok_and(f64::is_infinite) {
            return Err(format!(
                "the plain value {value} is too large for a number; quote it if a string is meant"
            ));
        }
        return Ok(number);
    }
    Ok(quote(value))
}

/// Why a plain scalar is ambiguous between YAML readers, if it is.
fn surprise(v: &str) -> Option<&'static str> {
    let lower = v.to_ascii_lowercase();
    if matches!(lower.as_str(), "y" | "n" | "yes" | "no" | "on" | "off") {
        return Some("is a boolean to YAML 1.1 readers and a string to YAML 1.2 readers");
    }
    if v == "~" {
        return Some("is null in YAML; write null");
    }
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    let lower_unsigned = unsigned.to_ascii_lowercase();
    if matches!(lower_unsigned.as_str(), ".inf" | ".nan") || lower == ".nan" {
        return Some("is infinity or not-a-number, which JSON cannot hold");
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if lower_unsigned.starts_with("0o")
        || lower_unsigned.starts_with("0x")
        || lower_unsigned.starts_with("0b")
        || (unsigned.len() > 1 && unsigned.starts_with('0') && digits(unsigned))
    {
        return Some("is an octal, hex or binary number to some YAML readers");
    }
    let numeric = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'_' || b == b'.')
    };
    if unsigned.contains('_')
        && unsigned.starts_with(|c: char| c.is_ascii_digit())
        && numeric(unsigned)
    {
        return Some("is a number with _ separators to YAML 1.1 readers");
    }
    if unsigned.contains(':')
        && unsigned.starts_with(|c: char| c.is_ascii_digit())
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b'.' || b == b'_')
    {
        return Some("is a base-60 number to YAML 1.1 readers (17:00 is 1020)");
    }
    if is_timestamp(v) {
        return Some("is a timestamp to some YAML readers");
    }
    None
}

/// `YYYY-MM-DD` optionally followed by a time (the YAML 1.1 timestamp type).
fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    b.len() >= 8
        && (0..4).all(d)
        && b.get(4) == Some(&b'-')
        && d(5)
        && (b.get(6) == Some(&b'-') || (d(6) && b.get(7) == Some(&b'-')))
}

/// A YAML 1.2 core-schema number as JSON text.
fn number(v: &str) -> Option<String> {
    let (sign, unsigned) = match v.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", v.strip_prefix('+').unwrap_or(v)),
    };
    let b = unsigned.as_bytes();
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (unsigned.get(..i)?, Some(unsigned.get(i + 1..)?)),
        None => (unsigned, None),
    };
    if b.is_empty() || b.first().is_some_and(|c| !c.is_ascii_digit() && *c != b'.') {
        return None;
    }
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if !all_digits(int)
        || !frac.is_none_or(all_digits)
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        if digits.is_empty() || !all_digits(digits) {
            return None;
        }
    }
    let int = if int.is_empty() { "0" } else { int };
    let frac = match frac {
        Some("") => ".0".to_owned(),
        Some(f) => format!(".{f}"),
        None => String::new(),
    };
    let exp = exponent.map(|e| format!("e{e}")).unwrap_or_default();
    Some(format!("{sign}{int}{frac}{exp}"))
}
