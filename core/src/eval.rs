//! Evaluation of one valid action against a snapshot (§5 of the spec).
use crate::action::ActionView;
use crate::approvals::Approvals;
use crate::condition::{Ctx, Tri};
use crate::decision::{Code, Decision, Effect, ShadowHit, Verdict};
use crate::field::FieldCache;
use crate::identity::Roles;
use crate::json::json_eq;
use crate::limits::Held;
use crate::policy::{Bucket, Rule, RuleEffect, Snapshot};
use std::sync::{Arc, LazyLock};

static REASON_DEFAULT_DENY: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("no rule allowed the action and the policy default is deny"));
static REASON_DEFAULT_ALLOW: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("no rule decided and the policy default is allow"));
static REASON_LIMIT_LOCK: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("the engine could not read its rate-limit or approval state"));

impl crate::policy::Matcher {
    fn matches(&self, action: &ActionView<'_>, roles: &Roles) -> bool {
        let any = |globs: &Option<Vec<crate::glob::Glob>>, text: &str| {
            globs
                .as_ref()
                .is_none_or(|gs| gs.iter().any(|g| g.matches(text)))
        };
        (self.tool_indexed || any(&self.tool, action.tool))
            && any(&self.kind, action.kind.as_str())
            && any(&self.agent, action.agent)
            && self
                .role
                .as_ref()
                .is_none_or(|want| want.iter().any(|r| roles.names.binary_search(r).is_ok()))
            && match (&self.target, action.target) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(globs), Some(t)) => globs.iter().any(|g| g.matches(t)),
            }
    }
}

/// True when the rule fires: its match holds, `when` is true and `unless` is false, with an
/// unknown resolved toward restriction (§5.1).
fn fires(rule: &Rule, ctx: &Ctx<'_>, roles: &Roles) -> bool {
    if !rule.matcher.matches(ctx.action, roles) {
        return false;
    }
    let restricts = rule.effect.restricts();
    if let Some(when) = &rule.when {
        match when.eval(ctx) {
            Tri::True => {}
            Tri::False => return false,
            Tri::Unknown if restricts => {}
            Tri::Unknown => return false,
        }
    }
    if let Some(unless) = &rule.unless {
        match unless.eval(ctx) {
            Tri::False => {}
            Tri::True => return false,
            Tri::Unknown if restricts => {}
            Tri::Unknown => return false,
        }
    }
    true
}

/// Merges index lists that are each sorted by `key`, dropping repeats (a rule filed in two
/// buckets that both apply is visited once).
fn merged<'a, K: Ord>(
    lists: Vec<&'a [u32]>,
    key: impl Fn(u32) -> K + 'a,
) -> impl Iterator<Item = u32> + 'a {
    let mut heads: Vec<(&'a [u32], usize)> = lists
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| (l, 0))
        .collect();
    let mut last: Option<u32> = None;
    std::iter::from_fn(move || loop {
        let mut best: Option<(usize, u32)> = None;
        for (h, (list, pos)) in heads.iter().enumerate() {
            if let Some(&x) = list.get(*pos) {
                if best.is_none_or(|(_, b)| key(x) < key(b)) {
                    best = Some((h, x));
                }
            }
        }
        let (h, x) = best?;
        if let Some(head) = heads.get_mut(h) {
            head.1 += 1;
        }
        if last != Some(x) {
            last = Some(x);
            return Some(x);
        }
    })
}

/// What `decide` found, borrowing rules from the snapshot; turned into a [`Decision`] (full
/// detail) or a [`Verdict`] (the hot path: no lists, no texts, the hash only when needed).
pub(crate) struct Outcome<'s> {
    pub(crate) effect: Effect,
    pub(crate) code: Code,
    pub(crate) rule: Option<&'s Rule>,
    /// A reason that is neither the rule's nor a fixed sentence (unknown agent).
    pub(crate) reason: Option<Arc<str>>,
    pub(crate) matched: Vec<&'s Rule>,
    pub(crate) matched_count: u32,
    pub(crate) shadow: Vec<&'s Rule>,
    pub(crate) shadow_count: u32,
    pub(crate) params: Option<serde_json::Value>,
    pub(crate) retry_after_ms: Option<u64>,
    pub(crate) action_hash: Option<String>,
}

impl Outcome<'_> {
    /// A default-deny outcome, carrying `action_hash` if given.
    fn new(action_hash: Option<String>) -> Self {
        Outcome {
            effect: Effect::Deny,
            code: Code::Default,
            rule: None,
            reason: None,
            matched: Vec::new(),
            matched_count: 0,
            shadow: Vec::new(),
            shadow_count: 0,
            params: None,
            retry_after_ms: None,
            action_hash,
        }
    }

    /// The full decision (`eval_ns` left 0 for the caller).
    pub(crate) fn into_decision(self, snap: &Snapshot) -> Decision {
        let reason = match (self.reason, self.rule, self.code) {
            (Some(r), _, _) => r,
            (None, Some(rule), _) => rule.reason.clone(),
            (None, None, Code::EngineError) => REASON_LIMIT_LOCK.clone(),
            (None, None, _) if self.effect == Effect::Allow => REASON_DEFAULT_ALLOW.clone(),
            (None, None, _) => REASON_DEFAULT_DENY.clone(),
        };
        Decision {
            effect: self.effect,
            code: self.code,
            rule: self.rule.map(|r| r.id.clone()),
            reason,
            matched: self.matched.iter().map(|r| r.id.clone()).collect(),
            shadow: self
                .shadow
                .iter()
                .map(|r| ShadowHit {
                    rule: r.id.clone(),
                    effect: r.effect.as_str(),
                })
                .collect(),
            params: self.params,
            retry_after_ms: self.retry_after_ms,
            action_hash: self.action_hash,
            policy: snap.info.clone(),
            eval_ns: 0,
        }
    }

    /// The hot-path summary (`eval_ns` left 0 for the caller).
    pub(crate) fn verdict(&self) -> Verdict {
        Verdict {
            effect: self.effect,
            code: self.code,
            rule: self.rule.map(|r| r.id.clone()),
            retry_after_ms: self.retry_after_ms,
            params_modified: self.params.is_some(),
            matched_count: self.matched_count,
            shadow_count: self.shadow_count,
            eval_ns: 0,
        }
    }
}

/// How much an evaluation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Every matched and shadow rule, and the action hash: for a [`Decision`].
    Full,
    /// Counts only; the hash only to look up approvals: for a [`Verdict`].
    Counts,
}

/// One evaluation in progress: the action, what its rules can read, and the candidate rules.
struct Pass<'s, 'c> {
    snap: &'s Snapshot,
    ctx: &'c Ctx<'c>,
    roles: &'c Roles,
    buckets: Vec<&'s Bucket>,
    detail: Detail,
}

impl<'s> Pass<'s, '_> {
    /// The firing rules of one list kind, in `key` order.
    fn firing<K: Ord + 's>(
        &self,
        pick: fn(&Bucket) -> &[u32],
        key: impl Fn(u32) -> K + 's,
    ) -> Box<dyn Iterator<Item = &'s Rule> + '_> {
        let lists = self.buckets.iter().map(|b| pick(b)).collect();
        Box::new(
            merged(lists, key)
                .filter_map(|i| self.snap.rules.get(i as usize))
                .filter(|r| fires(r, self.ctx, self.roles)),
        )
    }

    fn matched(&self, o: &mut Outcome<'s>, r: &'s Rule) {
        o.matched_count += 1;
        if self.detail == Detail::Full {
            o.matched.push(r);
        }
    }

    /// Step 1: shadow rules, reported whatever the outcome.
    fn shadow(&self, o: &mut Outcome<'s>) {
        for r in self.firing(|b| &b.shadow, |i| i) {
            o.shadow_count += 1;
            if self.detail == Detail::Full {
                o.shadow.push(r);
            }
        }
    }

    /// Step 2: the deciding rule, and the allow rules whose `modify` applies if the outcome is
    /// allow.
    fn deciding(&self, o: &mut Outcome<'s>) -> (Option<&'s Rule>, Vec<&'s Rule>) {
        let snap = self.snap;
        let mut candidates = self.firing(|b| &b.decide, move |i| snap.order_key(i));
        let mut modifiers = Vec::new();
        if snap.first_match {
            let first = candidates.next();
            drop(candidates);
            if let Some(r) = first {
                self.matched(o, r);
                if r.effect == RuleEffect::Allow {
                    modifiers.push(r);
                }
            }
            return (first, modifiers);
        }
        let (mut deny, mut approval, mut allow) = (None, None, None);
        let all: Vec<&'s Rule> = candidates.collect();
        for r in all {
            self.matched(o, r);
            match r.effect {
                RuleEffect::Deny => deny = deny.or(Some(r)),
                RuleEffect::RequireApproval => approval = approval.or(Some(r)),
                _ => {
                    allow = allow.or(Some(r));
                    modifiers.push(r);
                }
            }
        }
        (deny.or(approval).or(allow), modifiers)
    }

    /// Step 4: the rate limits that fire. `Err(())` when the outcome is final (limited, or
    /// the counters could not be read).
    fn limits(&self, o: &mut Outcome<'s>, now: i64) -> Result<(), ()> {
        let action = self.ctx.action;
        let limits: Vec<(&'s Rule, String)> = self
            .firing(|b| &b.limits, |i| i)
            .filter_map(|r| {
                r.limit
                    .as_ref()
                    .map(|spec| (r, spec.key(action, &self.roles.names, &self.roles.value)))
            })
            .collect();
        for (r, _) in &limits {
            self.matched(o, r);
        }
        if limits.is_empty() {
            return Ok(());
        }
        // Lock every firing limit (in document order, so concurrent callers never deadlock),
        // check them all, and admit in all of them only if none is exhausted.
        let mut held: Vec<Held<'_>> = Vec::with_capacity(limits.len());
        for (r, _) in &limits {
            match r.state.as_ref().and_then(|s| s.lock()) {
                Some(h) => held.push(h),
                None => {
                    engine_error(o);
                    return Err(());
                }
            }
        }
        let mut exhausted: Option<(&Rule, u64)> = None;
        for ((r, key), h) in limits.iter().zip(held.iter_mut()) {
            let Some(spec) = &r.limit else { continue };
            if let Err(retry) = h.check(key, now, spec) {
                exhausted = match exhausted {
                    None => Some((r, retry)),
                    Some((first, longest)) => Some((first, longest.max(retry))),
                };
            }
        }
        if let Some((r, retry)) = exhausted {
            o.code = Code::RateLimited;
            o.rule = Some(r);
            o.retry_after_ms = Some(retry);
            return Err(());
        }
        for ((r, key), h) in limits.into_iter().zip(held.iter_mut()) {
            if let Some(spec) = &r.limit {
                h.admit(key, now, spec);
            }
        }
        Ok(())
    }
}

/// The outcome when the engine cannot read its own state: deny, code `engine_error`.
fn engine_error(o: &mut Outcome<'_>) {
    o.rule = None;
    o.code = Code::EngineError;
}

/// Decides a valid action: shadow rules, the deciding rule, approval, rate limits, modify.
/// `detail` says whether the outcome lists rules and carries the action hash.
pub(crate) fn decide<'s>(
    snap: &'s Snapshot,
    approvals: &Approvals,
    action: &ActionView<'_>,
    now: i64,
    detail: Detail,
) -> Outcome<'s> {
    let roles = snap.registry.resolve(action.agent);
    let ctx = Ctx {
        action,
        roles: &roles.value,
        now_ms: now,
        fields: FieldCache::new(),
    };
    let pass = Pass {
        snap,
        ctx: &ctx,
        roles: &roles,
        buckets: snap.buckets(action.tool, action.agent),
        detail,
    };
    let mut o = Outcome::new((detail == Detail::Full).then(|| action.hash()));
    pass.shadow(&mut o);
    if snap.require_known_agent && !roles.known {
        o.code = Code::UnknownAgent;
        o.reason = Some(Arc::from(format!(
            "agent {} matches no entry of the policy's agent registry",
            crate::json::quote(action.agent)
        )));
        return o;
    }
    let (deciding, modifiers) = pass.deciding(&mut o);
    o.rule = deciding;
    let mut grant = None;
    match deciding {
        Some(r) if r.effect == RuleEffect::Deny => {
            o.code = Code::Rule;
            return o;
        }
        Some(r) if r.effect == RuleEffect::RequireApproval => {
            match approval(&mut o, approvals, action, now) {
                Some(found) => grant = Some(found),
                None => return o,
            }
        }
        Some(_) => o.code = Code::Rule,
        None if snap.default_allow => {}
        None => return o,
    }
    if pass.limits(&mut o, now).is_err() {
        return o;
    }
    if let (Some((mut held, which)), Some(hash)) = (grant, &o.action_hash) {
        held.consume(hash, which);
    }
    o.effect = Effect::Allow;
    o.params = modified_params(&modifiers, action);
    o
}

/// Step 3: a grant for a `require_approval` outcome, held locked until the limits admit the
/// action. `None` when the outcome is final (approval required, or the grants could not be
/// read).
fn approval<'g>(
    o: &mut Outcome<'_>,
    approvals: &'g Approvals,
    action: &ActionView<'_>,
    now: i64,
) -> Option<(crate::approvals::HeldApprovals<'g>, usize)> {
    let Some(held) = approvals.lock() else {
        engine_error(o);
        return None;
    };
    let hash = o.action_hash.get_or_insert_with(|| action.hash());
    match held.find(hash, now) {
        None => {
            o.effect = Effect::RequireApproval;
            o.code = Code::ApprovalRequired;
            None
        }
        Some(which) => {
            o.code = Code::Approved;
            Some((held, which))
        }
    }
}

/// Step 5: the action's params after every applicable `modify`, when they differ.
fn modified_params(modifiers: &[&Rule], action: &ActionView<'_>) -> Option<serde_json::Value> {
    let mods: Vec<&crate::modify::Modify> =
        modifiers.iter().filter_map(|r| r.modify.as_ref()).collect();
    if !mods.iter().any(|m| m.may_change(action.params)) {
        return None;
    }
    let mut params = action.params.clone();
    for m in mods {
        m.apply(&mut params);
    }
    (!json_eq(&params, action.params)).then_some(params)
}
