//! The rule indexes: rules filed by exact tool or agent names and `prefix*` globs, so a large
//! policy is not scanned rule by rule.
use super::{order_key, RuleEffect, Snapshot};
use crate::fnv::PolicyMap;
use crate::glob::Glob;

/// Rule indexes (into `Snapshot::rules`) for one tool name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bucket {
    /// allow / deny / require_approval rules, in combining order.
    pub(crate) decide: Vec<u32>,
    /// Non-shadow rate_limit rules, in document order.
    pub(crate) limits: Vec<u32>,
    /// Shadow rules, in document order.
    pub(crate) shadow: Vec<u32>,
}

/// Buckets of rules filed under exact names and `prefix*` globs (of tools or agents).
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    exact: PolicyMap<String, Bucket>,
    prefix: PolicyMap<String, Bucket>,
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

    fn file(&mut self, globs: &[Glob], put: &mut dyn FnMut(&mut Bucket)) {
        for g in globs {
            match g {
                Glob::Exact(name) => put(self.exact.entry(name.clone()).or_default()),
                Glob::Prefix(p) => put(self.prefix.entry(p.clone()).or_default()),
                _ => {}
            }
        }
    }

    fn finish(&mut self, order: &dyn Fn(&u32) -> (i64, u32)) {
        for b in self.exact.values_mut().chain(self.prefix.values_mut()) {
            b.decide.sort_by_key(order);
        }
        self.prefix_lens = self.prefix.keys().map(String::len).collect();
        self.prefix_lens.sort_unstable();
        self.prefix_lens.dedup();
    }

    /// Adds the buckets whose names or prefixes match `name`.
    fn lookup<'a>(&'a self, name: &str, out: &mut Vec<&'a Bucket>) {
        out.extend(self.exact.get(name));
        for &len in &self.prefix_lens {
            match name.get(..len) {
                Some(head) => out.extend(self.prefix.get(head)),
                None if len > name.len() => break,
                None => {}
            }
        }
    }
}

/// Fills the indexes: a rule whose `match.tool` holds only exact names and `prefix*` globs is
/// filed under each of them; otherwise, one whose `match.agent` does is filed by agent; every
/// other rule is unindexed. Evaluation merges the buckets that can apply to an action, so a
/// large policy is not scanned rule by rule.
pub(crate) fn build_index(s: &mut Snapshot) {
    let mut by_tool = NameIndex::default();
    let mut by_agent = NameIndex::default();
    let mut unindexed = Bucket::default();
    for (i, rule) in s.rules.iter_mut().enumerate() {
        let i = i as u32;
        let (shadow, limit) = (rule.shadow, rule.effect == RuleEffect::RateLimit);
        let mut put = |b: &mut Bucket| {
            let list = if shadow {
                &mut b.shadow
            } else if limit {
                &mut b.limits
            } else {
                &mut b.decide
            };
            // A rule listing two names of one bucket is filed once.
            if list.last() != Some(&i) {
                list.push(i);
            }
        };
        let m = &mut rule.matcher;
        match (&m.tool, &m.agent) {
            (Some(tools), _) if NameIndex::accepts(tools) => {
                m.tool_indexed = true;
                by_tool.file(tools, &mut put);
            }
            (_, Some(agents)) if NameIndex::accepts(agents) => by_agent.file(agents, &mut put),
            _ => put(&mut unindexed),
        }
    }
    let first_match = s.first_match;
    let rules = &s.rules;
    let order = |i: &u32| order_key(first_match, rules, *i);
    by_tool.finish(&order);
    by_agent.finish(&order);
    unindexed.decide.sort_by_key(order);
    s.by_tool = by_tool;
    s.by_agent = by_agent;
    s.unindexed = unindexed;
}

impl Snapshot {
    /// The buckets whose rules can match an action on `tool` by `agent`.
    pub(crate) fn buckets(&self, tool: &str, agent: &str) -> Vec<&Bucket> {
        let mut out = Vec::with_capacity(4);
        self.by_tool.lookup(tool, &mut out);
        self.by_agent.lookup(agent, &mut out);
        out.push(&self.unindexed);
        out
    }
}
