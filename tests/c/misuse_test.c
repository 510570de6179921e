/*
 * ABI misuse test: every pointer parameter given NULL, every documented error status, bad
 * engine options, bad hashes, bad actions, and the lifetime promises of rule pointers and
 * _free. The audited calls are audit_misuse_test.c.
 *
 * PORTCULLIS_ERR_PANIC cannot be provoked through the ABI (the core does not panic on any input);
 * its mapping is covered by the ffi crate's Rust tests (guard.rs, engine.rs), and here by
 * its name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portcullis.h"
#include "check.h"
#include "misuse.h"

static const char PAY[] = "{\"tool\": \"pay\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"amount\": 5}}";
static const char GOOD_HASH[] =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/* 2026-01-01T00:00:00Z */
#define START_MS INT64_C(1767225600000)

static portcullis_engine *manual_engine(const char *policy) {
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.clock = PORTCULLIS_CLOCK_MANUAL;
    options.manual_start_ms = START_MS;
    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    portcullis_status status = portcullis_engine_new((const uint8_t *)policy, strlen(policy), &options, &engine, &err);
    CHECK(status == PORTCULLIS_OK && engine != NULL, "portcullis_engine_new: %s %s", portcullis_status_name(status),
          portcullis_error_message(err));
    CHECK(err == NULL, "out_error is NULL after success");
    portcullis_error_free(err);
    return engine;
}

/* Evaluates through the JSON call and returns the parsed-enough text (caller frees). */
static char *evaluate_json_text(const portcullis_engine *engine, const uint8_t *action, size_t len) {
    portcullis_buffer *json = NULL;
    CHECK_STATUS(portcullis_engine_evaluate_json(engine, action, len, &json), PORTCULLIS_OK);
    if (json == NULL) {
        return NULL;
    }
    size_t n = portcullis_buffer_len(json);
    char *text = malloc(n + 1);
    if (text != NULL) {
        memcpy(text, portcullis_buffer_data(json), n);
        text[n] = '\0';
    }
    portcullis_buffer_free(json);
    return text;
}

static void test_versions_and_names(void) {
    CHECK(portcullis_abi_version() == ((PORTCULLIS_ABI_VERSION_MAJOR << 16) | PORTCULLIS_ABI_VERSION_MINOR),
          "portcullis_abi_version() = %#x", portcullis_abi_version());
    CHECK(PORTCULLIS_ABI_VERSION_MAJOR == 2 && PORTCULLIS_ABI_VERSION_MINOR == 2, "ABI version 2.2");
    const char *version = portcullis_version();
    unsigned major, minor, patch;
    CHECK(version != NULL && sscanf(version, "%u.%u.%u", &major, &minor, &patch) == 3,
          "portcullis_version() = \"%s\"", version ? version : "(null)");

    CHECK_STR(portcullis_status_name(PORTCULLIS_OK), "PORTCULLIS_OK");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_NULL_POINTER), "PORTCULLIS_ERR_NULL_POINTER");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_INVALID_UTF8), "PORTCULLIS_ERR_INVALID_UTF8");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_POLICY), "PORTCULLIS_ERR_POLICY");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_INVALID_ARGUMENT), "PORTCULLIS_ERR_INVALID_ARGUMENT");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_INVALID_ACTION), "PORTCULLIS_ERR_INVALID_ACTION");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_CLOCK), "PORTCULLIS_ERR_CLOCK");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_PANIC), "PORTCULLIS_ERR_PANIC");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_OPTIONS_SIZE), "PORTCULLIS_ERR_OPTIONS_SIZE");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_AUDIT), "PORTCULLIS_ERR_AUDIT");
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_UNAVAILABLE), "PORTCULLIS_ERR_UNAVAILABLE");
    CHECK_STR(portcullis_status_name(11), "PORTCULLIS_UNKNOWN_STATUS");
    CHECK_STR(portcullis_status_name(-1), "PORTCULLIS_UNKNOWN_STATUS");
}

static void test_options(void) {
    portcullis_engine_options options;
    memset(&options, 0xAB, sizeof options);
    portcullis_engine_options_default(&options);
    CHECK(options.size == sizeof(portcullis_engine_options), "size %u", options.size);
    CHECK(options.clock == PORTCULLIS_CLOCK_SYSTEM, "clock %u", options.clock);
    CHECK(options.manual_start_ms == 0, "manual_start_ms");
    CHECK(options.max_keys_per_limit == 100000, "max_keys_per_limit %llu",
          (unsigned long long)options.max_keys_per_limit);
    portcullis_engine_options_default(NULL); /* documented as a no-op */

    /* A size smaller than version 1's (24 bytes: size through max_keys_per_limit). */
    options.size = 16;
    portcullis_engine *engine = SENTINEL;
    portcullis_error *err = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY_V2), &options, &engine, &err), PORTCULLIS_ERR_OPTIONS_SIZE);
    CHECK(engine == NULL, "out_engine is NULL after a failure");
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_OPTIONS_SIZE, "error status");
    CHECK(strstr(portcullis_error_message(err), "options.size") != NULL, "message: %s", portcullis_error_message(err));
    CHECK_STR(portcullis_error_path(err), "");
    portcullis_error_free(err);

    /* A larger size (a newer header with appended fields) is accepted. */
    struct {
        portcullis_engine_options v1;
        uint64_t appended_field;
    } newer;
    portcullis_engine_options_default(&newer.v1);
    newer.v1.size = sizeof newer;
    newer.appended_field = 42;
    engine = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY_V2), &newer.v1, &engine, NULL), PORTCULLIS_OK);
    portcullis_engine_free(engine);

    /* A version-1 caller (24 bytes): the fields past its size, state_url here, are not read. */
    portcullis_engine_options_default(&options);
    options.size = 24;
    options.state_url = "http://not-a-state-url";
    engine = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY_V2), &options, &engine, NULL), PORTCULLIS_OK);
    portcullis_engine_free(engine);

    /* A malformed state URL fails creation with a message naming the field. */
    portcullis_engine_options_default(&options);
    options.state_url = "http://not-a-state-url";
    engine = SENTINEL;
    err = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY_V2), &options, &engine, &err), PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(engine == NULL, "out_engine is NULL after a failure");
    CHECK(strstr(portcullis_error_message(err), "state_url") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);

    /* An unknown clock kind. */
    portcullis_engine_options_default(&options);
    options.clock = 7;
    engine = SENTINEL;
    err = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY_V2), &options, &engine, &err), PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(engine == NULL, "out_engine is NULL after a failure");
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_INVALID_ARGUMENT, "error status");
    CHECK(strstr(portcullis_error_message(err), "clock") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);

    /* NULL options mean the defaults: a system clock. */
    engine = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY_V2), NULL, &engine, NULL), PORTCULLIS_OK);
    int64_t now = 0;
    CHECK_STATUS(portcullis_engine_now(engine, &now), PORTCULLIS_OK);
    CHECK(now > START_MS - INT64_C(86400000) * 365, "system clock reads %lld", (long long)now);
    portcullis_engine_free(engine);
}

static void test_engine_new_misuse(void) {
    portcullis_engine *engine = SENTINEL;
    portcullis_error *err = SENTINEL;
    CHECK_STATUS(portcullis_engine_new(NULL, 10, NULL, &engine, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(engine == SENTINEL && err == SENTINEL, "nothing written");
    CHECK_STATUS(portcullis_engine_new(NULL, 0, NULL, &engine, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(engine == SENTINEL && err == SENTINEL, "nothing written");
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY), NULL, NULL, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(err == SENTINEL, "nothing written");

    /* A length no allocation can have is refused before anything is read. */
    engine = SENTINEL;
    err = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)POLICY, SIZE_MAX, NULL, &engine, &err),
                 PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(engine == NULL, "out_engine is NULL after a failure");
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_INVALID_ARGUMENT, "error status");
    portcullis_error_free(err);
}

static void test_invalid_policies(void) {
#define POLICY_CASE(literal, path, contains) {literal, sizeof(literal) - 1, path, contains}
    struct {
        const char *policy;
        size_t len;
        const char *path;
        const char *contains;
    } cases[] = {
        POLICY_CASE("{\"portcullis\": 1, \"name\": \"p\", \"rules\": [{\"id\": \"r\", \"effect\": "
                    "\"deny\", \"when\": {\"field\": \"tool\", \"equals\": \"x\"}}]}",
                    "rules[0].when", "equals"),
        POLICY_CASE("{\"portcullis\": 1, \"name\": \"p\", \"extra\": 1}", "", "extra"),
        POLICY_CASE("{\"portcullis\": 1, \"name\": \"p\", \"rules\": [{\"id\": \"r1\", \"effect\": "
                    "\"deny\"}, {\"id\": \"r1\", \"effect\": \"allow\"}]}",
                    "rules[1].id", "r1"),
        POLICY_CASE("{\"portcullis\": 2, \"name\": \"p\"}", "portcullis", ""),
        POLICY_CASE("{\"portcullis\": 1,\n \"name\": }", "", "line"),
        POLICY_CASE("", "", ""),
        POLICY_CASE("{\"portcullis\": 1, \"name\": \"\xff\xfe\"}", "", ""),
        /* An interior NUL: the document is all `len` bytes, not the C string. */
        POLICY_CASE("{\"portcullis\": 1, \"name\": \"p\"}\0 trailing", "", ""),
    };
#undef POLICY_CASE
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = cases[i].len;
        portcullis_engine *engine = SENTINEL;
        portcullis_error *err = NULL;
        portcullis_status status = portcullis_engine_new((const uint8_t *)cases[i].policy, len, NULL, &engine, &err);
        CHECK(status == PORTCULLIS_ERR_POLICY, "policy %zu: %s", i, portcullis_status_name(status));
        CHECK(engine == NULL, "policy %zu: out_engine is NULL", i);
        CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_POLICY, "policy %zu: error status", i);
        CHECK(strcmp(portcullis_error_path(err), cases[i].path) == 0, "policy %zu: path \"%s\", expected \"%s\"",
              i, portcullis_error_path(err), cases[i].path);
        CHECK(strstr(portcullis_error_message(err), cases[i].contains) != NULL && portcullis_error_message(err)[0] != '\0',
              "policy %zu: message \"%s\" should contain \"%s\"", i, portcullis_error_message(err),
              cases[i].contains);
        portcullis_error_free(err);
    }
    /* out_error may be NULL: the status alone is reported, nothing leaks. */
    portcullis_engine *engine = SENTINEL;
    CHECK_STATUS(portcullis_engine_new(BYTES("{\"portcullis\": 2}"), NULL, &engine, NULL), PORTCULLIS_ERR_POLICY);
    CHECK(engine == NULL, "out_engine is NULL");
}

static void test_clock(void) {
    portcullis_engine *engine = manual_engine(POLICY);
    int64_t now = 0;
    CHECK_STATUS(portcullis_engine_now(engine, &now), PORTCULLIS_OK);
    CHECK(now == START_MS, "manual clock starts at its start: %lld", (long long)now);
    CHECK_STATUS(portcullis_engine_set_time(engine, START_MS + 5000), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_now(engine, &now), PORTCULLIS_OK);
    CHECK(now == START_MS + 5000, "set_time moves the clock: %lld", (long long)now);
    CHECK_STATUS(portcullis_engine_set_time(engine, START_MS - 1000), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_now(engine, &now), PORTCULLIS_OK);
    CHECK(now == START_MS - 1000, "the clock may move back: %lld", (long long)now);

    /* A clock beyond the calendar's range reads a time window as unknown, not as 1970:
       an allow inside 00:00-01:00 does not fire, a deny inside it does (fail closed). */
    static const char WINDOWS[] =
        "{\"portcullis\": 1, \"name\": \"w\", \"rules\": ["
        "{\"id\": \"night-deny\", \"effect\": \"deny\", \"match\": {\"tool\": [\"d\"]},"
        " \"when\": {\"time\": {\"between\": [\"00:00\", \"01:00\"]}}},"
        "{\"id\": \"night-allow\", \"effect\": \"allow\","
        " \"when\": {\"time\": {\"between\": [\"00:00\", \"01:00\"]}}}]}";
    static const char ACT_A[] = "{\"tool\": \"a\", \"agent\": {\"id\": \"a1\"}}";
    static const char ACT_D[] = "{\"tool\": \"d\", \"agent\": {\"id\": \"a1\"}}";
    portcullis_engine *windows = manual_engine(WINDOWS);
    const int64_t far[] = {INT64_MAX, INT64_MIN, INT64_C(9000000000000000000)};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        portcullis_decision d;
        CHECK_STATUS(portcullis_engine_set_time(windows, far[i]), PORTCULLIS_OK);
        CHECK_STATUS(portcullis_engine_evaluate(windows, BYTES(ACT_A), &d), PORTCULLIS_OK);
        CHECK(d.allowed == 0 && d.code == PORTCULLIS_CODE_DEFAULT, "far clock %lld: allow window unknown, code %u",
              (long long)far[i], d.code);
        CHECK_STATUS(portcullis_engine_evaluate(windows, BYTES(ACT_D), &d), PORTCULLIS_OK);
        CHECK(d.allowed == 0 && d.code == PORTCULLIS_CODE_RULE, "far clock %lld: deny window applies, code %u",
              (long long)far[i], d.code);
    }
    portcullis_engine_free(windows);

    CHECK_STATUS(portcullis_engine_set_time(NULL, 0), PORTCULLIS_ERR_NULL_POINTER);
    now = 77;
    CHECK_STATUS(portcullis_engine_now(NULL, &now), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(now == 77, "nothing written");
    CHECK_STATUS(portcullis_engine_now(engine, NULL), PORTCULLIS_ERR_NULL_POINTER);
    portcullis_engine_free(engine);

    portcullis_engine *system = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY), NULL, &system, NULL), PORTCULLIS_OK);
    int64_t before = 0, after = 0;
    CHECK_STATUS(portcullis_engine_now(system, &before), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_set_time(system, 0), PORTCULLIS_ERR_CLOCK);
    CHECK_STATUS(portcullis_engine_now(system, &after), PORTCULLIS_OK);
    CHECK(after >= before && after > 1000000000000, "the system clock was not changed: %lld",
          (long long)after);
    portcullis_engine_free(system);
}

static int decision_is_pattern(const portcullis_decision *d, unsigned char pattern) {
    const unsigned char *bytes = (const unsigned char *)d;
    for (size_t i = 0; i < sizeof *d; i++) {
        if (bytes[i] != pattern) {
            return 0;
        }
    }
    return 1;
}

static void test_evaluate_misuse(void) {
    portcullis_engine *engine = manual_engine(POLICY);
    portcullis_decision d;
    /* A NULL engine or action still writes a fail-closed deny: a struct reused from an
       earlier allow must not stay allow. */
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK(d.allowed == 1, "allow before the misuse");
    CHECK_STATUS(portcullis_engine_evaluate(NULL, BYTES(READ), &d), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(d.effect == PORTCULLIS_EFFECT_DENY && d.code == PORTCULLIS_CODE_ENGINE_ERROR && d.allowed == 0 &&
              d.has_rule == 0 && d.rule == NULL,
          "NULL engine: deny written, effect %u code %u allowed %u", d.effect, d.code, d.allowed);
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_evaluate(engine, NULL, 0, &d), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(d.effect == PORTCULLIS_EFFECT_DENY && d.code == PORTCULLIS_CODE_ENGINE_ERROR && d.allowed == 0,
          "NULL action: deny written, effect %u code %u allowed %u", d.effect, d.code, d.allowed);
    memset(&d, 0xAB, sizeof d);
    CHECK_STATUS(portcullis_engine_evaluate(NULL, NULL, 0, &d), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(d.allowed == 0 && d.effect == PORTCULLIS_EFFECT_DENY, "NULL engine and action: deny written");
    CHECK(!decision_is_pattern(&d, 0xAB), "written");
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), NULL), PORTCULLIS_ERR_NULL_POINTER);

    portcullis_buffer *json = SENTINEL;
    CHECK_STATUS(portcullis_engine_evaluate_json(NULL, BYTES(READ), &json), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(json == NULL, "out_json is NULL after a NULL engine");
    json = SENTINEL;
    CHECK_STATUS(portcullis_engine_evaluate_json(engine, NULL, 0, &json), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(json == NULL, "out_json is NULL after a NULL action");
    CHECK_STATUS(portcullis_engine_evaluate_json(engine, BYTES(READ), NULL), PORTCULLIS_ERR_NULL_POINTER);

    /* An impossible length: refused, and the struct call still writes a fail-closed deny. */
    memset(&d, 0xAB, sizeof d);
    CHECK_STATUS(portcullis_engine_evaluate(engine, (const uint8_t *)READ, SIZE_MAX, &d),
                 PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(d.effect == PORTCULLIS_EFFECT_DENY && d.code == PORTCULLIS_CODE_ENGINE_ERROR && d.allowed == 0 &&
              d.has_rule == 0 && d.rule == NULL,
          "fail-closed decision: effect %u code %u", d.effect, d.code);
    json = SENTINEL;
    CHECK_STATUS(portcullis_engine_evaluate_json(engine, (const uint8_t *)READ, SIZE_MAX, &json),
                 PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(json == NULL, "out_json is NULL after a failure");

    /* The engine is unaffected: a valid action is decided as usual. */
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK(d.effect == PORTCULLIS_EFFECT_ALLOW && d.code == PORTCULLIS_CODE_RULE && d.allowed == 1, "allow");
    portcullis_engine_free(engine);
}

static void test_invalid_actions(void) {
#define ACTION(literal, reason_part) {literal, sizeof(literal) - 1, reason_part}
    portcullis_engine *engine = manual_engine(POLICY);
    struct {
        const char *bytes;
        size_t len;
        const char *reason_part;
    } actions[] = {
        ACTION("{not json", NULL),
        ACTION("[1,2]", NULL),
        ACTION("", NULL),
        ACTION("\xff\xfe{}", NULL),
        ACTION("{\"tool\": \"fs.read\", \"agent\": {\"id\": \"\xc3\x28\"}}", NULL),
        ACTION("{\"agent\": {\"id\": \"a1\"}}", "tool"),
        ACTION("{\"tool\": \"fs.read\"}", "agent"),
        ACTION("{\"tool\": \"fs.read\", \"tool\": \"x\", \"agent\": {\"id\": \"a1\"}}", NULL),
        ACTION("{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}, \"kind\": \"rpc\"}", "kind"),
        /* An interior NUL: the action is all `len` bytes, so the trailing bytes make it invalid. */
        ACTION("{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}}\0{}", NULL),
    };
#undef ACTION
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++) {
        const uint8_t *bytes = (const uint8_t *)actions[i].bytes;
        portcullis_decision d;
        memset(&d, 0xAB, sizeof d);
        CHECK_STATUS(portcullis_engine_evaluate(engine, bytes, actions[i].len, &d), PORTCULLIS_OK);
        CHECK(d.effect == PORTCULLIS_EFFECT_DENY && d.code == PORTCULLIS_CODE_INVALID_ACTION && d.allowed == 0 &&
                  d.has_rule == 0 && d.rule == NULL && d.rule_len == 0 && d.matched_count == 0,
              "action %zu: struct decision effect %u code %u", i, d.effect, d.code);

        char *json = evaluate_json_text(engine, bytes, actions[i].len);
        CHECK(json != NULL && strstr(json, "\"effect\":\"deny\"") != NULL &&
                  strstr(json, "\"code\":\"invalid_action\"") != NULL &&
                  strstr(json, "\"action_hash\":null") != NULL && strstr(json, "\"rule\":null") != NULL,
              "action %zu: JSON decision %s", i, json ? json : "(null)");
        if (actions[i].reason_part != NULL) {
            CHECK(json != NULL && strstr(json, actions[i].reason_part) != NULL,
                  "action %zu: reason should name \"%s\": %s", i, actions[i].reason_part,
                  json ? json : "(null)");
        }
        free(json);
    }
    portcullis_engine_free(engine);
}

static void test_update_policy(void) {
    portcullis_engine *engine = manual_engine(POLICY);
    portcullis_error *err = SENTINEL;
    CHECK_STATUS(portcullis_engine_update_policy(NULL, BYTES(POLICY_V2), &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_update_policy(engine, NULL, 0, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(err == SENTINEL, "nothing written");

    /* The rule pointer of a decision made under the first policy. */
    portcullis_decision before;
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &before), PORTCULLIS_OK);
    CHECK(before.has_rule == 1 && before.rule_len == strlen("allow-read") &&
              memcmp(before.rule, "allow-read", before.rule_len) == 0,
          "rule allow-read");

    /* A rejected update keeps the current policy. */
    err = NULL;
    CHECK_STATUS(portcullis_engine_update_policy(engine, BYTES("{\"portcullis\": 1, \"name\": \"p\", \"extra\": 1}"),
                                         &err),
                 PORTCULLIS_ERR_POLICY);
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_POLICY, "error status");
    CHECK_STR(portcullis_error_path(err), "");
    CHECK(strstr(portcullis_error_message(err), "extra") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);
    CHECK_STATUS(portcullis_engine_update_policy(engine, BYTES("{"), NULL), PORTCULLIS_ERR_POLICY);
    portcullis_decision d;
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK(d.effect == PORTCULLIS_EFFECT_ALLOW && d.rule == before.rule, "old policy still in force");

    /* A successful update: out_error is cleared, the new snapshot decides... */
    err = SENTINEL;
    CHECK_STATUS(portcullis_engine_update_policy(engine, BYTES(POLICY_V2), &err), PORTCULLIS_OK);
    CHECK(err == NULL, "out_error is NULL after success");
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK(d.effect == PORTCULLIS_EFFECT_DENY && d.code == PORTCULLIS_CODE_DEFAULT && d.has_rule == 0, "new policy");

    /* ...and the old snapshot's rule id is still readable (the engine interns it). */
    CHECK(memcmp(before.rule, "allow-read", before.rule_len) == 0, "rule pointer survives the swap");

    /* A decision from the new policy reuses the interned id when the rule comes back. */
    CHECK_STATUS(portcullis_engine_update_policy(engine, BYTES(POLICY), NULL), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK(d.has_rule == 1 && d.rule_len == before.rule_len &&
              memcmp(d.rule, "allow-read", d.rule_len) == 0,
          "rule allow-read again");
    portcullis_engine_free(engine);
}

/* Reads the action hash of an action from its JSON decision. */
static int action_hash_of(const portcullis_engine *engine, const char *action, char out[72]) {
    char *json = evaluate_json_text(engine, (const uint8_t *)action, strlen(action));
    const char *at = json ? strstr(json, "\"action_hash\":\"") : NULL;
    int ok = at != NULL && strlen(at) > 15 + 71;
    if (ok) {
        memcpy(out, at + 15, 71);
        out[71] = '\0';
    }
    free(json);
    return ok;
}

static void test_approve_action(void) {
    portcullis_engine *engine = manual_engine(POLICY);
    portcullis_buffer *hash = SENTINEL;
    portcullis_error *err = SENTINEL;
    CHECK_STATUS(portcullis_engine_approve_action(NULL, BYTES(PAY), 1000, 1, &hash, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_approve_action(engine, NULL, 0, 1000, 1, &hash, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(hash == SENTINEL && err == SENTINEL, "nothing written");

    /* ttl 0 and uses 0 are invalid arguments. */
    CHECK_STATUS(portcullis_engine_approve_action(engine, BYTES(PAY), 0, 1, &hash, &err), PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(hash == NULL, "out_hash is NULL after a failure");
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_INVALID_ARGUMENT, "error status");
    CHECK(strstr(portcullis_error_message(err), "ttl") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);
    err = NULL;
    CHECK_STATUS(portcullis_engine_approve_action(engine, BYTES(PAY), 1000, 0, &hash, &err), PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_INVALID_ARGUMENT, "error status");
    CHECK(strstr(portcullis_error_message(err), "uses") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);

    /* An invalid action. */
    err = NULL;
    hash = SENTINEL;
    CHECK_STATUS(portcullis_engine_approve_action(engine, BYTES("{\"agent\": {\"id\": \"a1\"}}"), 1000, 1, &hash, &err),
                 PORTCULLIS_ERR_INVALID_ACTION);
    CHECK(hash == NULL, "out_hash is NULL after a failure");
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_INVALID_ACTION, "error status");
    CHECK(strstr(portcullis_error_message(err), "tool") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);
    CHECK_STATUS(portcullis_engine_approve_action(engine, BYTES("\xff"), 1000, 1, NULL, NULL), PORTCULLIS_ERR_INVALID_ACTION);

    /* Pending until approved; the returned hash is the decision's action_hash. */
    portcullis_decision d;
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(PAY), &d), PORTCULLIS_OK);
    CHECK(d.effect == PORTCULLIS_EFFECT_REQUIRE_APPROVAL && d.code == PORTCULLIS_CODE_APPROVAL_REQUIRED && d.allowed == 0,
          "require_approval before the grant");
    char expected_hash[72] = "";
    CHECK(action_hash_of(engine, PAY, expected_hash), "decision has an action_hash");
    err = SENTINEL;
    hash = NULL;
    CHECK_STATUS(portcullis_engine_approve_action(engine, BYTES(PAY), 60000, 1, &hash, &err), PORTCULLIS_OK);
    CHECK(err == NULL, "out_error is NULL after success");
    CHECK(portcullis_buffer_len(hash) == 71 && memcmp(portcullis_buffer_data(hash), expected_hash, 71) == 0,
          "hash %.*s, expected %s", (int)portcullis_buffer_len(hash), (const char *)portcullis_buffer_data(hash),
          expected_hash);
    portcullis_buffer_free(hash);
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(PAY), &d), PORTCULLIS_OK);
    CHECK(d.effect == PORTCULLIS_EFFECT_ALLOW && d.code == PORTCULLIS_CODE_APPROVED && d.allowed == 1 &&
              d.rule_len == 7 && memcmp(d.rule, "big-pay", 7) == 0,
          "approved once: effect %u code %u", d.effect, d.code);
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(PAY), &d), PORTCULLIS_OK);
    CHECK(d.effect == PORTCULLIS_EFFECT_REQUIRE_APPROVAL, "the single use is spent");

    /* out_hash and out_error may both be NULL. */
    CHECK_STATUS(portcullis_engine_approve_action(engine, BYTES(PAY), 60000, 1, NULL, NULL), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(PAY), &d), PORTCULLIS_OK);
    CHECK(d.code == PORTCULLIS_CODE_APPROVED, "approved without asking for the hash");
    portcullis_engine_free(engine);
}

static void test_approve_hash(void) {
    portcullis_engine *engine = manual_engine(POLICY);
    portcullis_error *err = SENTINEL;
    CHECK_STATUS(portcullis_engine_approve_hash(NULL, BYTES(GOOD_HASH), 1000, 1, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_approve_hash(engine, NULL, 0, 1000, 1, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(err == SENTINEL, "nothing written");

    /* Not UTF-8. */
    err = NULL;
    CHECK_STATUS(portcullis_engine_approve_hash(engine, BYTES("sha256:\xff\xfe"), 1000, 1, &err), PORTCULLIS_ERR_INVALID_UTF8);
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_INVALID_UTF8, "error status");
    CHECK(strstr(portcullis_error_message(err), "UTF-8") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);

    /* UTF-8 but not "sha256:" + 64 lowercase hex digits. */
    const char *bad[] = {
        "",
        "sha256:",
        "sha256:00",
        "SHA256:0000000000000000000000000000000000000000000000000000000000000000",
        "sha256:ABCDEF0000000000000000000000000000000000000000000000000000000000",
        "sha256:000000000000000000000000000000000000000000000000000000000000000g",
        "sha256:00000000000000000000000000000000000000000000000000000000000000000",
        "md5:00000000000000000000000000000000",
        " sha256:0000000000000000000000000000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = NULL;
        portcullis_status status = portcullis_engine_approve_hash(engine, (const uint8_t *)bad[i], strlen(bad[i]), 1000, 1, &err);
        CHECK(status == PORTCULLIS_ERR_INVALID_ARGUMENT, "hash \"%s\": %s", bad[i], portcullis_status_name(status));
        CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_INVALID_ARGUMENT, "hash \"%s\": error status", bad[i]);
        portcullis_error_free(err);
    }
    CHECK_STATUS(portcullis_engine_approve_hash(engine, BYTES(GOOD_HASH), 0, 1, NULL), PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(portcullis_engine_approve_hash(engine, BYTES(GOOD_HASH), 1000, 0, NULL), PORTCULLIS_ERR_INVALID_ARGUMENT);

    /* The hash from a decision approves that action, until the ttl runs out. */
    char hash[72] = "";
    CHECK(action_hash_of(engine, PAY, hash), "decision has an action_hash");
    err = SENTINEL;
    CHECK_STATUS(portcullis_engine_approve_hash(engine, (const uint8_t *)hash, strlen(hash), 1000, 5, &err), PORTCULLIS_OK);
    CHECK(err == NULL, "out_error is NULL after success");
    portcullis_decision d;
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(PAY), &d), PORTCULLIS_OK);
    CHECK(d.code == PORTCULLIS_CODE_APPROVED, "approved by hash: code %u", d.code);
    CHECK_STATUS(portcullis_engine_set_time(engine, START_MS + 1000), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(PAY), &d), PORTCULLIS_OK);
    CHECK(d.code == PORTCULLIS_CODE_APPROVAL_REQUIRED, "expired at t + ttl: code %u", d.code);
    portcullis_engine_free(engine);
}

static void test_free_and_accessors_accept_null(void) {
    portcullis_engine_free(NULL);
    portcullis_buffer_free(NULL);
    portcullis_error_free(NULL);
    CHECK(portcullis_buffer_data(NULL) == NULL, "portcullis_buffer_data(NULL)");
    CHECK(portcullis_buffer_len(NULL) == 0, "portcullis_buffer_len(NULL)");
    CHECK(portcullis_error_status(NULL) == PORTCULLIS_ERR_NULL_POINTER, "portcullis_error_status(NULL)");
    CHECK_STR(portcullis_error_path(NULL), "");
    CHECK_STR(portcullis_error_message(NULL), "");
}

int main(void) {
    test_versions_and_names();
    test_options();
    test_engine_new_misuse();
    test_invalid_policies();
    test_clock();
    test_evaluate_misuse();
    test_invalid_actions();
    test_update_policy();
    test_approve_action();
    test_approve_hash();
    test_free_and_accessors_accept_null();
    return check_summary();
}
