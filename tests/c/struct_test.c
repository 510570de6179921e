/*
 * The struct path (portcullis_engine_evaluate) against the JSON path (portcullis_engine_evaluate_json).
 *
 * Part 1 evaluates a table of actions on a stateless policy (no limits, no approvals) with
 * both calls on one engine and checks every field of the struct against the JSON decision
 * and against the expected outcome. Part 2 runs two engines in lockstep on a stateful
 * policy (a rate limit and an approval), one through each call, so that retry_after and
 * approved decisions are compared too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "portcullis.h"
#include "check.h"

static const char STATELESS[] =
    "{\"portcullis\": 1, \"name\": \"stateless\", \"version\": \"7\", \"default\": \"deny\","
    " \"require_known_agent\": false,"
    " \"agents\": [{\"id\": \"admin-*\", \"roles\": [\"admin\"]}],"
    " \"rules\": ["
    "  {\"id\": \"reads\", \"effect\": \"allow\", \"match\": {\"tool\": [\"fs.read\", \"search\"]}},"
    "  {\"id\": \"search-cap\", \"effect\": \"allow\", \"match\": {\"tool\": [\"search\"]},"
    "   \"modify\": {\"clamp\": {\"params.limit\": {\"max\": 10}}}},"
    "  {\"id\": \"no-secrets\", \"effect\": \"deny\", \"match\": {\"tool\": [\"fs.read\"]},"
    "   \"when\": {\"field\": \"params.path\", \"prefix\": \"/secrets\"}, \"reason\": \"secret\"},"
    "  {\"id\": \"pay-review\", \"effect\": \"require_approval\", \"match\": {\"tool\": [\"pay\"]}},"
    "  {\"id\": \"admin-all\", \"effect\": \"allow\", \"match\": {\"role\": [\"admin\"]}},"
    "  {\"id\": \"watch-reads\", \"effect\": \"deny\", \"shadow\": true, \"match\": {\"tool\": [\"fs.*\"]}}"
    " ]}";

typedef struct {
    const char *action;
    uint32_t effect, code;
    const char *rule; /* NULL: no rule */
    uint32_t matched, shadow;
    int params_modified;
} expectation;

static const expectation TABLE[] = {
    {"{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"path\": \"/tmp/x\"}}",
     PORTCULLIS_EFFECT_ALLOW, PORTCULLIS_CODE_RULE, "reads", 1, 1, 0},
    {"{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"path\": \"/secrets/k\"}}",
     PORTCULLIS_EFFECT_DENY, PORTCULLIS_CODE_RULE, "no-secrets", 2, 1, 0},
    {"{\"tool\": \"search\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"limit\": 500}}",
     PORTCULLIS_EFFECT_ALLOW, PORTCULLIS_CODE_RULE, "reads", 2, 0, 1},
    {"{\"tool\": \"search\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"limit\": 5}}",
     PORTCULLIS_EFFECT_ALLOW, PORTCULLIS_CODE_RULE, "reads", 2, 0, 0},
    {"{\"tool\": \"pay\", \"agent\": {\"id\": \"a1\"}}",
     PORTCULLIS_EFFECT_REQUIRE_APPROVAL, PORTCULLIS_CODE_APPROVAL_REQUIRED, "pay-review", 1, 0, 0},
    {"{\"tool\": \"shell\", \"agent\": {\"id\": \"a1\"}}",
     PORTCULLIS_EFFECT_DENY, PORTCULLIS_CODE_DEFAULT, NULL, 0, 0, 0},
    {"{\"tool\": \"shell\", \"agent\": {\"id\": \"admin-1\"}}",
     PORTCULLIS_EFFECT_ALLOW, PORTCULLIS_CODE_RULE, "admin-all", 1, 0, 0},
    {"{\"tool\": \"fs.write\", \"agent\": {\"id\": \"a1\"}}",
     PORTCULLIS_EFFECT_DENY, PORTCULLIS_CODE_DEFAULT, NULL, 0, 1, 0},
    {"{\"tool\": 5, \"agent\": {\"id\": \"a1\"}}",
     PORTCULLIS_EFFECT_DENY, PORTCULLIS_CODE_INVALID_ACTION, NULL, 0, 0, 0},
    {"not json", PORTCULLIS_EFFECT_DENY, PORTCULLIS_CODE_INVALID_ACTION, NULL, 0, 0, 0},
};

static const char *const EFFECTS[] = {"allow", "deny", "require_approval"};
static const char *const CODES[] = {"rule", "default", "approved", "rate_limited",
                                    "approval_required", "unknown_agent", "invalid_action",
                                    "engine_error"};

static cJSON *evaluate_json(const portcullis_engine *engine, const char *action) {
    portcullis_buffer *json = NULL;
    CHECK_STATUS(portcullis_engine_evaluate_json(engine, (const uint8_t *)action, strlen(action), &json), PORTCULLIS_OK);
    cJSON *decision = cJSON_ParseWithLength((const char *)portcullis_buffer_data(json), portcullis_buffer_len(json));
    portcullis_buffer_free(json);
    CHECK(cJSON_IsObject(decision), "the JSON decision parses");
    return decision;
}

/* Checks that the struct says exactly what the JSON decision says. */
static void check_same(const portcullis_decision *d, const cJSON *json, const char *label) {
    const cJSON *effect = cJSON_GetObjectItemCaseSensitive(json, "effect");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(json, "code");
    const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(json, "allowed");
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(json, "rule");
    const cJSON *matched = cJSON_GetObjectItemCaseSensitive(json, "matched");
    const cJSON *shadow = cJSON_GetObjectItemCaseSensitive(json, "shadow");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(json, "params");
    const cJSON *retry = cJSON_GetObjectItemCaseSensitive(json, "retry_after_ms");

    CHECK(d->effect < 3 && cJSON_IsString(effect) && strcmp(EFFECTS[d->effect], effect->valuestring) == 0,
          "%s: effect %u vs %s", label, d->effect, cJSON_IsString(effect) ? effect->valuestring : "?");
    CHECK(d->code < 8 && cJSON_IsString(code) && strcmp(CODES[d->code], code->valuestring) == 0,
          "%s: code %u vs %s", label, d->code, cJSON_IsString(code) ? code->valuestring : "?");
    CHECK(cJSON_IsBool(allowed) && d->allowed == (cJSON_IsTrue(allowed) ? 1 : 0), "%s: allowed", label);
    CHECK(d->allowed == (d->effect == PORTCULLIS_EFFECT_ALLOW), "%s: allowed iff allow", label);
    if (cJSON_IsNull(rule)) {
        CHECK(d->has_rule == 0 && d->rule == NULL && d->rule_len == 0, "%s: no rule", label);
    } else {
        CHECK(cJSON_IsString(rule) && d->has_rule == 1 && d->rule_len == strlen(rule->valuestring) &&
                  memcmp(d->rule, rule->valuestring, d->rule_len) == 0,
              "%s: rule %.*s vs %s", label, (int)d->rule_len, d->rule ? (const char *)d->rule : "",
              cJSON_IsString(rule) ? rule->valuestring : "?");
    }
    CHECK(cJSON_IsArray(matched) && d->matched_count == (uint32_t)cJSON_GetArraySize(matched),
          "%s: matched_count %u", label, d->matched_count);
    CHECK(cJSON_IsArray(shadow) && d->shadow_count == (uint32_t)cJSON_GetArraySize(shadow),
          "%s: shadow_count %u", label, d->shadow_count);
    CHECK(params != NULL && d->params_modified == (cJSON_IsNull(params) ? 0 : 1), "%s: params_modified %u",
          label, d->params_modified);
    if (cJSON_IsNull(retry)) {
        CHECK(d->has_retry_after == 0 && d->retry_after_ms == 0, "%s: no retry_after", label);
    } else {
        CHECK(cJSON_IsNumber(retry) && d->has_retry_after == 1 &&
                  (double)d->retry_after_ms == retry->valuedouble,
              "%s: retry_after_ms %llu", label, (unsigned long long)d->retry_after_ms);
    }
}

static void test_stateless_table(void) {
    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)STATELESS, strlen(STATELESS), NULL, &engine, &err), PORTCULLIS_OK);
    if (engine == NULL) {
        printf("policy: %s: %s\n", portcullis_error_path(err), portcullis_error_message(err));
        portcullis_error_free(err);
        return;
    }
    for (size_t i = 0; i < sizeof TABLE / sizeof *TABLE; i++) {
        const expectation *e = &TABLE[i];
        char label[32];
        snprintf(label, sizeof label, "action %zu", i);
        portcullis_decision d;
        memset(&d, 0xAB, sizeof d);
        CHECK_STATUS(portcullis_engine_evaluate(engine, (const uint8_t *)e->action, strlen(e->action), &d), PORTCULLIS_OK);
        cJSON *json = evaluate_json(engine, e->action);
        check_same(&d, json, label);

        CHECK(d.effect == e->effect && d.code == e->code, "%s: effect %u code %u, expected %u %u", label,
              d.effect, d.code, e->effect, e->code);
        if (e->rule == NULL) {
            CHECK(d.has_rule == 0, "%s: no rule expected", label);
        } else {
            CHECK(d.has_rule == 1 && d.rule_len == strlen(e->rule) && memcmp(d.rule, e->rule, d.rule_len) == 0,
                  "%s: rule %.*s, expected %s", label, (int)d.rule_len, d.rule ? (const char *)d.rule : "",
                  e->rule);
        }
        CHECK(d.matched_count == e->matched && d.shadow_count == e->shadow,
              "%s: matched %u shadow %u, expected %u %u", label, d.matched_count, d.shadow_count,
              e->matched, e->shadow);
        CHECK(d.params_modified == e->params_modified, "%s: params_modified %u", label, d.params_modified);
        cJSON_Delete(json);
    }
    portcullis_engine_free(engine);
}

static const char STATEFUL[] =
    "{\"portcullis\": 1, \"name\": \"stateful\", \"rules\": ["
    " {\"id\": \"search\", \"effect\": \"allow\", \"match\": {\"tool\": [\"search\"]}},"
    " {\"id\": \"search-2-per-10s\", \"effect\": \"rate_limit\", \"match\": {\"tool\": [\"search\"]},"
    "  \"limit\": {\"max\": 2, \"window\": \"10s\"}},"
    " {\"id\": \"pay-review\", \"effect\": \"require_approval\", \"match\": {\"tool\": [\"pay\"]}}]}";

static portcullis_engine *manual_engine(const char *policy, int64_t start_ms) {
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.clock = PORTCULLIS_CLOCK_MANUAL;
    options.manual_start_ms = start_ms;
    portcullis_engine *engine = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)policy, strlen(policy), &options, &engine, NULL), PORTCULLIS_OK);
    return engine;
}

static void test_stateful_lockstep(void) {
    const int64_t start = INT64_C(1767225600000);
    portcullis_engine *by_struct = manual_engine(STATEFUL, start);
    portcullis_engine *by_json = manual_engine(STATEFUL, start);
    if (by_struct == NULL || by_json == NULL) {
        portcullis_engine_free(by_struct);
        portcullis_engine_free(by_json);
        return;
    }
    static const char SEARCH[] = "{\"tool\": \"search\", \"agent\": {\"id\": \"a1\"}}";
    static const char PAY[] = "{\"tool\": \"pay\", \"agent\": {\"id\": \"a1\"}}";
    /* Each step: an action, or an approval of PAY (approve = 1), at a clock offset. */
    static const struct {
        const char *action;
        int approve;
        int64_t at_ms;
        uint32_t code;
    } steps[] = {
        {SEARCH, 0, 0, PORTCULLIS_CODE_RULE},
        {SEARCH, 0, 1000, PORTCULLIS_CODE_RULE},
        {SEARCH, 0, 2000, PORTCULLIS_CODE_RATE_LIMITED},
        {SEARCH, 0, 9999, PORTCULLIS_CODE_RATE_LIMITED},
        {SEARCH, 0, 10000, PORTCULLIS_CODE_RULE},
        {PAY, 0, 10000, PORTCULLIS_CODE_APPROVAL_REQUIRED},
        {PAY, 1, 10000, 0},
        {PAY, 0, 10500, PORTCULLIS_CODE_APPROVED},
        {PAY, 0, 10600, PORTCULLIS_CODE_APPROVAL_REQUIRED},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        char label[32];
        snprintf(label, sizeof label, "lockstep %zu", i);
        CHECK_STATUS(portcullis_engine_set_time(by_struct, start + steps[i].at_ms), PORTCULLIS_OK);
        CHECK_STATUS(portcullis_engine_set_time(by_json, start + steps[i].at_ms), PORTCULLIS_OK);
        const uint8_t *action = (const uint8_t *)steps[i].action;
        size_t len = strlen(steps[i].action);
        if (steps[i].approve) {
            CHECK_STATUS(portcullis_engine_approve_action(by_struct, action, len, 1000, 1, NULL, NULL), PORTCULLIS_OK);
            CHECK_STATUS(portcullis_engine_approve_action(by_json, action, len, 1000, 1, NULL, NULL), PORTCULLIS_OK);
            continue;
        }
        portcullis_decision d;
        CHECK_STATUS(portcullis_engine_evaluate(by_struct, action, len, &d), PORTCULLIS_OK);
        cJSON *json = evaluate_json(by_json, steps[i].action);
        check_same(&d, json, label);
        CHECK(d.code == steps[i].code, "%s: code %u, expected %u", label, d.code, steps[i].code);
        if (steps[i].code == PORTCULLIS_CODE_RATE_LIMITED) {
            uint64_t expected = (uint64_t)(10000 - steps[i].at_ms);
            CHECK(d.has_retry_after == 1 && d.retry_after_ms == expected, "%s: retry_after_ms %llu, expected %llu",
                  label, (unsigned long long)d.retry_after_ms, (unsigned long long)expected);
        }
        cJSON_Delete(json);
    }
    portcullis_engine_free(by_struct);
    portcullis_engine_free(by_json);
}

int main(void) {
    test_stateless_table();
    test_stateful_lockstep();
    return check_summary();
}
