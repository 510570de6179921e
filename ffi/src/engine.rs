//! `portcullis_engine`: the handle to one policy engine, and every call on it.
use std::ptr;
use std::str;

use portcullis::Engine;

use crate::audit::{self, PortcullisAuditOptions};
use crate::buffer::{portcullis_buffer_free, PortcullisBuffer};
use crate::call::{self, on_engine, on_input};
use crate::decision::PortcullisDecision;
use crate::details::PortcullisDecisionDetails;
use crate::error::PortcullisError;
use crate::guard::Failure;
use crate::input;
use crate::options::{self, PortcullisEngineOptions};
use crate::status::{PortcullisStatus, PORTCULLIS_ERR_INVALID_UTF8, PORTCULLIS_ERR_NULL_POINTER};

/// A policy engine: a compiled policy snapshot plus its clock, rate-limit counters and
/// approval grants.
///
/// Opaque. Created by `portcullis_engine_new` or `portcullis_engine_new_audited`, released by
/// `portcullis_engine_free`. Every other function may be called on one handle from many threads at
/// once.
pub struct PortcullisEngine {
    engine: Engine,
}

/// Creates an engine from a policy document (JSON text, `policy_len` bytes, not
/// NUL-terminated).
///
/// `options` may be NULL for the defaults (system clock). On `PORTCULLIS_OK`, `*out_engine` is a new
/// engine the caller owns and must release with `portcullis_engine_free`. On failure `*out_engine`
/// is set to NULL: `PORTCULLIS_ERR_POLICY` when the document cannot be loaded (the error's path and
/// message say where and why), `PORTCULLIS_ERR_OPTIONS_SIZE` or `PORTCULLIS_ERR_INVALID_ARGUMENT` for bad
/// options.
///
/// `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
/// `portcullis_error` the caller owns on failure. On `PORTCULLIS_ERR_NULL_POINTER` (`policy` or `out_engine`
/// NULL) nothing is written.
///
/// Thread-safe: it touches no shared state.
///
/// # Safety
/// `policy` is readable for `policy_len` bytes; `options` is NULL or a readable
/// `portcullis_engine_options` whose `size` is set; `out_engine` and `out_error` (if not NULL) are
/// writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_new(
    policy: *const u8,
    policy_len: usize,
    options: *const PortcullisEngineOptions,
    out_engine: *mut *mut PortcullisEngine,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    if policy.is_null() || out_engine.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: the pointers are as `create_engine` requires (caller's guarantee).
    unsafe {
        create_engine(
            policy,
            policy_len,
            options,
            ptr::null(),
            out_engine,
            out_error,
        )
    }
}

/// Creates an engine, with the audit trail `audit` describes when it is not NULL, and writes
/// the outcome to `out_engine` and `out_error`.
///
/// # Safety
/// `policy` is non-NULL and readable for `policy_len` bytes; `options` is NULL or a readable
/// `portcullis_engine_options` whose `size` is set; `audit` is NULL or a readable `portcullis_audit_options`
/// whose `size` is set and whose `path` is NULL or NUL-terminated; `out_engine` is non-NULL and
/// writable; `out_error` is NULL or writable.
pub(crate) unsafe fn create_engine(
    policy: *const u8,
    policy_len: usize,
    options: *const PortcullisEngineOptions,
    audit: *const PortcullisAuditOptions,
    out_engine: *mut *mut PortcullisEngine,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    let outcome = call::run(|| {
        // SAFETY: `policy` is non-NULL and readable for `policy_len` bytes (caller's
        // guarantee).
        let policy = unsafe { input::bytes(policy, policy_len, "policy") }?;
        // SAFETY: `options` is NULL or a readable struct with `size` set (caller's guarantee).
        let options = unsafe { options::read(options) }?;
        let engine = if audit.is_null() {
            Engine::new(policy, options)?
        } else {
            // SAFETY: a non-NULL `audit` is a readable struct with `size` set and a NULL or
            // NUL-terminated `path` (caller's guarantee).
            let audit = unsafe { audit::read(audit) }?;
            Engine::with_audit(policy, options, &audit)?
        };
        Ok(Box::into_raw(Box::new(PortcullisEngine { engine })))
    });
    // SAFETY: `out_engine` is non-NULL and writable, `out_error` NULL or writable (caller's
    // guarantee).
    unsafe {
        outcome.finish_with(
            ptr::null_mut(),
            |handle| out_engine.write(handle),
            out_error,
        )
    }
}

/// Releases an engine with its policy, counters, approvals and interned rule ids. NULL is
/// accepted and ignored.
///
/// An engine with a file audit trail first writes the records still queued and stops its
/// writer thread, so this call waits for that I/O. If the file still cannot be written (a
/// full disk), the records it could not write are reported on stderr with their count: call
/// `portcullis_engine_flush_audit` first to get that failure as an error. Records of a memory
/// trail not yet drained are lost.
///
/// Not thread-safe with respect to `engine`: every other call on it must have returned, and
/// none may follow. Rule pointers from its decisions become invalid.
///
/// # Safety
/// `engine` is NULL or an engine returned by `portcullis_engine_new` or `portcullis_engine_new_audited` and
/// not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_free(engine: *mut PortcullisEngine) {
    // SAFETY: `engine` is NULL or came from `Box::into_raw` in `create_engine`, is freed only
    // once, and no other call uses it any more (caller's guarantee).
    unsafe { call::release(engine) }
}

/// Borrows the engine behind a handle for the duration of one call.
///
/// # Safety
/// `engine` is non-NULL and a live engine that is not freed during the call.
pub(crate) unsafe fn engine_ref<'a>(engine: *const PortcullisEngine) -> &'a Engine {
    // SAFETY: guaranteed by the caller; `Engine` is `Sync`, so shared references from many
    // threads at once are sound.
    unsafe { &(*engine).engine }
}

/// Replaces the engine's policy atomically with a new document (`policy_len` bytes of JSON).
///
/// Evaluations already running finish on the old policy; later ones see the new one; none
/// sees a mix. Rate-limit counters of unchanged limits and all approvals are kept. On
/// `PORTCULLIS_ERR_POLICY` the current policy stays in place.
///
/// `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
/// `portcullis_error` the caller owns on failure. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `policy` is readable for `policy_len` bytes; `out_error` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_update_policy(
    engine: *const PortcullisEngine,
    policy: *const u8,
    policy_len: usize,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    // SAFETY: the pointers are as this function's contract says (caller's guarantee).
    unsafe {
        on_input(engine, policy, policy_len, "policy", |engine, policy| {
            Ok(engine.update_policy(policy)?)
        })
        .finish(out_error)
    }
}

/// Decides an action (JSON text, `action_len` bytes, not NUL-terminated) and fills `*out`.
///
/// The hot path: it allocates nothing the caller must free, and neither builds the JSON form
/// nor collects the rule lists, reason texts and action hash that only the JSON form shows.
/// A malformed action is not an error: the call returns `PORTCULLIS_OK` with a deny decision of code
/// `PORTCULLIS_CODE_INVALID_ACTION` (`portcullis_engine_evaluate_json` says why). An allow consumes one unit
/// of each firing rate limit and one use of the approval that covered it, so evaluate each
/// action once.
///
/// `out->rule` points into the engine and stays valid until `portcullis_engine_free`, also after
/// policy updates. If the library panics, `*out` is a deny with code `PORTCULLIS_CODE_ENGINE_ERROR`
/// and the status is `PORTCULLIS_ERR_PANIC`. Every failure writes a deny with code
/// `PORTCULLIS_CODE_ENGINE_ERROR` into `*out` (a NULL `engine` or `action` included, so a reused
/// struct never keeps an earlier allow); only a NULL `out` leaves nothing written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `action` is readable for `action_len` bytes; `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_evaluate(
    engine: *const PortcullisEngine,
    action: *const u8,
    action_len: usize,
    out: *mut PortcullisDecision,
) -> PortcullisStatus {
    if out.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` and `action` are as this function's contract says (caller's guarantee).
    let outcome = unsafe {
        on_input(engine, action, action_len, "action", |engine, action| {
            Ok(PortcullisDecision::from_verdict(
                &engine.evaluate_json_verdict(action),
            ))
        })
    };
    // Any failure (NULL pointers, a panic, an impossible length) writes a deny with code
    // engine_error: a reused struct must never keep an earlier allow.
    let (decision, status) = outcome.value_or(PortcullisDecision::engine_failure());
    // SAFETY: `out` is non-NULL and writable (caller's guarantee).
    unsafe { out.write(decision) };
    status
}

/// Decides an action like `portcullis_engine_evaluate` and returns the whole decision as a JSON
/// object (the keys of the policy language's decision: effect, allowed, code, rule, reason,
/// matched, shadow, params, retry_after_ms, action_hash, policy, eval_ns).
///
/// On `PORTCULLIS_OK`, `*out_json` is a new UTF-8 buffer the caller owns and must release with
/// `portcullis_buffer_free`; on any other status it is set to NULL (a NULL `engine` or `action`
/// included; only a NULL `out_json` leaves nothing written). A malformed action is
/// `PORTCULLIS_OK` with a deny of code `invalid_action` whose reason says what is wrong.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `action` is readable for `action_len` bytes; `out_json` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_evaluate_json(
    engine: *const PortcullisEngine,
    action: *const u8,
    action_len: usize,
    out_json: *mut *mut PortcullisBuffer,
) -> PortcullisStatus {
    if out_json.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` and `action` are as this function's contract says (caller's guarantee).
    let outcome = unsafe {
        on_input(engine, action, action_len, "action", |engine, action| {
            Ok(PortcullisBuffer::into_raw(
                engine.evaluate_json(action).to_json(),
            ))
        })
    };
    let (json, status) = outcome.value_or(ptr::null_mut());
    // SAFETY: `out_json` is non-NULL and writable (caller's guarantee).
    unsafe { out_json.write(json) };
    status
}

/// Decides an action like `portcullis_engine_evaluate` and fills `*out` with the whole
/// decision: the verdict plus the reason, action hash, rewritten params (JSON text), policy
/// name and version, and the matched and shadow rule lists, as pointers and lengths. No JSON
/// is built for the decision and none needs parsing (the params are JSON text only when an
/// allow rule rewrote them).
///
/// On `PORTCULLIS_OK`, `out->storage` holds every text and list the struct points to but the
/// rule ids, which point into the engine as `portcullis_decision.rule` does (valid until
/// `portcullis_engine_free`); the caller owns it and releases it with
/// `portcullis_decision_details_free(out)`, after copying what it keeps. A malformed action is `PORTCULLIS_OK` with a deny of code `invalid_action`
/// whose reason says what is wrong. Every failure (a NULL `engine` or `action` included) writes
/// a deny with code `PORTCULLIS_CODE_ENGINE_ERROR`, absent strings and a NULL `storage` into
/// `*out`; only a NULL `out` leaves nothing written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `action` is readable for `action_len` bytes; `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_evaluate_details(
    engine: *const PortcullisEngine,
    action: *const u8,
    action_len: usize,
    out: *mut PortcullisDecisionDetails,
) -> PortcullisStatus {
    if out.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` and `action` are as this function's contract says (caller's guarantee).
    let outcome = unsafe {
        on_input(engine, action, action_len, "action", |engine, action| {
            Ok(PortcullisDecisionDetails::from_decision(
                engine.evaluate_json(action),
            ))
        })
    };
    let (details, status) = outcome.value_or(PortcullisDecisionDetails::engine_failure());
    // SAFETY: `out` is non-NULL and writable (caller's guarantee).
    unsafe { out.write(details) };
    status
}

/// Explains the decision for an action (JSON text, `action_len` bytes) as a JSON object:
/// the rules the index offered and skipped, each rule's match and conditions with the values
/// read and their results (true/false/unknown), the combining steps, and the `decision`
/// evaluation would return now (see docs/cli/explain.md).
///
/// A dry run: no rate-limit use is admitted, no approval consumed, no audit record written.
/// Buffers and statuses as for `portcullis_engine_evaluate_json`: on `PORTCULLIS_OK`,
/// `*out_json` is a new buffer the caller releases with `portcullis_buffer_free`; a
/// malformed action is `PORTCULLIS_OK` with a decision of code `invalid_action`.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `action` is readable for `action_len` bytes; `out_json` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_explain(
    engine: *const PortcullisEngine,
    action: *const u8,
    action_len: usize,
    out_json: *mut *mut PortcullisBuffer,
) -> PortcullisStatus {
    if out_json.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: the pointers are as this function's contract says (caller's guarantee).
    unsafe {
        on_input(engine, action, action_len, "action", |engine, action| {
            Ok(PortcullisBuffer::into_raw(engine.explain(action).to_json()))
        })
        .deliver(ptr::null_mut(), |json| out_json.write(json))
    }
}

/// Grants an approval for exactly this action (JSON text, `action_len` bytes): valid for
/// `ttl_ms` milliseconds of the engine's clock and for `uses` allowed evaluations.
///
/// The approval is bound to the action's hash (agent, kind, params, target, tool), so an
/// action that differs in any of those is not covered. `ttl_ms` 0 or `uses` 0 give
/// `PORTCULLIS_ERR_INVALID_ARGUMENT`; a malformed action gives `PORTCULLIS_ERR_INVALID_ACTION`.
///
/// `out_hash` may be NULL. Otherwise, on `PORTCULLIS_OK` `*out_hash` is a new buffer holding the
/// action hash ("sha256:" + 64 lowercase hex digits) that the caller owns and must release
/// with `portcullis_buffer_free`, and on failure it is set to NULL. `out_error` may be NULL;
/// otherwise it is set as for `portcullis_engine_new`. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `action` is readable for `action_len` bytes; `out_hash` and
/// `out_error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_approve_action(
    engine: *const PortcullisEngine,
    action: *const u8,
    action_len: usize,
    ttl_ms: u64,
    uses: u32,
    out_hash: *mut *mut PortcullisBuffer,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    let give_hash = |hash| {
        if out_hash.is_null() {
            // SAFETY: `hash` is NULL or came from `PortcullisBuffer::into_raw` below and was
            // handed to no one; the caller did not ask for it.
            unsafe { portcullis_buffer_free(hash) };
        } else {
            // SAFETY: a non-NULL `out_hash` is writable (caller's guarantee).
            unsafe { out_hash.write(hash) };
        }
    };
    // SAFETY: the pointers are as this function's contract says (caller's guarantee).
    unsafe {
        on_input(engine, action, action_len, "action", |engine, action| {
            let hash = engine.approve_action_json(action, ttl_ms, uses)?;
            Ok(PortcullisBuffer::into_raw(hash))
        })
        .finish_with(ptr::null_mut(), give_hash, out_error)
    }
}

/// Grants an approval for the action whose hash is given (`hash_len` bytes of
/// "sha256:" + 64 lowercase hex digits, as decisions report in `action_hash`), valid for
/// `ttl_ms` milliseconds of the engine's clock and for `uses` allowed evaluations.
///
/// Bytes that are not UTF-8 give `PORTCULLIS_ERR_INVALID_UTF8`; any other malformed hash, `ttl_ms`
/// 0 or `uses` 0 give `PORTCULLIS_ERR_INVALID_ARGUMENT`. `out_error` may be NULL; otherwise it is
/// set as for `portcullis_engine_new`. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `hash` is readable for `hash_len` bytes; `out_error` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_approve_hash(
    engine: *const PortcullisEngine,
    hash: *const u8,
    hash_len: usize,
    ttl_ms: u64,
    uses: u32,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    // SAFETY: the pointers are as this function's contract says (caller's guarantee).
    unsafe {
        on_input(engine, hash, hash_len, "hash", |engine, hash| {
            let hash = str::from_utf8(hash).map_err(|err| {
                Failure::new(
                    PORTCULLIS_ERR_INVALID_UTF8,
                    format!(
                        "hash is not valid UTF-8 (invalid byte at offset {})",
                        err.valid_up_to()
                    ),
                )
            })?;
            Ok(engine.approve_hash(hash, ttl_ms, uses)?)
        })
        .finish(out_error)
    }
}

/// Sets the engine's manual clock to `unix_ms` (milliseconds since the Unix epoch, UTC).
/// The clock may move backwards.
///
/// Returns `PORTCULLIS_ERR_CLOCK` on an engine created with `PORTCULLIS_CLOCK_SYSTEM` (its clock is not
/// changed).
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_set_time(
    engine: *const PortcullisEngine,
    unix_ms: i64,
) -> PortcullisStatus {
    // SAFETY: `engine` is NULL or live for this call (caller's guarantee).
    unsafe { on_engine(engine, |engine| Ok(engine.set_time(unix_ms)?)) }.deliver_ok(drop)
}

/// Writes the engine's current time (milliseconds since the Unix epoch, UTC) to
/// `*out_unix_ms`: the manual clock's time, or the system clock's.
///
/// On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `out_unix_ms` is writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_now(
    engine: *const PortcullisEngine,
    out_unix_ms: *mut i64,
) -> PortcullisStatus {
    if out_unix_ms.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` is NULL or live for this call, and `out_unix_ms` is writable (caller's
    // guarantee).
    unsafe {
        on_engine(engine, |engine| Ok(engine.now_ms())).deliver_ok(|now| out_unix_ms.write(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{PORTCULLIS_CODE_ENGINE_ERROR, PORTCULLIS_EFFECT_DENY};
    use crate::status::PORTCULLIS_ERR_PANIC;

    #[test]
    fn a_panic_during_evaluation_is_a_fail_closed_deny() {
        let (decision, status) = call::run(|| panic!("evaluation failed"))
            .value_or(PortcullisDecision::engine_failure());
        assert_eq!(status, PORTCULLIS_ERR_PANIC);
        assert_eq!(decision.effect, PORTCULLIS_EFFECT_DENY);
        assert_eq!(decision.code, PORTCULLIS_CODE_ENGINE_ERROR);
        assert_eq!(decision.allowed, 0);
        assert_eq!(decision.has_rule, 0);
        assert!(decision.rule.is_null());
    }
}
