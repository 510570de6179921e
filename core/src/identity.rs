//! The identity registry: agent ids (exact or glob) granted roles, closed under inheritance.
use crate::fnv::PolicyMap;
use crate::glob::Glob;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// An agent's roles: sorted by UTF-8 bytes, without duplicates.
#[derive(Debug, Clone)]
pub(crate) struct Roles {
    pub(crate) names: Vec<Arc<str>>,
    /// The same as a JSON array, for conditions on `agent.roles`.
    pub(crate) value: Value,
    /// False when the agent matched no registry entry.
    pub(crate) known: bool,
}

impl Roles {
    fn new(names: BTreeSet<Arc<str>>, known: bool) -> Roles {
        let names: Vec<Arc<str>> = names.into_iter().collect();
        let value = Value::Array(names.iter().map(|n| Value::String(n.to_string())).collect());
        Roles {
            names,
            value,
            known,
        }
    }
}

/// The compiled registry.
#[derive(Debug)]
pub(crate) struct Registry {
    exact: PolicyMap<String, Vec<usize>>,
    globs: Vec<(Glob, usize)>,
    /// The closed role set of each entry.
    entries: Vec<Roles>,
    none: Roles,
}

impl Registry {
    /// Builds the registry from `(id glob, closed roles)` entries in document order.
    pub(crate) fn new(entries: Vec<(Glob, BTreeSet<Arc<str>>)>) -> Registry {
        let mut exact: PolicyMap<String, Vec<usize>> = PolicyMap::default();
        let mut globs = Vec::new();
        let mut closed = Vec::with_capacity(entries.len());
        for (i, (glob, roles)) in entries.into_iter().enumerate() {
            match glob.as_exact() {
                Some(id) => exact.entry(id.to_owned()).or_default().push(i),
                None => globs.push((glob, i)),
            }
            closed.push(Roles::new(roles, true));
        }
        Registry {
            exact,
            globs,
            entries: closed,
            none: Roles::new(BTreeSet::new(), false),
        }
    }

    /// The roles of `agent`: the union over every matching entry.
    pub(crate) fn resolve(&self, agent: &str) -> Cow<'_, Roles> {
        let exact = self.exact.get(agent).map_or(&[][..], Vec::as_slice);
        let mut hits = exact.iter().copied().chain(
            self.globs
                .iter()
                .filter(|(g, _)| g.matches(agent))
                .map(|(_, i)| *i),
        );
        let Some(first) = hits.next() else {
            return Cow::Borrowed(&self.none);
        };
        let entry = |i: usize| self.entries.get(i).map_or(&[][..], |r| r.names.as_slice());
        match hits.next() {
            None => self
                .entries
                .get(first)
                .map_or(Cow::Borrowed(&self.none), Cow::Borrowed),
            Some(second) => {
                let mut union: BTreeSet<Arc<str>> = entry(first).iter().cloned().collect();
                union.extend(entry(second).iter().cloned());
                for i in hits {
                    union.extend(entry(i).iter().cloned());
                }
                Cow::Owned(Roles::new(union, true))
            }
        }
    }
}
