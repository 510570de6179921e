//! Exact sliding-window rate limits.
//!
//! Per key, only the `max` latest admission times matter: an action at time `t` is over the
//! limit when the `max`-th latest admission is later than `t - window` (admissions stamped
//! after `t`, when the clock was set back, count too). Keeping exactly those stamps makes the
//! check exact whatever the clock does, in O(max) memory per key.
use crate::action::ActionView;
use crate::field::FieldPath;
use crate::json::write_jcs;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};

/// Largest `limit.max`.
pub(crate) const MAX_LIMIT: u64 = 1_000_000;
/// Longest window: 31 days.
pub(crate) const MAX_WINDOW_MS: u64 = 31 * 86_400_000;

/// One part of a counter key.
#[derive(Debug, Clone)]
pub(crate) enum PerPart {
    Agent,
    Tool,
    Target,
    Kind,
    Role,
    Field(String, FieldPath),
}

impl PerPart {
    pub(crate) fn parse(s: &str) -> Option<PerPart> {
        Some(match s {
            "agent" => PerPart::Agent,
            "tool" => PerPart::Tool,
            "target" => PerPart::Target,
            "kind" => PerPart::Kind,
            "role" => PerPart::Role,
            _ if s.starts_with("params.") || s.starts_with("context.") => {
                PerPart::Field(s.to_owned(), FieldPath::parse(s).ok()?)
            }
            _ => return None,
        })
    }
    pub(crate) fn name(&self) -> &str {
        match self {
            PerPart::Agent => "agent",
            PerPart::Tool => "tool",
            PerPart::Target => "target",
            PerPart::Kind => "kind",
            PerPart::Role => "role",
            PerPart::Field(s, _) => s,
        }
    }
}

/// A compiled `limit`.
#[derive(Debug, Clone)]
pub(crate) struct LimitSpec {
    pub(crate) max: u32,
    pub(crate) window_ms: u64,
    pub(crate) per: Vec<PerPart>,
}

impl LimitSpec {
    /// What must be unchanged for counters to survive a policy update: max, window, per set.
    pub(crate) fn signature(&self, id: &str) -> String {
        let mut per: Vec<&str> = self.per.iter().map(PerPart::name).collect();
        per.sort_unstable();
        per.dedup();
        format!(
            "{id}\u{0}{}\u{0}{}\u{0}{}",
            self.max,
            self.window_ms,
            per.join("\u{0}")
        )
    }

    /// The counter key of an action: each part length-prefixed, so parts cannot run together.
    /// `per` is sorted by name at load, so the key does not depend on the order it is listed in.
    pub(crate) fn key(
        &self,
        action: &ActionView<'_>,
        roles: &[std::sync::Arc<str>],
        roles_value: &Value,
    ) -> String {
        let mut key = String::new();
        let mut text = |tag: char, s: &str| {
            let _ = write!(key, "{tag}{}:{s}", s.len());
        };
        for part in &self.per {
            match part {
                PerPart::Agent => text('s', action.agent),
                PerPart::Tool => text('s', action.tool),
                PerPart::Kind => text('s', action.kind.as_str()),
                PerPart::Target => match action.target {
                    Some(t) => text('s', t),
                    None => text('-', ""),
                },
                PerPart::Role => {
                    let joined = roles
                        .iter()
                        .map(|r| r.as_ref())
                        .collect::<Vec<_>>()
                        .join("\u{0}");
                    text('r', &joined);
                }
                PerPart::Field(_, path) => match path.resolve(action, roles_value) {
                    None => text('-', ""),
                    Some(Value::String(s)) => text('s', s),
                    Some(v) => {
                        let mut canon = String::new();
                        write_jcs(v, &mut canon);
                        text('j', &canon);
                    }
                },
            }
        }
        key
    }
}

/// The admissions of one limit rule, per key. Shared by every snapshot whose rule has the
/// same signature, so counters survive policy updates.
#[derive(Debug)]
pub(crate) struct LimitState {
    keys: Mutex<HashMap<String, VecDeque<i64>>>,
    max_keys: usize,
}

/// A locked limit, checked and then (when the whole decision is allow) admitted.
pub(crate) struct Held<'a> {
    guard: MutexGuard<'a, HashMap<String, VecDeque<i64>>>,
    max_keys: usize,
}

impl LimitState {
    pub(crate) fn new(max_keys: usize) -> LimitState {
        LimitState {
            keys: Mutex::new(HashMap::new()),
            max_keys,
        }
    }

    /// Locks this limit's counters; `None` when the lock is poisoned (the caller fails closed).
    pub(crate) fn lock(&self) -> Option<Held<'_>> {
        self.keys.lock().ok().map(|guard| Held {
            guard,
            max_keys: self.max_keys,
        })
    }
}

impl Held<'_> {
    /// `Err(retry_after_ms)` when `key` is exhausted at `now` (or is new and no key slot can be
    /// freed); `Ok(())` when one more action may be admitted.
    pub(crate) fn check(&mut self, key: &str, now: i64, spec: &LimitSpec) -> Result<(), u64> {
        let window = spec.window_ms as i64;
        let max = spec.max as usize;
        if let Some(stamps) = self.guard.get(key) {
            return match stamps.front() {
                Some(&oldest) if stamps.len() >= max && oldest > now.saturating_sub(window) => {
                    Err(oldest.saturating_add(window).saturating_sub(now).max(1) as u64)
                }
                _ => Ok(()),
            };
        }
        if self.guard.len() < self.max_keys {
            return Ok(());
        }
        // Full: drop keys with nothing left in their window, then try again.
        self.guard.retain(|_, stamps| {
            stamps
                .back()
                .is_some_and(|&newest| newest > now.saturating_sub(window))
        });
        if self.guard.len() < self.max_keys {
            return Ok(());
        }
        let soonest = self
            .guard
            .values()
            .filter_map(|s| s.back())
            .map(|&newest| newest.saturating_add(window).saturating_sub(now))
            .min()
            .unwrap_or(1);
        Err(soonest.max(1) as u64)
    }

    /// Records an admission of `key` at `now`.
    pub(crate) fn admit(&mut self, key: String, now: i64, spec: &LimitSpec) {
        let stamps = self.guard.entry(key).or_default();
        // INVARIANT: `stamps` is sorted ascending and holds at most `max` entries: the latest ones.
        let pos = stamps.iter().rposition(|&t| t <= now).map_or(0, |p| p + 1);
        stamps.insert(pos, now);
        while stamps.len() > spec.max as usize {
            stamps.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_is_exact_and_retry_is_the_oldest_leaving() {
        let spec = LimitSpec {
            max: 3,
            window_ms: 60_000,
            per: vec![],
        };
        let state = LimitState::new(10);
        let mut held = state.lock().unwrap();
        for t in [0, 10_000, 20_000] {
            assert_eq!(held.check("k", t, &spec), Ok(()));
            held.admit("k".into(), t, &spec);
        }
        assert_eq!(held.check("k", 30_000, &spec), Err(30_000));
        assert_eq!(held.check("k", 59_999, &spec), Err(1));
        assert_eq!(held.check("k", 60_000, &spec), Ok(()));
        // Clock set back: later stamps still count.
        assert_eq!(held.check("k", -5_000, &spec), Err(65_000));
    }

    #[test]
    fn key_cap_drops_idle_keys_then_fails_closed() {
        let spec = LimitSpec {
            max: 1,
            window_ms: 1_000,
            per: vec![],
        };
        let state = LimitState::new(2);
        let mut held = state.lock().unwrap();
        held.admit("a".into(), 0, &spec);
        held.admit("b".into(), 500, &spec);
        assert_eq!(held.check("c", 600, &spec), Err(400));
        assert_eq!(held.check("c", 1_000, &spec), Ok(()));
    }
}
