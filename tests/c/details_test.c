/*
 * portcullis_engine_evaluate_details against portcullis_engine_evaluate_json, field by field,
 * and PORTCULLIS_ERR_UNAVAILABLE from approvals on an engine whose shared state is down.
 *
 * Two engines run in lockstep on the same policy and clock, one through each call, so that
 * stateful decisions (a rate limit, an approval) are compared too. Every string and list of
 * the details must say exactly what the JSON decision says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "portcullis.h"
#include "check.h"

static const char POLICY[] =
    "{\"portcullis\": 1, \"name\": \"details-test\", \"version\": \"3.1\", \"default\": \"deny\","
    " \"rules\": ["
    "  {\"id\": \"reads\", \"effect\": \"allow\", \"match\": {\"tool\": [\"fs.read\", \"search\"]},"
    "   \"reason\": \"reads are fine\\n(line two) \\u00e9\"},"
    "  {\"id\": \"search-cap\", \"effect\": \"allow\", \"match\": {\"tool\": [\"search\"]},"
    "   \"modify\": {\"clamp\": {\"params.limit\": {\"max\": 10}}}},"
    "  {\"id\": \"search-2-per-10s\", \"effect\": \"rate_limit\", \"match\": {\"tool\": [\"search\"]},"
    "   \"limit\": {\"max\": 2, \"window\": \"10s\"}},"
    "  {\"id\": \"no-secrets\", \"effect\": \"deny\", \"match\": {\"tool\": [\"fs.read\"]},"
    "   \"when\": {\"field\": \"params.path\", \"prefix\": \"/secrets\"}},"
    "  {\"id\": \"pay-review\", \"effect\": \"require_approval\", \"match\": {\"tool\": [\"pay\"]}},"
    "  {\"id\": \"watch-reads\", \"effect\": \"deny\", \"shadow\": true, \"match\": {\"tool\": [\"fs.*\"]}},"
    "  {\"id\": \"watch-pay\", \"effect\": \"require_approval\", \"shadow\": true, \"match\": {\"tool\": [\"pay\"]}},"
    "  {\"id\": \"watch-search\", \"effect\": \"rate_limit\", \"shadow\": true, \"match\": {\"tool\": [\"search\"]},"
    "   \"limit\": {\"max\": 1, \"window\": \"1h\"}}"
    " ]}";

static const char *const RULE_EFFECTS[] = {"allow", "deny", "require_approval", "rate_limit"};

static portcullis_engine *manual_engine(int64_t start_ms) {
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.clock = PORTCULLIS_CLOCK_MANUAL;
    options.manual_start_ms = start_ms;
    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)POLICY, strlen(POLICY), &options, &engine, &err),
                 PORTCULLIS_OK);
    if (err != NULL) {
        printf("policy: %s: %s\n", portcullis_error_path(err), portcullis_error_message(err));
        portcullis_error_free(err);
    }
    return engine;
}

/* A lent string equals a JSON string, or is absent where the JSON has null. */
static int same_str(portcullis_str s, const cJSON *json) {
    if (cJSON_IsNull(json)) return s.ptr == NULL && s.len == 0;
    return cJSON_IsString(json) && s.ptr != NULL && s.len == strlen(json->valuestring) &&
           memcmp(s.ptr, json->valuestring, s.len) == 0;
}

static void check_same(const portcullis_decision_details *d, const portcullis_decision *plain,
                       const cJSON *json, const char *label) {
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(json, "policy");
    const cJSON *matched = cJSON_GetObjectItemCaseSensitive(json, "matched");
    const cJSON *shadow = cJSON_GetObjectItemCaseSensitive(json, "shadow");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(json, "params");

    /* The verdict is what portcullis_engine_evaluate reports (but the time it took, and the
     * address of the rule id, which is in another engine). */
    portcullis_decision verdict = d->verdict;
    verdict.eval_ns = plain->eval_ns;
    CHECK(verdict.rule_len == plain->rule_len && (verdict.rule == NULL) == (plain->rule == NULL) &&
              (verdict.rule == NULL || memcmp(verdict.rule, plain->rule, verdict.rule_len) == 0),
          "%s: the same rule id", label);
    verdict.rule = plain->rule;
    CHECK(memcmp(&verdict, plain, sizeof verdict) == 0, "%s: the verdict equals portcullis_engine_evaluate's", label);
    CHECK(d->storage != NULL, "%s: storage", label);
    CHECK(same_str(d->reason, cJSON_GetObjectItemCaseSensitive(json, "reason")), "%s: reason %.*s", label,
          (int)d->reason.len, d->reason.ptr ? (const char *)d->reason.ptr : "");
    CHECK(same_str(d->action_hash, cJSON_GetObjectItemCaseSensitive(json, "action_hash")), "%s: action_hash", label);
    CHECK(same_str(d->policy_name, cJSON_GetObjectItemCaseSensitive(policy, "name")), "%s: policy name", label);
    CHECK(same_str(d->policy_version, cJSON_GetObjectItemCaseSensitive(policy, "version")), "%s: policy version",
          label);

    CHECK(cJSON_IsArray(matched) && (int)d->verdict.matched_count == cJSON_GetArraySize(matched), "%s: matched count",
          label);
    CHECK((d->verdict.matched_count == 0) == (d->matched == NULL), "%s: matched NULL iff empty", label);
    for (uint32_t i = 0; i < d->verdict.matched_count && d->matched != NULL; i++) {
        CHECK(same_str(d->matched[i], cJSON_GetArrayItem(matched, (int)i)), "%s: matched[%u]", label, i);
    }
    CHECK(cJSON_IsArray(shadow) && (int)d->verdict.shadow_count == cJSON_GetArraySize(shadow), "%s: shadow count",
          label);
    CHECK((d->verdict.shadow_count == 0) == (d->shadow == NULL), "%s: shadow NULL iff empty", label);
    for (uint32_t i = 0; i < d->verdict.shadow_count && d->shadow != NULL; i++) {
        const cJSON *hit = cJSON_GetArrayItem(shadow, (int)i);
        const cJSON *effect = cJSON_GetObjectItemCaseSensitive(hit, "effect");
        CHECK(same_str(d->shadow[i].rule, cJSON_GetObjectItemCaseSensitive(hit, "rule")), "%s: shadow[%u].rule", label,
              i);
        CHECK(d->shadow[i].effect < 4 && cJSON_IsString(effect) &&
                  strcmp(RULE_EFFECTS[d->shadow[i].effect], effect->valuestring) == 0,
              "%s: shadow[%u].effect %u", label, i, d->shadow[i].effect);
    }
    if (cJSON_IsNull(params)) {
        CHECK(d->params_json.ptr == NULL && d->params_json.len == 0, "%s: no params", label);
    } else {
        cJSON *text = cJSON_ParseWithLength((const char *)d->params_json.ptr, d->params_json.len);
        CHECK(text != NULL && cJSON_IsObject(text) && cJSON_Compare(text, params, 1), "%s: params %.*s", label,
              (int)d->params_json.len, d->params_json.ptr ? (const char *)d->params_json.ptr : "");
        cJSON_Delete(text);
    }
}

static void test_lockstep(void) {
    const int64_t start = INT64_C(1767225600000);
    portcullis_engine *by_details = manual_engine(start);
    portcullis_engine *by_json = manual_engine(start);
    portcullis_engine *by_struct = manual_engine(start);
    if (by_details == NULL || by_json == NULL || by_struct == NULL) {
        portcullis_engine_free(by_details);
        portcullis_engine_free(by_json);
        portcullis_engine_free(by_struct);
        return;
    }
    static const char PAY[] = "{\"tool\": \"pay\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"amount\": 3}}";
    static const struct {
        const char *action;
        int approve;
        uint32_t code;
    } steps[] = {
        {"{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"path\": \"/tmp/x\"}}", 0,
         PORTCULLIS_CODE_RULE},
        {"{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"path\": \"/secrets/k\"}}", 0,
         PORTCULLIS_CODE_RULE},
        {"{\"tool\": \"search\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"limit\": 500, \"q\": \"\\u00e9\\t\"}}", 0,
         PORTCULLIS_CODE_RULE},
        {"{\"tool\": \"search\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"limit\": 5}}", 0, PORTCULLIS_CODE_RULE},
        {"{\"tool\": \"search\", \"agent\": {\"id\": \"a1\"}, \"params\": {\"limit\": 5}}", 0,
         PORTCULLIS_CODE_RATE_LIMITED},
        {PAY, 0, PORTCULLIS_CODE_APPROVAL_REQUIRED},
        {PAY, 1, 0},
        {PAY, 0, PORTCULLIS_CODE_APPROVED},
        {"{\"tool\": \"shell\", \"agent\": {\"id\": \"a1\"}}", 0, PORTCULLIS_CODE_DEFAULT},
        {"{\"tool\": 5, \"agent\": {\"id\": \"a1\"}}", 0, PORTCULLIS_CODE_INVALID_ACTION},
        {"not json", 0, PORTCULLIS_CODE_INVALID_ACTION},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        const char *action = steps[i].action;
        size_t len = strlen(action);
        char label[32];
        snprintf(label, sizeof label, "step %zu", i);
        if (steps[i].approve) {
            portcullis_engine *engines[] = {by_details, by_json, by_struct};
            for (size_t k = 0; k < 3; k++) {
                CHECK_STATUS(portcullis_engine_approve_action(engines[k], (const uint8_t *)action, len, 60000, 1, NULL,
                                                              NULL),
                             PORTCULLIS_OK);
            }
            continue;
        }
        portcullis_decision_details d;
        memset(&d, 0xAB, sizeof d);
        CHECK_STATUS(portcullis_engine_evaluate_details(by_details, (const uint8_t *)action, len, &d), PORTCULLIS_OK);
        portcullis_decision plain;
        CHECK_STATUS(portcullis_engine_evaluate(by_struct, (const uint8_t *)action, len, &plain), PORTCULLIS_OK);
        portcullis_buffer *buf = NULL;
        CHECK_STATUS(portcullis_engine_evaluate_json(by_json, (const uint8_t *)action, len, &buf), PORTCULLIS_OK);
        cJSON *json = cJSON_ParseWithLength((const char *)portcullis_buffer_data(buf), portcullis_buffer_len(buf));
        portcullis_buffer_free(buf);
        CHECK(cJSON_IsObject(json), "%s: the JSON decision parses", label);
        CHECK(d.verdict.code == steps[i].code, "%s: code %u, expected %u", label, d.verdict.code, steps[i].code);
        check_same(&d, &plain, json, label);
        cJSON_Delete(json);
        portcullis_decision_details_free(&d);
        CHECK(d.storage == NULL && d.reason.ptr == NULL && d.matched == NULL, "%s: free resets the struct", label);
        portcullis_decision_details_free(&d); /* a second free does nothing */
    }
    portcullis_engine_free(by_details);
    portcullis_engine_free(by_json);
    portcullis_engine_free(by_struct);
}

static void test_misuse(void) {
    portcullis_engine *engine = manual_engine(0);
    if (engine == NULL) return;
    static const char ACTION[] = "{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}}";
    portcullis_decision_details d;

    memset(&d, 0xAB, sizeof d);
    CHECK_STATUS(portcullis_engine_evaluate_details(NULL, (const uint8_t *)ACTION, strlen(ACTION), &d),
                 PORTCULLIS_ERR_NULL_POINTER);
    CHECK(d.verdict.effect == PORTCULLIS_EFFECT_DENY && d.verdict.code == PORTCULLIS_CODE_ENGINE_ERROR &&
              d.verdict.allowed == 0 && d.storage == NULL && d.reason.ptr == NULL && d.matched == NULL &&
              d.shadow == NULL,
          "a NULL engine writes a fail-closed deny with nothing to free");
    memset(&d, 0xAB, sizeof d);
    CHECK_STATUS(portcullis_engine_evaluate_details(engine, NULL, 3, &d), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(d.verdict.code == PORTCULLIS_CODE_ENGINE_ERROR && d.storage == NULL, "a NULL action writes a deny");
    memset(&d, 0xAB, sizeof d);
    CHECK_STATUS(portcullis_engine_evaluate_details(engine, (const uint8_t *)ACTION, (size_t)PTRDIFF_MAX + 1, &d),
                 PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(d.verdict.code == PORTCULLIS_CODE_ENGINE_ERROR && d.storage == NULL, "an impossible length writes a deny");
    portcullis_decision_details_free(&d); /* nothing to free: does nothing */
    CHECK_STATUS(portcullis_engine_evaluate_details(engine, (const uint8_t *)ACTION, strlen(ACTION), NULL),
                 PORTCULLIS_ERR_NULL_POINTER);
    portcullis_decision_details_free(NULL);
    portcullis_engine_free(engine);
}

static void test_unavailable_approval(void) {
    static const char SHARED[] =
        "{\"portcullis\": 1, \"name\": \"shared\", \"rules\": ["
        " {\"id\": \"pay-review\", \"effect\": \"require_approval\", \"match\": {\"tool\": [\"pay\"]}}]}";
    static const char PAY[] = "{\"tool\": \"pay\", \"agent\": {\"id\": \"a1\"}}";
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    /* Nothing listens on port 1; every call gives up within 200 ms. */
    options.state_url = "redis://127.0.0.1:1/0?timeout_ms=200";
    portcullis_engine *engine = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)SHARED, strlen(SHARED), &options, &engine, NULL),
                 PORTCULLIS_OK);
    if (engine == NULL) return;

    portcullis_buffer *hash = NULL;
    portcullis_error *err = NULL;
    CHECK_STATUS(portcullis_engine_approve_action(engine, (const uint8_t *)PAY, strlen(PAY), 60000, 1, &hash, &err),
                 PORTCULLIS_ERR_UNAVAILABLE);
    CHECK(hash == NULL, "no hash on failure");
    CHECK(err != NULL && portcullis_error_status(err) == PORTCULLIS_ERR_UNAVAILABLE, "the error carries the status");
    CHECK(err != NULL && strlen(portcullis_error_message(err)) > 0, "the error says why");
    portcullis_error_free(err);

    static const char HASH[] = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    err = NULL;
    CHECK_STATUS(portcullis_engine_approve_hash(engine, (const uint8_t *)HASH, strlen(HASH), 60000, 1, &err),
                 PORTCULLIS_ERR_UNAVAILABLE);
    CHECK(err != NULL && portcullis_error_status(err) == PORTCULLIS_ERR_UNAVAILABLE, "approve_hash: status");
    portcullis_error_free(err);
    CHECK_STR(portcullis_status_name(PORTCULLIS_ERR_UNAVAILABLE), "PORTCULLIS_ERR_UNAVAILABLE");

    /* A malformed hash is still an invalid argument: the store is not asked. */
    CHECK_STATUS(portcullis_engine_approve_hash(engine, (const uint8_t *)"sha256:x", 8, 60000, 1, NULL),
                 PORTCULLIS_ERR_INVALID_ARGUMENT);
    portcullis_engine_free(engine);
}

int main(void) {
    test_lockstep();
    test_misuse();
    test_unavailable_approval();
    return check_summary();
}
