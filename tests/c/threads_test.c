/*
 * Concurrency: worker threads evaluate on one engine handle while another thread swaps the
 * policy between two versions. Every decision must be exactly one version's decision (never
 * a mix of the two snapshots), every call must return PORTCULLIS_OK, and the workers must see both
 * versions.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "portcullis.h"
#include "check.h"

#define WORKERS 3
#define SWAPS 1000
#define MIN_EVALUATIONS_PER_WORKER 2000

/* Version A allows with rule "a-allow" and has no shadow rule. */
static const char POLICY_A[] =
    "{\"portcullis\": 1, \"name\": \"pa\", \"version\": \"1\", \"default\": \"deny\", \"rules\": ["
    " {\"id\": \"a-allow\", \"effect\": \"allow\", \"match\": {\"tool\": [\"x\"]}}]}";
/* Version B denies with rule "b-deny", reports shadow rule "b-watch" and defaults to allow. */
static const char POLICY_B[] =
    "{\"portcullis\": 1, \"name\": \"pb\", \"version\": \"2\", \"default\": \"allow\", \"rules\": ["
    " {\"id\": \"b-allow\", \"effect\": \"allow\", \"match\": {\"tool\": [\"x\"]}},"
    " {\"id\": \"b-deny\", \"effect\": \"deny\", \"match\": {\"tool\": [\"x\"]}},"
    " {\"id\": \"b-watch\", \"effect\": \"deny\", \"shadow\": true}]}";
static const char ACTION[] = "{\"tool\": \"x\", \"agent\": {\"id\": \"a1\"}}";

typedef struct {
    portcullis_engine *engine;
    atomic_int *swapping_done;
    long seen_a, seen_b, evaluations;
} worker_state;

static int rule_is(const portcullis_decision *d, const char *id) {
    return d->has_rule == 1 && d->rule_len == strlen(id) && memcmp(d->rule, id, d->rule_len) == 0;
}

/* 'a' or 'b' when the struct decision is exactly one version's, 0 for anything else. */
static char classify_struct(const portcullis_decision *d) {
    if (d->effect == PORTCULLIS_EFFECT_ALLOW && d->code == PORTCULLIS_CODE_RULE && d->allowed == 1 &&
        rule_is(d, "a-allow") && d->matched_count == 1 && d->shadow_count == 0) {
        return 'a';
    }
    if (d->effect == PORTCULLIS_EFFECT_DENY && d->code == PORTCULLIS_CODE_RULE && d->allowed == 0 &&
        rule_is(d, "b-deny") && d->matched_count == 2 && d->shadow_count == 1) {
        return 'b';
    }
    return 0;
}

static const char *string_at(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : "";
}

/* 'a' or 'b' when the JSON decision is exactly one version's, 0 for anything else. */
static char classify_json(const cJSON *d) {
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(d, "policy");
    const cJSON *matched = cJSON_GetObjectItemCaseSensitive(d, "matched");
    const cJSON *shadow = cJSON_GetObjectItemCaseSensitive(d, "shadow");
    if (strcmp(string_at(policy, "name"), "pa") == 0 && strcmp(string_at(policy, "version"), "1") == 0 &&
        strcmp(string_at(d, "effect"), "allow") == 0 && strcmp(string_at(d, "rule"), "a-allow") == 0 &&
        cJSON_GetArraySize(matched) == 1 && cJSON_GetArraySize(shadow) == 0) {
        return 'a';
    }
    if (strcmp(string_at(policy, "name"), "pb") == 0 && strcmp(string_at(policy, "version"), "2") == 0 &&
        strcmp(string_at(d, "effect"), "deny") == 0 && strcmp(string_at(d, "rule"), "b-deny") == 0 &&
        cJSON_GetArraySize(matched) == 2 && cJSON_GetArraySize(shadow) == 1 &&
        strcmp(string_at(cJSON_GetArrayItem(shadow, 0), "rule"), "b-watch") == 0) {
        return 'b';
    }
    return 0;
}

static void *worker(void *arg) {
    worker_state *state = arg;
    const uint8_t *action = (const uint8_t *)ACTION;
    size_t len = sizeof ACTION - 1;
    while (!atomic_load(state->swapping_done) || state->evaluations < MIN_EVALUATIONS_PER_WORKER) {
        char version;
        if (state->evaluations % 2 == 0) {
            portcullis_decision d;
            portcullis_status status = portcullis_engine_evaluate(state->engine, action, len, &d);
            version = status == PORTCULLIS_OK ? classify_struct(&d) : 0;
            CHECK(version != 0, "struct decision is one version's: status %s effect %u code %u rule %.*s",
                  portcullis_status_name(status), d.effect, d.code, (int)d.rule_len, d.rule ? (const char *)d.rule : "");
        } else {
            portcullis_buffer *json = NULL;
            portcullis_status status = portcullis_engine_evaluate_json(state->engine, action, len, &json);
            cJSON *d = status == PORTCULLIS_OK ? cJSON_ParseWithLength((const char *)portcullis_buffer_data(json),
                                                               portcullis_buffer_len(json))
                                       : NULL;
            version = d != NULL ? classify_json(d) : 0;
            CHECK(version != 0, "JSON decision is one version's: status %s: %.*s", portcullis_status_name(status),
                  (int)portcullis_buffer_len(json), json ? (const char *)portcullis_buffer_data(json) : "");
            cJSON_Delete(d);
            portcullis_buffer_free(json);
        }
        state->seen_a += version == 'a';
        state->seen_b += version == 'b';
        state->evaluations++;
    }
    return NULL;
}

int main(void) {
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.clock = PORTCULLIS_CLOCK_MANUAL;
    options.manual_start_ms = INT64_C(1767225600000);
    portcullis_engine *engine = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)POLICY_A, sizeof POLICY_A - 1, &options, &engine, NULL), PORTCULLIS_OK);
    if (engine == NULL) {
        return check_summary();
    }

    atomic_int swapping_done = 0;
    worker_state states[WORKERS];
    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        states[i] = (worker_state){engine, &swapping_done, 0, 0, 0};
        CHECK(pthread_create(&threads[i], NULL, worker, &states[i]) == 0, "pthread_create");
    }

    /* The swapper: alternate B, A, B, ... and check every update succeeds. */
    int swap_failures = 0;
    for (int i = 0; i < SWAPS; i++) {
        const char *policy = i % 2 == 0 ? POLICY_B : POLICY_A;
        portcullis_error *err = NULL;
        portcullis_status status = portcullis_engine_update_policy(engine, (const uint8_t *)policy, strlen(policy), &err);
        if (status != PORTCULLIS_OK) {
            swap_failures++;
            printf("swap %d: %s: %s\n", i, portcullis_status_name(status), portcullis_error_message(err));
        }
        portcullis_error_free(err);
        /* Let the workers run between swaps, so that both versions are evaluated often. */
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    atomic_store(&swapping_done, 1);
    CHECK(swap_failures == 0, "%d policy swaps failed", swap_failures);

    long seen_a = 0, seen_b = 0, evaluations = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
        seen_a += states[i].seen_a;
        seen_b += states[i].seen_b;
        evaluations += states[i].evaluations;
    }
    printf("%ld evaluations over %d swaps: %ld under version A, %ld under version B\n", evaluations, SWAPS,
           seen_a, seen_b);
    CHECK(seen_a > 0 && seen_b > 0, "workers saw both versions (A %ld, B %ld)", seen_a, seen_b);
    CHECK(seen_a + seen_b == evaluations, "every decision was one version's");
    portcullis_engine_free(engine);
    return check_summary();
}
