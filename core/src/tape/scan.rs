//! The scanner that reads action text into a tape's nodes.
use super::{Node, Slot, Text};
use crate::small::SmallList;
use serde_json::Number;
use std::cell::OnceCell;

/// Reads JSON text (RFC 8259) into nodes. Strings without escapes and small non-negative
/// integers are read here; a string with escapes and any other number are handed to
/// serde_json, so that their meaning (and what is refused) is exactly the strict parser's.
/// Reads `source` (containers nested deeper than `max_depth` refused): the decoded text of
/// strings with escapes, and the nodes.
pub(super) fn read(source: &str, max_depth: usize) -> Option<(String, Vec<Slot>)> {
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
    Some((scan.decoded, scan.nodes))
}

/// The bytes that end the plain part of a string: its quote, a backslash, a control character.
#[expect(
    clippy::indexing_slicing,
    reason = "every index is a byte value, below 256; checked when the table is built"
)]
static STOPS_STRING: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stops[b] = true;
        b += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

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
            .position(|b| STOPS_STRING.get(usize::from(*b)) != Some(&false))?;
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
