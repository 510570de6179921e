//! `portcullis_decision_details`: the whole decision as plain fields, strings and lists, for
//! hosts that want every field without decoding JSON.
use std::ptr;

use portcullis::{Decision, Verdict};

use crate::call;
use crate::decision::PortcullisDecision;

/// `portcullis_shadow_hit.effect`: the shadow rule is an allow rule.
pub const PORTCULLIS_RULE_EFFECT_ALLOW: u32 = 0;
/// `portcullis_shadow_hit.effect`: the shadow rule is a deny rule.
pub const PORTCULLIS_RULE_EFFECT_DENY: u32 = 1;
/// `portcullis_shadow_hit.effect`: the shadow rule is a require_approval rule.
pub const PORTCULLIS_RULE_EFFECT_REQUIRE_APPROVAL: u32 = 2;
/// `portcullis_shadow_hit.effect`: the shadow rule is a rate_limit rule.
pub const PORTCULLIS_RULE_EFFECT_RATE_LIMIT: u32 = 3;

/// A string the library lends: UTF-8, not NUL-terminated, `len` bytes at `ptr`.
///
/// A NULL `ptr` means the value is absent (JSON null); a present empty string has a non-NULL
/// `ptr` and `len` 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortcullisStr {
    /// The first byte, or NULL when the value is absent.
    pub ptr: *const u8,
    /// Length in bytes (0 when `ptr` is NULL).
    pub len: usize,
}

impl PortcullisStr {
    const ABSENT: PortcullisStr = PortcullisStr {
        ptr: ptr::null(),
        len: 0,
    };

    fn of(text: &str) -> Self {
        PortcullisStr {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    fn of_opt(text: Option<&str>) -> Self {
        text.map_or(Self::ABSENT, Self::of)
    }
}

/// A shadow rule that fired: reported, never deciding.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortcullisShadowHit {
    /// The shadow rule's id.
    pub rule: PortcullisStr,
    /// One of the `PORTCULLIS_RULE_EFFECT_*` values: what the rule would have done.
    pub effect: u32,
}

/// What the strings and lists of a `portcullis_decision_details` point into.
///
/// Opaque; released with the details by `portcullis_decision_details_free`.
pub struct PortcullisDecisionStorage {
    // The pointers of the details point into these (all heap data, so moving the box is fine).
    _decision: Decision,
    _params: Option<String>,
    _matched: Vec<PortcullisStr>,
    _shadow: Vec<PortcullisShadowHit>,
}

/// The whole decision in plain fields, filled by `portcullis_engine_evaluate_details`: the
/// verdict of `portcullis_engine_evaluate` plus every text and list of the JSON form, with no
/// JSON to parse.
///
/// The rule ids (`verdict.rule`, `matched[i]`, `shadow[i].rule`) point into the engine, as
/// `portcullis_decision.rule` does: they stay valid until `portcullis_engine_free`, also across
/// policy updates, and one rule id always has the same address in one engine. Every other
/// pointer in it (the texts and the two arrays) points into `storage`, owned by the caller and
/// released with `portcullis_decision_details_free`. The struct itself is the caller's (on the
/// stack is fine).
#[repr(C)]
#[derive(Debug)]
pub struct PortcullisDecisionDetails {
    /// Effect, code, rule, counts, `retry_after_ms` and `eval_ns`, exactly as
    /// `portcullis_engine_evaluate` reports them.
    pub verdict: PortcullisDecision,
    /// The deciding rule's reason (default: its id), or a sentence that says why. Always present.
    pub reason: PortcullisStr,
    /// "sha256:" + 64 lowercase hex digits; absent (NULL) for an invalid action.
    pub action_hash: PortcullisStr,
    /// The rewritten params as compact JSON text (an object); absent (NULL) unless an allow
    /// rule's `modify` changed them (`verdict.params_modified`).
    pub params_json: PortcullisStr,
    /// The name of the policy that decided. Always present.
    pub policy_name: PortcullisStr,
    /// The version of the policy that decided; absent (NULL) when it has none.
    pub policy_version: PortcullisStr,
    /// `verdict.matched_count` rule ids: the non-shadow rules that fired and took part, in
    /// document order. NULL when the count is 0. The array is in `storage`; the ids it points
    /// to are the engine's.
    pub matched: *const PortcullisStr,
    /// `verdict.shadow_count` shadow rules that fired, in document order. NULL when the count
    /// is 0. The array is in `storage`; the rule ids it points to are the engine's.
    pub shadow: *const PortcullisShadowHit,
    /// What the pointers above point into; NULL after a failure and after
    /// `portcullis_decision_details_free`.
    pub storage: *mut PortcullisDecisionStorage,
}

impl PortcullisDecisionDetails {
    /// The details of a decision, with their storage moved to the heap for the caller.
    pub(crate) fn from_decision(decision: Decision) -> Self {
        let verdict = PortcullisDecision::from_verdict(&Verdict::from(&decision));
        let params = decision
            .params
            .as_ref()
            .and_then(|p| serde_json::to_string(p).ok());
        let matched: Vec<PortcullisStr> = decision
            .matched
            .iter()
            .map(|id| PortcullisStr::of(id))
            .collect();
        let shadow: Vec<PortcullisShadowHit> = decision
            .shadow
            .iter()
            .map(|hit| PortcullisShadowHit {
                rule: PortcullisStr::of(&hit.rule),
                effect: rule_effect_value(hit.effect),
            })
            .collect();
        let details = PortcullisDecisionDetails {
            verdict,
            reason: PortcullisStr::of(&decision.reason),
            action_hash: PortcullisStr::of_opt(decision.action_hash.as_deref()),
            params_json: PortcullisStr::of_opt(params.as_deref()),
            policy_name: PortcullisStr::of(&decision.policy.name),
            policy_version: PortcullisStr::of_opt(decision.policy.version.as_deref()),
            matched: if matched.is_empty() {
                ptr::null()
            } else {
                matched.as_ptr()
            },
            shadow: if shadow.is_empty() {
                ptr::null()
            } else {
                shadow.as_ptr()
            },
            storage: ptr::null_mut(),
        };
        // The pointers taken above point at heap data (the Arc'd strings, the hash and params
        // Strings, the Vecs' buffers) that moving the values into the box does not move.
        let storage = Box::into_raw(Box::new(PortcullisDecisionStorage {
            _decision: decision,
            _params: params,
            _matched: matched,
            _shadow: shadow,
        }));
        PortcullisDecisionDetails { storage, ..details }
    }

    /// The fail-closed details written when the engine could not decide: a deny with code
    /// engine_error, no strings, nothing to free.
    pub(crate) fn engine_failure() -> Self {
        PortcullisDecisionDetails {
            verdict: PortcullisDecision::engine_failure(),
            reason: PortcullisStr::ABSENT,
            action_hash: PortcullisStr::ABSENT,
            params_json: PortcullisStr::ABSENT,
            policy_name: PortcullisStr::ABSENT,
            policy_version: PortcullisStr::ABSENT,
            matched: ptr::null(),
            shadow: ptr::null(),
            storage: ptr::null_mut(),
        }
    }
}

/// The ABI value of a shadow rule's effect (the core spells it as in the policy language).
fn rule_effect_value(effect: &str) -> u32 {
    match effect {
        "allow" => PORTCULLIS_RULE_EFFECT_ALLOW,
        "require_approval" => PORTCULLIS_RULE_EFFECT_REQUIRE_APPROVAL,
        "rate_limit" => PORTCULLIS_RULE_EFFECT_RATE_LIMIT,
        // Only the four rule effects exist; anything else is reported as the strictest.
        _ => PORTCULLIS_RULE_EFFECT_DENY,
    }
}

/// Releases the storage of `details` (filled by `portcullis_engine_evaluate_details`) and
/// resets every pointer in it to NULL, so a second call does nothing. NULL is accepted and
/// ignored, and so is a struct whose `storage` is NULL (after a failed evaluation).
///
/// Not thread-safe with respect to `details`: no other thread may read its strings during or
/// after this call.
///
/// # Safety
/// `details` is NULL or a writable struct filled by `portcullis_engine_evaluate_details` (or
/// already released by this function), whose `storage` has not been released otherwise.
#[no_mangle]
pub unsafe extern "C" fn portcullis_decision_details_free(details: *mut PortcullisDecisionDetails) {
    // SAFETY: the caller guarantees `details` is NULL or a valid, writable struct.
    let Some(details) = (unsafe { details.as_mut() }) else {
        return;
    };
    let storage = details.storage;
    *details = PortcullisDecisionDetails::engine_failure();
    // SAFETY: `storage` is NULL or came from `Box::into_raw` in `from_decision` and is
    // released only here, once (the struct no longer refers to it).
    unsafe { call::release(storage) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_effects_have_their_abi_values() {
        assert_eq!(rule_effect_value("allow"), PORTCULLIS_RULE_EFFECT_ALLOW);
        assert_eq!(rule_effect_value("deny"), PORTCULLIS_RULE_EFFECT_DENY);
        assert_eq!(
            rule_effect_value("require_approval"),
            PORTCULLIS_RULE_EFFECT_REQUIRE_APPROVAL
        );
        assert_eq!(
            rule_effect_value("rate_limit"),
            PORTCULLIS_RULE_EFFECT_RATE_LIMIT
        );
    }

    #[test]
    fn free_resets_the_struct_and_is_idempotent() {
        let mut details = PortcullisDecisionDetails::engine_failure();
        // SAFETY: `details` has no storage; freeing it (twice) is allowed.
        unsafe {
            portcullis_decision_details_free(&mut details);
            portcullis_decision_details_free(&mut details);
            portcullis_decision_details_free(ptr::null_mut());
        }
        assert!(details.storage.is_null());
        assert!(details.reason.ptr.is_null());
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layout_is_the_documented_one() {
        assert_eq!(std::mem::size_of::<PortcullisStr>(), 16);
        assert_eq!(std::mem::size_of::<PortcullisShadowHit>(), 24);
        assert_eq!(
            std::mem::size_of::<PortcullisDecisionDetails>(),
            56 + 5 * 16 + 3 * 8
        );
        assert_eq!(std::mem::offset_of!(PortcullisDecisionDetails, reason), 56);
        assert_eq!(
            std::mem::offset_of!(PortcullisDecisionDetails, storage),
            152
        );
    }
}
