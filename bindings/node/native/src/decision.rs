//! Decisions and verdicts in the compact form that `src/compact.ts` turns into objects: one
//! string, created with one Node-API call, that the JavaScript side cuts into the decision's
//! fields with `charCodeAt` and `slice` and assembles as an object literal. That is cheaper than
//! both `JSON.parse` of the decision's JSON text and setting each property through Node-API (see
//! README.md, "How values cross the boundary").
//!
//! The form: the mark U+0001, a flags unit, then the fields in the order of POLICY.md §8, each
//! string as one UTF-16 code unit giving its length in UTF-16 units followed by its text, each
//! list as one unit giving its length followed by its items; optional fields appear only when
//! their flag is set; numbers as decimal text. A length or count that does not fit one unit
//! below U+D800 cannot be written: the decision's JSON text is returned instead (it starts with
//! `{`, which the JavaScript side reads with `JSON.parse`).

use portcullis::{Decision, Verdict};

/// The first unit of the compact form.
const MARK: char = '\u{1}';
/// Lengths and counts are single UTF-16 units below the surrogates.
const MAX_UNIT: usize = 0xD7FF;

// Flags; the same values are in src/compact.ts.
const RULE: usize = 1;
const PARAMS: usize = 2;
const RETRY: usize = 4;
const HASH: usize = 8;
const VERSION: usize = 16;
const FALLBACK: usize = 32;
const PARAMS_MODIFIED: usize = 64;

struct Writer {
    out: String,
}

impl Writer {
    fn new(flags: usize) -> Option<Writer> {
        let mut writer = Writer {
            out: String::with_capacity(256),
        };
        writer.out.push(MARK);
        writer.unit(flags)?;
        Some(writer)
    }

    /// One UTF-16 unit holding `n`; `None` when `n` does not fit.
    fn unit(&mut self, n: usize) -> Option<()> {
        let n = u32::try_from(n).ok().filter(|n| *n as usize <= MAX_UNIT)?;
        self.out.push(char::from_u32(n)?);
        Some(())
    }

    /// `text`, preceded by its length in UTF-16 units (what JavaScript's `slice` counts).
    fn text(&mut self, text: &str) -> Option<()> {
        let units = if text.is_ascii() {
            text.len()
        } else {
            text.encode_utf16().count()
        };
        self.unit(units)?;
        self.out.push_str(text);
        Some(())
    }

    fn number(&mut self, n: u64) -> Option<()> {
        self.text(&n.to_string())
    }
}

fn flag(set: bool, bit: usize) -> usize {
    if set {
        bit
    } else {
        0
    }
}

/// The compact form of `decision`, or its JSON text when it has no compact form.
pub fn compact(decision: &Decision) -> String {
    write_decision(decision).unwrap_or_else(|| decision.to_json())
}

fn write_decision(d: &Decision) -> Option<String> {
    let params = match &d.params {
        Some(params) => Some(serde_json::to_string(params).ok()?),
        None => None,
    };
    let flags = flag(d.rule.is_some(), RULE)
        | flag(params.is_some(), PARAMS)
        | flag(d.retry_after_ms.is_some(), RETRY)
        | flag(d.action_hash.is_some(), HASH)
        | flag(d.policy.version.is_some(), VERSION)
        | flag(d.fallback, FALLBACK);
    let mut w = Writer::new(flags)?;
    w.text(d.effect.as_str())?;
    w.text(d.code.as_str())?;
    if let Some(rule) = &d.rule {
        w.text(rule)?;
    }
    w.text(&d.reason)?;
    w.unit(d.matched.len())?;
    for rule in &d.matched {
        w.text(rule)?;
    }
    w.unit(d.shadow.len())?;
    for hit in &d.shadow {
        w.text(&hit.rule)?;
        w.text(hit.effect)?;
    }
    if let Some(params) = &params {
        w.text(params)?;
    }
    if let Some(ms) = d.retry_after_ms {
        w.number(ms)?;
    }
    if let Some(hash) = &d.action_hash {
        w.text(hash)?;
    }
    w.text(&d.policy.name)?;
    if let Some(version) = &d.policy.version {
        w.text(version)?;
    }
    w.number(d.eval_ns)?;
    Some(w.out)
}

/// The compact form of `verdict`: flags (rule, retry, params modified), effect, code, then the
/// rule and `retry_after_ms` when present; or, for a rule id too long for the compact form, the
/// JSON text of the verdict object (`src/compact.ts`'s `Verdict`).
pub fn compact_verdict(verdict: &Verdict) -> String {
    let flags = flag(verdict.rule.is_some(), RULE)
        | flag(verdict.retry_after_ms.is_some(), RETRY)
        | flag(verdict.params_modified, PARAMS_MODIFIED);
    write_verdict(verdict, flags).unwrap_or_else(|| {
        serde_json::json!({
            "effect": verdict.effect.as_str(),
            "allowed": verdict.allowed(),
            "code": verdict.code.as_str(),
            "rule": verdict.rule.as_deref(),
            "retry_after_ms": verdict.retry_after_ms,
            "params_modified": verdict.params_modified,
        })
        .to_string()
    })
}

fn write_verdict(verdict: &Verdict, flags: usize) -> Option<String> {
    let mut w = Writer::new(flags)?;
    w.text(verdict.effect.as_str())?;
    w.text(verdict.code.as_str())?;
    if let Some(rule) = &verdict.rule {
        w.text(rule)?;
    }
    if let Some(ms) = verdict.retry_after_ms {
        w.number(ms)?;
    }
    Some(w.out)
}
