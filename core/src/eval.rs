//! Evaluation of one valid action against a snapshot (§5 of the spec).
use crate::action::ActionView;
use crate::condition::{Ctx, Tri};
use crate::decision::{Code, Decision, Effect, ShadowHit, Verdict};
use crate::field::FieldCache;
use crate::identity::Roles;
use crate::json::json_eq;
use crate::policy::{Bucket, Buckets, Rule, RuleEffect, Snapshot};
use crate::small::SmallList;
use crate::state::{LimitCheck, StateBackend, StateError, StateOutcome, StateRequest};
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
    lists: impl Iterator<Item = &'a [u32]>,
    key: impl Fn(u32) -> K + 'a,
) -> impl Iterator<Item = u32> + 'a {
    // The rest of each non-empty list (most actions have one or two).
    let mut heads: SmallList<&'a [u32], 8> = SmallList::new(&[]);
    heads.extend(lists.filter(|l| !l.is_empty()));
    let mut last: Option<u32> = None;
    std::iter::from_fn(move || loop {
        let mut best: Option<(usize, u32)> = None;
        for (h, list) in heads.as_slice().iter().enumerate() {
            if let Some(&x) = list.first() {
                if best.is_none_or(|(_, b)| key(x) < key(b)) {
                    best = Some((h, x));
                }
            }
        }
        let (h, x) = best?;
        if let Some(head) = heads.as_mut_slice().get_mut(h) {
            *head = head.get(1..).unwrap_or_default();
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
    pub(crate) fn new(action_hash: Option<String>) -> Self {
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
    buckets: Buckets<'s>,
    detail: Detail,
}

impl<'s, 'c> Pass<'s, 'c> {
    /// The firing rules of one list kind, in `key` order.
    fn firing<K: Ord + 's, F: Fn(u32) -> K + 's>(
        &self,
        pick: fn(&Bucket) -> &[u32],
        key: F,
    ) -> impl Iterator<Item = &'s Rule> + use<'_, 's, 'c, K, F> {
        merged(self.buckets.as_slice().iter().map(move |b| pick(b)), key)
            .filter_map(|i| self.snap.rules.get(i as usize))
            .filter(|r| fires(r, self.ctx, self.roles))
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
        // Only the allow rules that have a `modify` (no allocation for the others).
        let mut modifiers = Vec::new();
        if snap.first_match {
            let first = candidates.next();
            if let Some(r) = first {
                self.matched(o, r);
                if r.effect == RuleEffect::Allow && r.modify.is_some() {
                    modifiers.push(r);
                }
            }
            return (first, modifiers);
        }
        let (mut deny, mut approval, mut allow) = (None, None, None);
        for r in candidates {
            self.matched(o, r);
            match r.effect {
                RuleEffect::Deny => deny = deny.or(Some(r)),
                RuleEffect::RequireApproval => approval = approval.or(Some(r)),
                _ => {
                    allow = allow.or(Some(r));
                    if r.modify.is_some() {
                        modifiers.push(r);
                    }
                }
            }
        }
        (deny.or(approval).or(allow), modifiers)
    }

    /// Step 4: the rate limits that fire and the grant a `require_approval` outcome needs, in
    /// one step of the state backend that finds the grant, checks the limits and admits
    /// (§5.4, §5.5, §11.3). `Err(())` when the outcome is final (approval required, limited,
    /// or the state could not be read).
    fn state_step(
        &self,
        o: &mut Outcome<'s>,
        state: &dyn StateBackend,
        now: i64,
        needs_grant: bool,
    ) -> Result<(), ()> {
        let action = self.ctx.action;
        let (limit_rules, checks): (Vec<&'s Rule>, Vec<LimitCheck<'s>>) = self
            .firing(|b| &b.limits, |i| i)
            .filter_map(|r| Some((r, limit_check(r, action, self.roles)?)))
            .unzip();
        if !needs_grant && checks.is_empty() {
            return Ok(());
        }
        let request = StateRequest {
            now_ms: now,
            grant: if needs_grant {
                o.action_hash.as_deref()
            } else {
                None
            },
            limits: &checks,
        };
        let answer = state.decide(&request);
        if !matches!(answer, Ok(StateOutcome::NoGrant)) {
            for r in &limit_rules {
                self.matched(o, r);
            }
        }
        match answer {
            Ok(StateOutcome::Admitted) => {
                if needs_grant {
                    o.code = Code::Approved;
                }
                Ok(())
            }
            Ok(StateOutcome::NoGrant) => {
                o.effect = Effect::RequireApproval;
                o.code = Code::ApprovalRequired;
                Err(())
            }
            Ok(StateOutcome::Exhausted {
                first,
                retry_after_ms,
            }) => {
                o.code = Code::RateLimited;
                o.rule = limit_rules.get(first).copied();
                o.retry_after_ms = Some(retry_after_ms);
                Err(())
            }
            Err(StateError::Unavailable(why)) => {
                o.rule = None;
                o.code = Code::Unavailable;
                o.reason = Some(Arc::from(why));
                Err(())
            }
            Err(StateError::Failed(_)) => {
                engine_error(o);
                Err(())
            }
        }
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
    state: &dyn StateBackend,
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
        buckets: snap.buckets(action.tool, action.agent, &|p| {
            ctx.fields.get(p, action, ctx.roles)
        }),
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
    let mut needs_grant = false;
    match deciding {
        Some(r) if r.effect == RuleEffect::Deny => {
            o.code = Code::Rule;
            return o;
        }
        Some(r) if r.effect == RuleEffect::RequireApproval => {
            o.action_hash.get_or_insert_with(|| action.hash());
            needs_grant = true;
        }
        Some(_) => o.code = Code::Rule,
        None if snap.default_allow => {}
        None => return o,
    }
    if pass.state_step(&mut o, state, now, needs_grant).is_err() {
        return o;
    }
    o.effect = Effect::Allow;
    o.params = modified_params(&modifiers, action);
    o
}

/// A firing limit rule's part of the state step.
pub(crate) fn limit_check<'r>(
    r: &'r Rule,
    action: &ActionView<'_>,
    roles: &Roles,
) -> Option<LimitCheck<'r>> {
    let spec = r.limit.as_ref()?;
    let local = r.state.as_deref();
    Some(LimitCheck {
        limit: local.map_or_else(|| spec.id(&r.id), |s| s.id(&r.id, spec)),
        key: spec.key(action, &roles.names, &roles.value),
        max: spec.max,
        window_ms: spec.window_ms,
        local,
    })
}

/// Step 5: the action's params after every applicable `modify`, when they differ.
fn modified_params(modifiers: &[&Rule], action: &ActionView<'_>) -> Option<serde_json::Value> {
    let mods: Vec<&crate::modify::Modify> =
        modifiers.iter().filter_map(|r| r.modify.as_ref()).collect();
    if !mods.iter().any(|m| m.may_change(action.params())) {
        return None;
    }
    let mut params = action.params().clone();
    for m in mods {
        m.apply(&mut params);
    }
    (!json_eq(&params, action.params())).then_some(params)
}
