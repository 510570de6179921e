//! Strict JSON reading (duplicate keys, depth, non-finite numbers), structural equality with
//! numbers compared as doubles, and the RFC 8785 (JCS) canonical form used for action hashes.
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt::{self, Write as _};

/// Why strict parsing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrictError {
    /// Not JSON (serde_json's message, with line and column).
    Syntax(String),
    /// A key occurs twice in one object; `path` names the object (dotted form).
    Duplicate { path: String, key: String },
    /// Containers nested deeper than the limit.
    TooDeep { limit: usize },
}

/// One step of a path from the document root.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Formats a path in the dotted form load errors use: `rules[3].when.all[1]`.
pub(crate) fn format_path(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

struct Ctx {
    max_depth: usize,
    track_path: bool,
    path: RefCell<Vec<Seg>>,
    error: RefCell<Option<StrictError>>,
    /// With `track_path`: each object's keys in document order, by the object's path.
    orders: RefCell<KeyOrder>,
}

/// Each object's keys in document order, by the object's dotted path (see [`format_path`]).
pub(crate) type KeyOrder = std::collections::HashMap<String, Vec<String>>;

impl Ctx {
    fn fail<E: de::Error>(&self, err: StrictError) -> E {
        let msg = match &err {
            StrictError::Duplicate { key, .. } => format!("duplicate key {}", quote(key)),
            StrictError::TooDeep { limit } => format!("nested deeper than {limit} levels"),
            StrictError::Syntax(m) => m.clone(),
        };
        *self.error.borrow_mut() = Some(err);
        E::custom(msg)
    }
}

impl Ctx {
    /// Runs `f` with `seg` on the current path (when paths are tracked).
    fn at<T>(&self, seg: impl FnOnce() -> Seg, f: impl FnOnce() -> T) -> T {
        if self.track_path {
            self.path.borrow_mut().push(seg());
        }
        let out = f();
        if self.track_path {
            self.path.borrow_mut().pop();
        }
        out
    }
}

#[derive(Clone, Copy)]
struct Seed<'c> {
    depth: usize,
    ctx: &'c Ctx,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Seed<'_> {
    /// The seed for this container's children, or the depth error.
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        if self.depth > self.ctx.max_depth {
            return Err(self.ctx.fail(StrictError::TooDeep {
                limit: self.ctx.max_depth,
            }));
        }
        Ok(Seed {
            depth: self.depth + 1,
            ctx: self.ctx,
        })
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not a finite double"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.enter()?;
        let mut out = Vec::new();
        loop {
            let next = self
                .ctx
                .at(|| Seg::Index(out.len()), || seq.next_element_seed(child));
            match next? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.enter()?;
        let mut out = Map::new();
        let mut order = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            // One lookup finds a duplicate and the place for a new key.
            let slot = match out.entry(key) {
                Entry::Occupied(e) => {
                    let path = format_path(&self.ctx.path.borrow());
                    let key = e.key().clone();
                    return Err(self.ctx.fail(StrictError::Duplicate { path, key }));
                }
                Entry::Vacant(e) => e,
            };
            if self.ctx.track_path {
                order.push(slot.key().clone());
            }
            let value = self.ctx.at(
                || Seg::Key(slot.key().clone()),
                || map.next_value_seed(child),
            );
            slot.insert(value?);
        }
        if self.ctx.track_path {
            let path = format_path(&self.ctx.path.borrow());
            self.ctx.orders.borrow_mut().insert(path, order);
        }
        Ok(Value::Object(out))
    }
}

/// Parses JSON text strictly: duplicate keys anywhere, containers nested deeper than
/// `max_depth` (the outermost value is level 1), non-finite numbers, lone surrogates and
/// invalid UTF-8 are errors.
pub(crate) fn parse_strict(bytes: &[u8], max_depth: usize) -> Result<Value, StrictError> {
    parse(bytes, max_depth, false).map(|(v, _)| v)
}

fn parse(
    bytes: &[u8],
    max_depth: usize,
    track_path: bool,
) -> Result<(Value, KeyOrder), StrictError> {
    let ctx = Ctx {
        max_depth,
        track_path,
        path: RefCell::new(Vec::new()),
        error: RefCell::new(None),
        orders: RefCell::new(KeyOrder::new()),
    };
    // Text that is valid UTF-8 as a whole (checked at once, which is cheap) is read without
    // serde_json checking each string again; other bytes go through the checking reader, whose
    // error says where the text stops being UTF-8.
    let result = match std::str::from_utf8(bytes) {
        Ok(text) => read(&mut serde_json::Deserializer::from_str(text), &ctx),
        Err(_) => read(&mut serde_json::Deserializer::from_slice(bytes), &ctx),
    };
    match result {
        Ok(v) => Ok((v, ctx.orders.into_inner())),
        Err(e) => Err(ctx
            .error
            .borrow_mut()
            .take()
            .unwrap_or_else(|| StrictError::Syntax(e.to_string()))),
    }
}

/// One value, then the end of the text.
fn read<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    ctx: &Ctx,
) -> Result<Value, serde_json::Error> {
    let value = Seed { depth: 1, ctx }.deserialize(&mut *de)?;
    de.end()?;
    Ok(value)
}

/// Quotes a string as a JSON string literal, for error messages.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

pub(crate) use crate::value::show;

/// The number as a double (integers beyond ±2^53 lose precision, as the spec says).
pub(crate) fn num(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// Structural equality; numbers compare as doubles (`1 == 1.0`).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => num(x) == num(y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => false,
    }
}

/// Writes the RFC 8785 (JCS) canonical form of `v`.
pub(crate) fn write_jcs(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_es_number(num(n), out),
        Value::String(s) => write_jcs_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_jcs(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut first = true;
            let mut member = |k: &str, v: &Value| {
                if !first {
                    out.push(',');
                }
                first = false;
                write_jcs_string(k, out);
                out.push(':');
                write_jcs(v, out);
            };
            // Maps usually iterate in code point order already, which is UTF-16 order unless
            // a key holds a character beyond U+FFFF: then no sorting is needed.
            if map
                .keys()
                .zip(map.keys().skip(1))
                .all(|(a, b)| utf16_cmp(a, b).is_lt())
            {
                map.iter().for_each(|(k, v)| member(k, v));
            } else {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_by(|a, b| utf16_cmp(a.0, b.0));
                members.into_iter().for_each(|(k, v)| member(k, v));
            }
            out.push('}');
        }
    }
}

/// Orders strings by their UTF-16 code units, as JCS sorts keys (RFC 8785 §3.2.3). That is
/// byte order unless one holds a character beyond U+FFFF (a 4-byte UTF-8 sequence).
pub(crate) fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let astral = |s: &str| s.bytes().any(|b| b >= 0xf0);
    if astral(a) || astral(b) {
        a.encode_utf16().cmp(b.encode_utf16())
    } else {
        a.as_bytes().cmp(b.as_bytes())
    }
}

/// A JSON string as ECMAScript's `JSON.stringify` writes it (RFC 8785 §3.2.2.2).
pub(crate) fn write_jcs_string(s: &str, out: &mut String) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A double as ECMAScript's `Number.prototype.toString` writes it (RFC 8785 §3.2.2.3):
/// the shortest digits that round-trip and, between two equally short candidates, the one
/// closest to the double, then the even one (which Rust's `{:e}` does not promise).
pub(crate) fn write_es_number(f: f64, out: &mut String) {
    if f == 0.0 || !f.is_finite() {
        // -0 prints as 0; non-finite numbers cannot occur in parsed JSON.
        out.push('0');
        return;
    }
    out.push_str(ryu_js::Buffer::new().format_finite(f));
}

/// Which limit a value passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// Containers nested deeper than the limit (the outermost value is level 1).
    Depth,
    /// Compact JSON text larger than the limit, in bytes.
    Size,
}

/// Checks both limits of a value in one walk, depth first: the size is an upper bound (every
/// string byte counted as a 6-byte escape, every number as 24 bytes), and only a value whose
/// bound passes `max_bytes` is measured exactly.
pub(crate) fn within_limits(v: &Value, max_depth: usize, max_bytes: usize) -> Result<(), Over> {
    /// The size bound of `v` at nesting `level`, or `None` once too deep.
    fn go(v: &Value, level: usize, max_depth: usize) -> Option<usize> {
        match v {
            Value::Null | Value::Bool(_) => Some(5),
            Value::Number(_) => Some(24),
            Value::String(s) => Some(2 + 6 * s.len()),
            Value::Array(items) if level <= max_depth => items
                .iter()
                .try_fold(2, |n, i| Some(n + 1 + go(i, level + 1, max_depth)?)),
            Value::Object(map) if level <= max_depth => map.iter().try_fold(2, |n, (k, v)| {
                Some(n + 4 + 6 * k.len() + go(v, level + 1, max_depth)?)
            }),
            _ => None,
        }
    }
    let bound = go(v, 1, max_depth).ok_or(Over::Depth)?;
    if bound <= max_bytes || compact_len_exact_within(v, max_bytes).is_some() {
        Ok(())
    } else {
        Err(Over::Size)
    }
}

/// The exact size of `v`'s compact JSON text, or `None` once it passes `limit` bytes.
fn compact_len_exact_within(v: &Value, limit: usize) -> Option<usize> {
    struct Counter {
        n: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.n += buf.len();
            if self.n > self.limit {
                Err(std::io::Error::other("limit"))
            } else {
                Ok(buf.len())
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter { n: 0, limit };
    serde_json::to_writer(&mut c, v).ok().map(|()| c.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jcs(text: &str) -> String {
        let v: Value = serde_json::from_str(text).unwrap();
        let mut out = String::new();
        write_jcs(&v, &mut out);
        out
    }

    #[test]
    fn es_numbers_follow_ecmascript() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (123.456, "123.456"),
            (4.5e-10, "4.5e-10"),
            (9007199254740993.0, "9007199254740992"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.1, "0.1"),
            (333333333.3333333, "333333333.3333333"),
            // Two shortest candidates: ECMAScript takes the one nearest the double.
            (0.06250381469726562, "0.06250381469726562"),
            (76260835620.76562, "76260835620.76562"),
        ];
        for (f, want) in cases {
            let mut s = String::new();
            write_es_number(f, &mut s);
            assert_eq!(s, want, "{f}");
        }
    }

    /// Compares `write_es_number` with Node's `Number.prototype.toString` (an independent
    /// ECMAScript implementation) on random doubles: half random bit patterns, half sparse
    /// mantissas, where ties between two shortest digit strings occur. The count is
    /// `PORTCULLIS_JCS_SAMPLES` (default 20000). Skipped when `node` is not installed.
    #[test]
    fn es_numbers_match_node_on_random_doubles() {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let count: usize = std::env::var("PORTCULLIS_JCS_SAMPLES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_000);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = Vec::with_capacity(count);
        while values.len() < count {
            let r = next();
            let bits = if values.len() % 2 == 0 {
                r
            } else {
                let mantissa = (next() & ((1 << (r % 24)) - 1)) << (28 + (r >> 8) % 24);
                let exponent = 1023 - 60 + (r >> 16) % 120;
                (r & (1 << 63)) | (exponent << 52) | (mantissa & ((1 << 52) - 1))
            };
            let f = f64::from_bits(bits);
            if f.is_finite() {
                values.push(f);
            }
        }
        let script = "const l=require('fs').readFileSync(0,'utf8').trim().split('\\n');\
            const b=new Float64Array(1),u=new BigUint64Array(b.buffer),o=[];\
            for(const x of l){u[0]=BigInt('0x'+x);o.push(String(b[0]));}\
            process.stdout.write(o.join('\\n')+'\\n');";
        let Ok(mut child) = Command::new("node")
            .args(["-e", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
        else {
            eprintln!("node is not installed: skipping the ECMAScript comparison");
            return;
        };
        let input: String = values
            .iter()
            .map(|f| format!("{:x}\n", f.to_bits()))
            .collect();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        let mut seen = 0;
        for (f, want) in values.iter().zip(text.lines()) {
            let mut got = String::new();
            write_es_number(*f, &mut got);
            assert_eq!(got, want, "{:#x}", f.to_bits());
            seen += 1;
        }
        assert_eq!(seen, count);
    }

    #[test]
    fn jcs_sorts_by_utf16_and_escapes_minimally() {
        assert_eq!(
            jcs(r#"{"b":1,"a":[1.0,"x\n\u0001é"]}"#),
            "{\"a\":[1,\"x\\n\\u0001é\"],\"b\":1}"
        );
        // U+E000 sorts before U+1F600 by UTF-16 code units (0xD83D > 0xE000 is false).
        assert_eq!(
            jcs("{\"\u{e000}\":1,\"\u{1f600}\":2}"),
            "{\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn strict_parse_rejects_duplicates_depth_and_surrogates() {
        assert!(matches!(
            parse_strict(br#"{"a":{"b":1,"b":2}}"#, 64),
            Err(StrictError::Duplicate { ref key, .. }) if key == "b"
        ));
        assert!(matches!(
            parse_strict(b"[[[1]]]", 2),
            Err(StrictError::TooDeep { .. })
        ));
        assert!(parse_strict(b"[[1]]", 2).is_ok());
        assert!(matches!(
            parse_strict(br#"["\ud800"]"#, 64),
            Err(StrictError::Syntax(_))
        ));
        assert!(matches!(
            parse_strict(b"[1e400]", 64),
            Err(StrictError::Syntax(_))
        ));
        assert!(matches!(
            parse_strict(b"{} x", 64),
            Err(StrictError::Syntax(_))
        ));
        // Bytes that are not UTF-8 (text as a whole is read without checking each string):
        // in a string, in a key, after the value; the error says where.
        for bad in [&b"[\"a\xff\"]"[..], b"{\"\xc3\":1}", b"[1] \xe2\x82"] {
            match parse_strict(bad, 64) {
                Err(StrictError::Syntax(m)) => assert!(m.contains("column"), "{m}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(
            parse_strict("{\"é\":[\"€\\u00e9\"]}".as_bytes(), 64).unwrap(),
            serde_json::json!({"é": ["€é"]})
        );
    }

    #[test]
    fn equality_compares_numbers_as_doubles() {
        let a: Value = serde_json::from_str(r#"{"x":[1,2.0]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"x":[1.0,2]}"#).unwrap();
        assert!(json_eq(&a, &b));
        assert!(!json_eq(&a, &serde_json::json!({"x": [1, 3]})));
    }
}
