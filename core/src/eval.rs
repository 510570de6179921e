//! Evaluation of one valid action against a snapshot (§5 of the spec).
use crate::action::ActionView;
use crate::approvals::Approvals;
use crate::compile::{Rule, RuleEffect, Snapshot};
use crate::condition::{Ctx, Tri};
use crate::decision::{Code, Decision, Effect, ShadowHit, Verdict};
use crate::field::FieldCache;
use crate::identity::Roles;
use crate::json::json_eq;
use crate::limits::Held;
use std::sync::{Arc, LazyLock};

static REASON_DEFAULT_DENY: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("no rule allowed the action and the policy default is deny"));
static REASON_DEFAULT_ALLOW: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("no rule decided and the policy default is allow"));
static REASON_LIMIT_LOCK: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from("the engine could not read its rate-limit or approval state"));

impl crate::compile::Matcher {
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
            fallback: false,
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

/// Decides a valid action. With `full`, the outcome lists every matched and shadow rule and
/// carries the action hash; without, it counts them and hashes only to look up approvals.
pub(crate) fn decide<'s>(
    snap: &'s Snapshot,
    approvals: &Approvals,
    action: &ActionView<'_>,
    now: i64,
    full: bool,
) -> Outcome<'s> {
    let roles = snap.registry.resolve(action.agent);
    let ctx = Ctx {
        action,
        roles: &roles.value,
        now_ms: now,
        fields: FieldCache::new(),
    };
    let buckets = snap.buckets(action.tool, action.agent);
    let lists = |pick: fn(&crate::compile::Bucket) -> &[u32]| -> Vec<&[u32]> {
        buckets.iter().map(|b| pick(b)).collect()
    };
    let rule = |i: u32| snap.rules.get(i as usize);
    let doc_order = |i: u32| i;

    let mut o = Outcome {
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
        action_hash: full.then(|| action.hash()),
    };
    for r in merged(lists(|b| &b.shadow), doc_order).filter_map(rule) {
        if fires(r, &ctx, &roles) {
            o.shadow_count += 1;
            if full {
                o.shadow.push(r);
            }
        }
    }
    let matched = |o: &mut Outcome<'s>, r: &'s Rule| {
        o.matched_count += 1;
        if full {
            o.matched.push(r);
        }
    };

    if snap.require_known_agent && !roles.known {
        o.code = Code::UnknownAgent;
        o.reason = Some(Arc::from(format!(
            "agent {} matches no entry of the policy's agent registry",
            crate::json::quote(action.agent)
        )));
        return o;
    }

    // Which rule decides, and which allow rules' `modify` apply if the outcome is allow.
    let mut deciding: Option<&Rule> = None;
    let mut modifiers: Vec<&Rule> = Vec::new();
    let decide_list = merged(lists(|b| &b.decide), |i| snap.order_key(i));
    if snap.first_match {
        if let Some(r) = decide_list
            .filter_map(rule)
            .find(|r| fires(r, &ctx, &roles))
        {
            matched(&mut o, r);
            deciding = Some(r);
            if r.effect == RuleEffect::Allow {
                modifiers.push(r);
            }
        }
    } else {
        let (mut deny, mut approval, mut allow) = (None, None, None);
        for r in decide_list
            .filter_map(rule)
            .filter(|r| fires(r, &ctx, &roles))
        {
            matched(&mut o, r);
            match r.effect {
                RuleEffect::Deny => deny = deny.or(Some(r)),
                RuleEffect::RequireApproval => approval = approval.or(Some(r)),
                _ => {
                    allow = allow.or(Some(r));
                    modifiers.push(r);
                }
            }
        }
        deciding = deny.or(approval).or(allow);
    }

    let mut approvals_held = None;
    let mut grant = None;
    o.rule = deciding;
    match deciding {
        Some(r) if r.effect == RuleEffect::Deny => {
            o.code = Code::Rule;
            return o;
        }
        Some(r) if r.effect == RuleEffect::RequireApproval => {
            let Some(held) = approvals.lock() else {
                o.rule = None;
                o.code = Code::EngineError;
                return o;
            };
            let hash = o.action_hash.get_or_insert_with(|| action.hash());
            match held.find(hash, now) {
                None => {
                    o.effect = Effect::RequireApproval;
                    o.code = Code::ApprovalRequired;
                    return o;
                }
                Some(which) => {
                    o.code = Code::Approved;
                    grant = Some(which);
                    approvals_held = Some(held);
                }
            }
        }
        Some(_) => o.code = Code::Rule,
        None if snap.default_allow => {}
        None => return o,
    }

    // The outcome would be allow: check the rate limits that fire.
    let limits: Vec<(&Rule, String)> = merged(lists(|b| &b.limits), doc_order)
        .filter_map(rule)
        .filter(|r| fires(r, &ctx, &roles))
        .filter_map(|r| {
            r.limit
                .as_ref()
                .map(|spec| (r, spec.key(action, &roles.names, &roles.value)))
        })
        .collect();
    for (r, _) in &limits {
        matched(&mut o, r);
    }
    if !limits.is_empty() {
        // Lock every firing limit (in document order, so concurrent callers never deadlock),
        // check them all, and admit in all of them only if none is exhausted.
        let mut held: Vec<Held<'_>> = Vec::with_capacity(limits.len());
        for (r, _) in &limits {
            match r.state.as_ref().and_then(|s| s.lock()) {
                Some(h) => held.push(h),
                None => {
                    o.rule = None;
                    o.code = Code::EngineError;
                    return o;
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
            return o;
        }
        for ((r, key), h) in limits.into_iter().zip(held.iter_mut()) {
            if let Some(spec) = &r.limit {
                h.admit(key, now, spec);
            }
        }
    }
    if let (Some(mut held), Some(which), Some(hash)) = (approvals_held, grant, &o.action_hash) {
        held.consume(hash, which);
    }

    o.effect = Effect::Allow;
    let mods: Vec<&crate::modify::Modify> =
        modifiers.iter().filter_map(|r| r.modify.as_ref()).collect();
    if mods.iter().any(|m| m.may_change(action.params)) {
        let mut params = action.params.clone();
        for m in mods {
            m.apply(&mut params);
        }
        if !json_eq(&params, action.params) {
            o.params = Some(params);
        }
    }
    o
}
