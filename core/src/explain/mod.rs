//! Explanations: why an action gets its decision. [`Engine::explain`] walks the same steps
//! as evaluation (§5 of the spec) and records each one: which rules the index offered and
//! why it skipped the others, each rule's match and conditions (with the values read and
//! their three-valued results), and the combining step that decided. It is a dry run: it
//! admits no rate-limit use, consumes no approval and writes no audit record.
use crate::action::{parse_action_json, ActionView};
use crate::condition::{Ctx, Tri};
use crate::decision::{Code, Decision, Effect};
use crate::engine::Engine;
use crate::eval::Outcome;
use crate::field::{FieldCache, FieldPath};
use crate::glob::Glob;
use crate::identity::Roles;
use crate::json::json_eq;
use crate::policy::{Matcher, Rule, RuleEffect, Snapshot};
use crate::state::{StateBackend, StateOutcome, StateRequest};

mod trace;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use trace::{guard_skip_reason, skip_reason, trace_cond};

/// What [`Engine::explain`] found: the decision evaluation would return now (without
/// consuming anything) and the trace that led to it.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The decision, as `evaluate_json` would return it at this moment.
    pub decision: Decision,
    value: Value,
}

impl Explanation {
    /// The whole explanation as a JSON value (see docs/cli/explain.md for its members).
    pub fn to_value(&self) -> &Value {
        &self.value
    }

    /// The whole explanation as JSON text.
    pub fn to_json(&self) -> String {
        self.value.to_string()
    }
}

pub(super) fn tri(t: Tri) -> &'static str {
    match t {
        Tri::True => "true",
        Tri::False => "false",
        Tri::Unknown => "unknown",
    }
}

impl Engine {
    /// Explains the decision for an action given as JSON text, as a dry run.
    pub fn explain(&self, action_json: &[u8]) -> Explanation {
        let (snap, state, now) = self.explain_parts();
        let value = match parse_action_json(action_json) {
            Ok(v) => v,
            Err(reason) => return invalid(&snap, reason),
        };
        match ActionView::from_value(&value) {
            Ok(view) => Tracer::new(&snap, &view, now).run(state),
            Err(reason) => invalid(&snap, reason),
        }
    }
}

fn invalid(snap: &Snapshot, reason: String) -> Explanation {
    let step = format!("the action is invalid ({reason}): deny with code invalid_action");
    let o = Outcome {
        effect: Effect::Deny,
        code: Code::InvalidAction,
        rule: None,
        reason: Some(Arc::from(reason)),
        matched: Vec::new(),
        matched_count: 0,
        shadow: Vec::new(),
        shadow_count: 0,
        params: None,
        retry_after_ms: None,
        action_hash: None,
    };
    let decision = o.into_decision(snap);
    let value = json!({
        "dry_run": true,
        "decision": decision.to_value(),
        "rules": [],
        "steps": [step],
    });
    Explanation { decision, value }
}

/// One rule's trace, kept while the decision is worked out.
struct Traced<'s> {
    rule: &'s Rule,
    offered: bool,
    fires: bool,
    value: Map<String, Value>,
}

struct Tracer<'s, 'a> {
    snap: &'s Snapshot,
    view: &'a ActionView<'a>,
    roles: Roles,
    now: i64,
    steps: Vec<String>,
}

impl<'s, 'a> Tracer<'s, 'a> {
    fn new(snap: &'s Snapshot, view: &'a ActionView<'a>, now: i64) -> Self {
        let roles = snap.registry.resolve(view.agent).into_owned();
        Tracer {
            snap,
            view,
            roles,
            now,
            steps: Vec::new(),
        }
    }

    /// The rules the index offers; `field` reads the fields its guards compare.
    fn offered<'v>(&self, field: &dyn Fn(&FieldPath) -> Option<&'v Value>) -> BTreeSet<u32> {
        self.snap
            .buckets(self.view.tool, self.view.agent, field)
            .as_slice()
            .iter()
            .flat_map(|b| b.decide.iter().chain(&b.limits).chain(&b.shadow).copied())
            .collect()
    }

    fn run(mut self, state: &dyn StateBackend) -> Explanation {
        let (offered, traced): (usize, Vec<Traced<'s>>) = {
            let ctx = Ctx {
                action: self.view,
                roles: &self.roles.value,
                now_ms: self.now,
                fields: FieldCache::new(),
            };
            let offered = self.offered(&|p| ctx.fields.get(p, ctx.action, ctx.roles));
            // What the name indexes alone offer: a rule among these was skipped by a guard.
            let by_name = self.offered(&|_| None);
            let rules: &'s [Rule] = &self.snap.rules;
            let traced = rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let i = i as u32;
                    let skipped = if offered.contains(&i) {
                        None
                    } else if by_name.contains(&i) {
                        Some(guard_skip_reason(r, &ctx))
                    } else {
                        Some(skip_reason(&r.matcher))
                    };
                    self.trace_rule(r, skipped, &ctx)
                })
                .collect();
            (offered.len(), traced)
        };
        self.steps.push(format!(
            "the index offered {} of {} enabled rules for tool {} and agent {}",
            offered,
            self.snap.rules.len(),
            crate::json::quote(self.view.tool),
            crate::json::quote(self.view.agent)
        ));
        let o = self.combine(&traced, state);
        let decision = o.into_decision(self.snap);
        let value = json!({
            "dry_run": true,
            "action": {
                "kind": self.view.kind.as_str(),
                "tool": self.view.tool,
                "agent": self.view.agent,
                "target": self.view.target,
            },
            "agent": {
                "id": self.view.agent,
                "known": self.roles.known,
                "roles": self.roles.value.clone(),
            },
            "combining": if self.snap.first_match { "first_match" } else { "deny_overrides" },
            "default": if self.snap.default_allow { "allow" } else { "deny" },
            "rules": traced.into_iter().map(|t| Value::Object(t.value)).collect::<Vec<_>>(),
            "steps": self.steps,
            "decision": decision.to_value(),
        });
        Explanation { decision, value }
    }

    /// `skipped`: why the index did not offer the rule (`None`: it did).
    fn trace_rule(&self, rule: &'s Rule, skipped: Option<String>, ctx: &Ctx<'_>) -> Traced<'s> {
        let offered = skipped.is_none();
        let mut v = Map::new();
        v.insert("id".into(), Value::from(&*rule.id));
        v.insert("effect".into(), Value::from(rule.effect.as_str()));
        if rule.shadow {
            v.insert("shadow".into(), Value::Bool(true));
        }
        if self.snap.first_match {
            v.insert("priority".into(), Value::from(rule.priority));
        }
        v.insert("considered".into(), Value::Bool(offered));
        if let Some(why) = skipped {
            v.insert("skipped".into(), Value::from(why));
            return Traced {
                rule,
                offered,
                fires: false,
                value: v,
            };
        }
        let (matched, detail) = self.trace_match(&rule.matcher);
        v.insert("match".into(), json!({ "result": matched, "keys": detail }));
        let mut fires = matched;
        let restricts = rule.effect.restricts();
        let mut unknown = false;
        for (key, cond, blocking) in [
            ("when", &rule.when, Tri::False),
            ("unless", &rule.unless, Tri::True),
        ] {
            let Some(cond) = cond.as_ref().filter(|_| matched) else {
                continue;
            };
            let (result, tree) = trace_cond(cond, ctx, key.to_owned());
            v.insert(key.into(), tree);
            unknown |= result == Tri::Unknown;
            let ok = result != blocking && (result != Tri::Unknown || restricts);
            fires &= ok;
        }
        v.insert("fires".into(), Value::Bool(fires));
        if let Some(note) = fire_note(rule, unknown, fires) {
            v.insert("note".into(), Value::from(note));
        }
        Traced {
            rule,
            offered,
            fires,
            value: v,
        }
    }
}

/// How an unknown condition counted, when one was unknown.
fn fire_note(rule: &Rule, unknown: bool, fires: bool) -> Option<String> {
    unknown.then(|| {
        if rule.effect.restricts() {
            format!(
                "{} rule: an unknown condition counts toward firing (fail closed); {}",
                rule.effect.as_str(),
                if fires {
                    "it fires"
                } else {
                    "it does not fire"
                }
            )
        } else {
            format!(
                "{} rule: an unknown condition keeps it from firing; {}",
                rule.effect.as_str(),
                if fires {
                    "it fires"
                } else {
                    "it does not fire"
                }
            )
        }
    })
}

impl<'s, 'a> Tracer<'s, 'a> {
    fn trace_match(&self, m: &Matcher) -> (bool, Vec<Value>) {
        let mut keys = Vec::new();
        let mut all = true;
        let mut globs = |key: &str, list: &Option<Vec<Glob>>, text: Option<&str>| {
            if let Some(list) = list {
                let ok = text.is_some_and(|t| list.iter().any(|g| g.matches(t)));
                all &= ok;
                keys.push(json!({ "key": key, "value": text, "result": ok }));
            }
        };
        globs("kind", &m.kind, Some(self.view.kind.as_str()));
        globs("tool", &m.tool, Some(self.view.tool));
        globs("agent", &m.agent, Some(self.view.agent));
        globs("target", &m.target, self.view.target);
        if let Some(want) = &m.role {
            let ok = want
                .iter()
                .any(|r| self.roles.names.binary_search(r).is_ok());
            all &= ok;
            keys.push(json!({ "key": "role", "value": self.roles.value.clone(), "result": ok }));
        }
        (all, keys)
    }

    /// The combining step (§5.2-5.5), mirroring evaluation without consuming anything.
    fn combine(&mut self, traced: &[Traced<'s>], state: &dyn StateBackend) -> Outcome<'s> {
        let mut o = Outcome::new(Some(self.view.hash()));
        let firing = |t: &&Traced<'s>| t.offered && t.fires;
        o.shadow = traced
            .iter()
            .filter(firing)
            .filter(|t| t.rule.shadow)
            .map(|t| t.rule)
            .collect();
        o.shadow_count = o.shadow.len() as u32;
        if !o.shadow.is_empty() {
            let ids: Vec<&str> = o.shadow.iter().map(|r| &*r.id).collect();
            self.steps.push(format!(
                "shadow rules that fire (reported, never deciding): {}",
                ids.join(", ")
            ));
        }
        if self.snap.require_known_agent && !self.roles.known {
            self.steps.push("require_known_agent is set and the agent matches no registry entry: deny with code unknown_agent".into());
            o.code = Code::UnknownAgent;
            o.reason = Some(Arc::from(format!(
                "agent {} matches no entry of the policy's agent registry",
                crate::json::quote(self.view.agent)
            )));
            return o;
        }
        let mut deciders: Vec<(u32, &Traced<'s>)> = traced
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.rule.shadow && t.rule.effect != RuleEffect::RateLimit)
            .filter(|(_, t)| firing(t))
            .map(|(i, t)| (i as u32, t))
            .collect();
        deciders.sort_by_key(|(i, _)| self.snap.order_key(*i));
        let (deciding, modifiers) = self.pick(&deciders, &mut o);
        self.settle(deciding, &modifiers, traced, state, o)
    }

    /// Which firing rule decides, and which allow rules' `modify` would apply.
    fn pick(
        &mut self,
        deciders: &[(u32, &Traced<'s>)],
        o: &mut Outcome<'s>,
    ) -> (Option<&'s Rule>, Vec<&'s Rule>) {
        let rules: Vec<&'s Rule> = deciders.iter().map(|(_, t)| t.rule).collect();
        if self.snap.first_match {
            let first = rules.first().copied();
            if let Some(r) = first {
                o.matched.push(r);
                self.steps.push(format!(
                    "first_match: {} is the first firing rule in priority then document order",
                    crate::json::quote(&r.id)
                ));
                let mods = if r.effect == RuleEffect::Allow {
                    vec![r]
                } else {
                    Vec::new()
                };
                return (Some(r), mods);
            }
            self.steps.push("first_match: no rule fires".into());
            return (None, Vec::new());
        }
        o.matched.extend(rules.iter().copied());
        let first = |e: RuleEffect| rules.iter().copied().find(|r| r.effect == e);
        let deciding = first(RuleEffect::Deny)
            .or_else(|| first(RuleEffect::RequireApproval))
            .or_else(|| first(RuleEffect::Allow));
        let ids: Vec<String> = rules
            .iter()
            .map(|r| format!("{} ({})", r.id, r.effect.as_str()))
            .collect();
        self.steps.push(match deciding {
            Some(r) => format!(
                "deny_overrides: firing rules {}; deny beats require_approval beats allow, so {} decides",
                ids.join(", "),
                crate::json::quote(&r.id)
            ),
            None => "deny_overrides: no rule fires".into(),
        });
        let mods = rules
            .iter()
            .copied()
            .filter(|r| r.effect == RuleEffect::Allow)
            .collect();
        (deciding, mods)
    }

    /// From the deciding rule to the decision: approvals, rate limits and `modify`.
    fn settle(
        &mut self,
        deciding: Option<&'s Rule>,
        modifiers: &[&'s Rule],
        traced: &[Traced<'s>],
        state: &dyn StateBackend,
        mut o: Outcome<'s>,
    ) -> Outcome<'s> {
        o.rule = deciding;
        match deciding {
            Some(r) if r.effect == RuleEffect::Deny => {
                o.code = Code::Rule;
                return o;
            }
            Some(r) if r.effect == RuleEffect::RequireApproval => {
                let hash = o.action_hash.clone().unwrap_or_default();
                let request = StateRequest {
                    now_ms: self.now,
                    grant: Some(&hash),
                    limits: &[],
                };
                if !matches!(state.peek(&request), Ok(StateOutcome::Admitted)) {
                    self.steps.push(format!(
                        "no approval grant covers action {hash}: require_approval"
                    ));
                    o.effect = Effect::RequireApproval;
                    o.code = Code::ApprovalRequired;
                    return o;
                }
                self.steps.push(format!(
                    "an approval grant covers action {hash} (not consumed by explain)"
                ));
                o.code = Code::Approved;
            }
            Some(_) => o.code = Code::Rule,
            None if self.snap.default_allow => self
                .steps
                .push("no rule decided: the policy default is allow".into()),
            None => {
                self.steps
                    .push("no rule decided: the policy default is deny".into());
                return o;
            }
        }
        if let Some(stop) = self.limits(traced, state, &mut o) {
            return stop;
        }
        o.effect = Effect::Allow;
        let mods: Vec<&crate::modify::Modify> =
            modifiers.iter().filter_map(|r| r.modify.as_ref()).collect();
        if mods.iter().any(|m| m.may_change(self.view.params())) {
            let mut params = self.view.params().clone();
            for m in mods {
                m.apply(&mut params);
            }
            if !json_eq(&params, self.view.params()) {
                self.steps
                    .push("modify: the allow rules' modify change params".into());
                o.params = Some(params);
            }
        }
        o
    }

    /// Checks (without admitting) every firing rate limit; `Some` when one is exhausted.
    fn limits(
        &mut self,
        traced: &[Traced<'s>],
        state: &dyn StateBackend,
        o: &mut Outcome<'s>,
    ) -> Option<Outcome<'s>> {
        let mut exhausted: Option<(&'s Rule, u64)> = None;
        for t in traced.iter().filter(|t| t.offered && t.fires) {
            let (rule, Some(spec)) = (t.rule, t.rule.limit.as_ref()) else {
                continue;
            };
            if rule.shadow || rule.effect != RuleEffect::RateLimit {
                continue;
            }
            o.matched.push(rule);
            let Some(check) = crate::eval::limit_check(rule, self.view, &self.roles) else {
                continue;
            };
            let request = StateRequest {
                now_ms: self.now,
                grant: None,
                limits: std::slice::from_ref(&check),
            };
            let result = match state.peek(&request) {
                Ok(StateOutcome::Exhausted { retry_after_ms, .. }) => Err(retry_after_ms),
                Ok(_) => Ok(()),
                Err(_) => {
                    o.rule = None;
                    o.code = Code::EngineError;
                    return Some(std::mem::replace(o, empty_like(o)));
                }
            };
            match result {
                Ok(()) => self.steps.push(format!(
                    "rate limit {}: room for one more ({} per {} ms; explain admits nothing)",
                    crate::json::quote(&rule.id),
                    spec.max,
                    spec.window_ms
                )),
                Err(retry) => {
                    self.steps.push(format!(
                        "rate limit {}: exhausted, retry after {retry} ms",
                        crate::json::quote(&rule.id)
                    ));
                    exhausted = match exhausted {
                        None => Some((rule, retry)),
                        Some((first, longest)) => Some((first, longest.max(retry))),
                    };
                }
            }
        }
        let (rule, retry) = exhausted?;
        o.code = Code::RateLimited;
        o.rule = Some(rule);
        o.retry_after_ms = Some(retry);
        o.effect = Effect::Deny;
        Some(std::mem::replace(o, empty_like(o)))
    }
}

/// A placeholder left behind when an outcome is moved out.
fn empty_like<'s>(o: &Outcome<'s>) -> Outcome<'s> {
    Outcome {
        effect: o.effect,
        code: o.code,
        ..Outcome::new(None)
    }
}
