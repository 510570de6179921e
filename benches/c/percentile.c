/*
 * The C percentile harness: times single calls through the C ABI on the reference workload.
 *
 *   percentile POLICY.json ACTIONS.json [--workload NAME] [--n N] [--warmup W]
 *              [--start-ms MS] [--step-ms MS]
 *
 * ACTIONS.json is one JSON array of actions; each is serialized once (cJSON, compact) before
 * timing. The engine has a manual clock that starts at --start-ms and moves --step-ms after
 * each action (outside the timed region). W untimed calls, then N timed calls, replaying the
 * actions in order. Two cases, each on a fresh engine:
 *   NAME-struct  portcullis_engine_evaluate: action text in, the plain portcullis_decision struct out
 *   NAME-json    portcullis_engine_evaluate_json + portcullis_buffer_free: the decision as JSON text
 *                (reading the decision's code for the MIX line is not timed)
 * Prints one BENCH and one MIX line per case; exits 1 when a call fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <portcullis.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *policy_path, *actions_path, *workload;
    long n, warmup;
    int64_t start_ms, step_ms;
} args_t;

typedef struct {
    uint64_t allow, deny, rate_limited, approval, unknown_agent, failed;
} mix_t;

typedef struct {
    char **text;
    size_t *len;
    size_t count;
} actions_t;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, used = 0;
    for (;;) {
        if (used == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(buf, cap + 1);
            if (!grown) { free(buf); fclose(f); return NULL; }
            buf = grown;
        }
        size_t got = fread(buf + used, 1, cap - used, f);
        used += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    buf[used] = '\0';
    *len = used;
    return buf;
}

static int load_actions(const char *path, actions_t *out) {
    size_t len;
    char *text = read_file(path, &len);
    if (!text) { fprintf(stderr, "%s: cannot read\n", path); return -1; }
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsArray(doc) || cJSON_GetArraySize(doc) == 0) {
        fprintf(stderr, "%s: not a non-empty JSON array\n", path);
        cJSON_Delete(doc);
        return -1;
    }
    out->count = (size_t)cJSON_GetArraySize(doc);
    out->text = calloc(out->count, sizeof *out->text);
    out->len = calloc(out->count, sizeof *out->len);
    if (!out->text || !out->len) { cJSON_Delete(doc); return -1; }
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, doc) {
        out->text[i] = cJSON_PrintUnformatted(item);
        if (!out->text[i]) { cJSON_Delete(doc); return -1; }
        out->len[i] = strlen(out->text[i]);
        i++;
    }
    cJSON_Delete(doc);
    return 0;
}

static void mix_add(mix_t *m, uint32_t effect, uint32_t code) {
    if (code == PORTCULLIS_CODE_INVALID_ACTION || code == PORTCULLIS_CODE_ENGINE_ERROR) m->failed++;
    else if (code == PORTCULLIS_CODE_RATE_LIMITED) m->rate_limited++;
    else if (code == PORTCULLIS_CODE_UNKNOWN_AGENT) m->unknown_agent++;
    else if (effect == PORTCULLIS_EFFECT_REQUIRE_APPROVAL) m->approval++;
    else if (effect == PORTCULLIS_EFFECT_ALLOW) m->allow++;
    else m->deny++;
}

/* The effect and code of a decision in JSON form, as the struct's values. */
static void mix_add_json(mix_t *m, const uint8_t *data, size_t len) {
    static const char *const codes[] = {"rule", "default", "approved", "rate_limited", "approval_required",
                                        "unknown_agent", "invalid_action", "engine_error"};
    cJSON *d = cJSON_ParseWithLength((const char *)data, len);
    const char *effect = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "effect"));
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "code"));
    uint32_t e = PORTCULLIS_EFFECT_DENY, c = PORTCULLIS_CODE_ENGINE_ERROR;
    if (effect && strcmp(effect, "allow") == 0) e = PORTCULLIS_EFFECT_ALLOW;
    if (effect && strcmp(effect, "require_approval") == 0) e = PORTCULLIS_EFFECT_REQUIRE_APPROVAL;
    for (uint32_t k = 0; code && k < sizeof codes / sizeof *codes; k++) {
        if (strcmp(code, codes[k]) == 0) c = k;
    }
    mix_add(m, e, c);
    cJSON_Delete(d);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least q of the samples at or below it. */
static uint64_t rank(const uint64_t *sorted, size_t n, double q) {
    size_t idx = (size_t)(q * (double)n + 0.999999999);
    if (idx == 0) idx = 1;
    if (idx > n) idx = n;
    return sorted[idx - 1];
}

static void report(const char *workload, const char *mode, uint64_t *samples, size_t n, uint64_t wall_ns,
                   const mix_t *m) {
    qsort(samples, n, sizeof *samples, cmp_u64);
    printf("BENCH lang=c case=%s-%s n=%zu p50=%" PRIu64 " p90=%" PRIu64 " p99=%" PRIu64 " p999=%" PRIu64
           " ops_per_s=%.0f\n",
           workload, mode, n, rank(samples, n, 0.50), rank(samples, n, 0.90), rank(samples, n, 0.99),
           rank(samples, n, 0.999), (double)n * 1e9 / (double)wall_ns);
    printf("MIX lang=c case=%s-%s allow=%" PRIu64 " deny=%" PRIu64 " rate_limited=%" PRIu64 " approval=%" PRIu64
           " unknown_agent=%" PRIu64 " failed=%" PRIu64 "\n",
           workload, mode, m->allow, m->deny, m->rate_limited, m->approval, m->unknown_agent, m->failed);
    fflush(stdout);
}

static portcullis_engine *new_engine(const args_t *a, const uint8_t *policy, size_t policy_len) {
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.clock = PORTCULLIS_CLOCK_MANUAL;
    options.manual_start_ms = a->start_ms;
    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    portcullis_status st = portcullis_engine_new(policy, policy_len, &options, &engine, &err);
    if (st != PORTCULLIS_OK) {
        fprintf(stderr, "%s: %s at \"%s\": %s\n", a->policy_path, portcullis_status_name(st), err ? portcullis_error_path(err) : "",
                err ? portcullis_error_message(err) : "");
        portcullis_error_free(err);
        return NULL;
    }
    return engine;
}

/* One case; returns the number of failed calls (a non-OK status or a failed decision). */
static uint64_t run(const args_t *a, const uint8_t *policy, size_t policy_len, const actions_t *acts, int json) {
    portcullis_engine *engine = new_engine(a, policy, policy_len);
    if (!engine) return 1;
    uint64_t *samples = malloc((size_t)a->n * sizeof *samples);
    if (!samples) { portcullis_engine_free(engine); return 1; }
    mix_t mix = {0};
    uint64_t bad_status = 0, wall_start = 0;
    long total = a->warmup + a->n;
    for (long i = 0; i < total; i++) {
        if (i == a->warmup) wall_start = now_ns();
        size_t k = (size_t)i % acts->count;
        const uint8_t *text = (const uint8_t *)acts->text[k];
        uint64_t elapsed;
        if (json) {
            portcullis_buffer *out = NULL;
            uint64_t t0 = now_ns();
            portcullis_status st = portcullis_engine_evaluate_json(engine, text, acts->len[k], &out);
            uint64_t t1 = now_ns();
            if (st != PORTCULLIS_OK || !out) bad_status++;
            else if (i >= a->warmup) mix_add_json(&mix, portcullis_buffer_data(out), portcullis_buffer_len(out));
            uint64_t t2 = now_ns();
            portcullis_buffer_free(out);
            elapsed = (t1 - t0) + (now_ns() - t2);
        } else {
            portcullis_decision d;
            uint64_t t0 = now_ns();
            portcullis_status st = portcullis_engine_evaluate(engine, text, acts->len[k], &d);
            elapsed = now_ns() - t0;
            if (st != PORTCULLIS_OK) bad_status++;
            else if (i >= a->warmup) mix_add(&mix, d.effect, d.code);
        }
        if (i >= a->warmup) samples[i - a->warmup] = elapsed;
        portcullis_engine_set_time(engine, a->start_ms + (int64_t)(i + 1) * a->step_ms);
    }
    uint64_t wall = now_ns() - wall_start;
    report(a->workload, json ? "json" : "struct", samples, (size_t)a->n, wall, &mix);
    free(samples);
    portcullis_engine_free(engine);
    if (bad_status) fprintf(stderr, "%" PRIu64 " calls returned an error status\n", bad_status);
    return bad_status + mix.failed;
}

static int parse_args(int argc, char **argv, args_t *a) {
    *a = (args_t){NULL, NULL, "ref", 200000, 10000, 1772463600000LL, 10};
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--workload") == 0 && v) { a->workload = v; i++; }
        else if (strcmp(argv[i], "--n") == 0 && v) { a->n = strtol(v, NULL, 10); i++; }
        else if (strcmp(argv[i], "--warmup") == 0 && v) { a->warmup = strtol(v, NULL, 10); i++; }
        else if (strcmp(argv[i], "--start-ms") == 0 && v) { a->start_ms = strtoll(v, NULL, 10); i++; }
        else if (strcmp(argv[i], "--step-ms") == 0 && v) { a->step_ms = strtoll(v, NULL, 10); i++; }
        else if (argv[i][0] != '-' && positional == 0) { a->policy_path = argv[i]; positional++; }
        else if (argv[i][0] != '-' && positional == 1) { a->actions_path = argv[i]; positional++; }
        else return -1;
    }
    return (positional == 2 && a->n > 0 && a->warmup >= 0) ? 0 : -1;
}

int main(int argc, char **argv) {
    args_t a;
    if (parse_args(argc, argv, &a) != 0) {
        fprintf(stderr, "usage: %s POLICY.json ACTIONS.json [--workload NAME] [--n N] [--warmup W] "
                        "[--start-ms MS] [--step-ms MS]\n", argv[0]);
        return 2;
    }
    size_t policy_len;
    char *policy = read_file(a.policy_path, &policy_len);
    if (!policy) { fprintf(stderr, "%s: cannot read\n", a.policy_path); return 1; }
    actions_t acts = {0};
    if (load_actions(a.actions_path, &acts) != 0) { free(policy); return 1; }
    uint64_t failed = run(&a, (const uint8_t *)policy, policy_len, &acts, 0);
    failed += run(&a, (const uint8_t *)policy, policy_len, &acts, 1);
    for (size_t i = 0; i < acts.count; i++) cJSON_free(acts.text[i]);
    free(acts.text);
    free(acts.len);
    free(policy);
    if (failed) { fprintf(stderr, "%" PRIu64 " evaluations failed\n", failed); return 1; }
    return 0;
}
