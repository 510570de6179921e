/*
 * The audit trail through the C ABI: records drained from a memory sink form one gap-free hash
 * chain; a file sink writes one line per decision that `portcullis audit verify` accepts (and that it
 * rejects once edited); rotation keeps the chain across files; drop overflow counts what it
 * drops; parameters outside audit.include_params never reach a record; many threads
 * evaluating while another drains lose nothing.
 *
 * The verifier's path comes from the environment variable PORTCULLIS_BIN
 * (target/release/portcullis, built by `make tools`).
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portcullis.h"
#include "check.h"

#define BYTES(literal) (const uint8_t *)(literal), (sizeof(literal) - 1)

static const char POLICY[] =
    "{\"portcullis\": 1, \"name\": \"audited\", \"version\": \"3\","
    " \"audit\": {\"include_params\": [\"params.table\"]},"
    " \"rules\": ["
    "  {\"id\": \"reads\", \"effect\": \"allow\", \"match\": {\"tool\": [\"db.read\"]}},"
    "  {\"id\": \"no-drop\", \"effect\": \"deny\", \"match\": {\"tool\": [\"db.drop\"]}, \"reason\": \"never\"}]}";
/* The password must never appear in a record: only params.table is audited. */
static const char READ[] =
    "{\"tool\": \"db.read\", \"agent\": {\"id\": \"a1\"},"
    " \"params\": {\"table\": \"users\", \"password\": \"hunter2-secret\"},"
    " \"context\": {\"token\": \"ctx-secret\"}}";
static const char DROP[] = "{\"tool\": \"db.drop\", \"agent\": {\"id\": \"a2\"}, \"params\": {\"table\": \"t\"}}";
static const char BAD[] = "{\"tool\": 5}";
static const char GENESIS[] = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/* 2026-01-01T00:00:00Z */
#define START_MS INT64_C(1767225600000)

/* The action of decision i (0-based) and what its record must say. */
static const char *action_of(int i, size_t *len, const char **tool, const char **effect, const char **code) {
    switch (i % 3) {
    case 0:
        *len = sizeof READ - 1, *tool = "db.read", *effect = "allow", *code = "rule";
        return READ;
    case 1:
        *len = sizeof DROP - 1, *tool = "db.drop", *effect = "deny", *code = "rule";
        return DROP;
    default:
        *len = sizeof BAD - 1, *tool = NULL, *effect = "deny", *code = "invalid_action";
        return BAD;
    }
}

static portcullis_engine *audited_engine(const portcullis_audit_options *audit) {
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.clock = PORTCULLIS_CLOCK_MANUAL;
    options.manual_start_ms = START_MS;
    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    portcullis_status status = portcullis_engine_new_audited(BYTES(POLICY), &options, audit, &engine, &err);
    CHECK(status == PORTCULLIS_OK && engine != NULL, "portcullis_engine_new_audited: %s %s", portcullis_status_name(status),
          portcullis_error_message(err));
    portcullis_error_free(err);
    return engine;
}

static void evaluate_n(const portcullis_engine *engine, int n) {
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *tool, *effect, *code;
        const char *action = action_of(i, &len, &tool, &effect, &code);
        portcullis_decision d;
        CHECK_STATUS(portcullis_engine_evaluate(engine, (const uint8_t *)action, len, &d), PORTCULLIS_OK);
    }
}

/* Growable text: the lines of a trail as they were handed out. */
typedef struct {
    char *data;
    size_t len;
} text;

static void text_append(text *t, const uint8_t *bytes, size_t n) {
    char *grown = realloc(t->data, t->len + n + 1);
    if (grown == NULL) {
        CHECK(0, "out of memory");
        return;
    }
    t->data = grown;
    memcpy(t->data + t->len, bytes, n);
    t->len += n;
    t->data[t->len] = '\0';
}

/* Drains at most `max` records, appends them to `all`, and returns how many there were. */
static size_t drain(const portcullis_engine *engine, size_t max, text *all) {
    portcullis_buffer *lines = NULL;
    size_t count = 0;
    CHECK_STATUS(portcullis_engine_drain_audit(engine, max, &lines, &count), PORTCULLIS_OK);
    size_t newlines = 0;
    for (size_t i = 0; i < portcullis_buffer_len(lines); i++) {
        newlines += portcullis_buffer_data(lines)[i] == '\n';
    }
    CHECK(newlines == count, "out_count %zu, lines %zu", count, newlines);
    CHECK(portcullis_buffer_len(lines) == 0 || portcullis_buffer_data(lines)[portcullis_buffer_len(lines) - 1] == '\n',
          "the last line ends in a newline");
    text_append(all, portcullis_buffer_data(lines), portcullis_buffer_len(lines));
    portcullis_buffer_free(lines);
    return count;
}

static const char *string_of(const cJSON *record, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(record, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int same(const char *a, const char *b) {
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Checks that `lines` is a whole trail of `expected` decision records, seq 1..expected, each
 * linked to the one before (the first to the genesis hash). With `with_decision_fields`, the
 * records are those of evaluate_n and their fields are checked too.
 */
static void check_chain(const char *lines, int expected, int with_decision_fields) {
    char prev[80];
    snprintf(prev, sizeof prev, "%s", GENESIS);
    int n = 0;
    for (const char *line = lines; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (end == NULL) {
            CHECK(0, "record %d has no newline", n + 1);
            break;
        }
        cJSON *record = cJSON_ParseWithLength(line, (size_t)(end - line));
        CHECK(record != NULL, "record %d is JSON: %.*s", n + 1, (int)(end - line), line);
        if (record == NULL) {
            break;
        }
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(record, "seq");
        CHECK(cJSON_IsNumber(seq) && seq->valuedouble == n + 1, "record %d has seq %g", n + 1,
              cJSON_IsNumber(seq) ? seq->valuedouble : -1.0);
        CHECK(same(string_of(record, "prev"), prev), "record %d: prev %s, previous hash %s", n + 1,
              string_of(record, "prev"), prev);
        const char *hash = string_of(record, "hash");
        CHECK(hash != NULL && strlen(hash) == 71 && strncmp(hash, "sha256:", 7) == 0 &&
                  strspn(hash + 7, "0123456789abcdef") == 64,
              "record %d: hash %s", n + 1, hash);
        CHECK(same(string_of(record, "type"), "decision"), "record %d is a decision", n + 1);
        if (with_decision_fields) {
            size_t len;
            const char *tool, *effect, *code;
            action_of(n, &len, &tool, &effect, &code);
            CHECK(same(string_of(record, "tool"), tool), "record %d: tool %s, expected %s", n + 1,
                  string_of(record, "tool"), tool);
            CHECK(same(string_of(record, "effect"), effect), "record %d: effect", n + 1);
            CHECK(same(string_of(record, "code"), code), "record %d: code", n + 1);
            CHECK(same(string_of(record, "time"), "2026-01-01T00:00:00.000Z"), "record %d: time %s", n + 1,
                  string_of(record, "time"));
            const cJSON *policy = cJSON_GetObjectItemCaseSensitive(record, "policy");
            CHECK(same(string_of(policy, "name"), "audited") && same(string_of(policy, "version"), "3"),
                  "record %d: policy", n + 1);
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(record, "params");
            if (n % 3 == 2) {
                CHECK(params == NULL || cJSON_IsNull(params), "record %d: an invalid action has no params", n + 1);
            } else {
                CHECK(cJSON_IsObject(params) && cJSON_GetArraySize(params) == 1 &&
                          same(string_of(params, "params.table"), n % 3 == 0 ? "users" : "t"),
                      "record %d: only params.table is recorded", n + 1);
            }
        }
        snprintf(prev, sizeof prev, "%s", hash != NULL ? hash : "");
        cJSON_Delete(record);
        n++;
        line = end + 1;
    }
    CHECK(n == expected, "%d records, expected %d", n, expected);
    CHECK(strstr(lines, "hunter2-secret") == NULL && strstr(lines, "ctx-secret") == NULL &&
              strstr(lines, "password") == NULL,
          "no parameter outside audit.include_params is recorded");
}

/* Runs the verifier on `files` and returns its exit status; its first line goes to `out`. */
static int verify(const char *files, char *out, size_t out_size) {
    const char *verifier = getenv("PORTCULLIS_BIN");
    out[0] = '\0';
    if (verifier == NULL || access(verifier, X_OK) != 0) {
        CHECK(0, "PORTCULLIS_BIN must name the portcullis binary (make tools), got %s",
              verifier ? verifier : "(unset)");
        return -1;
    }
    char command[4096];
    snprintf(command, sizeof command, "%s audit verify %s 2>&1", verifier, files);
    FILE *p = popen(command, "r");
    if (p == NULL) {
        CHECK(0, "popen %s", command);
        return -1;
    }
    if (fgets(out, (int)out_size, p) == NULL) {
        out[0] = '\0';
    }
    char rest[512];
    while (fgets(rest, sizeof rest, p) != NULL) {
        if (strncmp(rest, "FAIL", 4) == 0) {
            snprintf(out, out_size, "%s", rest);
        }
    }
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    text t = {NULL, 0};
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        text_append(&t, chunk, n);
    }
    fclose(f);
    if (t.data == NULL) {
        t.data = calloc(1, 1);
    }
    return t.data;
}

static int write_file(const char *path, const char *data) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return 0;
    }
    size_t n = strlen(data);
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void test_memory_sink(const char *dir) {
    enum { N = 60 };
    portcullis_audit_options audit;
    portcullis_audit_options_default(&audit);
    audit.sink = PORTCULLIS_AUDIT_MEMORY;
    portcullis_engine *engine = audited_engine(&audit);
    evaluate_n(engine, N);

    text all = {NULL, 0};
    CHECK(drain(engine, 25, &all) == 25, "the first batch holds max_records records");
    CHECK(drain(engine, 1000, &all) == N - 25, "the second batch holds the rest");
    CHECK(drain(engine, 1000, &all) == 0, "nothing is handed out twice");
    if (all.data != NULL) {
        check_chain(all.data, N, 1);
    }
    portcullis_audit_stats stats;
    CHECK_STATUS(portcullis_engine_audit_stats(engine, &stats), PORTCULLIS_OK);
    CHECK(stats.recorded == N && stats.dropped == 0, "stats %llu recorded, %llu dropped",
          (unsigned long long)stats.recorded, (unsigned long long)stats.dropped);

    /* The drained lines, written out as they came, are a trail the verifier accepts. */
    char path[256], result[512];
    snprintf(path, sizeof path, "%s/drained.log", dir);
    CHECK(all.data != NULL && write_file(path, all.data), "write %s", path);
    CHECK(verify(path, result, sizeof result) == 0, "verify drained records: %s", result);
    char expected[64];
    snprintf(expected, sizeof expected, "ok: %d records verify", N);
    CHECK(strncmp(result, expected, strlen(expected)) == 0, "verifier said: %s", result);
    unlink(path);
    free(all.data);
    portcullis_engine_free(engine);
}

static void test_file_sink(const char *dir) {
    enum { N = 40 };
    char path[256], result[512];
    snprintf(path, sizeof path, "%s/audit.log", dir);
    portcullis_audit_options audit;
    portcullis_audit_options_default(&audit);
    audit.sink = PORTCULLIS_AUDIT_FILE;
    audit.path = path;
    audit.flush_interval_ms = 60000; /* only the explicit flush writes */
    audit.fsync = 1;
    portcullis_engine *engine = audited_engine(&audit);
    evaluate_n(engine, N);
    static char sentinel;
    portcullis_error *err = (portcullis_error *)&sentinel;
    CHECK_STATUS(portcullis_engine_flush_audit(engine, &err), PORTCULLIS_OK);
    CHECK(err == NULL, "out_error is NULL after success");

    /* After the flush, and before the engine is freed, the file holds every record. */
    char *lines = read_file(path);
    CHECK(lines != NULL, "read %s", path);
    if (lines != NULL) {
        check_chain(lines, N, 1);
    }
    portcullis_audit_stats stats;
    CHECK_STATUS(portcullis_engine_audit_stats(engine, &stats), PORTCULLIS_OK);
    CHECK(stats.recorded == N && stats.dropped == 0, "stats %llu recorded, %llu dropped",
          (unsigned long long)stats.recorded, (unsigned long long)stats.dropped);
    portcullis_buffer *none = NULL;
    size_t count = 1;
    CHECK_STATUS(portcullis_engine_drain_audit(engine, 100, &none, &count), PORTCULLIS_OK);
    CHECK(count == 0 && portcullis_buffer_len(none) == 0, "a file sink hands out nothing to drain");
    portcullis_buffer_free(none);
    CHECK(verify(path, result, sizeof result) == 0, "verify %s: %s", path, result);
    CHECK(strncmp(result, "ok: 40 records verify (40 decisions, 0 dropped)", 47) == 0, "verifier said: %s", result);

    /* Freeing writes what is still queued; a new engine continues the same chain. */
    evaluate_n(engine, 2);
    portcullis_engine_free(engine);
    engine = audited_engine(&audit);
    evaluate_n(engine, 3);
    portcullis_engine_free(engine);
    CHECK(verify(path, result, sizeof result) == 0, "verify %s after reopening: %s", path, result);
    CHECK(strncmp(result, "ok: 45 records verify", 21) == 0, "verifier said: %s", result);

    /* An edited record breaks the chain, and the verifier says where. */
    char *edited = read_file(path);
    char *at = edited != NULL ? strstr(edited, "\"effect\":\"deny\"") : NULL;
    CHECK(at != NULL, "the trail holds a deny");
    if (at != NULL) {
        memcpy(at, "\"effect\":\"allo", 15); /* "deny" -> "allo", same length */
        CHECK(write_file(path, edited), "rewrite %s", path);
        CHECK(verify(path, result, sizeof result) == 1, "an edited trail fails: %s", result);
        CHECK(strstr(result, "FAIL") != NULL && strstr(result, ":2:") != NULL, "the second line is named: %s",
              result);
    }
    free(edited);
    free(lines);
    unlink(path);
}

static void test_rotation(const char *dir) {
    enum { N = 30 };
    char path[256], files[2048], result[512];
    snprintf(path, sizeof path, "%s/rotating.log", dir);
    portcullis_audit_options audit;
    portcullis_audit_options_default(&audit);
    audit.sink = PORTCULLIS_AUDIT_FILE;
    audit.path = path;
    audit.max_bytes = 1500;
    portcullis_engine *engine = audited_engine(&audit);
    for (int i = 0; i < N; i++) {
        evaluate_n(engine, 1);
        CHECK_STATUS(portcullis_engine_flush_audit(engine, NULL), PORTCULLIS_OK); /* one batch per record */
    }
    portcullis_engine_free(engine);

    /* Rotated files first, oldest first, then the current file. */
    int rotated = 0;
    files[0] = '\0';
    for (int i = 1; i < 1000; i++) {
        char name[300];
        struct stat st;
        snprintf(name, sizeof name, "%s.%06d", path, i);
        if (stat(name, &st) != 0) {
            break;
        }
        rotated++;
        strncat(files, name, sizeof files - strlen(files) - 2);
        strcat(files, " ");
    }
    strncat(files, path, sizeof files - strlen(files) - 1);
    CHECK(rotated >= 2, "max_bytes 1500 rotated %d times", rotated);
    CHECK(verify(files, result, sizeof result) == 0, "verify the rotated trail: %s", result);
    CHECK(strncmp(result, "ok: 30 records verify", 21) == 0, "verifier said: %s", result);
    for (int i = 1; i <= rotated; i++) {
        char name[300];
        snprintf(name, sizeof name, "%s.%06d", path, i);
        unlink(name);
    }
    unlink(path);
}

static void test_drop_overflow(void) {
    enum { N = 20, CAPACITY = 4 };
    portcullis_audit_options audit;
    portcullis_audit_options_default(&audit);
    audit.sink = PORTCULLIS_AUDIT_MEMORY;
    audit.queue_capacity = CAPACITY;
    audit.overflow = PORTCULLIS_OVERFLOW_DROP;
    portcullis_engine *engine = audited_engine(&audit);
    evaluate_n(engine, N);

    portcullis_audit_stats stats;
    CHECK_STATUS(portcullis_engine_audit_stats(engine, &stats), PORTCULLIS_OK);
    CHECK(stats.recorded == 0 && stats.dropped == N - CAPACITY, "before draining: %llu recorded, %llu dropped",
          (unsigned long long)stats.recorded, (unsigned long long)stats.dropped);

    text all = {NULL, 0};
    CHECK(drain(engine, 100, &all) == CAPACITY + 1, "a dropped record, then the queued decisions");
    const char *second = all.data != NULL ? strchr(all.data, '\n') : NULL;
    cJSON *first = second != NULL ? cJSON_ParseWithLength(all.data, (size_t)(second - all.data)) : NULL;
    const cJSON *dropped = cJSON_GetObjectItemCaseSensitive(first, "dropped");
    CHECK(same(string_of(first, "type"), "dropped") && cJSON_IsNumber(dropped) &&
              dropped->valuedouble == N - CAPACITY,
          "the first record counts the drops: %.*s", second ? (int)(second - all.data) : 0, all.data);
    cJSON_Delete(first);
    CHECK_STATUS(portcullis_engine_audit_stats(engine, &stats), PORTCULLIS_OK);
    CHECK(stats.recorded == CAPACITY && stats.dropped == N - CAPACITY, "after draining: %llu recorded, %llu dropped",
          (unsigned long long)stats.recorded, (unsigned long long)stats.dropped);
    CHECK(stats.recorded + stats.dropped == N, "recorded + dropped = decisions");

    /* Room again: nothing more is dropped. */
    evaluate_n(engine, 2);
    CHECK(drain(engine, 100, &all) == 2, "two more decisions, no dropped record");
    CHECK_STATUS(portcullis_engine_audit_stats(engine, &stats), PORTCULLIS_OK);
    CHECK(stats.recorded == CAPACITY + 2 && stats.dropped == N - CAPACITY, "counts after room");
    free(all.data);
    portcullis_engine_free(engine);
}

enum { THREADS = 4, PER_THREAD = 250 };

static void *evaluator(void *engine) {
    for (int i = 0; i < PER_THREAD; i++) {
        portcullis_decision d;
        if (portcullis_engine_evaluate(engine, BYTES(READ), &d) != PORTCULLIS_OK || d.effect != PORTCULLIS_EFFECT_ALLOW) {
            CHECK(0, "evaluation %d failed", i);
        }
    }
    return NULL;
}

static void test_threads_with_a_small_blocking_queue(void) {
    portcullis_audit_options audit;
    portcullis_audit_options_default(&audit);
    audit.sink = PORTCULLIS_AUDIT_MEMORY;
    audit.queue_capacity = 16; /* evaluators wait for the drainer: nothing may be lost */
    portcullis_engine *engine = audited_engine(&audit);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&threads[i], NULL, evaluator, engine) == 0, "pthread_create");
    }
    text all = {NULL, 0};
    size_t taken = 0;
    /* Drains in small batches while the threads evaluate; gives up after 60 s without records. */
    for (int idle = 0; taken < THREADS * PER_THREAD && idle < 600000;) {
        size_t got = drain(engine, 7, &all);
        taken += got;
        idle = got > 0 ? 0 : idle + 1;
        if (got == 0) {
            usleep(100);
        }
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    taken += drain(engine, 1000, &all);
    CHECK(taken == THREADS * PER_THREAD, "%zu records for %d decisions", taken, THREADS * PER_THREAD);
    if (all.data != NULL) {
        check_chain(all.data, THREADS * PER_THREAD, 0);
    }
    portcullis_audit_stats stats;
    CHECK_STATUS(portcullis_engine_audit_stats(engine, &stats), PORTCULLIS_OK);
    CHECK(stats.recorded == THREADS * PER_THREAD && stats.dropped == 0, "stats");
    free(all.data);
    portcullis_engine_free(engine);
}

int main(void) {
    char dir[] = "/tmp/portcullis-audit-c-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        printf("FAIL: mkdtemp\n0 passed, 1 failed\n");
        return 1;
    }
    test_memory_sink(dir);
    test_file_sink(dir);
    test_rotation(dir);
    test_drop_overflow();
    test_threads_with_a_small_blocking_queue();
    rmdir(dir);
    return check_summary();
}
