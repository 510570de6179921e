//! Exact sliding-window rate limits.
//!
//! Per key, only the `max` latest admission times matter: an action at time `t` is over the
//! limit when the `max`-th latest admission is later than `t - window` (admissions stamped
//! after `t`, when the clock was set back, count too). Keeping exactly those stamps makes the
//! check exact whatever the clock does, in O(max) memory per key.
use crate::action::ActionView;
use crate::field::FieldPath;
use crate::json::write_jcs;
use crate::state::Digest;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::{Mutex, MutexGuard, OnceLock};

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

    /// The limit's identity across engines and policy updates: the SHA-256 of its signature.
    pub(crate) fn id(&self, rule_id: &str) -> Digest {
        Sha256::digest(self.signature(rule_id).as_bytes()).into()
    }

    /// The counter key of an action, as the SHA-256 of its parts, each length-prefixed so parts
    /// cannot run together. A fixed-size digest keeps the key cap a bound on memory whatever
    /// the size of the values keyed on. `per` is sorted by name at load, so the key does not
    /// depend on the order it is listed in.
    pub(crate) fn key(
        &self,
        action: &ActionView<'_>,
        roles: &[std::sync::Arc<str>],
        roles_value: &Value,
    ) -> Digest {
        let mut key = Sha256::new();
        let mut text = |tag: char, s: &str| {
            // `{tag}{len}:` without allocating: a char, at most 20 digits and a colon fit.
            let mut head = [0u8; 32];
            let mut cur = std::io::Cursor::new(head.as_mut_slice());
            let _ = write!(cur, "{tag}{}:", s.len());
            let n = usize::try_from(cur.position()).unwrap_or(0);
            key.update(head.get(..n).unwrap_or_default());
            key.update(s.as_bytes());
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
        key.finalize().into()
    }
}

/// The admissions of one limit rule, per key. Shared by every snapshot whose rule has the
/// same signature, so counters survive policy updates.
#[derive(Debug)]
pub(crate) struct LimitState {
    keys: Mutex<HashMap<Digest, VecDeque<i64>>>,
    max_keys: usize,
    /// The limit's [`LimitSpec::id`], computed on first use.
    id: OnceLock<Digest>,
}

/// A locked limit, checked and then (when the whole decision is allow) admitted.
pub(crate) struct Held<'a> {
    guard: MutexGuard<'a, HashMap<Digest, VecDeque<i64>>>,
    max_keys: usize,
}

impl LimitState {
    pub(crate) fn new(max_keys: usize) -> LimitState {
        LimitState {
            keys: Mutex::new(HashMap::new()),
            max_keys,
            id: OnceLock::new(),
        }
    }

    /// The limit's identity (see [`LimitSpec::id`]), cached: every rule sharing this state
    /// has the same signature.
    pub(crate) fn id(&self, rule_id: &str, spec: &LimitSpec) -> Digest {
        *self.id.get_or_init(|| spec.id(rule_id))
    }

    /// Bytes held by this limit's keys and admission stamps (not counting the table's own
    /// slack): bounded by `max_keys × (32 + 8 × max)` whatever the keyed values weigh.
    #[cfg(test)]
    pub(crate) fn stored_bytes(&self) -> usize {
        self.keys.lock().map_or(0, |keys| {
            keys.values()
                .map(|stamps| std::mem::size_of::<Digest>() + 8 * stamps.len())
                .sum()
        })
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
    pub(crate) fn check(
        &mut self,
        key: &Digest,
        now: i64,
        max: u32,
        window_ms: u64,
    ) -> Result<(), u64> {
        let window = i64::try_from(window_ms).unwrap_or(i64::MAX);
        let max = max as usize;
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
    pub(crate) fn admit(&mut self, key: Digest, now: i64, max: u32) {
        let stamps = self.guard.entry(key).or_default();
        // INVARIANT: `stamps` is sorted ascending and holds at most `max` entries: the latest ones.
        let pos = stamps.iter().rposition(|&t| t <= now).map_or(0, |p| p + 1);
        stamps.insert(pos, now);
        while stamps.len() > max as usize {
            stamps.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::ActionView;

    const K: Digest = [7; 32];

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
            assert_eq!(held.check(&K, t, spec.max, spec.window_ms), Ok(()));
            held.admit(K, t, spec.max);
        }
        assert_eq!(
            held.check(&K, 30_000, spec.max, spec.window_ms),
            Err(30_000)
        );
        assert_eq!(held.check(&K, 59_999, spec.max, spec.window_ms), Err(1));
        assert_eq!(held.check(&K, 60_000, spec.max, spec.window_ms), Ok(()));
        // Clock set back: later stamps still count.
        assert_eq!(
            held.check(&K, -5_000, spec.max, spec.window_ms),
            Err(65_000)
        );
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
        held.admit([1; 32], 0, spec.max);
        held.admit([2; 32], 500, spec.max);
        assert_eq!(
            held.check(&[3; 32], 600, spec.max, spec.window_ms),
            Err(400)
        );
        assert_eq!(
            held.check(&[3; 32], 1_000, spec.max, spec.window_ms),
            Ok(())
        );
    }

    #[test]
    fn keys_are_fixed_size_digests_so_the_cap_bounds_memory() {
        // 1000 distinct 1 MiB values keyed on: ~1 GiB if keys were stored verbatim.
        let spec = LimitSpec {
            max: 1,
            window_ms: 60_000,
            per: vec![PerPart::parse("params.blob").unwrap()],
        };
        let state = LimitState::new(100_000);
        let mut blob = "x".repeat(1 << 20);
        for i in 0..1000u32 {
            blob.replace_range(0..8, &format!("{i:08}"));
            let action = serde_json::json!({
                "tool": "t", "agent": {"id": "a"}, "params": {"blob": blob}
            });
            let view = ActionView::from_value(&action).unwrap();
            let key = spec.key(&view, &[], &Value::Null);
            let mut held = state.lock().unwrap();
            assert_eq!(held.check(&key, 0, spec.max, spec.window_ms), Ok(()));
            held.admit(key, 0, spec.max);
        }
        assert_eq!(
            state.keys.lock().unwrap().len(),
            1000,
            "every key is distinct"
        );
        assert!(
            state.stored_bytes() <= 1000 * (32 + 8),
            "stored {} bytes",
            state.stored_bytes()
        );
    }

    #[test]
    fn key_parts_cannot_run_together() {
        let spec = LimitSpec {
            max: 1,
            window_ms: 1,
            per: vec![PerPart::Agent, PerPart::Tool],
        };
        let a = serde_json::json!({"tool": "bc", "agent": {"id": "a"}});
        let b = serde_json::json!({"tool": "c", "agent": {"id": "ab"}});
        let ka = spec.key(&ActionView::from_value(&a).unwrap(), &[], &Value::Null);
        let kb = spec.key(&ActionView::from_value(&b).unwrap(), &[], &Value::Null);
        assert_ne!(ka, kb);
    }
}
