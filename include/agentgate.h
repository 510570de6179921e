/*
 * agentgate C ABI. SPDX-License-Identifier: Apache-2.0
 *
 * Link statically with -lagentgate_ffi -lpthread -ldl -lm, or dynamically with
 * -lagentgate_ffi. See docs/c-abi.md for ownership rules, thread safety and the status table.
 */

#ifndef AGENTGATE_H
#define AGENTGATE_H

/* Generated from ffi/src by tools/gen-header (cbindgen). Do not edit: run `make header`. */

#include <stddef.h>
#include <stdint.h>

/**
 * Major version of this C ABI. A library whose major version differs from the one a program
 * was compiled against is incompatible with it.
 */
#define AG_ABI_VERSION_MAJOR 1

/**
 * Minor version of this C ABI. Minor versions only add functions, constants, structs or
 * trailing fields of the size-versioned option structs; a program compiled against minor
 * version N runs on any library with the same major version and a minor version >= N.
 * Version 1.1 added the audit trail (`ag_engine_new_audited` and the `ag_audit_*` items).
 */
#define AG_ABI_VERSION_MINOR 1

/**
 * `ag_engine_options.clock`: the engine reads the system clock (the default).
 */
#define AG_CLOCK_SYSTEM 0

/**
 * `ag_engine_options.clock`: the engine has a manual clock that starts at `manual_start_ms`
 * and moves only through `ag_engine_set_time` (for tests and simulations).
 */
#define AG_CLOCK_MANUAL 1

/**
 * `ag_decision.effect`: the action may run.
 */
#define AG_EFFECT_ALLOW 0

/**
 * `ag_decision.effect`: the action must not run.
 */
#define AG_EFFECT_DENY 1

/**
 * `ag_decision.effect`: the action may run only once a person approves it
 * (`ag_engine_approve_action` / `ag_engine_approve_hash`).
 */
#define AG_EFFECT_REQUIRE_APPROVAL 2

/**
 * `ag_decision.code`: a rule decided.
 */
#define AG_CODE_RULE 0

/**
 * `ag_decision.code`: no deciding rule fired; the policy's default applied.
 */
#define AG_CODE_DEFAULT 1

/**
 * `ag_decision.code`: a require_approval rule fired and a valid approval covered the action.
 */
#define AG_CODE_APPROVED 2

/**
 * `ag_decision.code`: a rate limit is exhausted (see `retry_after_ms`).
 */
#define AG_CODE_RATE_LIMITED 3

/**
 * `ag_decision.code`: a require_approval rule fired and no approval covers the action.
 */
#define AG_CODE_APPROVAL_REQUIRED 4

/**
 * `ag_decision.code`: the policy requires known agents and this one is not registered.
 */
#define AG_CODE_UNKNOWN_AGENT 5

/**
 * `ag_decision.code`: the action is malformed (the JSON decision's `reason` says why).
 */
#define AG_CODE_INVALID_ACTION 6

/**
 * `ag_decision.code`: the engine failed; the effect is deny.
 */
#define AG_CODE_ENGINE_ERROR 7

/**
 * `ag_audit_options.sink`: no audit trail (the engine behaves as one from `ag_engine_new`).
 */
#define AG_AUDIT_NONE 0

/**
 * `ag_audit_options.sink`: an append-only JSON-lines file at `path`, written by a background
 * thread of the engine.
 */
#define AG_AUDIT_FILE 1

/**
 * `ag_audit_options.sink`: records wait in the engine's queue until the host takes them with
 * `ag_engine_drain_audit`.
 */
#define AG_AUDIT_MEMORY 2

/**
 * `ag_audit_options.overflow`: when the queue is full, evaluation waits for room; no record
 * is ever lost (the default). With `AG_AUDIT_MEMORY` the host must keep draining, or
 * evaluations block once `queue_capacity` records wait.
 */
#define AG_OVERFLOW_BLOCK 0

/**
 * `ag_audit_options.overflow`: when the queue is full, evaluation never waits; the record is
 * dropped and counted, and the trail gets a `"dropped"` record with the count.
 */
#define AG_OVERFLOW_DROP 1

/**
 * A byte string the library hands to the caller: UTF-8 text, not NUL-terminated.
 *
 * Opaque. A function that returns one through an `ag_buffer **` hands ownership to the
 * caller, who releases it with `ag_buffer_free`. An `ag_buffer` is immutable: reading it
 * from several threads at once is safe.
 */
typedef struct ag_buffer ag_buffer;

/**
 * A policy engine: a compiled policy snapshot plus its clock, rate-limit counters and
 * approval grants.
 *
 * Opaque. Created by `ag_engine_new` or `ag_engine_new_audited`, released by
 * `ag_engine_free`. Every other function may be called on one handle from many threads at
 * once.
 */
typedef struct ag_engine ag_engine;

/**
 * Details of a failed call: its status, a path into the policy document (for
 * `AG_ERR_POLICY`; "" otherwise) and a message a person can act on.
 *
 * Opaque. A function that returns one through an `ag_error **out_error` hands ownership to
 * the caller, who releases it with `ag_error_free`. An `ag_error` is immutable: reading it
 * from several threads at once is safe.
 */
typedef struct ag_error ag_error;

/**
 * The result of a fallible call: `AG_OK` or one of the `AG_ERR_*` values. Values are
 * explicit and never reused for another meaning.
 */
typedef int32_t ag_status;

/**
 * Options for `ag_engine_new`. Fill it with `ag_engine_options_default` and change the
 * fields you need.
 *
 * Versioned by size: `size` must be `sizeof(ag_engine_options)` as the caller's header
 * declares it. Later minor versions only append fields, so a library accepts any size at
 * least as large as version 1's and reads the fields it knows.
 */
typedef struct ag_engine_options {
    /**
     * `sizeof(ag_engine_options)`; smaller than version 1's size gives `AG_ERR_OPTIONS_SIZE`.
     */
    uint32_t size;
    /**
     * `AG_CLOCK_SYSTEM` or `AG_CLOCK_MANUAL`; anything else gives `AG_ERR_INVALID_ARGUMENT`.
     */
    uint32_t clock;
    /**
     * Start of the manual clock, in milliseconds since the Unix epoch (UTC). Ignored for
     * `AG_CLOCK_SYSTEM`.
     */
    int64_t manual_start_ms;
    /**
     * Most keys each rate-limit rule keeps; 0 means the default (100000).
     */
    uint64_t max_keys_per_limit;
} ag_engine_options;

/**
 * A decision in a plain, blittable form, filled by `ag_engine_evaluate`.
 *
 * It owns nothing: there is nothing to free. `rule` points into the engine, not into the
 * struct. The reason, matched and shadow rule ids, rewritten params and action hash are in
 * the JSON form (`ag_engine_evaluate_json`).
 */
typedef struct ag_decision {
    /**
     * `AG_EFFECT_ALLOW`, `AG_EFFECT_DENY` or `AG_EFFECT_REQUIRE_APPROVAL`.
     */
    uint32_t effect;
    /**
     * One of the `AG_CODE_*` values.
     */
    uint32_t code;
    /**
     * 1 iff `effect == AG_EFFECT_ALLOW`, else 0.
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
     * 1 when an allow rule rewrote the params: fetch them with `ag_engine_evaluate_json`.
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
     * engine and valid until `ag_engine_free`, also across policy updates.
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
} ag_decision;

/**
 * How an engine from `ag_engine_new_audited` records its decisions. Fill it with
 * `ag_audit_options_default` and change the fields you need.
 *
 * Every decision becomes one JSON line (keys in RFC 8785 order) with `seq` (1, 2, ... without
 * gaps), `type` (`"decision"`, or `"dropped"` / `"recovered"` for the trail's own events),
 * `time`, `agent`, `kind`, `tool`, `target`, `effect`, `code`, `rule`, `reason`, `policy`,
 * `action_hash`, `eval_ns`, `params` (only the policy's `audit.include_params` paths), `prev`
 * (the previous record's `hash`) and `hash` (SHA-256 of the record without `hash`): a
 * tamper-evident chain that `agentgate-audit verify` checks.
 *
 * Versioned by size like `ag_engine_options`: `size` must be `sizeof(ag_audit_options)` as
 * the caller's header declares it; later minor versions only append fields.
 */
typedef struct ag_audit_options {
    /**
     * `sizeof(ag_audit_options)`; smaller than the size in ABI 1.1 gives `AG_ERR_OPTIONS_SIZE`.
     */
    uint32_t size;
    /**
     * `AG_AUDIT_NONE`, `AG_AUDIT_FILE` or `AG_AUDIT_MEMORY`; anything else gives
     * `AG_ERR_INVALID_ARGUMENT`.
     */
    uint32_t sink;
    /**
     * The trail file for `AG_AUDIT_FILE`: a NUL-terminated UTF-8 path, created when missing
     * and appended to (the chain continues from its last record). Read only during
     * `ag_engine_new_audited`. NULL or "" gives `AG_ERR_INVALID_ARGUMENT`, bytes that are not
     * UTF-8 `AG_ERR_INVALID_UTF8`. Ignored for the other sinks.
     */
    const char *path;
    /**
     * `AG_AUDIT_FILE`: once the file holds at least this many bytes it is renamed
     * `PATH.000001` (then `.000002`, ...) and a new file continues the chain; 0 never rotates.
     */
    uint64_t max_bytes;
    /**
     * `AG_AUDIT_FILE`: written records reach the file at least this often, in milliseconds;
     * 0 means the default (200).
     */
    uint64_t flush_interval_ms;
    /**
     * Records the queue holds before `overflow` applies; 0 means the default (65536). At most
     * 1048576 (the queue is allocated up front); more gives `AG_ERR_INVALID_ARGUMENT`.
     */
    uint64_t queue_capacity;
    /**
     * `AG_OVERFLOW_BLOCK` or `AG_OVERFLOW_DROP`; anything else gives `AG_ERR_INVALID_ARGUMENT`.
     */
    uint32_t overflow;
    /**
     * `AG_AUDIT_FILE`: 1 to `fsync` the file after every batch written, 0 not to; anything
     * else gives `AG_ERR_INVALID_ARGUMENT`.
     */
    uint8_t fsync;
} ag_audit_options;

/**
 * Audit counters, filled by `ag_engine_audit_stats`.
 */
typedef struct ag_audit_stats {
    /**
     * Decision records written to the file (`AG_AUDIT_FILE`) or handed out by
     * `ag_engine_drain_audit` (`AG_AUDIT_MEMORY`).
     */
    uint64_t recorded;
    /**
     * Decision records dropped because the queue was full (`AG_OVERFLOW_DROP`).
     */
    uint64_t dropped;
} ag_audit_stats;

/**
 * The call succeeded and wrote its out-parameters.
 */
#define AG_OK 0

/**
 * A pointer parameter that must not be NULL was NULL. Nothing was written.
 */
#define AG_ERR_NULL_POINTER 1

/**
 * Text that must be UTF-8 (an action hash) was not.
 */
#define AG_ERR_INVALID_UTF8 2

/**
 * The policy document could not be loaded; the `ag_error` gives its path and message.
 */
#define AG_ERR_POLICY 3

/**
 * An argument is out of range or malformed (ttl_ms 0, uses 0, a malformed hash, an unknown
 * clock kind, a length above PTRDIFF_MAX).
 */
#define AG_ERR_INVALID_ARGUMENT 4

/**
 * The action given to `ag_engine_approve_action` is not a valid action. (Evaluation never
 * returns this: it denies a bad action with code `AG_CODE_INVALID_ACTION` instead.)
 */
#define AG_ERR_INVALID_ACTION 5

/**
 * `ag_engine_set_time` was called on an engine that reads the system clock.
 */
#define AG_ERR_CLOCK 6

/**
 * The library panicked during this call. The call had no effect beyond what the engine
 * documents as atomic; other calls are not affected.
 */
#define AG_ERR_PANIC 7

/**
 * `ag_engine_options.size` or `ag_audit_options.size` is smaller than the struct's size in
 * the ABI version that introduced it.
 */
#define AG_ERR_OPTIONS_SIZE 8

/**
 * The audit trail cannot be opened or written (the `ag_error` message names the file and the
 * operating system's error). Since ABI 1.1.
 */
#define AG_ERR_AUDIT 9

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Returns the ABI version of the loaded library: `(AG_ABI_VERSION_MAJOR << 16) |
 * AG_ABI_VERSION_MINOR`.
 *
 * Compare it with the macros of the header the program was compiled against before any
 * other call. Thread-safe; never fails.
 */
uint32_t ag_abi_version(void);

/**
 * Returns the version of the library (the crate version, e.g. "0.1.0").
 *
 * Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
 * fails.
 */
const char *ag_version(void);

/**
 * Returns the name of a status code, e.g. "AG_ERR_POLICY", or "AG_UNKNOWN_STATUS" for a
 * value this library does not define.
 *
 * Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
 * fails.
 */
const char *ag_status_name(ag_status status);

/**
 * Fills `*out` with the default options: current `size`, `AG_CLOCK_SYSTEM`,
 * `manual_start_ms` 0, `max_keys_per_limit` 100000. Does nothing when `out` is NULL.
 *
 * Thread-safe.
 *
 * # Safety
 * `out` is NULL or valid for a write of one `ag_engine_options`.
 */
void ag_engine_options_default(struct ag_engine_options *out);

/**
 * Creates an engine from a policy document (JSON text, `policy_len` bytes, not
 * NUL-terminated).
 *
 * `options` may be NULL for the defaults (system clock). On `AG_OK`, `*out_engine` is a new
 * engine the caller owns and must release with `ag_engine_free`. On failure `*out_engine`
 * is set to NULL: `AG_ERR_POLICY` when the document cannot be loaded (the error's path and
 * message say where and why), `AG_ERR_OPTIONS_SIZE` or `AG_ERR_INVALID_ARGUMENT` for bad
 * options.
 *
 * `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
 * `ag_error` the caller owns on failure. On `AG_ERR_NULL_POINTER` (`policy` or `out_engine`
 * NULL) nothing is written.
 *
 * Thread-safe: it touches no shared state.
 *
 * # Safety
 * `policy` is readable for `policy_len` bytes; `options` is NULL or a readable
 * `ag_engine_options` whose `size` is set; `out_engine` and `out_error` (if not NULL) are
 * writable.
 */
ag_status ag_engine_new(const uint8_t *policy,
                        size_t policy_len,
                        const struct ag_engine_options *options,
                        struct ag_engine **out_engine,
                        struct ag_error **out_error);

/**
 * Releases an engine with its policy, counters, approvals and interned rule ids. NULL is
 * accepted and ignored.
 *
 * An engine with a file audit trail first writes the records still queued and stops its
 * writer thread, so this call waits for that I/O. Records of a memory trail not yet drained
 * are lost.
 *
 * Not thread-safe with respect to `engine`: every other call on it must have returned, and
 * none may follow. Rule pointers from its decisions become invalid.
 *
 * # Safety
 * `engine` is NULL or an engine returned by `ag_engine_new` or `ag_engine_new_audited` and
 * not yet freed.
 */
void ag_engine_free(struct ag_engine *engine);

/**
 * Replaces the engine's policy atomically with a new document (`policy_len` bytes of JSON).
 *
 * Evaluations already running finish on the old policy; later ones see the new one; none
 * sees a mix. Rate-limit counters of unchanged limits and all approvals are kept. On
 * `AG_ERR_POLICY` the current policy stays in place.
 *
 * `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
 * `ag_error` the caller owns on failure. On `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `policy` is readable for `policy_len` bytes; `out_error` is
 * NULL or writable.
 */
ag_status ag_engine_update_policy(const struct ag_engine *engine,
                                  const uint8_t *policy,
                                  size_t policy_len,
                                  struct ag_error **out_error);

/**
 * Decides an action (JSON text, `action_len` bytes, not NUL-terminated) and fills `*out`.
 *
 * The hot path: it allocates nothing the caller must free, and neither builds the JSON form
 * nor collects the rule lists, reason texts and action hash that only the JSON form shows.
 * A malformed action is not an error: the call returns `AG_OK` with a deny decision of code
 * `AG_CODE_INVALID_ACTION` (`ag_engine_evaluate_json` says why). An allow consumes one unit
 * of each firing rate limit and one use of the approval that covered it, so evaluate each
 * action once.
 *
 * `out->rule` points into the engine and stays valid until `ag_engine_free`, also after
 * policy updates. If the library panics, `*out` is a deny with code `AG_CODE_ENGINE_ERROR`
 * and the status is `AG_ERR_PANIC`. On `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out` is
 * writable.
 */
ag_status ag_engine_evaluate(const struct ag_engine *engine,
                             const uint8_t *action,
                             size_t action_len,
                             struct ag_decision *out);

/**
 * Decides an action like `ag_engine_evaluate` and returns the whole decision as a JSON
 * object (the keys of the policy language's decision: effect, allowed, code, rule, reason,
 * matched, shadow, params, retry_after_ms, action_hash, policy, eval_ns).
 *
 * On `AG_OK`, `*out_json` is a new UTF-8 buffer the caller owns and must release with
 * `ag_buffer_free`; on any other status but `AG_ERR_NULL_POINTER` it is set to NULL. A
 * malformed action is `AG_OK` with a deny of code `invalid_action` whose reason says what
 * is wrong. On `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out_json` is
 * writable.
 */
ag_status ag_engine_evaluate_json(const struct ag_engine *engine,
                                  const uint8_t *action,
                                  size_t action_len,
                                  struct ag_buffer **out_json);

/**
 * Grants an approval for exactly this action (JSON text, `action_len` bytes): valid for
 * `ttl_ms` milliseconds of the engine's clock and for `uses` allowed evaluations.
 *
 * The approval is bound to the action's hash (agent, kind, params, target, tool), so an
 * action that differs in any of those is not covered. `ttl_ms` 0 or `uses` 0 give
 * `AG_ERR_INVALID_ARGUMENT`; a malformed action gives `AG_ERR_INVALID_ACTION`.
 *
 * `out_hash` may be NULL. Otherwise, on `AG_OK` `*out_hash` is a new buffer holding the
 * action hash ("sha256:" + 64 lowercase hex digits) that the caller owns and must release
 * with `ag_buffer_free`, and on failure it is set to NULL. `out_error` may be NULL;
 * otherwise it is set as for `ag_engine_new`. On `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `action` is readable for `action_len` bytes; `out_hash` and
 * `out_error` are NULL or writable.
 */
ag_status ag_engine_approve_action(const struct ag_engine *engine,
                                   const uint8_t *action,
                                   size_t action_len,
                                   uint64_t ttl_ms,
                                   uint32_t uses,
                                   struct ag_buffer **out_hash,
                                   struct ag_error **out_error);

/**
 * Grants an approval for the action whose hash is given (`hash_len` bytes of
 * "sha256:" + 64 lowercase hex digits, as decisions report in `action_hash`), valid for
 * `ttl_ms` milliseconds of the engine's clock and for `uses` allowed evaluations.
 *
 * Bytes that are not UTF-8 give `AG_ERR_INVALID_UTF8`; any other malformed hash, `ttl_ms`
 * 0 or `uses` 0 give `AG_ERR_INVALID_ARGUMENT`. `out_error` may be NULL; otherwise it is
 * set as for `ag_engine_new`. On `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `hash` is readable for `hash_len` bytes; `out_error` is NULL
 * or writable.
 */
ag_status ag_engine_approve_hash(const struct ag_engine *engine,
                                 const uint8_t *hash,
                                 size_t hash_len,
                                 uint64_t ttl_ms,
                                 uint32_t uses,
                                 struct ag_error **out_error);

/**
 * Sets the engine's manual clock to `unix_ms` (milliseconds since the Unix epoch, UTC).
 * The clock may move backwards.
 *
 * Returns `AG_ERR_CLOCK` on an engine created with `AG_CLOCK_SYSTEM` (its clock is not
 * changed).
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine.
 */
ag_status ag_engine_set_time(const struct ag_engine *engine, int64_t unix_ms);

/**
 * Writes the engine's current time (milliseconds since the Unix epoch, UTC) to
 * `*out_unix_ms`: the manual clock's time, or the system clock's.
 *
 * On `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `out_unix_ms` is writable.
 */
ag_status ag_engine_now(const struct ag_engine *engine, int64_t *out_unix_ms);

/**
 * Fills `*out` with the default audit options: current `size`, `AG_AUDIT_NONE`, `path`
 * NULL, `max_bytes` 0 (no rotation), `flush_interval_ms` 200, `queue_capacity` 65536,
 * `AG_OVERFLOW_BLOCK`, `fsync` 0. Does nothing when `out` is NULL. Since ABI 1.1.
 *
 * Thread-safe.
 *
 * # Safety
 * `out` is NULL or valid for a write of one `ag_audit_options`.
 */
void ag_audit_options_default(struct ag_audit_options *out);

/**
 * Creates an engine like `ag_engine_new` that also writes every decision to the audit trail
 * `audit` describes. Since ABI 1.1.
 *
 * `options` may be NULL for the defaults; `audit` must not be NULL (use `ag_engine_new` for
 * an engine without a trail). The policy is loaded first: a bad policy gives `AG_ERR_POLICY`
 * and never creates or touches the trail. A trail file that cannot be opened (a missing
 * directory, no permission, a last record that is not a record of a trail) gives
 * `AG_ERR_AUDIT`, with an `ag_error` whose path is "" and whose message names the file and the
 * operating system's error. Bad audit options give `AG_ERR_OPTIONS_SIZE`,
 * `AG_ERR_INVALID_ARGUMENT` or `AG_ERR_INVALID_UTF8`. On failure `*out_engine` is set to NULL;
 * on `AG_ERR_NULL_POINTER` (`policy`, `audit` or `out_engine` NULL) nothing is written.
 *
 * `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
 * `ag_error` the caller owns on failure.
 *
 * With `AG_AUDIT_FILE`, the engine runs a writer thread until `ag_engine_free`, which writes
 * the records still queued before it returns. With `AG_AUDIT_MEMORY`, records wait for
 * `ag_engine_drain_audit`; those not drained when the engine is freed are lost.
 *
 * Thread-safe: it touches no shared state (two engines must not write the same file).
 *
 * # Safety
 * `policy` is readable for `policy_len` bytes; `options` is NULL or a readable
 * `ag_engine_options` whose `size` is set; `audit` is a readable `ag_audit_options` whose
 * `size` is set and whose `path` is NULL or a NUL-terminated string; `out_engine` and
 * `out_error` (if not NULL) are writable.
 */
ag_status ag_engine_new_audited(const uint8_t *policy,
                                size_t policy_len,
                                const struct ag_engine_options *options,
                                const struct ag_audit_options *audit,
                                struct ag_engine **out_engine,
                                struct ag_error **out_error);

/**
 * Takes up to `max_records` records from the in-memory trail of an engine created with
 * `AG_AUDIT_MEMORY`, in chain order. Since ABI 1.1.
 *
 * On `AG_OK`, `*out_lines` is a new buffer the caller owns and must release with
 * `ag_buffer_free`: the records as JSON lines, each ending in '\n' (empty when there is
 * nothing to take), and `*out_count` is the number of lines. A record of how many decisions
 * were dropped since the last call (`AG_OVERFLOW_DROP`) comes first and counts as one of the
 * `max_records`. Records taken are gone from the engine: each is handed out exactly once.
 * An engine with a file sink or without a trail always gives no records. `max_records` 0
 * gives `AG_ERR_INVALID_ARGUMENT` (`*out_lines` NULL, `*out_count` 0). On
 * `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`;
 * concurrent drains each get a part of the chain, in order, and no record twice.
 *
 * # Safety
 * `engine` is a live engine; `out_lines` and `out_count` are writable.
 */
ag_status ag_engine_drain_audit(const struct ag_engine *engine,
                                size_t max_records,
                                struct ag_buffer **out_lines,
                                size_t *out_count);

/**
 * Waits until every decision made so far is written to the trail file and flushed to the
 * operating system (and, with `fsync` 1, to the disk). Since ABI 1.1.
 *
 * A no-op returning `AG_OK` for an engine with a memory sink or without a trail. When the
 * file cannot be written (now, or at an earlier batch), returns `AG_ERR_AUDIT`; the error's
 * message names the file and the operating system's error. `out_error` may be NULL;
 * otherwise it is set as for `ag_engine_new`. On `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 * It blocks until the writer thread has written the records queued before the call.
 *
 * # Safety
 * `engine` is a live engine; `out_error` is NULL or writable.
 */
ag_status ag_engine_flush_audit(const struct ag_engine *engine, struct ag_error **out_error);

/**
 * Writes the engine's audit counters to `*out` (both 0 for an engine without a trail). Since
 * ABI 1.1.
 *
 * `recorded + dropped` equals the number of decisions made once every record has been
 * written (file sink: after `ag_engine_flush_audit`) or drained (memory sink). On
 * `AG_ERR_NULL_POINTER` nothing is written.
 *
 * Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
 *
 * # Safety
 * `engine` is a live engine; `out` is writable.
 */
ag_status ag_engine_audit_stats(const struct ag_engine *engine, struct ag_audit_stats *out);

/**
 * Returns the first byte of the buffer (never NULL for a live buffer, even when empty), or
 * NULL when `buf` is NULL.
 *
 * Ownership: the bytes belong to `buf` and stay valid until `ag_buffer_free(buf)`.
 * Thread-safe.
 *
 * # Safety
 * `buf` is NULL or an `ag_buffer` not yet freed.
 */
const uint8_t *ag_buffer_data(const struct ag_buffer *buf);

/**
 * Returns the length of the buffer in bytes, or 0 when `buf` is NULL. Thread-safe.
 *
 * # Safety
 * `buf` is NULL or an `ag_buffer` not yet freed.
 */
size_t ag_buffer_len(const struct ag_buffer *buf);

/**
 * Releases a buffer. NULL is accepted and ignored.
 *
 * Not thread-safe with respect to `buf`: no other call may use `buf` during or after this
 * one.
 *
 * # Safety
 * `buf` is NULL or an `ag_buffer` returned by this library and not yet freed.
 */
void ag_buffer_free(struct ag_buffer *buf);

/**
 * Returns the status of the call that produced `err`, or `AG_ERR_NULL_POINTER` when `err` is
 * NULL.
 *
 * Thread-safe.
 *
 * # Safety
 * `err` is NULL or an `ag_error` not yet freed.
 */
ag_status ag_error_status(const struct ag_error *err);

/**
 * Returns where the error is in the policy document, in dotted form with bracketed indexes
 * (`rules[0].when`); "" for the document root and for errors that are not about a
 * document. Returns "" when `err` is NULL.
 *
 * Ownership: the NUL-terminated UTF-8 string belongs to `err` and stays valid until
 * `ag_error_free(err)`. Thread-safe.
 *
 * # Safety
 * `err` is NULL or an `ag_error` not yet freed.
 */
const char *ag_error_path(const struct ag_error *err);

/**
 * Returns what went wrong, quoting the offending key or value. Returns "" when `err` is
 * NULL.
 *
 * Ownership: the NUL-terminated UTF-8 string belongs to `err` and stays valid until
 * `ag_error_free(err)`. Thread-safe.
 *
 * # Safety
 * `err` is NULL or an `ag_error` not yet freed.
 */
const char *ag_error_message(const struct ag_error *err);

/**
 * Releases an error and the strings it owns. NULL is accepted and ignored.
 *
 * Not thread-safe with respect to `err`: no other call may use `err` during or after this
 * one.
 *
 * # Safety
 * `err` is NULL or an `ag_error` returned by this library and not yet freed.
 */
void ag_error_free(struct ag_error *err);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* AGENTGATE_H */
