//! The decision returned for every action.
use crate::json::write_jcs_string;
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::Arc;

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Effect {
    /// The action may run.
    Allow = 0,
    /// The action must not run.
    Deny = 1,
    /// The action may run once a human approves it (see `Engine::approve_hash`).
    RequireApproval = 2,
}

impl Effect {
    /// `"allow"`, `"deny"` or `"require_approval"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::RequireApproval => "require_approval",
        }
    }
}

/// Why the decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Code {
    /// A rule decided (`rule` names it).
    Rule = 0,
    /// No rule decided; the policy's `default` applied.
    Default = 1,
    /// A `require_approval` rule fired and a valid grant covered the action.
    Approved = 2,
    /// A rate limit is exhausted (`rule` names the limit, `retry_after_ms` says when to retry).
    RateLimited = 3,
    /// A `require_approval` rule fired and no grant covers the action.
    ApprovalRequired = 4,
    /// `require_known_agent` is set and the agent matches no registry entry.
    UnknownAgent = 5,
    /// The action is malformed (`reason` says how).
    InvalidAction = 6,
    /// The engine failed; the effect is deny.
    EngineError = 7,
    /// A remote engine (or the shared state) did not answer in time; the effect is deny.
    Unavailable = 8,
}

impl Code {
    /// The code's spelling in decisions (`"rule"`, `"rate_limited"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Rule => "rule",
            Code::Default => "default",
            Code::Approved => "approved",
            Code::RateLimited => "rate_limited",
            Code::ApprovalRequired => "approval_required",
            Code::UnknownAgent => "unknown_agent",
            Code::InvalidAction => "invalid_action",
            Code::EngineError => "engine_error",
            Code::Unavailable => "unavailable",
        }
    }
}

/// A shadow rule that fired; it did not change the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowHit {
    /// The shadow rule's id.
    pub rule: Arc<str>,
    /// The effect the rule would have had.
    pub effect: &'static str,
}

/// The policy that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The policy's `name`.
    pub name: Arc<str>,
    /// The policy's `version`, when it has one.
    pub version: Option<Arc<str>>,
}

/// The engine's answer for one action.
///
/// Rule ids (`rule`, `matched`, `shadow[].rule`) are interned per engine: the same allocation
/// lives until the engine is dropped, so a pointer into one stays valid that long.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The outcome.
    pub effect: Effect,
    /// Why.
    pub code: Code,
    /// The deciding rule, when a rule decided (codes `rule`, `approved`,
    /// `approval_required`, `rate_limited`).
    pub rule: Option<Arc<str>>,
    /// The deciding rule's `reason` (default: its id), or a sentence that says why.
    pub reason: Arc<str>,
    /// Non-shadow rules that fired and took part in the decision (see
    /// [docs/policy-language.md, "After the outcome"](../../docs/policy-language.md#84-after-the-outcome-rate-limits-and-matched)).
    pub matched: Vec<Arc<str>>,
    /// Shadow rules that fired, in document order.
    pub shadow: Vec<ShadowHit>,
    /// The rewritten `params`, only when `modify` changed them.
    pub params: Option<Value>,
    /// For `rate_limited`: milliseconds until the limit admits an action again.
    pub retry_after_ms: Option<u64>,
    /// `"sha256:"` + hex of the canonical action; `None` for an invalid action.
    pub action_hash: Option<String>,
    /// The policy that decided.
    pub policy: PolicyInfo,
    /// Time spent deciding, in nanoseconds.
    pub eval_ns: u64,
    /// True only when a remote-engine client decided with its local fallback policy because
    /// the remote engine was unavailable (see [docs/serve.md, "Clients"](../../docs/serve.md#clients));
    /// written only when true.
    pub fallback: bool,
}

/// The hot-path summary of a decision: what a host needs to act, without the lists, texts
/// and hash of a full [`Decision`]. Obtained from `Engine::evaluate_json_verdict`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The outcome.
    pub effect: Effect,
    /// Why.
    pub code: Code,
    /// The deciding rule (interned per engine, like [`Decision::rule`]).
    pub rule: Option<Arc<str>>,
    /// For `rate_limited`: milliseconds until the limit admits an action again.
    pub retry_after_ms: Option<u64>,
    /// True when `modify` rewrote the params (ask for the full decision to get them).
    pub params_modified: bool,
    /// How many rules are in the full decision's `matched`.
    pub matched_count: u32,
    /// How many rules are in the full decision's `shadow`.
    pub shadow_count: u32,
    /// Time spent deciding, in nanoseconds.
    pub eval_ns: u64,
}

impl From<&Decision> for Verdict {
    fn from(d: &Decision) -> Verdict {
        Verdict {
            effect: d.effect,
            code: d.code,
            rule: d.rule.clone(),
            retry_after_ms: d.retry_after_ms,
            params_modified: d.params.is_some(),
            matched_count: u32::try_from(d.matched.len()).unwrap_or(u32::MAX),
            shadow_count: u32::try_from(d.shadow.len()).unwrap_or(u32::MAX),
            eval_ns: d.eval_ns,
        }
    }
}

impl Verdict {
    /// A deny that no rule made (invalid action, engine error).
    pub(crate) fn denied(code: Code) -> Verdict {
        Verdict {
            effect: Effect::Deny,
            code,
            rule: None,
            retry_after_ms: None,
            params_modified: false,
            matched_count: 0,
            shadow_count: 0,
            eval_ns: 0,
        }
    }

    /// True only for `Effect::Allow`.
    pub fn allowed(&self) -> bool {
        self.effect == Effect::Allow
    }
}

impl Decision {
    /// True only for `Effect::Allow`.
    pub fn allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// The decision as a JSON object with the keys of the spec's §8, in that order.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        let opt_str = |out: &mut String, s: Option<&str>| match s {
            Some(s) => write_jcs_string(s, out),
            None => out.push_str("null"),
        };
        out.push_str("{\"effect\":\"");
        out.push_str(self.effect.as_str());
        out.push_str("\",\"allowed\":");
        out.push_str(if self.allowed() { "true" } else { "false" });
        out.push_str(",\"code\":\"");
        out.push_str(self.code.as_str());
        out.push_str("\",\"rule\":");
        opt_str(&mut out, self.rule.as_deref());
        out.push_str(",\"reason\":");
        write_jcs_string(&self.reason, &mut out);
        out.push_str(",\"matched\":[");
        for (i, m) in self.matched.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_jcs_string(m, &mut out);
        }
        out.push_str("],\"shadow\":[");
        for (i, s) in self.shadow.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"rule\":");
            write_jcs_string(&s.rule, &mut out);
            out.push_str(",\"effect\":\"");
            out.push_str(s.effect);
            out.push_str("\"}");
        }
        out.push_str("],\"params\":");
        match &self.params {
            Some(p) => out.push_str(&serde_json::to_string(p).unwrap_or_else(|_| "null".into())),
            None => out.push_str("null"),
        }
        out.push_str(",\"retry_after_ms\":");
        match self.retry_after_ms {
            Some(ms) => {
                let _ = write!(out, "{ms}");
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"action_hash\":");
        opt_str(&mut out, self.action_hash.as_deref());
        out.push_str(",\"policy\":{\"name\":");
        write_jcs_string(&self.policy.name, &mut out);
        out.push_str(",\"version\":");
        opt_str(&mut out, self.policy.version.as_deref());
        let _ = write!(out, "}},\"eval_ns\":{}", self.eval_ns);
        out.push_str(if self.fallback {
            ",\"fallback\":true}"
        } else {
            "}"
        });
        out
    }

    /// The decision as a JSON value (see [`Decision::to_json`]).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.to_json()).unwrap_or(Value::Null)
    }
}
