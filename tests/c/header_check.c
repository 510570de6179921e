/*
 * Compiled as C11 and as C++17 with -Wall -Wextra -Werror -pedantic: the header must be
 * clean in both, and its constants and layouts must be the ones the ABI contract fixes
 * (other languages hard-code them). Linked and run, it also checks that the library's ABI
 * version is the header's.
 */
#include "agentgate.h"

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
#define AG_STATIC_ASSERT(cond) static_assert(cond, #cond)
#else
#define AG_STATIC_ASSERT(cond) _Static_assert(cond, #cond)
#endif

AG_STATIC_ASSERT(AG_ABI_VERSION_MAJOR == 1);
AG_STATIC_ASSERT(AG_ABI_VERSION_MINOR == 1);

AG_STATIC_ASSERT(sizeof(ag_status) == 4);
AG_STATIC_ASSERT((ag_status)-1 < 0);
AG_STATIC_ASSERT(AG_OK == 0);
AG_STATIC_ASSERT(AG_ERR_NULL_POINTER == 1);
AG_STATIC_ASSERT(AG_ERR_INVALID_UTF8 == 2);
AG_STATIC_ASSERT(AG_ERR_POLICY == 3);
AG_STATIC_ASSERT(AG_ERR_INVALID_ARGUMENT == 4);
AG_STATIC_ASSERT(AG_ERR_INVALID_ACTION == 5);
AG_STATIC_ASSERT(AG_ERR_CLOCK == 6);
AG_STATIC_ASSERT(AG_ERR_PANIC == 7);
AG_STATIC_ASSERT(AG_ERR_OPTIONS_SIZE == 8);
AG_STATIC_ASSERT(AG_ERR_AUDIT == 9);

AG_STATIC_ASSERT(AG_EFFECT_ALLOW == 0);
AG_STATIC_ASSERT(AG_EFFECT_DENY == 1);
AG_STATIC_ASSERT(AG_EFFECT_REQUIRE_APPROVAL == 2);

AG_STATIC_ASSERT(AG_CODE_RULE == 0);
AG_STATIC_ASSERT(AG_CODE_DEFAULT == 1);
AG_STATIC_ASSERT(AG_CODE_APPROVED == 2);
AG_STATIC_ASSERT(AG_CODE_RATE_LIMITED == 3);
AG_STATIC_ASSERT(AG_CODE_APPROVAL_REQUIRED == 4);
AG_STATIC_ASSERT(AG_CODE_UNKNOWN_AGENT == 5);
AG_STATIC_ASSERT(AG_CODE_INVALID_ACTION == 6);
AG_STATIC_ASSERT(AG_CODE_ENGINE_ERROR == 7);

AG_STATIC_ASSERT(AG_CLOCK_SYSTEM == 0);
AG_STATIC_ASSERT(AG_CLOCK_MANUAL == 1);

AG_STATIC_ASSERT(AG_AUDIT_NONE == 0);
AG_STATIC_ASSERT(AG_AUDIT_FILE == 1);
AG_STATIC_ASSERT(AG_AUDIT_MEMORY == 2);
AG_STATIC_ASSERT(AG_OVERFLOW_BLOCK == 0);
AG_STATIC_ASSERT(AG_OVERFLOW_DROP == 1);

AG_STATIC_ASSERT(sizeof(ag_engine_options) == 24);
AG_STATIC_ASSERT(offsetof(ag_engine_options, size) == 0);
AG_STATIC_ASSERT(offsetof(ag_engine_options, clock) == 4);
AG_STATIC_ASSERT(offsetof(ag_engine_options, manual_start_ms) == 8);
AG_STATIC_ASSERT(offsetof(ag_engine_options, max_keys_per_limit) == 16);

AG_STATIC_ASSERT(offsetof(ag_decision, effect) == 0);
AG_STATIC_ASSERT(offsetof(ag_decision, code) == 4);
AG_STATIC_ASSERT(offsetof(ag_decision, allowed) == 8);
AG_STATIC_ASSERT(offsetof(ag_decision, has_rule) == 9);
AG_STATIC_ASSERT(offsetof(ag_decision, has_retry_after) == 10);
AG_STATIC_ASSERT(offsetof(ag_decision, params_modified) == 11);
AG_STATIC_ASSERT(offsetof(ag_decision, matched_count) == 12);
AG_STATIC_ASSERT(offsetof(ag_decision, shadow_count) == 16);
#if UINTPTR_MAX == UINT64_MAX
AG_STATIC_ASSERT(offsetof(ag_decision, rule) == 24);
AG_STATIC_ASSERT(offsetof(ag_decision, rule_len) == 32);
AG_STATIC_ASSERT(offsetof(ag_decision, retry_after_ms) == 40);
AG_STATIC_ASSERT(offsetof(ag_decision, eval_ns) == 48);
AG_STATIC_ASSERT(sizeof(ag_decision) == 56);
#endif

AG_STATIC_ASSERT(offsetof(ag_audit_options, size) == 0);
AG_STATIC_ASSERT(offsetof(ag_audit_options, sink) == 4);
AG_STATIC_ASSERT(offsetof(ag_audit_options, path) == 8);
#if UINTPTR_MAX == UINT64_MAX
AG_STATIC_ASSERT(offsetof(ag_audit_options, max_bytes) == 16);
AG_STATIC_ASSERT(offsetof(ag_audit_options, flush_interval_ms) == 24);
AG_STATIC_ASSERT(offsetof(ag_audit_options, queue_capacity) == 32);
AG_STATIC_ASSERT(offsetof(ag_audit_options, overflow) == 40);
AG_STATIC_ASSERT(offsetof(ag_audit_options, fsync) == 44);
AG_STATIC_ASSERT(sizeof(ag_audit_options) == 48);
#endif

AG_STATIC_ASSERT(sizeof(ag_audit_stats) == 16);
AG_STATIC_ASSERT(offsetof(ag_audit_stats, recorded) == 0);
AG_STATIC_ASSERT(offsetof(ag_audit_stats, dropped) == 8);

int main(void) {
    unsigned expected = ((unsigned)AG_ABI_VERSION_MAJOR << 16) | AG_ABI_VERSION_MINOR;
    if (ag_abi_version() != expected) {
        printf("FAIL header_check: library ABI %#x, header %#x\n", ag_abi_version(), expected);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("1 passed, 0 failed\n");
    return 0;
}
