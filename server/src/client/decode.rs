//! Decisions and policy facts from the server's JSON, checked field by field: an answer
//! that is not exactly a §8 decision is no decision.
use portcullis::{Code, Decision, Effect, PolicyInfo, ShadowHit};
use serde_json::Value;
use std::sync::Arc;

/// The `{"name", "version"}` object of a decision or a policy answer.
pub(super) fn policy_from_value(v: &Value) -> Option<PolicyInfo> {
    Some(PolicyInfo {
        name: Arc::from(v.get("name")?.as_str()?),
        version: match v.get("version")? {
            Value::Null => None,
            Value::String(s) => Some(Arc::from(s.as_str())),
            _ => return None,
        },
    })
}

fn effect_of(s: &str) -> Option<Effect> {
    Some(match s {
        "allow" => Effect::Allow,
        "deny" => Effect::Deny,
        "require_approval" => Effect::RequireApproval,
        _ => return None,
    })
}

/// A shadow rule's effect (rule effects include `rate_limit`).
fn shadow_effect(s: &str) -> Option<&'static str> {
    ["allow", "deny", "require_approval", "rate_limit"]
        .into_iter()
        .find(|e| *e == s)
}

fn code_of(s: &str) -> Option<Code> {
    Some(match s {
        "rule" => Code::Rule,
        "default" => Code::Default,
        "approved" => Code::Approved,
        "rate_limited" => Code::RateLimited,
        "approval_required" => Code::ApprovalRequired,
        "unknown_agent" => Code::UnknownAgent,
        "invalid_action" => Code::InvalidAction,
        "engine_error" => Code::EngineError,
        "unavailable" => Code::Unavailable,
        _ => return None,
    })
}

fn opt_str(v: &Value) -> Option<Option<Arc<str>>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(Arc::from(s.as_str()))),
        _ => None,
    }
}

fn strs(v: &Value) -> Option<Vec<Arc<str>>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(Arc::from))
        .collect()
}

/// A §8 decision from its JSON; `None` when anything is missing, mistyped or inconsistent
/// (an `allowed` that disagrees with `effect` is not a decision).
pub fn decision_from_value(v: &Value) -> Option<Decision> {
    let effect = effect_of(v.get("effect")?.as_str()?)?;
    if v.get("allowed")?.as_bool()? != (effect == Effect::Allow) {
        return None;
    }
    let shadow = v
        .get("shadow")?
        .as_array()?
        .iter()
        .map(|s| {
            Some(ShadowHit {
                rule: Arc::from(s.get("rule")?.as_str()?),
                effect: shadow_effect(s.get("effect")?.as_str()?)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Decision {
        effect,
        code: code_of(v.get("code")?.as_str()?)?,
        rule: opt_str(v.get("rule")?)?,
        reason: Arc::from(v.get("reason")?.as_str()?),
        matched: strs(v.get("matched")?)?,
        shadow,
        params: match v.get("params")? {
            Value::Null => None,
            p => Some(p.clone()),
        },
        retry_after_ms: match v.get("retry_after_ms")? {
            Value::Null => None,
            n => Some(n.as_u64()?),
        },
        action_hash: opt_str(v.get("action_hash")?)?.map(|s| s.to_string()),
        policy: policy_from_value(v.get("policy")?)?,
        eval_ns: v.get("eval_ns")?.as_u64()?,
        fallback: v.get("fallback").and_then(Value::as_bool).unwrap_or(false),
    })
}
