//! Evaluation of one valid action against a snapshot (§5 of the spec).
use crate::action::ActionView;
use crate::approvals::Approvals;
use crate::compile::{Rule, RuleEffect, Snapshot};
use crate::condition::{Ctx, Tri};
use crate::decision::{Code, Decision, Effect, ShadowHit};
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
        any(&self.tool, action.tool)
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

/// Merges two index lists that are each sorted by `key`.
fn merged<'a, K: Ord>(
    a: &'a [u32],
    b: &'a [u32],
    key: impl Fn(u32) -> K + 'a,
) -> impl Iterator<Item = u32> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || match (a.get(i), b.get(j)) {
        (Some(&x), Some(&y)) => {
            if key(x) <= key(y) {
                i += 1;
                Some(x)
            } else {
                j += 1;
                Some(y)
            }
        }
        (Some(&x), None) => {
            i += 1;
            Some(x)
        }
        (None, Some(&y)) => {
            j += 1;
            Some(y)
        }
        (None, None) => None,
    })
}

/// Decides a valid action. `eval_ns` is left 0 for the caller to fill.
pub(crate) fn decide(
    snap: &Snapshot,
    approvals: &Approvals,
    action: &ActionView<'_>,
    now: i64,
) -> Decision {
    let roles = snap.registry.resolve(action.agent);
    let ctx = Ctx {
        action,
        roles: &roles.value,
        now_ms: now,
    };
    let bucket = snap.by_tool.get(action.tool);
    let empty = crate::compile::Bucket::default();
    let bucket = bucket.unwrap_or(&empty);
    let any = &snap.any_tool;
    let rule = |i: u32| snap.rules.get(i as usize);
    let doc_order = |i: u32| i;

    let shadow: Vec<ShadowHit> = merged(&bucket.shadow, &any.shadow, doc_order)
        .filter_map(rule)
        .filter(|r| fires(r, &ctx, &roles))
        .map(|r| ShadowHit {
            rule: r.id.clone(),
            effect: r.effect.as_str(),
        })
        .collect();

    let mut d = Decision {
        effect: Effect::Deny,
        code: Code::Default,
        rule: None,
        reason: REASON_DEFAULT_DENY.clone(),
        matched: Vec::new(),
        shadow,
        params: None,
        retry_after_ms: None,
        action_hash: Some(action.hash()),
        policy: snap.info.clone(),
        eval_ns: 0,
    };

    if snap.require_known_agent && !roles.known {
        d.code = Code::UnknownAgent;
        d.reason = Arc::from(format!(
            "agent {} matches no entry of the policy's agent registry",
            crate::json::quote(action.agent)
        ));
        return d;
    }

    // Which rules decide, and which allow rules' `modify` apply if the outcome is allow.
    let mut deciding: Option<&Rule> = None;
    let mut modifiers: Vec<&Rule> = Vec::new();
    let decide_list = merged(&bucket.decide, &any.decide, |i| snap.order_key(i));
    if snap.first_match {
        if let Some(r) = decide_list
            .filter_map(rule)
            .find(|r| fires(r, &ctx, &roles))
        {
            d.matched.push(r.id.clone());
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
            d.matched.push(r.id.clone());
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
    match deciding {
        Some(r) if r.effect == RuleEffect::Deny => {
            d.code = Code::Rule;
            d.rule = Some(r.id.clone());
            d.reason = r.reason.clone();
            return d;
        }
        Some(r) if r.effect == RuleEffect::RequireApproval => {
            d.rule = Some(r.id.clone());
            d.reason = r.reason.clone();
            let Some(held) = approvals.lock() else {
                d.code = Code::EngineError;
                d.reason = REASON_LIMIT_LOCK.clone();
                return d;
            };
            let hash = d.action_hash.as_deref().unwrap_or_default();
            match held.find(hash, now) {
                None => {
                    d.effect = Effect::RequireApproval;
                    d.code = Code::ApprovalRequired;
                    return d;
                }
                Some(which) => {
                    d.code = Code::Approved;
                    grant = Some(which);
                    approvals_held = Some(held);
                }
            }
        }
        Some(r) => {
            d.code = Code::Rule;
            d.rule = Some(r.id.clone());
            d.reason = r.reason.clone();
        }
        None if snap.default_allow => d.reason = REASON_DEFAULT_ALLOW.clone(),
        None => return d,
    }

    // The outcome would be allow: check the rate limits that fire.
    let limits: Vec<(&Rule, String)> = merged(&bucket.limits, &any.limits, doc_order)
        .filter_map(rule)
        .filter(|r| fires(r, &ctx, &roles))
        .filter_map(|r| {
            r.limit
                .as_ref()
                .map(|spec| (r, spec.key(action, &roles.names, &roles.value)))
        })
        .collect();
    d.matched.extend(limits.iter().map(|(r, _)| r.id.clone()));
    if !limits.is_empty() {
        // Lock every firing limit (in document order, so concurrent callers never deadlock),
        // check them all, and admit in all of them only if none is exhausted.
        let mut held: Vec<Held<'_>> = Vec::with_capacity(limits.len());
        for (r, _) in &limits {
            match r.state.as_ref().and_then(|s| s.lock()) {
                Some(h) => held.push(h),
                None => {
                    d.effect = Effect::Deny;
                    d.code = Code::EngineError;
                    d.rule = None;
                    d.reason = REASON_LIMIT_LOCK.clone();
                    return d;
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
            d.effect = Effect::Deny;
            d.code = Code::RateLimited;
            d.rule = Some(r.id.clone());
            d.reason = r.reason.clone();
            d.retry_after_ms = Some(retry);
            return d;
        }
        for ((r, key), h) in limits.into_iter().zip(held.iter_mut()) {
            if let Some(spec) = &r.limit {
                h.admit(key, now, spec);
            }
        }
    }
    if let (Some(mut held), Some(which)) = (approvals_held, grant) {
        held.consume(d.action_hash.as_deref().unwrap_or_default(), which);
    }

    d.effect = Effect::Allow;
    let mods: Vec<&crate::modify::Modify> =
        modifiers.iter().filter_map(|r| r.modify.as_ref()).collect();
    if !mods.is_empty() {
        let mut params = action.params.clone();
        for m in mods {
            m.apply(&mut params);
        }
        if !json_eq(&params, action.params) {
            d.params = Some(params);
        }
    }
    d
}
