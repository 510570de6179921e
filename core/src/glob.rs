//! Globs: `*` matches any run of characters (including `.` and `/`), `?` exactly one Unicode
//! scalar value, `\` escapes the next character; everything else is literal and
//! case-sensitive. Matching is linear in the text: the first and last segments are compared
//! in place, each middle segment is placed leftmost (which is optimal, so nothing is retried)
//! by a substring search (Two-Way for literal segments, bit-parallel Shift-And for segments
//! with `?`), and the middle searches cover disjoint parts of the text.

/// A compiled glob.
#[derive(Debug, Clone)]
pub(crate) enum Glob {
    /// No wildcards: an exact comparison.
    Exact(String),
    /// `literal*`.
    Prefix(String),
    /// `*literal`.
    Suffix(String),
    /// Anything else: star-free segments separated by `*`.
    General(General),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Char(char),
    Any,
}

#[derive(Debug, Clone)]
pub(crate) struct General {
    /// Segments between stars; `segments.len() == stars + 1`.
    segments: Vec<Vec<Atom>>,
    /// A searcher for each segment but the first and the last.
    middle: Vec<Search>,
}

/// How a middle segment is found: a plain substring search, or Shift-And for `?`.
#[derive(Debug, Clone)]
enum Search {
    Literal(String),
    ShiftAnd(ShiftAnd),
}

/// Bit-parallel matcher of a segment with `?` atoms: bit `j` of the state is set when the
/// text read so far ends with the segment's first `j + 1` atoms. One pass over the text,
/// `len / 64 + 1` words of work per character.
#[derive(Debug, Clone)]
struct ShiftAnd {
    /// The bits of `?` atoms (they accept any character).
    any: Vec<u64>,
    /// For each character of the segment: the bits of its atoms, plus `any`.
    chars: std::collections::HashMap<char, Vec<u64>>,
    /// The last atom's word and bit.
    last_word: usize,
    last_bit: u64,
}

impl ShiftAnd {
    fn new(seg: &[Atom]) -> ShiftAnd {
        let words = seg.len() / 64 + 1;
        let mut any = vec![0u64; words];
        let bit = |j: usize| (j / 64, 1u64 << (j % 64));
        for (j, atom) in seg.iter().enumerate() {
            if *atom == Atom::Any {
                let (w, b) = bit(j);
                if let Some(word) = any.get_mut(w) {
                    *word |= b;
                }
            }
        }
        let mut chars = std::collections::HashMap::new();
        for (j, atom) in seg.iter().enumerate() {
            if let Atom::Char(c) = atom {
                let mask = chars.entry(*c).or_insert_with(|| any.clone());
                let (w, b) = bit(j);
                if let Some(word) = mask.get_mut(w) {
                    *word |= b;
                }
            }
        }
        let (last_word, last_bit) = bit(seg.len().saturating_sub(1));
        ShiftAnd {
            any,
            chars,
            last_word,
            last_bit,
        }
    }

    /// The end offset of the leftmost occurrence in `text` at or after `from`.
    fn find_end(&self, text: &str, from: usize) -> Option<usize> {
        let mut state = vec![0u64; self.any.len()];
        for (i, c) in text.get(from..)?.char_indices() {
            let mask = self.chars.get(&c).unwrap_or(&self.any);
            let mut carry = 1u64;
            for (word, m) in state.iter_mut().zip(mask) {
                let next_carry = *word >> 63;
                *word = ((*word << 1) | carry) & m;
                carry = next_carry;
            }
            if state
                .get(self.last_word)
                .is_some_and(|w| w & self.last_bit != 0)
            {
                return Some(from + i + c.len_utf8());
            }
        }
        None
    }
}

impl Search {
    fn new(seg: &[Atom]) -> Search {
        let literal: Option<String> = seg
            .iter()
            .map(|a| match a {
                Atom::Char(c) => Some(*c),
                Atom::Any => None,
            })
            .collect();
        match literal {
            Some(s) => Search::Literal(s),
            None => Search::ShiftAnd(ShiftAnd::new(seg)),
        }
    }

    fn find_end(&self, text: &str, from: usize) -> Option<usize> {
        match self {
            Search::Literal(s) => text
                .get(from..)?
                .find(s.as_str())
                .map(|i| from + i + s.len()),
            Search::ShiftAnd(m) => m.find_end(text, from),
        }
    }
}

impl General {
    fn new(segments: Vec<Vec<Atom>>) -> General {
        let inner = segments.len().saturating_sub(2);
        let middle = segments
            .iter()
            .skip(1)
            .take(inner)
            .map(|s| Search::new(s))
            .collect();
        General { segments, middle }
    }
}

/// Why a glob does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct GlobError(pub String);

impl Glob {
    /// Compiles `pattern`. A trailing lone `\` is an error.
    pub(crate) fn new(pattern: &str) -> Result<Glob, GlobError> {
        let mut segments: Vec<Vec<Atom>> = vec![Vec::new()];
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) => push_atom(&mut segments, Atom::Char(e)),
                    None => {
                        return Err(GlobError(format!(
                            "glob {} ends with a lone escape character",
                            crate::json::quote(pattern)
                        )))
                    }
                },
                '*' => {
                    // Consecutive stars are one star.
                    if !segments.last().is_some_and(Vec::is_empty) || segments.len() == 1 {
                        segments.push(Vec::new());
                    }
                }
                '?' => push_atom(&mut segments, Atom::Any),
                c => push_atom(&mut segments, Atom::Char(c)),
            }
        }
        let literal = |seg: &[Atom]| -> Option<String> {
            seg.iter()
                .map(|a| match a {
                    Atom::Char(c) => Some(*c),
                    Atom::Any => None,
                })
                .collect()
        };
        Ok(match segments.as_slice() {
            [only] => match literal(only) {
                Some(s) => Glob::Exact(s),
                None => Glob::General(General::new(segments)),
            },
            [first, last] if last.is_empty() && literal(first).is_some() => {
                Glob::Prefix(literal(first).unwrap_or_default())
            }
            [first, last] if first.is_empty() && literal(last).is_some() => {
                Glob::Suffix(literal(last).unwrap_or_default())
            }
            _ => Glob::General(General::new(segments)),
        })
    }

    /// True when `text` matches the whole glob.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Exact(s) => s == text,
            Glob::Prefix(p) => text.starts_with(p.as_str()),
            Glob::Suffix(s) => text.ends_with(s.as_str()),
            Glob::General(g) => g.matches(text),
        }
    }

    /// The exact string this glob matches, when it has no wildcards.
    pub(crate) fn as_exact(&self) -> Option<&str> {
        match self {
            Glob::Exact(s) => Some(s),
            _ => None,
        }
    }
}

fn push_atom(segments: &mut [Vec<Atom>], atom: Atom) {
    if let Some(last) = segments.last_mut() {
        last.push(atom);
    }
}

/// Matches `seg` at byte offset `start` of `text`; returns the end offset.
fn match_at(seg: &[Atom], text: &str, start: usize) -> Option<usize> {
    let mut rest = text.get(start..)?.char_indices();
    let mut end = start;
    for atom in seg {
        let (i, c) = rest.next()?;
        if let Atom::Char(want) = atom {
            if *want != c {
                return None;
            }
        }
        end = start + i + c.len_utf8();
    }
    Some(end)
}

impl General {
    fn matches(&self, text: &str) -> bool {
        let segs = &self.segments;
        let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
            return false;
        };
        if segs.len() == 1 {
            return match_at(first, text, 0) == Some(text.len());
        }
        let Some(mut pos) = match_at(first, text, 0) else {
            return false;
        };
        // The last segment must sit at the very end: find where its chars start.
        let Some(last_start) = text
            .char_indices()
            .rev()
            .nth(last.len().wrapping_sub(1))
            .map(|(i, _)| i)
            .or(if last.is_empty() {
                Some(text.len())
            } else {
                None
            })
        else {
            return false;
        };
        if last_start < pos || match_at(last, text, last_start) != Some(text.len()) {
            return false;
        }
        let Some(middle_text) = text.get(..last_start) else {
            return false;
        };
        // Leftmost placement of each middle segment is optimal: no backtracking needed.
        for search in &self.middle {
            match search.find_end(middle_text, pos) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().matches(t)
    }

    #[test]
    fn wildcards() {
        assert!(m("search.*", "search.web"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "a/x.b..c"));
        assert!(!m("a*b*c", "a/x.b..cd"));
        assert!(m("?é?", "xéy"));
        assert!(m("?", "é"));
        assert!(!m("?", "ab"));
        assert!(m("*.?", "x.é"));
        assert!(m("a**b", "ab"));
        assert!(m("*a*", "xxaxx"));
        assert!(!m("*a*", "xxbxx"));
        assert!(m("a*?", "ab"));
        assert!(!m("a*?", "a"));
        assert!(m("*x*y*", "xy"));
        assert!(!m("ab*ba", "aba"));
    }

    #[test]
    fn escapes_and_case() {
        assert!(m(r"a\*", "a*"));
        assert!(!m(r"a\*", "ab"));
        assert!(m(r"\?\\", "?\\"));
        assert!(!m("Tool", "tool"));
        assert!(Glob::new("abc\\").is_err());
    }

    #[test]
    fn no_blowup_on_pathological_patterns() {
        let text = "a".repeat(5000);
        let pat = format!("{}b", "*a".repeat(40));
        assert!(!m(&pat, &text));
    }

    #[test]
    fn middle_segments_with_wildcards() {
        assert!(m("x*a?c*y", "x-abc-y"));
        assert!(m("x*a?c*y", "xaaacy"));
        assert!(!m("x*a?c*y", "xacy"));
        assert!(m("*?é?*", "aéb"));
        assert!(!m("*?é?*", "éb"));
        assert!(m("*a?a*b?*z", "aaaab_z"));
        let long: String = "ab?".repeat(50);
        let text = format!("q{}q", "abX".repeat(50));
        assert!(m(&format!("*{long}*"), &text));
        assert!(!m(&format!("*{long}*"), &text.replace("abX", "acX")));
        // Leftmost placement: the second segment may start right after the first.
        assert!(m("*ab*ba*", "abba"));
        assert!(!m("*ab*ba*", "aba"));
    }
}
