//! The policy: the compiled model evaluation reads, and how a document becomes one.
//!
//! - [`parse`]: the document parser (strict JSON, no recursion, key order recorded);
//! - [`known`]: the rule texts an update already holds compiled, which the parser steps over;
//! - [`reader`]: key order, the regex cache and the JSON-shape checks loaders share;
//! - [`load`]: the loader, one step per section of the document;
//! - [`roles`]: role inheritance and its cycles; [`rules`]: one rule; [`index`]: the rule
//!   indexes by tool, agent and constant guards.
use crate::condition::Cond;
use crate::decision::PolicyInfo;
use crate::glob::Glob;
use crate::identity::Registry;
use crate::limits::{LimitSpec, LimitState};
use crate::modify::Modify;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

pub(crate) mod check;
mod index;
mod known;
mod load;
pub(crate) mod parse;
pub(crate) mod reader;
mod roles;
mod rules;

pub(crate) use index::{Bucket, Buckets, NameIndex, Shelf};
pub(crate) use load::load;

/// Largest policy document accepted, in bytes.
pub(crate) const MAX_POLICY_BYTES: usize = 16 << 20;
/// Most rules a policy may hold.
pub(crate) const MAX_RULES: usize = 10_000;
pub(crate) use parse::MAX_POLICY_DEPTH;

/// Per-engine state that outlives policy swaps: interned rule ids (an id handed out in a
/// decision stays valid until the engine is dropped), the last policy's regexes (an update
/// that keeps a regex does not compile it again) and, once the policy has been updated, its
/// rules as written and as compiled (a later update that keeps a rule's text does not compile
/// the rule again).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: Mutex<HashSet<Arc<str>>>,
    regexes: Mutex<HashMap<String, regex::Regex>>,
    rules: Mutex<RuleCache>,
}

/// Rule texts with their ids, by index in the `rules` array (`None`: not kept).
pub(crate) type RuleTexts = Vec<Option<(Box<[u8]>, Arc<str>)>>;

/// The last loaded policy's rules: by id, each rule's JSON value and compiled form; and each
/// rule's exact text with its id, by its index in the document and by the text itself (a rule
/// whose bytes are unchanged is not even parsed again).
#[derive(Debug, Default)]
pub(crate) struct RuleCache {
    pub(crate) by_id: HashMap<Arc<str>, (serde_json::Value, rules::CompiledRule)>,
    /// By index in the `rules` array (`None`: not kept).
    pub(crate) texts: RuleTexts,
    /// Each kept text's index in `texts`.
    pub(crate) by_text: HashMap<Box<[u8]>, usize>,
}

impl Interner {
    /// Hands out the last policy's compiled rules (the cache is empty until the next
    /// [`Interner::keep_rules`]; a load that fails leaves it empty, which costs only time).
    pub(crate) fn take_rules(&self) -> RuleCache {
        std::mem::take(&mut *self.rules.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Keeps a newly loaded policy's rules for the next load.
    pub(crate) fn keep_rules(&self, rules: RuleCache) {
        *self.rules.lock().unwrap_or_else(PoisonError::into_inner) = rules;
    }

    /// The compiled regexes of the last policy loaded, by pattern.
    pub(crate) fn regexes(&self) -> HashMap<String, regex::Regex> {
        self.regexes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps the regexes a newly loaded policy uses (only these, so the cache never outgrows
    /// one policy).
    pub(crate) fn keep_regexes(&self, used: HashMap<String, regex::Regex>) {
        *self.regexes.lock().unwrap_or_else(PoisonError::into_inner) = used;
    }

    pub(crate) fn intern(&self, s: &str) -> Arc<str> {
        let mut set = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = set.get(s) {
            return found.clone();
        }
        let new: Arc<str> = Arc::from(s);
        set.insert(new.clone());
        new
    }
}

/// A rule's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleEffect {
    Allow,
    Deny,
    RequireApproval,
    RateLimit,
}

impl RuleEffect {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RuleEffect::Allow => "allow",
            RuleEffect::Deny => "deny",
            RuleEffect::RequireApproval => "require_approval",
            RuleEffect::RateLimit => "rate_limit",
        }
    }
    /// Rules that restrict fire when their conditions are unknown (§5.1).
    pub(crate) fn restricts(self) -> bool {
        self != RuleEffect::Allow
    }
}

/// `match`: every present key must match; each list matches when any entry does.
#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    /// True when the tool index already proves `tool` matches for every rule it yields.
    pub(crate) tool_indexed: bool,
    pub(crate) kind: Option<Vec<Glob>>,
    pub(crate) tool: Option<Vec<Glob>>,
    pub(crate) agent: Option<Vec<Glob>>,
    pub(crate) role: Option<Vec<Arc<str>>>,
    pub(crate) target: Option<Vec<Glob>>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: Arc<str>,
    pub(crate) effect: RuleEffect,
    pub(crate) reason: Arc<str>,
    pub(crate) shadow: bool,
    pub(crate) priority: i64,
    pub(crate) matcher: Matcher,
    pub(crate) when: Option<Cond>,
    pub(crate) unless: Option<Cond>,
    pub(crate) modify: Option<Modify>,
    pub(crate) limit: Option<LimitSpec>,
    /// Counters (non-shadow rate_limit rules only).
    pub(crate) state: Option<Arc<LimitState>>,
}

/// An immutable, compiled policy.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) info: PolicyInfo,
    pub(crate) default_allow: bool,
    pub(crate) first_match: bool,
    pub(crate) require_known_agent: bool,
    pub(crate) registry: Registry,
    /// Enabled rules, in document order.
    pub(crate) rules: Vec<Rule>,
    /// Rules whose `match.tool` holds only exact names and `prefix*` globs.
    pub(crate) by_tool: NameIndex,
    /// Other rules whose `match.agent` holds only exact names and `prefix*` globs.
    pub(crate) by_agent: NameIndex,
    /// Every other rule.
    pub(crate) unindexed: Shelf,
    /// `audit.include_params`: the paths (and their keys below `params`) audit records show.
    pub(crate) audit_params: Vec<(String, Vec<String>)>,
    /// Counters by limit signature, for carrying them over to the next snapshot.
    pub(crate) limit_states: HashMap<String, Arc<LimitState>>,
}

impl Snapshot {
    /// The sort key of a rule in this snapshot's combining order.
    pub(crate) fn order_key(&self, i: u32) -> (i64, u32) {
        order_key(self.first_match, &self.rules, i)
    }
}

/// The sort key of rule `i` in combining order: document order, or with `first_match`
/// priority (higher first) then document order.
pub(crate) fn order_key(first_match: bool, rules: &[Rule], i: u32) -> (i64, u32) {
    if first_match {
        (rules.get(i as usize).map_or(0, |r| -r.priority), i)
    } else {
        (0, i)
    }
}
