//! The rule indexes: rules filed by exact tool or agent names and `prefix*` globs, and within
//! those by the constant a `when` guard compares a field with (`eq` / `in`), so a large policy
//! is not scanned rule by rule.
use super::{order_key, Rule, RuleEffect, Snapshot};
use crate::condition::{Cond, Op};
use crate::field::FieldPath;
use crate::fnv::PolicyMap;
use crate::glob::Glob;
use crate::small::SmallList;
use serde_json::Value;
use std::collections::HashMap;

/// Rule indexes (into `Snapshot::rules`) that one index entry yields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bucket {
    /// allow / deny / require_approval rules, in combining order.
    pub(crate) decide: Vec<u32>,
    /// Non-shadow rate_limit rules, in document order.
    pub(crate) limits: Vec<u32>,
    /// Shadow rules, in document order.
    pub(crate) shadow: Vec<u32>,
}

/// The buckets one evaluation merges (inline up to 8).
pub(crate) type Buckets<'a> = SmallList<&'a Bucket, 8>;

/// Fills the unused slots of [`Buckets`].
static NO_RULES: Bucket = Bucket {
    decide: Vec::new(),
    limits: Vec::new(),
    shadow: Vec::new(),
};

impl Bucket {
    /// Files rule `i` in the list its kind goes to (once, however often it is filed).
    fn put(&mut self, i: u32, rule: &Rule) {
        let list = if rule.shadow {
            &mut self.shadow
        } else if rule.effect == RuleEffect::RateLimit {
            &mut self.limits
        } else {
            &mut self.decide
        };
        if list.last() != Some(&i) {
            list.push(i);
        }
    }
}

/// A constant a guard compares with, keyed as `json_eq` compares scalars: strings by their
/// text, numbers as doubles (so `1` and `1.0` share a key, and `-0` is `0`), booleans.
enum Key<'a> {
    Str(&'a str),
    Num(u64),
    Bool(bool),
}

impl Key<'_> {
    /// The key of a scalar; `None` for arrays, objects and null (never indexed).
    fn of(v: &Value) -> Option<Key<'_>> {
        match v {
            Value::String(s) => Some(Key::Str(s)),
            Value::Bool(b) => Some(Key::Bool(*b)),
            Value::Number(n) => {
                let f = crate::json::num(n);
                // NaN equals nothing, so it has no key (it cannot come from JSON anyway).
                (!f.is_nan()).then(|| Key::Num(if f == 0.0 { 0 } else { f.to_bits() }))
            }
            _ => None,
        }
    }
}

/// Rules filed by the constant their `when` requires `path` to equal: a rule whose guard is
/// `{"field": path, "eq": c}` or `{"field": path, "in": [...]}`, alone or as a conjunct of
/// (nested) `all`, cannot fire when the field holds another value (the guard is false, so is
/// `when`). When the field is missing the guard is unknown and every rule filed here is a
/// candidate.
#[derive(Debug)]
pub(crate) struct Guard {
    path: FieldPath,
    strings: PolicyMap<String, Bucket>,
    numbers: PolicyMap<u64, Bucket>,
    falses: Bucket,
    trues: Bucket,
    /// Every rule filed here.
    all: Bucket,
}

impl Guard {
    fn new(path: FieldPath) -> Guard {
        Guard {
            path,
            strings: PolicyMap::default(),
            numbers: PolicyMap::default(),
            falses: Bucket::default(),
            trues: Bucket::default(),
            all: Bucket::default(),
        }
    }

    fn slot(&mut self, key: &Key<'_>) -> &mut Bucket {
        match key {
            Key::Str(s) => self.strings.entry((*s).to_owned()).or_default(),
            Key::Num(n) => self.numbers.entry(*n).or_default(),
            Key::Bool(true) => &mut self.trues,
            Key::Bool(false) => &mut self.falses,
        }
    }

    /// The rules that may fire when the field holds `v` (`None`: missing).
    fn lookup(&self, v: Option<&Value>) -> Option<&Bucket> {
        let Some(v) = v else {
            return Some(&self.all);
        };
        match Key::of(v)? {
            Key::Str(s) => self.strings.get(s),
            Key::Num(n) => self.numbers.get(&n),
            Key::Bool(true) => Some(&self.trues),
            Key::Bool(false) => Some(&self.falses),
        }
    }

    fn buckets_mut(&mut self) -> impl Iterator<Item = &mut Bucket> {
        self.strings
            .values_mut()
            .chain(self.numbers.values_mut())
            .chain([&mut self.falses, &mut self.trues])
            .chain(std::iter::once(&mut self.all))
    }
}

/// What one index entry (a name, a prefix, or "every other rule") yields: rules with no
/// indexable guard, and guarded rules filed by their guard's field.
#[derive(Debug, Default)]
pub(crate) struct Shelf {
    plain: Bucket,
    guards: Vec<Guard>,
}

/// A rule's chosen guard: its field's slot (one per distinct path), the path, the constants.
struct RuleGuard<'r> {
    slot: usize,
    path: &'r FieldPath,
    keys: Vec<Key<'r>>,
}

impl Shelf {
    fn file(&mut self, i: u32, rule: &Rule, guard: Option<&RuleGuard<'_>>) {
        let Some(g) = guard else {
            self.plain.put(i, rule);
            return;
        };
        let pos = match self.guards.iter().position(|x| x.path.slot == g.slot) {
            Some(pos) => pos,
            None => {
                self.guards.push(Guard::new(g.path.clone()));
                self.guards.len() - 1
            }
        };
        if let Some(entry) = self.guards.get_mut(pos) {
            entry.all.put(i, rule);
            for key in &g.keys {
                entry.slot(key).put(i, rule);
            }
        }
    }

    fn buckets_mut(&mut self) -> impl Iterator<Item = &mut Bucket> {
        std::iter::once(&mut self.plain).chain(self.guards.iter_mut().flat_map(Guard::buckets_mut))
    }

    /// Adds the buckets whose rules may fire, reading each guard's field with `field`.
    fn lookup<'a, 'v>(
        &'a self,
        field: &dyn Fn(&FieldPath) -> Option<&'v Value>,
        out: &mut Buckets<'a>,
    ) {
        out.push(&self.plain);
        for g in &self.guards {
            out.extend(g.lookup(field(&g.path)));
        }
    }
}

/// Shelves of rules filed under exact names and `prefix*` globs (of tools or agents).
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    exact: PolicyMap<String, Shelf>,
    prefix: PolicyMap<String, Shelf>,
    /// The distinct prefix lengths (bytes) of `prefix`, ascending.
    prefix_lens: Vec<usize>,
}

impl NameIndex {
    /// True when every glob can be filed here.
    fn accepts(globs: &[Glob]) -> bool {
        globs
            .iter()
            .all(|g| matches!(g, Glob::Exact(_) | Glob::Prefix(_)))
    }

    fn file(&mut self, globs: &[Glob], put: &mut dyn FnMut(&mut Shelf)) {
        for g in globs {
            match g {
                Glob::Exact(name) => put(self.exact.entry(name.clone()).or_default()),
                Glob::Prefix(p) => put(self.prefix.entry(p.clone()).or_default()),
                _ => {}
            }
        }
    }

    fn finish(&mut self, order: &dyn Fn(&u32) -> (i64, u32)) {
        for shelf in self.exact.values_mut().chain(self.prefix.values_mut()) {
            for b in shelf.buckets_mut() {
                b.decide.sort_by_key(order);
            }
        }
        self.prefix_lens = self.prefix.keys().map(String::len).collect();
        self.prefix_lens.sort_unstable();
        self.prefix_lens.dedup();
    }

    /// Adds the buckets of the shelves whose names or prefixes match `name`.
    fn lookup<'a, 'v>(
        &'a self,
        name: &str,
        field: &dyn Fn(&FieldPath) -> Option<&'v Value>,
        out: &mut Buckets<'a>,
    ) {
        if let Some(shelf) = self.exact.get(name) {
            shelf.lookup(field, out);
        }
        for &len in &self.prefix_lens {
            match name.get(..len) {
                Some(head) => {
                    if let Some(shelf) = self.prefix.get(head) {
                        shelf.lookup(field, out);
                    }
                }
                None if len > name.len() => break,
                None => {}
            }
        }
    }
}

/// The `eq` / `in` guards on scalar constants among the conjuncts of `c`.
fn guards_of<'r>(c: &'r Cond, out: &mut Vec<RuleGuard<'r>>) {
    let keys: Option<Vec<Key<'r>>> = match c {
        Cond::All(items) => {
            items.iter().for_each(|item| guards_of(item, out));
            return;
        }
        Cond::Leaf(_, Op::Eq(v)) => Key::of(v).map(|k| vec![k]),
        Cond::Leaf(_, Op::In(set)) => set.values().iter().map(Key::of).collect(),
        _ => None,
    };
    if let (Cond::Leaf(path, _), Some(keys)) = (c, keys) {
        out.push(RuleGuard {
            slot: path.slot,
            path,
            keys,
        });
    }
}

/// For each rule, the guard it is filed by: among its `when` guards, the one on the field
/// the most rules of the policy guard (so a shelf keeps few guard fields), the first on ties.
fn choose_guards(rules: &[Rule]) -> Vec<Option<RuleGuard<'_>>> {
    let all: Vec<Vec<RuleGuard<'_>>> = rules
        .iter()
        .map(|r| {
            let mut out = Vec::new();
            if let Some(when) = &r.when {
                guards_of(when, &mut out);
            }
            out
        })
        .collect();
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for guards in &all {
        let mut slots: Vec<usize> = guards.iter().map(|g| g.slot).collect();
        slots.sort_unstable();
        slots.dedup();
        for s in slots {
            *counts.entry(s).or_default() += 1;
        }
    }
    let count = |g: &RuleGuard<'_>| counts.get(&g.slot).copied().unwrap_or(0);
    all.into_iter()
        .map(|guards| {
            let mut best: Option<RuleGuard<'_>> = None;
            for g in guards {
                if best.as_ref().is_none_or(|b| count(&g) > count(b)) {
                    best = Some(g);
                }
            }
            best
        })
        .collect()
}

/// Fills the indexes: a rule whose `match.tool` holds only exact names and `prefix*` globs is
/// filed under each of them; otherwise, one whose `match.agent` does is filed by agent; every
/// other rule is unindexed. Within each, a rule with an `eq` / `in` guard (see [`Guard`]) is
/// filed by its constants. Evaluation merges the buckets that can apply to an action, so a
/// large policy is not scanned rule by rule. Field slots must be assigned first.
pub(crate) fn build_index(s: &mut Snapshot) {
    let mut by_tool = NameIndex::default();
    let mut by_agent = NameIndex::default();
    let mut unindexed = Shelf::default();
    let mut tool_indexed = vec![false; s.rules.len()];
    {
        let rules = &s.rules;
        let guards = choose_guards(rules);
        for ((i, rule), guard) in rules.iter().enumerate().zip(&guards) {
            let idx = i as u32;
            let mut put = |shelf: &mut Shelf| shelf.file(idx, rule, guard.as_ref());
            let m = &rule.matcher;
            match (&m.tool, &m.agent) {
                (Some(tools), _) if NameIndex::accepts(tools) => {
                    if let Some(flag) = tool_indexed.get_mut(i) {
                        *flag = true;
                    }
                    by_tool.file(tools, &mut put);
                }
                (_, Some(agents)) if NameIndex::accepts(agents) => {
                    by_agent.file(agents, &mut put);
                }
                _ => put(&mut unindexed),
            }
        }
        let first_match = s.first_match;
        let order = |i: &u32| order_key(first_match, rules, *i);
        by_tool.finish(&order);
        by_agent.finish(&order);
        for b in unindexed.buckets_mut() {
            b.decide.sort_by_key(order);
        }
    }
    for (rule, flag) in s.rules.iter_mut().zip(tool_indexed) {
        rule.matcher.tool_indexed = flag;
    }
    s.by_tool = by_tool;
    s.by_agent = by_agent;
    s.unindexed = unindexed;
}

impl Snapshot {
    /// The buckets whose rules can fire for an action on `tool` by `agent`; `field` reads the
    /// action's fields that guards compare (a missing field offers every rule it guards).
    pub(crate) fn buckets<'v>(
        &self,
        tool: &str,
        agent: &str,
        field: &dyn Fn(&FieldPath) -> Option<&'v Value>,
    ) -> Buckets<'_> {
        let mut out = Buckets::new(&NO_RULES);
        self.by_tool.lookup(tool, field, &mut out);
        self.by_agent.lookup(agent, field, &mut out);
        self.unindexed.lookup(field, &mut out);
        out
    }
}
