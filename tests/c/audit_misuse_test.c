/*
 * ABI misuse test, audit part: audit options (defaults, versions, every bad field), NULL
 * pointers and documented error statuses of the audited calls, and audit trails that cannot
 * be opened or written. The engine part is misuse_test.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "portcullis.h"
#include "check.h"
#include "misuse.h"

static void test_audit_options(void) {
    portcullis_audit_options audit;
    memset(&audit, 0xAB, sizeof audit);
    portcullis_audit_options_default(&audit);
    CHECK(audit.size == sizeof(portcullis_audit_options), "size %u", audit.size);
    CHECK(audit.sink == PORTCULLIS_AUDIT_NONE, "sink %u", audit.sink);
    CHECK(audit.path == NULL, "path");
    CHECK(audit.max_bytes == 0, "max_bytes");
    CHECK(audit.flush_interval_ms == 200, "flush_interval_ms %llu", (unsigned long long)audit.flush_interval_ms);
    CHECK(audit.queue_capacity == 65536, "queue_capacity %llu", (unsigned long long)audit.queue_capacity);
    CHECK(audit.overflow == PORTCULLIS_OVERFLOW_BLOCK, "overflow %u", audit.overflow);
    CHECK(audit.fsync == 0, "fsync %u", audit.fsync);
    portcullis_audit_options_default(NULL); /* documented as a no-op */

    /* Each bad field: the status, an error naming the field, and no engine. */
    struct {
        uint32_t size, sink, overflow;
        uint8_t fsync;
        uint64_t queue_capacity;
        const char *path;
        portcullis_status status;
        const char *contains;
    } cases[] = {
        {sizeof(portcullis_audit_options) - 8, PORTCULLIS_AUDIT_MEMORY, PORTCULLIS_OVERFLOW_BLOCK, 0, 0, NULL, PORTCULLIS_ERR_OPTIONS_SIZE, "audit.size"},
        {0, PORTCULLIS_AUDIT_MEMORY, PORTCULLIS_OVERFLOW_BLOCK, 0, 0, NULL, PORTCULLIS_ERR_OPTIONS_SIZE, "audit.size"},
        {sizeof(portcullis_audit_options), 3, PORTCULLIS_OVERFLOW_BLOCK, 0, 0, NULL, PORTCULLIS_ERR_INVALID_ARGUMENT, "audit.sink"},
        {sizeof(portcullis_audit_options), PORTCULLIS_AUDIT_MEMORY, 2, 0, 0, NULL, PORTCULLIS_ERR_INVALID_ARGUMENT, "audit.overflow"},
        {sizeof(portcullis_audit_options), PORTCULLIS_AUDIT_MEMORY, PORTCULLIS_OVERFLOW_DROP, 2, 0, NULL, PORTCULLIS_ERR_INVALID_ARGUMENT, "audit.fsync"},
        {sizeof(portcullis_audit_options), PORTCULLIS_AUDIT_MEMORY, PORTCULLIS_OVERFLOW_BLOCK, 0, UINT64_MAX, NULL, PORTCULLIS_ERR_INVALID_ARGUMENT,
         "audit.queue_capacity"},
        {sizeof(portcullis_audit_options), PORTCULLIS_AUDIT_FILE, PORTCULLIS_OVERFLOW_BLOCK, 0, 0, NULL, PORTCULLIS_ERR_INVALID_ARGUMENT, "audit.path"},
        {sizeof(portcullis_audit_options), PORTCULLIS_AUDIT_FILE, PORTCULLIS_OVERFLOW_BLOCK, 0, 0, "", PORTCULLIS_ERR_INVALID_ARGUMENT, "audit.path"},
        {sizeof(portcullis_audit_options), PORTCULLIS_AUDIT_FILE, PORTCULLIS_OVERFLOW_BLOCK, 0, 0, "/tmp/\xff\xfe.log", PORTCULLIS_ERR_INVALID_UTF8,
         "audit.path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        portcullis_audit_options_default(&audit);
        audit.size = cases[i].size;
        audit.sink = cases[i].sink;
        audit.overflow = cases[i].overflow;
        audit.fsync = cases[i].fsync;
        audit.queue_capacity = cases[i].queue_capacity;
        audit.path = cases[i].path;
        portcullis_engine *engine = SENTINEL;
        portcullis_error *err = NULL;
        portcullis_status status = portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, &err);
        CHECK(status == cases[i].status, "audit case %zu: %s, expected %s", i, portcullis_status_name(status),
              portcullis_status_name(cases[i].status));
        CHECK(engine == NULL, "audit case %zu: out_engine is NULL after a failure", i);
        CHECK(portcullis_error_status(err) == cases[i].status, "audit case %zu: error status", i);
        CHECK_STR(portcullis_error_path(err), "");
        CHECK(strstr(portcullis_error_message(err), cases[i].contains) != NULL, "audit case %zu: message \"%s\"", i,
              portcullis_error_message(err));
        portcullis_error_free(err);
    }

    /* A larger size (a newer header with appended fields) is accepted. */
    struct {
        portcullis_audit_options v1;
        uint64_t appended_field;
    } newer;
    portcullis_audit_options_default(&newer.v1);
    newer.v1.size = sizeof newer;
    newer.v1.sink = PORTCULLIS_AUDIT_MEMORY;
    newer.appended_field = 42;
    portcullis_engine *engine = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY_V2), NULL, &newer.v1, &engine, NULL), PORTCULLIS_OK);
    portcullis_engine_free(engine);

    /* PORTCULLIS_AUDIT_NONE: an engine without a trail; draining gives nothing, flushing is a no-op. */
    portcullis_audit_options_default(&audit);
    engine = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, NULL), PORTCULLIS_OK);
    portcullis_decision d;
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK(d.effect == PORTCULLIS_EFFECT_ALLOW, "an engine without a trail decides as usual");
    portcullis_buffer *lines = NULL;
    size_t count = 99;
    CHECK_STATUS(portcullis_engine_drain_audit(engine, 10, &lines, &count), PORTCULLIS_OK);
    CHECK(lines != NULL && portcullis_buffer_len(lines) == 0 && count == 0, "no records without a trail: %zu", count);
    portcullis_buffer_free(lines);
    CHECK_STATUS(portcullis_engine_flush_audit(engine, NULL), PORTCULLIS_OK);
    portcullis_audit_stats stats = {7, 7};
    CHECK_STATUS(portcullis_engine_audit_stats(engine, &stats), PORTCULLIS_OK);
    CHECK(stats.recorded == 0 && stats.dropped == 0, "no counts without a trail");
    portcullis_engine_free(engine);
}

static void test_audit_misuse(void) {
    portcullis_audit_options audit;
    portcullis_audit_options_default(&audit);
    audit.sink = PORTCULLIS_AUDIT_MEMORY;

    /* NULL for each required pointer of portcullis_engine_new_audited: nothing written. */
    portcullis_engine *engine = SENTINEL;
    portcullis_error *err = SENTINEL;
    CHECK_STATUS(portcullis_engine_new_audited(NULL, 0, NULL, &audit, &engine, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, NULL, &engine, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, NULL, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(engine == SENTINEL && err == SENTINEL, "nothing written");

    /* Bad engine options are still reported with an audit trail. */
    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.size = 8;
    err = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), &options, &audit, &engine, &err), PORTCULLIS_ERR_OPTIONS_SIZE);
    CHECK(engine == NULL && strstr(portcullis_error_message(err), "options.size") != NULL, "message: %s",
          portcullis_error_message(err));
    portcullis_error_free(err);

    /* A bad policy is PORTCULLIS_ERR_POLICY with its path, as without a trail. */
    err = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES("{\"portcullis\": 1, \"name\": \"p\", \"audit\": {\"include\": []}}"),
                                       NULL, &audit, &engine, &err),
                 PORTCULLIS_ERR_POLICY);
    CHECK(engine == NULL, "out_engine is NULL");
    CHECK_STR(portcullis_error_path(err), "audit");
    portcullis_error_free(err);

    engine = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, NULL), PORTCULLIS_OK);

    /* drain, flush and stats with NULL pointers: nothing written. */
    portcullis_buffer *lines = SENTINEL;
    size_t count = 77;
    CHECK_STATUS(portcullis_engine_drain_audit(NULL, 10, &lines, &count), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_drain_audit(engine, 10, NULL, &count), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_drain_audit(engine, 10, &lines, NULL), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(lines == SENTINEL && count == 77, "nothing written");
    err = SENTINEL;
    CHECK_STATUS(portcullis_engine_flush_audit(NULL, &err), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(err == SENTINEL, "nothing written");
    portcullis_audit_stats stats = {7, 7};
    CHECK_STATUS(portcullis_engine_audit_stats(NULL, &stats), PORTCULLIS_ERR_NULL_POINTER);
    CHECK(stats.recorded == 7 && stats.dropped == 7, "nothing written");
    CHECK_STATUS(portcullis_engine_audit_stats(engine, NULL), PORTCULLIS_ERR_NULL_POINTER);

    /* max_records 0 is an invalid argument, and takes nothing. */
    portcullis_decision d;
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_drain_audit(engine, 0, &lines, &count), PORTCULLIS_ERR_INVALID_ARGUMENT);
    CHECK(lines == NULL && count == 0, "out_lines NULL and out_count 0 after a failure");
    CHECK_STATUS(portcullis_engine_drain_audit(engine, 10, &lines, &count), PORTCULLIS_OK);
    CHECK(count == 1 && portcullis_buffer_len(lines) > 0 && portcullis_buffer_data(lines)[portcullis_buffer_len(lines) - 1] == '\n',
          "the record is still there: %zu", count);
    portcullis_buffer_free(lines);

    /* A memory trail has nothing to flush; success clears out_error. */
    err = SENTINEL;
    CHECK_STATUS(portcullis_engine_flush_audit(engine, &err), PORTCULLIS_OK);
    CHECK(err == NULL, "out_error is NULL after success");
    portcullis_engine_free(engine);
}

static void test_audit_file_errors(void) {
    char dir[] = "/tmp/portcullis-misuse-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    portcullis_audit_options audit;
    portcullis_audit_options_default(&audit);
    audit.sink = PORTCULLIS_AUDIT_FILE;
    audit.path = path;

    /* A directory that does not exist. */
    snprintf(path, sizeof path, "%s/missing/audit.log", dir);
    portcullis_engine *engine = SENTINEL;
    portcullis_error *err = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, &err), PORTCULLIS_ERR_AUDIT);
    CHECK(engine == NULL, "out_engine is NULL after a failure");
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_AUDIT, "error status");
    CHECK_STR(portcullis_error_path(err), "");
    CHECK(strstr(portcullis_error_message(err), path) != NULL, "message names the file: %s", portcullis_error_message(err));
    portcullis_error_free(err);
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, NULL), PORTCULLIS_ERR_AUDIT);

    /* A directory where the file should be. */
    snprintf(path, sizeof path, "%s", dir);
    err = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, &err), PORTCULLIS_ERR_AUDIT);
    CHECK(portcullis_error_status(err) == PORTCULLIS_ERR_AUDIT, "error status");
    portcullis_error_free(err);

    /* A file whose last line is not a record of a trail is not appended to. */
    snprintf(path, sizeof path, "%s/foreign.log", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "create %s", path);
    if (f != NULL) {
        fputs("not a record\n", f);
        fclose(f);
    }
    err = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, &err), PORTCULLIS_ERR_AUDIT);
    CHECK(strstr(portcullis_error_message(err), "foreign.log") != NULL, "message: %s", portcullis_error_message(err));
    portcullis_error_free(err);
    unlink(path);

    /* A bad policy never creates the trail file. */
    snprintf(path, sizeof path, "%s/audit.log", dir);
    err = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES("{\"portcullis\": 2}"), NULL, &audit, &engine, &err), PORTCULLIS_ERR_POLICY);
    portcullis_error_free(err);
    struct stat st;
    CHECK(stat(path, &st) != 0, "no trail file after a bad policy");

    /* The path is only read during the call: the caller's buffer may change afterwards. */
    engine = NULL;
    CHECK_STATUS(portcullis_engine_new_audited(BYTES(POLICY), NULL, &audit, &engine, NULL), PORTCULLIS_OK);
    memset(path, 'x', 16);
    portcullis_decision d;
    CHECK_STATUS(portcullis_engine_evaluate(engine, BYTES(READ), &d), PORTCULLIS_OK);
    CHECK_STATUS(portcullis_engine_flush_audit(engine, NULL), PORTCULLIS_OK);
    portcullis_engine_free(engine);
    snprintf(path, sizeof path, "%s/audit.log", dir);
    CHECK(stat(path, &st) == 0 && st.st_size > 0, "the trail was written where the path pointed at creation");
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_audit_options();
    test_audit_misuse();
    test_audit_file_errors();
    return check_summary();
}
