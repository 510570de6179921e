/*
 * portcullis C ABI. SPDX-License-Identifier: Apache-2.0
 *
 * Link statically with -lportcullis -lpthread -ldl -lm, or dynamically with
 * -lportcullis. See docs/c-abi.md for ownership rules, thread safety and the status table.
 */

#ifndef PORTCULLIS_H
#define PORTCULLIS_H

/* Generated from ffi/src by tools/gen-header (cbindgen). Do not edit: run `make header`. */

#include <stddef.h>
#include <stdint.h>

/**
 * Major version of this C ABI. A library whose major version differs from the one a program
 * was compiled against is incompatible with it.
 */
#define PORTCULLIS_ABI_VERSION_MAJOR 2

/**
 * Minor version of this C ABI. Minor versions only add functions, constants, structs or
 * trailing fields of the size-versioned option structs; a program compiled against minor
 * version N runs on any library with the same major version and a minor version >= N.
 * Version 2.0 is the first under the name portcullis (1.x was the same ABI with other prefixes);
 * 2.1 appends `state_url` to `portcullis_engine_options`; 2.2 adds
 * `portcullis_engine_evaluate_details` (the whole decision without JSON) and
 * `PORTCULLIS_ERR_UNAVAILABLE`.
 */
#define PORTCULLIS_ABI_VERSION_MINOR 2

/**
 * `portcullis_engine_options.clock`: the engine reads the system clock (the default).
 */
#define PORTCULLIS_CLOCK_SYSTEM 0

/**
 * `portcullis_engine_options.clock`: the engine has a manual clock that starts at `manual_start_ms`
 * and moves only through `portcullis_engine_set_time` (for tests and simulations).
 */
#define PORTCULLIS_CLOCK_MANUAL 1

/**
 * `portcullis_decision.effect`: the action may run.
 */
#define PORTCULLIS_EFFECT_ALLOW 0

/**
 * `portcullis_decision.effect`: the action must not run.
 */
#define PORTCULLIS_EFFECT_DENY 1

/**
 * `portcullis_decision.effect`: the action may run only once a person approves it
 * (`portcullis_engine_approve_action` / `portcullis_engine_approve_hash`).
 */
#define PORTCULLIS_EFFECT_REQUIRE_APPROVAL 2

/**
 * `portcullis_decision.code`: a rule decided.
 */
#define PORTCULLIS_CODE_RULE 0

/**
 * `portcullis_decision.code`: no deciding rule fired; the policy's default applied.
 */
#define PORTCULLIS_CODE_DEFAULT 1

/**
 * `portcullis_decision.code`: a require_approval rule fired and a valid approval covered the action.
 */
#define PORTCULLIS_CODE_APPROVED 2

/**
 * `portcullis_decision.code`: a rate limit is exhausted (see `retry_after_ms`).
 */
#define PORTCULLIS_CODE_RATE_LIMITED 3

/**
 * `portcullis_decision.code`: a require_approval rule fired and no approval covers the action.
 */
#define PORTCULLIS_CODE_APPROVAL_REQUIRED 4

/**
 * `portcullis_decision.code`: the policy requires known agents and this one is not registered.
 */
#define PORTCULLIS_CODE_UNKNOWN_AGENT 5

/**
 * `portcullis_decision.code`: the action is malformed (the JSON decision's `reason` says why).
 */
#define PORTCULLIS_CODE_INVALID_ACTION 6

/**
 * `portcullis_decision.code`: the engine failed; the effect is deny.
 */
#define PORTCULLIS_CODE_ENGINE_ERROR 7

/**
 * `portcullis_decision.code`: the shared state or a remote engine did not answer in time;
 * the effect is deny.
 */
#define PORTCULLIS_CODE_UNAVAILABLE 8

/**
 * `portcullis_shadow_hit.effect`: the shadow rule is an allow rule.
 */
#define PORTCULLIS_RULE_EFFECT_ALLOW 0

/**
 * `portcullis_shadow_hit.effect`: the shadow rule is a deny rule.
 */
#define PORTCULLIS_RULE_EFFECT_DENY 1

/**
 * `portcullis_shadow_hit.effect`: the shadow rule is a require_approval rule.
 */
#define PORTCULLIS_RULE_EFFECT_REQUIRE_APPROVAL 2

/**
 * `portcullis_shadow_hit.effect`: the shadow rule is a rate_limit rule.
 */
#define PORTCULLIS_RULE_EFFECT_RATE_LIMIT 3

/**
 * `portcullis_audit_options.sink`: no audit trail (the engine behaves as one from `portcullis_engine_new`).
 */
#define PORTCULLIS_AUDIT_NONE 0

/**
 * `portcullis_audit_options.sink`: an append-only JSON-lines file at `path`, written by a background
 * thread of the engine.
 */
#define PORTCULLIS_AUDIT_FILE 1

/**
 * `portcullis_audit_options.sink`: records wait in the engine's queue until the host takes them with
 * `portcullis_engine_drain_audit`.
 */
#define PORTCULLIS_AUDIT_MEMORY 2

/**
 * `portcullis_audit_options.overflow`: when the queue is full, evaluation waits for room; no record
 * is ever lost (the default). With `PORTCULLIS_AUDIT_MEMORY` the host must keep draining, or
 * evaluations block once `queue_capacity` records wait.
 */
#define PORTCULLIS_OVERFLOW_BLOCK 0

/**
 * `portcullis_audit_options.overflow`: when the queue is full, evaluation never waits; the record is
 * dropped and counted, and the trail gets a `"dropped"` record with the count.
 */
#define PORTCULLIS_OVERFLOW_DROP 1

/**
 * A byte string the library hands to the caller: UTF-8 text, not NUL-terminated.
 *
 * Opaque. A function that returns one through a `portcullis_buffer **` hands ownership to the
 * caller, who releases it with `portcullis_buffer_free`. A `portcullis_buffer` is immutable: reading it
 * from several threads at once is safe.
 */
typedef struct portcullis_buffer portcullis_buffer;

/**
 * What the strings and lists of a `portcullis_decision_details` point into.
 *
 * Opaque; released with the details by `portcullis_decision_details_free`.
 */
typedef struct portcullis_decision_storage portcullis_decision_storage;

/**
 * A policy engine: a compiled policy snapshot plus its clock, rate-limit counters and
 * approval grants.
 *
 * Opaque. Created by `portcullis_engine_new` or `portcullis_engine_new_audited`, released by
 * `portcullis_engine_free`. Every other function may be called on one handle from many threads at
 * once.
 */
typedef struct portcullis_engine portcullis_engine;

/**
 * Details of a failed call: its status, a path into the policy document (for
 * `PORTCULLIS_ERR_POLICY`; "" otherwise) and a message a person can act on.
 *
 * Opaque. A function that returns one through a `portcullis_error **out_error` hands ownership to
 * the caller, who releases it with `portcullis_error_free`. A `portcullis_error` is immutable: reading it
 * from several threads at once is safe.
 */
typedef struct portcullis_error portcullis_error;

/**
 * The result of a fallible call: `PORTCULLIS_OK` or one of the `PORTCULLIS_ERR_*` values. Values are
 * explicit and never reused for another meaning.
 */
typedef int32_t portcullis_status;

/**
 * Options for `portcullis_engine_new`. Fill it with `portcullis_engine_options_default` and change the
 * fields you need.
 *
 * Versioned by size: `size` must be `sizeof(portcullis_engine_options)` as the caller's header
 * declares it. Later minor versions only append fields, so a library accepts any size at
 * least as large as version 1's and reads the fields it knows.
 */
typedef struct portcullis_engine_options {
    /**
     * `sizeof(portcullis_engine_options)`; smaller than version 1's size gives `PORTCULLIS_ERR_OPTIONS_SIZE`.
     */
    uint32_t size;
    /**
     * `PORTCULLIS_CLOCK_SYSTEM` or `PORTCULLIS_CLOCK_MANUAL`; anything else gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
     */
    uint32_t clock;
    /**
     * Start of the manual clock, in milliseconds since the Unix epoch (UTC). Ignored for
     * `PORTCULLIS_CLOCK_SYSTEM`.
     */
    int64_t manual_start_ms;
    /**
     * Most keys each rate-limit rule keeps; 0 means the default (100000).
     */
    uint64_t max_keys_per_limit;
    /**
     * Version 2. Where rate-limit admissions and approval grants are kept: NULL (or "") keeps
     * them in this engine; a NUL-terminated `redis://...` or `rediss://...` URL shares them
     * with every engine on that store (docs/shared-state.md). Read only during
     * `portcullis_engine_new`. A malformed URL gives `PORTCULLIS_ERR_INVALID_ARGUMENT`; an
     * unreachable store does not fail creation (decisions that need it are denied
     * `unavailable` until it answers).
     */
    const char *state_url;
} portcullis_engine_options;

/**
 * A decision in a plain, blittable form, filled by `portcullis_engine_evaluate`.
 *
 * It owns nothing: there is nothing to free. `rule` points into the engine, not into the
 * struct. The reason, matched and shadow rule ids, rewritten params and action hash are in
 * the JSON form (`portcullis_engine_evaluate_json`).
 */
typedef struct portcullis_decision {
    /**
     * `PORTCULLIS_EFFECT_ALLOW`, `PORTCULLIS_EFFECT_DENY` or `PORTCULLIS_EFFECT_REQUIRE_APPROVAL`.
     */
    uint32_t effect;
    /**
     * One of the `PORTCULLIS_CODE_*` values.
     */
    uint32_t code;
    /**
     * 1 iff `effect == PORTCULLIS_EFFECT_ALLOW`, else 0.
     */
    uint8_t allowed;
    /**
     * 1 when `rule` names the deciding rule, 0 when no rule decided (`rule` is then NULL).
     */
    uint8_t has_rule;
    /**
     * 1 when `retry_after_ms` is set (a rate-limited deny), else 0.
     */
    uint8_t has_retry_after;
    /**
     * 1 when an allow rule rewrote the params: fetch them with `portcullis_engine_evaluate_json`.
     */
    uint8_t params_modified;
    /**
     * How many non-shadow rules fired and took part in the decision.
     */
    uint32_t matched_count;
    /**
     * How many shadow rules fired.
     */
    uint32_t shadow_count;
    /**
     * The deciding rule's id: UTF-8, not NUL-terminated, `rule_len` bytes. Owned by the
     * engine and valid until `portcullis_engine_free`, also across policy updates.
     */
    const uint8_t *rule;
    /**
     * Length of `rule` in bytes (0 when `has_rule` is 0).
     */
    size_t rule_len;
    /**
     * Milliseconds until the exhausted rate limit admits again (0 unless `has_retry_after`).
     */
    uint64_t retry_after_ms;
    /**
     * Time the evaluation took, in nanoseconds.
     */
    uint64_t eval_ns;
} portcullis_decision;

/**
 * A string the library lends: UTF-8, not NUL-terminated, `len` bytes at `ptr`.
 *
 * A NULL `ptr` means the value is absent (JSON null); a present empty string has a non-NULL
 * `ptr` and `len` 0.
 */
typedef struct portcullis_str {
    /**
     * The first byte, or NULL when the value is absent.
     */
    const uint8_t *ptr;
    /**
     * Length in bytes (0 when `ptr` is NULL).
     */
    size_t len;
} portcullis_str;

/**
 * A shadow rule that fired: reported, never deciding.
 */
typedef struct portcullis_shadow_hit {
    /**
     * The shadow rule's id.
     */
    struct portcullis_str rule;
    /**
     * One of the `PORTCULLIS_RULE_EFFECT_*` values: what the rule would have done.
     */
    uint32_t effect;
} portcullis_shadow_hit;

/**
 * The whole decision in plain fields, filled by `portcullis_engine_evaluate_details`: the
 * verdict of `portcullis_engine_evaluate` plus every text and list of the JSON form, with no
 * JSON to parse.
 *
 * The rule ids (`verdict.rule`, `matched[i]`, `shadow[i].rule`) point into the engine, as
 * `portcullis_decision.rule` does: they stay valid until `portcullis_engine_free`, also across
 * policy updates, and one rule id always has the same address in one engine. Every other
 * pointer in it (the texts and the two arrays) points into `storage`, owned by the caller and
 * released with `portcullis_decision_details_free`. The struct itself is the caller's (on the
 * stack is fine).
 */
typedef struct portcullis_decision_details {
    /**
     * Effect, code, rule, counts, `retry_after_ms` and `eval_ns`, exactly as
     * `portcullis_engine_evaluate` reports them.
     */
    struct portcullis_decision verdict;
    /**
     * The deciding rule's reason (default: its id), or a sentence that says why. Always present.
     */
    struct portcullis_str reason;
    /**
     * "sha256:" + 64 lowercase hex digits; absent (NULL) for an invalid action.
     */
    struct portcullis_str action_hash;
    /**
     * The rewritten params as compact JSON text (an object); absent (NULL) unless an allow
     * rule's `modify` changed them (`verdict.params_modified`).
     */
    struct portcullis_str params_json;
    /**
     * The name of the policy that decided. Always present.
     */
    struct portcullis_str policy_name;
    /**
     * The version of the policy that decided; absent (NULL) when it has none.
     */
    struct portcullis_str policy_version;
    /**
     * `verdict.matched_count` rule ids: the non-shadow rules that fired and took part, in
     * document order. NULL when the count is 0. The array is in `storage`; the ids it points
     * to are the engine's.
     */
    const struct portcullis_str *matched;
    /**
     * `verdict.shadow_count` shadow rules that fired, in document order. NULL when the count
     * is 0. The array is in `storage`; the rule ids it points to are the engine's.
     */
    const struct portcullis_shadow_hit *shadow;
    /**
     * What the pointers above point into; NULL after a failure and after
     * `portcullis_decision_details_free`.
     */
    struct portcullis_decision_storage *storage;
} portcullis_decision_details;

/**
 * How an engine from `portcullis_engine_new_audited` records its decisions. Fill it with
 * `portcullis_audit_options_default` and change the fields you need.
 *
 * Every decision becomes one JSON line (keys in RFC 8785 order) with `seq` (1, 2, ... without
 * gaps), `type` (`"decision"`, or `"dropped"` / `"recovered"` for the trail's own events),
 * `time`, `agent`, `kind`, `tool`, `target`, `effect`, `code`, `rule`, `reason`, `policy`,
 * `action_hash`, `eval_ns`, `params` (only the policy's `audit.include_params` paths), `prev`
 * (the previous record's `hash`) and `hash` (SHA-256 of the record without `hash`): a
 * tamper-evident chain that `portcullis audit verify` checks.
 *
 * Versioned by size like `portcullis_engine_options`: `size` must be `sizeof(portcullis_audit_options)` as
 * the caller's header declares it; later minor versions only append fields.
 */
typedef struct portcullis_audit_options {
    /**
     * `sizeof(portcullis_audit_options)`; smaller than the size in ABI 2.0 gives `PORTCULLIS_ERR_OPTIONS_SIZE`.
     */
    uint32_t size;
    /**
     * `PORTCULLIS_AUDIT_NONE`, `PORTCULLIS_AUDIT_FILE` or `PORTCULLIS_AUDIT_MEMORY`; anything else gives
     * `PORTCULLIS_ERR_INVALID_ARGUMENT`.
     */
    uint32_t sink;
    /**
     * The trail file for `PORTCULLIS_AUDIT_FILE`: a NUL-terminated UTF-8 path, created when missing
     * (mode 0600) and appended to (the chain continues from its last record, or from the
     * newest rotated file's). A symbolic link is refused, and the engine holds an exclusive
     * lock on the file: a second engine on the same trail gets `PORTCULLIS_ERR_AUDIT`. Read only during
     * `portcullis_engine_new_audited`. NULL or "" gives `PORTCULLIS_ERR_INVALID_ARGUMENT`, bytes that are not
     * UTF-8 `PORTCULLIS_ERR_INVALID_UTF8`. Ignored for the other sinks.
     */
    const char *path;
    /**
     * `PORTCULLIS_AUDIT_FILE`: once the file holds at least this many bytes it is renamed
     * `PATH.000001` (then `.000002`, ...: one more than the highest number present) and a new
     * file continues the chain; 0 never rotates.
     */
    uint64_t max_bytes;
    /**
     * `PORTCULLIS_AUDIT_FILE`: written records reach the file at least this often, in milliseconds;
     * 0 means the default (200).
     */
    uint64_t flush_interval_ms;
    /**
     * Records the queue holds before `overflow` applies; 0 means the default (65536). At most
     * 1048576 (the queue is allocated up front); more gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
     */
    uint64_t queue_capacity;
    /**
     * `PORTCULLIS_OVERFLOW_BLOCK` or `PORTCULLIS_OVERFLOW_DROP`; anything else gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
     */
    uint32_t overflow;
    /**
     * `PORTCULLIS_AUDIT_FILE`: 1 to `fsync` the file after every batch written, 0 not to; anything
     * else gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
     */
    uint8_t fsync;
} portcullis_audit_options;

/**
 * Audit counters, filled by `portcullis_engine_audit_stats`.
 */
typedef struct portcullis_audit_stats {
    /**
     * Decision records written to the file (`PORTCULLIS_AUDIT_FILE`) or handed out by
     * `portcullis_engine_drain_audit` (`PORTCULLIS_AUDIT_MEMORY`).
     */
    uint64_t recorded;
    /**
     * Decision records dropped because the queue was full (`PORTCULLIS_OVERFLOW_DROP`).
     */
    uint64_t dropped;
} portcullis_audit_stats;

/**
 * The call succeeded and wrote its out-parameters.
 */
#define PORTCULLIS_OK 0

/**
 * A pointer parameter that must not be NULL was NULL. Nothing was written.
 */
#define PORTCULLIS_ERR_NULL_POINTER 1

/**
 * Text that must be UTF-8 (an action hash) was not.
 */
#define PORTCULLIS_ERR_INVALID_UTF8 2

/**
 * The policy document could not be loaded; the `portcullis_error` gives its path and message.
 */
#define PORTCULLIS_ERR_POLICY 3

/**
 * An argument is out of range or malformed (ttl_ms 0, uses 0, a malformed hash, an unknown
 * clock kind, a length above PTRDIFF_MAX).
 */
#define PORTCULLIS_ERR_INVALID_ARGUMENT 4

/**
 * The action given to `portcullis_engine_approve_action` is not a valid action. (Evaluation never
 * returns this: it denies a bad action with code `PORTCULLIS_CODE_INVALID_ACTION` instead.)
 */
#define PORTCULLIS_ERR_INVALID_ACTION 5

/**
 * `portcullis_engine_set_time` was called on an engine that reads the system clock.
 */
#define PORTCULLIS_ERR_CLOCK 6

/**
 * The library panicked during this call. The call had no effect beyond what the engine
 * documents as atomic; other calls are not affected.
 */
#define PORTCULLIS_ERR_PANIC 7

/**
 * `portcullis_engine_options.size` or `portcullis_audit_options.size` is smaller than the struct's size in
 * the ABI version that introduced it.
 */
#define PORTCULLIS_ERR_OPTIONS_SIZE 8

/**
 * The audit trail cannot be opened or written (the `portcullis_error` message names the file and the
 * operating system's error).
 */
#define PORTCULLIS_ERR_AUDIT 9

/**
 * The shared state (`portcullis_engine_options.state_url`) did not answer in time, so an
 * approval could not be recorded (ABI 2.2). Nothing was granted; retry once the store is back.
 */
#define PORTCULLIS_ERR_UNAVAILABLE 10

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Returns the ABI version of the loaded library: `(PORTCULLIS_ABI_VERSION_MAJOR << 16) |
 * PORTCULLIS_ABI_VERSION_MINOR`.
 *
 * Compare it with the macros of the header the program was compiled against before any
 * other call. Thread-safe; never fails.
 */
uint32_t portcullis_abi_version(void);

/**
 * Returns the version of the library (the crate version, e.g. "0.1.0").
 *
 * Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
 * fails.
 */
const char *portcullis_version(void);

/**
 * Returns the name of a status code, e.g. "PORTCULLIS_ERR_POLICY", or "PORTCULLIS_UNKNOWN_STATUS" for a
 * value this library does not define.
 *
 * Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
 * fails.
 */
const char *portcullis_status_name(portcullis_status status);

/**
 * Fills `*out` with the default options: current `size`, `PORTCULLIS_CLOCK_SYSTEM`,
 * `manual_start_ms` 0, `max_keys_per_limit` 100000, `state_url` NULL. Does nothing when
 * `out` is NULL.
 *
 * Thread-safe.
 *
 * # Safety
 * `out` is NULL or valid for a write of one `portcullis_engine_options`.
 */
void portcullis_engine_options_default(struct portcullis_engine_options *out);

/**
 * Releases the storage of `details` (filled by `portcullis_engine_evaluate_details`) and
 * resets every pointer in it to NULL, so a second call does nothing. NULL is accepted and
 * ignored, and so is a struct whose `storage` is NULL (after a failed evaluation).
 *
 * Not thread-safe with respect to `details`: no other thread may read its strings during or
 * after this call.
 *
 * # Safety
 * `details` is NULL or a writable struct filled by `portcullis_engine_evaluate_details` (or
 * already released by this function), whose `storage` has not been released otherwise.
 */
void portcullis_decision_details_free(struct portcullis_decision_details *details);

/**
 * Creates an engine from a policy document (JSON text, `policy_len` bytes, not
 * NUL-terminated).
 *
 * `options` may be NULL for the defaults (system clock). On `PORTCULLIS_OK`, `*out_engine` is a new
 * engine the caller owns and must release with `portcullis_engine_free`. On failure `*out_engine`
 * is set to NULL: `PORTCULLIS_ERR_POLICY` when the document cannot be loaded (the error's path and
 * message say where and why), `PORTCULLIS_ERR_OPTIONS_SIZE` or `PORTCULLIS_ERR_INVALID_ARGUMENT` for bad
 * options.
 *
 * `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
 * `portcullis_error` the caller owns on failure. On `PORTCULLIS_ERR_NULL_POINTER` (`policy` or `out_engine`
 * NULL) nothing is written.
 *
 * Thread-safe: it touches no shared state.
 *
 * # Safety
 * `policy` is readable for `policy_len` bytes; `options` is NULL or a readable
 * `portcullis_engine_options` whose `size` is set; `out_engine` and `out_error` (if not NULL) are
 * writable.
 */
portcullis_status portcullis_engine_new(const uint8_t *policy,
                                        size_t policy_len,
                                        const struct portcullis_engine_options *options,
                                        struct portcullis_engine **out_engine,
                                        struct portcullis_error **out_error);

/**
 * Releases an engine with its policy, counters, approvals and interned rule ids. NULL is
 * accepted and ignored.
 *
 * An engine with a file audit trail first writes the records still queued and stops its
 * writer thread, so this call waits for that I/O. If the file still cannot be written (a
 * full disk), the records it could not write are reported on stderr with their count: call
 * `portcullis_engine_flush_audit` first to get that failure as an error. Records of a memory
 * trail not yet drained are lost.
 *
 * Not thread-safe with respect to `engine`: every other call on it must have returned, and
 * none may follow. Rule pointers from its decisions become invalid.
 *
 * # Safety
 * `engine` is NULL or an engine returned by `portcullis_engine_new` or `portcullis_engine_new_audited` and
 * not yet freed.
 */
void portcullis_engine_free(struct portcullis_engine *engine);

/**
 * Replaces the engine's policy atomically with a new document (`policy_len` bytes of JSON).
 *
 * Evaluations already running finish on the old policy; later ones see the new one; none
 * sees a mix. Rate-limit counters of unchanged limits and all approvals are kept. On
 * `PORTCULLIS_ERR_POLICY` the current policy stays in place.
 *
 * `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
 * `portcullis_error` the caller owns on failure. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `policy` is readable for `policy_len` bytes; `out_error` is
 * NULL or writable.
 */
portcullis_status portcullis_engine_update_policy(const struct portcullis_engine *engine,
                                                  const uint8_t *policy,
                                                  size_t policy_len,
                                                  struct portcullis_error **out_error);

/**
 * Decides an action (JSON text, `action_len` bytes, not NUL-terminated) and fills `*out`.
 *
 * The hot path: it allocates nothing the caller must free, and neither builds the JSON form
 * nor collects the rule lists, reason texts and action hash that only the JSON form shows.
 * A malformed action is not an error: the call returns `PORTCULLIS_OK` with a deny decision of code
 * `PORTCULLIS_CODE_INVALID_ACTION` (`portcullis_engine_evaluate_json` says why). An allow consumes one unit
 * of each firing rate limit and one use of the approval that covered it, so evaluate each
 * action once.
 *
 * `out->rule` points into the engine and stays valid until `portcullis_engine_free`, also after
 * policy updates. If the library panics, `*out` is a deny with code `PORTCULLIS_CODE_ENGINE_ERROR`
 * and the status is `PORTCULLIS_ERR_PANIC`. Every failure writes a deny with code
 * `PORTCULLIS_CODE_ENGINE_ERROR` into `*out` (a NULL `engine` or `action` included, so a reused
 * struct never keeps an earlier allow); only a NULL `out` leaves nothing written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out` is
 * writable.
 */
portcullis_status portcullis_engine_evaluate(const struct portcullis_engine *engine,
                                             const uint8_t *action,
                                             size_t action_len,
                                             struct portcullis_decision *out);

/**
 * Decides an action like `portcullis_engine_evaluate` and returns the whole decision as a JSON
 * object (the keys of the policy language's decision: effect, allowed, code, rule, reason,
 * matched, shadow, params, retry_after_ms, action_hash, policy, eval_ns).
 *
 * On `PORTCULLIS_OK`, `*out_json` is a new UTF-8 buffer the caller owns and must release with
 * `portcullis_buffer_free`; on any other status it is set to NULL (a NULL `engine` or `action`
 * included; only a NULL `out_json` leaves nothing written). A malformed action is
 * `PORTCULLIS_OK` with a deny of code `invalid_action` whose reason says what is wrong.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out_json` is
 * writable.
 */
portcullis_status portcullis_engine_evaluate_json(const struct portcullis_engine *engine,
                                                  const uint8_t *action,
                                                  size_t action_len,
                                                  struct portcullis_buffer **out_json);

/**
 * Decides an action like `portcullis_engine_evaluate` and fills `*out` with the whole
 * decision: the verdict plus the reason, action hash, rewritten params (JSON text), policy
 * name and version, and the matched and shadow rule lists, as pointers and lengths. No JSON
 * is built for the decision and none needs parsing (the params are JSON text only when an
 * allow rule rewrote them).
 *
 * On `PORTCULLIS_OK`, `out->storage` holds every text and list the struct points to but the
 * rule ids, which point into the engine as `portcullis_decision.rule` does (valid until
 * `portcullis_engine_free`); the caller owns it and releases it with
 * `portcullis_decision_details_free(out)`, after copying what it keeps. A malformed action is `PORTCULLIS_OK` with a deny of code `invalid_action`
 * whose reason says what is wrong. Every failure (a NULL `engine` or `action` included) writes
 * a deny with code `PORTCULLIS_CODE_ENGINE_ERROR`, absent strings and a NULL `storage` into
 * `*out`; only a NULL `out` leaves nothing written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out` is
 * writable.
 */
portcullis_status portcullis_engine_evaluate_details(const struct portcullis_engine *engine,
                                                     const uint8_t *action,
                                                     size_t action_len,
                                                     struct portcullis_decision_details *out);

/**
 * Explains the decision for an action (JSON text, `action_len` bytes) as a JSON object:
 * the rules the index offered and skipped, each rule's match and conditions with the values
 * read and their results (true/false/unknown), the combining steps, and the `decision`
 * evaluation would return now (see docs/cli/explain.md).
 *
 * A dry run: no rate-limit use is admitted, no approval consumed, no audit record written.
 * Buffers and statuses as for `portcullis_engine_evaluate_json`: on `PORTCULLIS_OK`,
 * `*out_json` is a new buffer the caller releases with `portcullis_buffer_free`; a
 * malformed action is `PORTCULLIS_OK` with a decision of code `invalid_action`.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out_json` is
 * writable.
 */
portcullis_status portcullis_engine_explain(const struct portcullis_engine *engine,
                                            const uint8_t *action,
                                            size_t action_len,
                                            struct portcullis_buffer **out_json);

/**
 * Grants an approval for exactly this action (JSON text, `action_len` bytes): valid for
 * `ttl_ms` milliseconds of the engine's clock and for `uses` allowed evaluations.
 *
 * The approval is bound to the action's hash (agent, kind, params, target, tool), so an
 * action that differs in any of those is not covered. `ttl_ms` 0 or `uses` 0 give
 * `PORTCULLIS_ERR_INVALID_ARGUMENT`; a malformed action gives `PORTCULLIS_ERR_INVALID_ACTION`.
 *
 * `out_hash` may be NULL. Otherwise, on `PORTCULLIS_OK` `*out_hash` is a new buffer holding the
 * action hash ("sha256:" + 64 lowercase hex digits) that the caller owns and must release
 * with `portcullis_buffer_free`, and on failure it is set to NULL. `out_error` may be NULL;
 * otherwise it is set as for `portcullis_engine_new`. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out_hash` and
 * `out_error` are NULL or writable.
 */
portcullis_status portcullis_engine_approve_action(const struct portcullis_engine *engine,
                                                   const uint8_t *action,
                                                   size_t action_len,
                                                   uint64_t ttl_ms,
                                                   uint32_t uses,
                                                   struct portcullis_buffer **out_hash,
                                                   struct portcullis_error **out_error);

/**
 * Grants an approval for the action whose hash is given (`hash_len` bytes of
 * "sha256:" + 64 lowercase hex digits, as decisions report in `action_hash`), valid for
 * `ttl_ms` milliseconds of the engine's clock and for `uses` allowed evaluations.
 *
 * Bytes that are not UTF-8 give `PORTCULLIS_ERR_INVALID_UTF8`; any other malformed hash, `ttl_ms`
 * 0 or `uses` 0 give `PORTCULLIS_ERR_INVALID_ARGUMENT`. `out_error` may be NULL; otherwise it is
 * set as for `portcullis_engine_new`. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `hash` is readable for `hash_len` bytes; `out_error` is NULL
 * or writable.
 */
portcullis_status portcullis_engine_approve_hash(const struct portcullis_engine *engine,
                                                 const uint8_t *hash,
                                                 size_t hash_len,
                                                 uint64_t ttl_ms,
                                                 uint32_t uses,
                                                 struct portcullis_error **out_error);

/**
 * Sets the engine's manual clock to `unix_ms` (milliseconds since the Unix epoch, UTC).
 * The clock may move backwards.
 *
 * Returns `PORTCULLIS_ERR_CLOCK` on an engine created with `PORTCULLIS_CLOCK_SYSTEM` (its clock is not
 * changed).
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine.
 */
portcullis_status portcullis_engine_set_time(const struct portcullis_engine *engine,
                                             int64_t unix_ms);

/**
 * Writes the engine's current time (milliseconds since the Unix epoch, UTC) to
 * `*out_unix_ms`: the manual clock's time, or the system clock's.
 *
 * On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `out_unix_ms` is writable.
 */
portcullis_status portcullis_engine_now(const struct portcullis_engine *engine,
                                        int64_t *out_unix_ms);

/**
 * Fills `*out` with the default audit options: current `size`, `PORTCULLIS_AUDIT_NONE`, `path`
 * NULL, `max_bytes` 0 (no rotation), `flush_interval_ms` 200, `queue_capacity` 65536,
 * `PORTCULLIS_OVERFLOW_BLOCK`, `fsync` 0. Does nothing when `out` is NULL.
 *
 * Thread-safe.
 *
 * # Safety
 * `out` is NULL or valid for a write of one `portcullis_audit_options`.
 */
void portcullis_audit_options_default(struct portcullis_audit_options *out);

/**
 * Creates an engine like `portcullis_engine_new` that also writes every decision to the audit trail
 * `audit` describes.
 *
 * `options` may be NULL for the defaults; `audit` must not be NULL (use `portcullis_engine_new` for
 * an engine without a trail). The policy is loaded first: a bad policy gives `PORTCULLIS_ERR_POLICY`
 * and never creates or touches the trail. A trail file that cannot be opened (a missing
 * directory, no permission, a last record that is not a record of a trail) gives
 * `PORTCULLIS_ERR_AUDIT`, with a `portcullis_error` whose path is "" and whose message names the file and the
 * operating system's error. Bad audit options give `PORTCULLIS_ERR_OPTIONS_SIZE`,
 * `PORTCULLIS_ERR_INVALID_ARGUMENT` or `PORTCULLIS_ERR_INVALID_UTF8`. On failure `*out_engine` is set to NULL;
 * on `PORTCULLIS_ERR_NULL_POINTER` (`policy`, `audit` or `out_engine` NULL) nothing is written.
 *
 * `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
 * `portcullis_error` the caller owns on failure.
 *
 * With `PORTCULLIS_AUDIT_FILE`, the engine runs a writer thread until `portcullis_engine_free`, which writes
 * the records still queued before it returns. With `PORTCULLIS_AUDIT_MEMORY`, records wait for
 * `portcullis_engine_drain_audit`; those not drained when the engine is freed are lost.
 *
 * Thread-safe: it touches no shared state (two engines must not write the same file).
 *
 * # Safety
 * `policy` is readable for `policy_len` bytes; `options` is NULL or a readable
 * `portcullis_engine_options` whose `size` is set; `audit` is a readable `portcullis_audit_options` whose
 * `size` is set and whose `path` is NULL or a NUL-terminated string; `out_engine` and
 * `out_error` (if not NULL) are writable.
 */
portcullis_status portcullis_engine_new_audited(const uint8_t *policy,
                                                size_t policy_len,
                                                const struct portcullis_engine_options *options,
                                                const struct portcullis_audit_options *audit,
                                                struct portcullis_engine **out_engine,
                                                struct portcullis_error **out_error);

/**
 * Takes up to `max_records` records from the in-memory trail of an engine created with
 * `PORTCULLIS_AUDIT_MEMORY`, in chain order.
 *
 * On `PORTCULLIS_OK`, `*out_lines` is a new buffer the caller owns and must release with
 * `portcullis_buffer_free`: the records as JSON lines, each ending in '\n' (empty when there is
 * nothing to take), and `*out_count` is the number of lines. A record of how many decisions
 * were dropped since the last call (`PORTCULLIS_OVERFLOW_DROP`) comes first and counts as one of the
 * `max_records`. Records taken are gone from the engine: each is handed out exactly once.
 * An engine with a file sink or without a trail always gives no records. `max_records` 0
 * gives `PORTCULLIS_ERR_INVALID_ARGUMENT` (`*out_lines` NULL, `*out_count` 0). On
 * `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`;
 * concurrent drains each get a part of the chain, in order, and no record twice.
 *
 * # Safety
 * `engine` is a live engine; `out_lines` and `out_count` are writable.
 */
portcullis_status portcullis_engine_drain_audit(const struct portcullis_engine *engine,
                                                size_t max_records,
                                                struct portcullis_buffer **out_lines,
                                                size_t *out_count);

/**
 * Waits until every decision made so far is written to the trail file and flushed to the
 * operating system (and, with `fsync` 1, to the disk).
 *
 * A no-op returning `PORTCULLIS_OK` for an engine with a memory sink or without a trail. While the
 * file cannot be written (a full disk), returns `PORTCULLIS_ERR_AUDIT` at once; the error's
 * message says how many records are not written yet and names the file and the operating
 * system's error. The records are kept and retried, never dropped; with
 * `PORTCULLIS_OVERFLOW_BLOCK`, evaluations wait once the queue is full. `out_error` may be NULL;
 * otherwise it is set as for `portcullis_engine_new`. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 * It blocks until the writer thread has written the records queued before the call.
 *
 * # Safety
 * `engine` is a live engine; `out_error` is NULL or writable.
 */
portcullis_status portcullis_engine_flush_audit(const struct portcullis_engine *engine,
                                                struct portcullis_error **out_error);

/**
 * Writes the engine's audit counters to `*out` (both 0 for an engine without a trail).
 *
 * `recorded + dropped` equals the number of decisions made once every record has been
 * written (file sink: after `portcullis_engine_flush_audit`) or drained (memory sink). On
 * `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `out` is writable.
 */
portcullis_status portcullis_engine_audit_stats(const struct portcullis_engine *engine,
                                                struct portcullis_audit_stats *out);

/**
 * Returns the first byte of the buffer (never NULL for a live buffer, even when empty), or
 * NULL when `buf` is NULL.
 *
 * Ownership: the bytes belong to `buf` and stay valid until `portcullis_buffer_free(buf)`.
 * Thread-safe.
 *
 * # Safety
 * `buf` is NULL or a `portcullis_buffer` not yet freed.
 */
const uint8_t *portcullis_buffer_data(const struct portcullis_buffer *buf);

/**
 * Returns the length of the buffer in bytes, or 0 when `buf` is NULL. Thread-safe.
 *
 * # Safety
 * `buf` is NULL or a `portcullis_buffer` not yet freed.
 */
size_t portcullis_buffer_len(const struct portcullis_buffer *buf);

/**
 * Releases a buffer. NULL is accepted and ignored.
 *
 * Not thread-safe with respect to `buf`: no other call may use `buf` during or after this
 * one.
 *
 * # Safety
 * `buf` is NULL or a `portcullis_buffer` returned by this library and not yet freed.
 */
void portcullis_buffer_free(struct portcullis_buffer *buf);

/**
 * Returns the status of the call that produced `err`, or `PORTCULLIS_ERR_NULL_POINTER` when `err` is
 * NULL.
 *
 * Thread-safe.
 *
 * # Safety
 * `err` is NULL or a `portcullis_error` not yet freed.
 */
portcullis_status portcullis_error_status(const struct portcullis_error *err);

/**
 * Returns where the error is in the policy document, in dotted form with bracketed indexes
 * (`rules[0].when`); "" for the document root and for errors that are not about a
 * document. Returns "" when `err` is NULL.
 *
 * Ownership: the NUL-terminated UTF-8 string belongs to `err` and stays valid until
 * `portcullis_error_free(err)`. Thread-safe.
 *
 * # Safety
 * `err` is NULL or a `portcullis_error` not yet freed.
 */
const char *portcullis_error_path(const struct portcullis_error *err);

/**
 * Returns what went wrong, quoting the offending key or value. Returns "" when `err` is
 * NULL.
 *
 * Ownership: the NUL-terminated UTF-8 string belongs to `err` and stays valid until
 * `portcullis_error_free(err)`. Thread-safe.
 *
 * # Safety
 * `err` is NULL or a `portcullis_error` not yet freed.
 */
const char *portcullis_error_message(const struct portcullis_error *err);

/**
 * Releases an error and the strings it owns. NULL is accepted and ignored.
 *
 * Not thread-safe with respect to `err`: no other call may use `err` during or after this
 * one.
 *
 * # Safety
 * `err` is NULL or a `portcullis_error` returned by this library and not yet freed.
 */
void portcullis_error_free(struct portcullis_error *err);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* PORTCULLIS_H */
