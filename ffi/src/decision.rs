//! `portcullis_decision`: the plain struct the hot path fills.
use std::ptr;

use portcullis::{Code, Effect, Verdict};

/// `portcullis_decision.effect`: the action may run.
pub const PORTCULLIS_EFFECT_ALLOW: u32 = 0;
/// `portcullis_decision.effect`: the action must not run.
pub const PORTCULLIS_EFFECT_DENY: u32 = 1;
/// `portcullis_decision.effect`: the action may run only once a person approves it
/// (`portcullis_engine_approve_action` / `portcullis_engine_approve_hash`).
pub const PORTCULLIS_EFFECT_REQUIRE_APPROVAL: u32 = 2;

/// `portcullis_decision.code`: a rule decided.
pub const PORTCULLIS_CODE_RULE: u32 = 0;
/// `portcullis_decision.code`: no deciding rule fired; the policy's default applied.
pub const PORTCULLIS_CODE_DEFAULT: u32 = 1;
/// `portcullis_decision.code`: a require_approval rule fired and a valid approval covered the action.
pub const PORTCULLIS_CODE_APPROVED: u32 = 2;
/// `portcullis_decision.code`: a rate limit is exhausted (see `retry_after_ms`).
pub const PORTCULLIS_CODE_RATE_LIMITED: u32 = 3;
/// `portcullis_decision.code`: a require_approval rule fired and no approval covers the action.
pub const PORTCULLIS_CODE_APPROVAL_REQUIRED: u32 = 4;
/// `portcullis_decision.code`: the policy requires known agents and this one is not registered.
pub const PORTCULLIS_CODE_UNKNOWN_AGENT: u32 = 5;
/// `portcullis_decision.code`: the action is malformed (the JSON decision's `reason` says why).
pub const PORTCULLIS_CODE_INVALID_ACTION: u32 = 6;
/// `portcullis_decision.code`: the engine failed; the effect is deny.
pub const PORTCULLIS_CODE_ENGINE_ERROR: u32 = 7;
/// `portcullis_decision.code`: a remote engine or the shared state did not answer in time; deny.
pub const PORTCULLIS_CODE_UNAVAILABLE: u32 = 8;

/// A decision in a plain, blittable form, filled by `portcullis_engine_evaluate`.
///
/// It owns nothing: there is nothing to free. `rule` points into the engine, not into the
/// struct. The reason, matched and shadow rule ids, rewritten params and action hash are in
/// the JSON form (`portcullis_engine_evaluate_json`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortcullisDecision {
    /// `PORTCULLIS_EFFECT_ALLOW`, `PORTCULLIS_EFFECT_DENY` or `PORTCULLIS_EFFECT_REQUIRE_APPROVAL`.
    pub effect: u32,
    /// One of the `PORTCULLIS_CODE_*` values.
    pub code: u32,
    /// 1 iff `effect == PORTCULLIS_EFFECT_ALLOW`, else 0.
    pub allowed: u8,
    /// 1 when `rule` names the deciding rule, 0 when no rule decided (`rule` is then NULL).
    pub has_rule: u8,
    /// 1 when `retry_after_ms` is set (a rate-limited deny), else 0.
    pub has_retry_after: u8,
    /// 1 when an allow rule rewrote the params: fetch them with `portcullis_engine_evaluate_json`.
    pub params_modified: u8,
    /// How many non-shadow rules fired and took part in the decision.
    pub matched_count: u32,
    /// How many shadow rules fired.
    pub shadow_count: u32,
    /// The deciding rule's id: UTF-8, not NUL-terminated, `rule_len` bytes. Owned by the
    /// engine and valid until `portcullis_engine_free`, also across policy updates.
    pub rule: *const u8,
    /// Length of `rule` in bytes (0 when `has_rule` is 0).
    pub rule_len: usize,
    /// Milliseconds until the exhausted rate limit admits again (0 unless `has_retry_after`).
    pub retry_after_ms: u64,
    /// Time the evaluation took, in nanoseconds.
    pub eval_ns: u64,
}

impl PortcullisDecision {
    /// The plain form of a verdict. `rule` borrows the engine's interned rule id.
    pub(crate) fn from_verdict(verdict: &Verdict) -> Self {
        let (rule, rule_len) = match &verdict.rule {
            Some(id) => (id.as_ptr(), id.len()),
            None => (ptr::null(), 0),
        };
        PortcullisDecision {
            effect: effect_value(&verdict.effect),
            code: code_value(&verdict.code),
            allowed: u8::from(verdict.allowed()),
            has_rule: u8::from(verdict.rule.is_some()),
            has_retry_after: u8::from(verdict.retry_after_ms.is_some()),
            params_modified: u8::from(verdict.params_modified),
            matched_count: verdict.matched_count,
            shadow_count: verdict.shadow_count,
            rule,
            rule_len,
            retry_after_ms: verdict.retry_after_ms.unwrap_or(0),
            eval_ns: verdict.eval_ns,
        }
    }

    /// The fail-closed decision written when the engine could not decide (a panic).
    pub(crate) fn engine_failure() -> Self {
        PortcullisDecision {
            effect: PORTCULLIS_EFFECT_DENY,
            code: PORTCULLIS_CODE_ENGINE_ERROR,
            allowed: 0,
            has_rule: 0,
            has_retry_after: 0,
            params_modified: 0,
            matched_count: 0,
            shadow_count: 0,
            rule: ptr::null(),
            rule_len: 0,
            retry_after_ms: 0,
            eval_ns: 0,
        }
    }
}

// The ABI values are spelled out rather than cast from the core's discriminants, so a change
// in the core cannot silently change the ABI.
fn effect_value(effect: &Effect) -> u32 {
    match effect {
        Effect::Allow => PORTCULLIS_EFFECT_ALLOW,
        Effect::Deny => PORTCULLIS_EFFECT_DENY,
        Effect::RequireApproval => PORTCULLIS_EFFECT_REQUIRE_APPROVAL,
    }
}

fn code_value(code: &Code) -> u32 {
    match code {
        Code::Rule => PORTCULLIS_CODE_RULE,
        Code::Default => PORTCULLIS_CODE_DEFAULT,
        Code::Approved => PORTCULLIS_CODE_APPROVED,
        Code::RateLimited => PORTCULLIS_CODE_RATE_LIMITED,
        Code::ApprovalRequired => PORTCULLIS_CODE_APPROVAL_REQUIRED,
        Code::UnknownAgent => PORTCULLIS_CODE_UNKNOWN_AGENT,
        Code::InvalidAction => PORTCULLIS_CODE_INVALID_ACTION,
        Code::EngineError => PORTCULLIS_CODE_ENGINE_ERROR,
        Code::Unavailable => PORTCULLIS_CODE_UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_values_match_the_core_names() {
        for (effect, value, name) in [
            (Effect::Allow, PORTCULLIS_EFFECT_ALLOW, "allow"),
            (Effect::Deny, PORTCULLIS_EFFECT_DENY, "deny"),
            (
                Effect::RequireApproval,
                PORTCULLIS_EFFECT_REQUIRE_APPROVAL,
                "require_approval",
            ),
        ] {
            assert_eq!(effect_value(&effect), value);
            assert_eq!(effect.as_str(), name);
        }
        for (code, value, name) in [
            (Code::Rule, PORTCULLIS_CODE_RULE, "rule"),
            (Code::Default, PORTCULLIS_CODE_DEFAULT, "default"),
            (Code::Approved, PORTCULLIS_CODE_APPROVED, "approved"),
            (
                Code::RateLimited,
                PORTCULLIS_CODE_RATE_LIMITED,
                "rate_limited",
            ),
            (
                Code::ApprovalRequired,
                PORTCULLIS_CODE_APPROVAL_REQUIRED,
                "approval_required",
            ),
            (
                Code::UnknownAgent,
                PORTCULLIS_CODE_UNKNOWN_AGENT,
                "unknown_agent",
            ),
            (
                Code::InvalidAction,
                PORTCULLIS_CODE_INVALID_ACTION,
                "invalid_action",
            ),
            (
                Code::EngineError,
                PORTCULLIS_CODE_ENGINE_ERROR,
                "engine_error",
            ),
        ] {
            assert_eq!(code_value(&code), value);
            assert_eq!(code.as_str(), name);
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layout_is_the_documented_one() {
        assert_eq!(std::mem::size_of::<PortcullisDecision>(), 56);
        assert_eq!(std::mem::offset_of!(PortcullisDecision, matched_count), 12);
        assert_eq!(std::mem::offset_of!(PortcullisDecision, rule), 24);
        assert_eq!(std::mem::offset_of!(PortcullisDecision, eval_ns), 48);
    }
}
