//! Rule texts a policy update already holds compiled: the spans the parser records for the
//! elements of `rules`, the look-up it asks whether a text is known (the text expected at
//! that place first, then by the text itself), and the texts kept for the next update.
use super::rules::CompiledRule;
use super::{RuleCache, RuleTexts};
use std::collections::HashMap;
use std::sync::Arc;

/// An object element of the document's `rules` array: its index, the byte range of its text,
/// and, when its exact text was known, the id of the rule it is (then it was not parsed:
/// `null` stands in its place).
#[derive(Debug, Clone)]
pub(crate) struct RuleSpan {
    pub(crate) index: usize,
    pub(crate) text: std::ops::Range<usize>,
    pub(crate) known: Option<Arc<str>>,
}

/// The rule texts a loader holds compiled from an earlier load.
pub(crate) trait KnownRules {
    /// When `rest` (the document from element `index` of `rules` on) starts with the text
    /// expected there, that rule's id and the text's length. Cheap: one comparison.
    fn next(&mut self, index: usize, rest: &[u8]) -> Option<(Arc<str>, usize)>;
    /// The id of the rule whose text is exactly `text`, found at element `index`.
    fn find(&mut self, index: usize, text: &[u8]) -> Option<Arc<str>>;
}

/// No rule text is known: every rule is parsed.
pub(crate) struct NoKnownRules;

impl KnownRules for NoKnownRules {
    fn next(&mut self, _: usize, _: &[u8]) -> Option<(Arc<str>, usize)> {
        None
    }
    fn find(&mut self, _: usize, _: &[u8]) -> Option<Arc<str>> {
        None
    }
}

/// Where the container opening at `pos` ends (just past its closing bracket), found by
/// bracket counting outside strings; `None` at the end of the input. Exact for valid JSON,
/// which is the only case its answer matters for (a known text parsed before).
pub(crate) fn extent(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = pos;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => loop {
                i += 1;
                match bytes.get(i)? {
                    b'"' => break,
                    b'\\' => i += 1,
                    _ => {}
                }
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The last load's rule texts, as the parser looks them up: first the text that followed the
/// last one found (in an unchanged policy, the one at the same place), then by the text.
pub(crate) struct Lookup<'c> {
    pub(crate) cache: &'c RuleCache,
    pub(crate) cursor: usize,
    /// Where each of the cache's texts was found in this document.
    pub(crate) moved: Vec<Option<usize>>,
}

impl Lookup<'_> {
    fn found(&mut self, previous: usize, index: usize) -> Option<&Arc<str>> {
        if let Some(slot) = self.moved.get_mut(previous) {
            *slot = Some(index);
        }
        self.cursor = previous + 1;
        let (_, id) = self.cache.texts.get(previous)?.as_ref()?;
        Some(id)
    }
}

impl KnownRules for Lookup<'_> {
    fn next(&mut self, index: usize, rest: &[u8]) -> Option<(Arc<str>, usize)> {
        let (text, _) = self.cache.texts.get(self.cursor)?.as_ref()?;
        if !rest.starts_with(text) {
            return None;
        }
        let len = text.len();
        Some((self.found(self.cursor, index)?.clone(), len))
    }

    fn find(&mut self, index: usize, text: &[u8]) -> Option<Arc<str>> {
        let previous = *self.cache.by_text.get(text)?;
        self.found(previous, index).cloned()
    }
}

/// The texts of the rules kept for the next load, by index, and the index of each text: the
/// entries of texts found again are moved, so that only new texts are hashed.
pub(crate) fn rule_texts(
    bytes: &[u8],
    spans: &[RuleSpan],
    kept: &[Option<CompiledRule>],
    moved: &[Option<usize>],
    mut by_text: HashMap<Box<[u8]>, usize>,
) -> (RuleTexts, HashMap<Box<[u8]>, usize>) {
    let mut texts: RuleTexts = vec![None; kept.len()];
    for span in spans {
        let rule = kept.get(span.index).and_then(Option::as_ref);
        if let (Some(rule), Some(text), Some(slot)) = (
            rule,
            bytes.get(span.text.clone()),
            texts.get_mut(span.index),
        ) {
            *slot = Some((Box::from(text), rule.rule.id.clone()));
        }
    }
    by_text.retain(|_, at| match moved.get(*at).copied().flatten() {
        Some(index) if texts.get(index).is_some_and(Option::is_some) => {
            *at = index;
            true
        }
        _ => false,
    });
    for span in spans.iter().filter(|s| s.known.is_none()) {
        if let Some(Some((text, _))) = texts.get(span.index) {
            by_text.insert(text.clone(), span.index);
        }
    }
    (texts, by_text)
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_policy, Order, Parsed};
    use super::KnownRules;

    #[test]
    fn known_rule_texts_are_stepped_over_and_every_rule_is_spanned() {
        let text = br#"{"rules": [{"id": "a", "x": "}\"]"}, 7, {"id": "b"}], "m": [{"id": "a"}]}"#;
        struct One;
        impl KnownRules for One {
            fn next(&mut self, _: usize, _: &[u8]) -> Option<(std::sync::Arc<str>, usize)> {
                None
            }
            fn find(&mut self, _: usize, t: &[u8]) -> Option<std::sync::Arc<str>> {
                (t == br#"{"id": "a", "x": "}\"]"}"#).then(|| "a".into())
            }
        }
        let mut known = One;
        let Parsed { value, rules, .. } = parse_policy(text, Order::Roles, &mut known).unwrap();
        assert_eq!(value["rules"], serde_json::json!([null, 7, {"id": "b"}]));
        assert_eq!(value["m"], serde_json::json!([{"id": "a"}]));
        let spans: Vec<_> = rules
            .iter()
            .map(|r| (r.index, &text[r.text.clone()], r.known.is_some()))
            .collect();
        assert_eq!(
            spans,
            [
                (0, &br#"{"id": "a", "x": "}\"]"}"#[..], true),
                (2, &br#"{"id": "b"}"#[..], false)
            ]
        );
        // A known text is still read in full when a duplicate key precedes it elsewhere.
        assert!(parse_policy(
            br#"{"a": 1, "a": 2, "rules": [{"id": "a", "x": "}\"]"}]}"#,
            Order::Roles,
            &mut known
        )
        .is_err());
    }
}
