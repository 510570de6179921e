/*
 * Compiled as C11 and as C++17 with -Wall -Wextra -Werror -pedantic: the header must be
 * clean in both, and its constants and layouts must be the ones the ABI contract fixes
 * (other languages hard-code them). Linked and run, it also checks that the library's ABI
 * version is the header's.
 */
#include "portcullis.h"

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
#define PORTCULLIS_STATIC_ASSERT(cond) static_assert(cond, #cond)
#else
#define PORTCULLIS_STATIC_ASSERT(cond) _Static_assert(cond, #cond)
#endif

PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ABI_VERSION_MAJOR == 2);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ABI_VERSION_MINOR == 2);

PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_status) == 4);
PORTCULLIS_STATIC_ASSERT((portcullis_status)-1 < 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_OK == 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_NULL_POINTER == 1);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_INVALID_UTF8 == 2);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_POLICY == 3);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_INVALID_ARGUMENT == 4);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_INVALID_ACTION == 5);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_CLOCK == 6);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_PANIC == 7);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_OPTIONS_SIZE == 8);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_AUDIT == 9);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_ERR_UNAVAILABLE == 10);

PORTCULLIS_STATIC_ASSERT(PORTCULLIS_EFFECT_ALLOW == 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_EFFECT_DENY == 1);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_EFFECT_REQUIRE_APPROVAL == 2);

PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_RULE == 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_DEFAULT == 1);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_APPROVED == 2);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_RATE_LIMITED == 3);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_APPROVAL_REQUIRED == 4);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_UNKNOWN_AGENT == 5);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_INVALID_ACTION == 6);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_ENGINE_ERROR == 7);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CODE_UNAVAILABLE == 8);

PORTCULLIS_STATIC_ASSERT(PORTCULLIS_RULE_EFFECT_ALLOW == 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_RULE_EFFECT_DENY == 1);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_RULE_EFFECT_REQUIRE_APPROVAL == 2);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_RULE_EFFECT_RATE_LIMIT == 3);

PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CLOCK_SYSTEM == 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_CLOCK_MANUAL == 1);

PORTCULLIS_STATIC_ASSERT(PORTCULLIS_AUDIT_NONE == 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_AUDIT_FILE == 1);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_AUDIT_MEMORY == 2);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_OVERFLOW_BLOCK == 0);
PORTCULLIS_STATIC_ASSERT(PORTCULLIS_OVERFLOW_DROP == 1);

PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_engine_options, state_url) == 24);
PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_engine_options) == 24 + sizeof(void *));
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_engine_options, size) == 0);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_engine_options, clock) == 4);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_engine_options, manual_start_ms) == 8);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_engine_options, max_keys_per_limit) == 16);

PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, effect) == 0);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, code) == 4);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, allowed) == 8);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, has_rule) == 9);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, has_retry_after) == 10);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, params_modified) == 11);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, matched_count) == 12);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, shadow_count) == 16);
#if UINTPTR_MAX == UINT64_MAX
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, rule) == 24);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, rule_len) == 32);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, retry_after_ms) == 40);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision, eval_ns) == 48);
PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_decision) == 56);
#endif

PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_str, ptr) == 0);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_str, len) == sizeof(void *));
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_shadow_hit, rule) == 0);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, verdict) == 0);
#if UINTPTR_MAX == UINT64_MAX
PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_str) == 16);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_shadow_hit, effect) == 16);
PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_shadow_hit) == 24);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, reason) == 56);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, action_hash) == 72);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, params_json) == 88);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, policy_name) == 104);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, policy_version) == 120);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, matched) == 136);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, shadow) == 144);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_decision_details, storage) == 152);
PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_decision_details) == 160);
#endif

PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, size) == 0);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, sink) == 4);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, path) == 8);
#if UINTPTR_MAX == UINT64_MAX
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, max_bytes) == 16);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, flush_interval_ms) == 24);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, queue_capacity) == 32);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, overflow) == 40);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_options, fsync) == 44);
PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_audit_options) == 48);
#endif

PORTCULLIS_STATIC_ASSERT(sizeof(portcullis_audit_stats) == 16);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_stats, recorded) == 0);
PORTCULLIS_STATIC_ASSERT(offsetof(portcullis_audit_stats, dropped) == 8);

int main(void) {
    unsigned expected = ((unsigned)PORTCULLIS_ABI_VERSION_MAJOR << 16) | PORTCULLIS_ABI_VERSION_MINOR;
    if (portcullis_abi_version() != expected) {
        printf("FAIL header_check: library ABI %#x, header %#x\n", portcullis_abi_version(), expected);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("1 passed, 0 failed\n");
    return 0;
}
