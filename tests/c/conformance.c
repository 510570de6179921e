/*
 * The C conformance runner: replays every case of the conformance corpus through the C ABI.
 *
 * Usage: conformance [DIR]. Cases come from $PORTCULLIS_CONFORMANCE_DIR when it is set,
 * otherwise from DIR (default tests/conformance); every *.json file below it, recursively,
 * holds one case or an array of cases. Prints one line per failing case (file, case, step
 * index, what differed) and ends with "N passed, M failed". Exits 1 when a case failed or
 * none ran.
 *
 * An `eval` step sends the compact JSON text of its action, an `eval_raw` step its string
 * unchanged; both go through portcullis_engine_evaluate_json, so each action is evaluated exactly
 * once (rate limits and approval uses are consumed once). What is sent (actions, policies,
 * raw strings) is taken from the case file's own text (json_text.h), so numbers keep their
 * spelling and strings may hold U+0000. Expected decision values are compared with the
 * decision on the texts too (json_text_equal: keys with U+0000, numbers as doubles, any
 * depth); cJSON reads the case structure. A file cJSON cannot parse (a lone surrogate escape,
 * say) fails as a whole.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "portcullis.h"
#include "json_text.h"
#include "rfc3339.h"

/* 2026-01-01T00:00:00Z, the clock of a case that names none. */
#define DEFAULT_CLOCK_MS INT64_C(1767225600000)

/* ---- small utilities ---------------------------------------------------------------- */

typedef struct {
    char **items;
    size_t len, cap;
} path_list;

static void path_list_push(path_list *list, char *path) {
    if (list->len == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 64;
        list->items = realloc(list->items, list->cap * sizeof *list->items);
        if (list->items == NULL) {
            perror("realloc");
            exit(2);
        }
    }
    list->items[list->len++] = path;
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_json_suffix(const char *name) {
    size_t len = strlen(name);
    return len >= 5 && strcmp(name + len - 5, ".json") == 0;
}

/* Adds every *.json file below `dir` to `out`; 0 when the directory cannot be read. */
static int collect_cases(const char *dir, path_list *out) {
    DIR *handle = opendir(dir);
    if (handle == NULL) {
        fprintf(stderr, "conformance: cannot open %s: %s\n", dir, strerror(errno));
        return 0;
    }
    int ok = 1;
    struct dirent *entry;
    while ((entry = readdir(handle)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
            continue;
        }
        size_t size = strlen(dir) + strlen(entry->d_name) + 2;
        char *path = malloc(size);
        if (path == NULL) {
            perror("malloc");
            exit(2);
        }
        snprintf(path, size, "%s/%s", dir, entry->d_name);
        struct stat info;
        if (stat(path, &info) != 0) {
            fprintf(stderr, "conformance: cannot stat %s: %s\n", path, strerror(errno));
            ok = 0;
            free(path);
        } else if (S_ISDIR(info.st_mode)) {
            ok &= collect_cases(path, out);
            free(path);
        } else if (S_ISREG(info.st_mode) && has_json_suffix(entry->d_name)) {
            path_list_push(out, path);
        } else {
            free(path);
        }
    }
    closedir(handle);
    return ok;
}

/* Reads a whole file; NULL (with errno set) on failure. The caller frees the result. */
static char *read_file(const char *path, size_t *out_len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    size_t len = 0, cap = 4096;
    char *data = malloc(cap);
    while (data != NULL) {
        len += fread(data + len, 1, cap - len, file);
        if (len < cap) {
            break;
        }
        cap *= 2;
        char *bigger = realloc(data, cap);
        if (bigger == NULL) {
            free(data);
        }
        data = bigger;
    }
    int failed = ferror(file);
    fclose(file);
    if (failed) {
        free(data);
        errno = EIO;
        return NULL;
    }
    *out_len = len;
    return data;
}

/* ---- failures --------------------------------------------------------------------------- */

/* What went wrong in a case: the step index (-1 for the case itself) and a description. */
typedef struct {
    int step;
    char what[2048];
} failure;

static int fail(failure *f, int step, const char *format, ...) {
    va_list args;
    va_start(args, format);
    f->step = step;
    vsnprintf(f->what, sizeof f->what, format, args);
    va_end(args);
    return 0;
}

/* Compact JSON of a value for messages; the caller frees it. */
static char *show(const cJSON *value) {
    if (value == NULL) {
        char *absent = malloc(sizeof "(absent)");
        if (absent != NULL) {
            memcpy(absent, "(absent)", sizeof "(absent)");
        }
        return absent;
    }
    return cJSON_PrintUnformatted(value);
}

/* ---- JSON comparison ------------------------------------------------------------------ */

/* Structural equality: numbers as doubles, objects by key set, arrays in order. */
static int json_equal(const cJSON *a, const cJSON *b) {
    if (a == NULL || b == NULL) {
        return a == b;
    }
    if (cJSON_IsNull(a) || cJSON_IsNull(b)) {
        return cJSON_IsNull(a) && cJSON_IsNull(b);
    }
    if (cJSON_IsBool(a) || cJSON_IsBool(b)) {
        return cJSON_IsBool(a) && cJSON_IsBool(b) && cJSON_IsTrue(a) == cJSON_IsTrue(b);
    }
    if (cJSON_IsNumber(a) || cJSON_IsNumber(b)) {
        return cJSON_IsNumber(a) && cJSON_IsNumber(b) && a->valuedouble == b->valuedouble;
    }
    if (cJSON_IsString(a) || cJSON_IsString(b)) {
        return cJSON_IsString(a) && cJSON_IsString(b) &&
               strcmp(a->valuestring, b->valuestring) == 0;
    }
    if (cJSON_IsArray(a) || cJSON_IsArray(b)) {
        if (!cJSON_IsArray(a) || !cJSON_IsArray(b) ||
            cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            return 0;
        }
        for (const cJSON *x = a->child, *y = b->child; x != NULL; x = x->next, y = y->next) {
            if (!json_equal(x, y)) {
                return 0;
            }
        }
        return 1;
    }
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) {
            return 0;
        }
        for (const cJSON *x = a->child; x != NULL; x = x->next) {
            if (!json_equal(x, cJSON_GetObjectItemCaseSensitive(b, x->string))) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* Checks one expected key against the decision; 0 with `f` filled when it differs. */
static int check_key(const char *key, const cJSON *expected, const cJSON *actual, int step,
                     failure *f) {
    if (json_equal(expected, actual)) {
        return 1;
    }
    char *want = show(expected), *got = show(actual);
    fail(f, step, "%s: expected %s, got %s", key, want ? want : "?", got ? got : "?");
    cJSON_free(want);
    cJSON_free(got);
    return 0;
}

/* Compares a decision with a partial `expect` object (CONFORMANCE.md). */
static int check_decision(const cJSON *expect, const cJSON *decision, json_span expect_span,
                          json_span decision_span, int step, failure *f) {
    if (!cJSON_IsObject(expect)) {
        return fail(f, step, "expect is not an object");
    }
    for (const cJSON *want = expect->child; want != NULL; want = want->next) {
        const char *key = want->string;
        if (strcmp(key, "reason_contains") == 0) {
            const cJSON *reason = cJSON_GetObjectItemCaseSensitive(decision, "reason");
            if (!cJSON_IsString(want)) {
                return fail(f, step, "reason_contains is not a string");
            }
            if (!cJSON_IsString(reason) || strstr(reason->valuestring, want->valuestring) == NULL) {
                char *got = show(reason);
                fail(f, step, "reason: expected to contain \"%s\", got %s", want->valuestring,
                     got ? got : "?");
                cJSON_free(got);
                return 0;
            }
        } else if (strcmp(key, "policy") == 0 && cJSON_IsObject(want)) {
            const cJSON *policy = cJSON_GetObjectItemCaseSensitive(decision, "policy");
            for (const cJSON *part = want->child; part != NULL; part = part->next) {
                char label[300];
                snprintf(label, sizeof label, "policy.%s", part->string);
                if (!check_key(label, part,
                               cJSON_GetObjectItemCaseSensitive(policy, part->string), step, f)) {
                    return 0;
                }
            }
        } else if (expect_span.start != NULL && decision_span.start != NULL) {
            /* Compared on the texts: keys may hold U+0000 and values may nest deeply. */
            json_span w = json_text_member(expect_span, key), g = json_text_member(decision_span, key);
            if (!json_text_equal(w, g)) {
                int wl = w.start ? (int)(w.end - w.start) : 4, gl = g.start ? (int)(g.end - g.start) : 4;
                return fail(f, step, "%s: expected %.*s, got %.*s", key, wl, w.start ? w.start : "null",
                            gl, g.start ? g.start : "null");
            }
        } else if (!check_key(key, want, cJSON_GetObjectItemCaseSensitive(decision, key), step,
                              f)) {
            return 0;
        }
    }
    return 1;
}

/* Checks an error against `expect_error` ({path, contains}, both optional). */
static int check_error(const cJSON *expect_error, portcullis_status status, const portcullis_error *err,
                       portcullis_status expected_status, int step, failure *f) {
    if (status == PORTCULLIS_OK) {
        return fail(f, step, "expected an error, the call succeeded");
    }
    if (expected_status != PORTCULLIS_OK && status != expected_status) {
        return fail(f, step, "expected %s, got %s (%s: %s)", portcullis_status_name(expected_status),
                    portcullis_status_name(status), portcullis_error_path(err), portcullis_error_message(err));
    }
    if (!cJSON_IsObject(expect_error)) {
        return fail(f, step, "expect_error is not an object");
    }
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(expect_error, "path");
    const cJSON *contains = cJSON_GetObjectItemCaseSensitive(expect_error, "contains");
    if (path != NULL && (!cJSON_IsString(path) || strcmp(path->valuestring, portcullis_error_path(err)) != 0)) {
        return fail(f, step, "error path: expected \"%s\", got \"%s\" (message: %s)",
                    cJSON_IsString(path) ? path->valuestring : "?", portcullis_error_path(err),
                    portcullis_error_message(err));
    }
    if (contains != NULL && (!cJSON_IsString(contains) ||
                             strstr(portcullis_error_message(err), contains->valuestring) == NULL)) {
        return fail(f, step, "error message: expected to contain \"%s\", got \"%s\" (path \"%s\")",
                    cJSON_IsString(contains) ? contains->valuestring : "?", portcullis_error_message(err),
                    portcullis_error_path(err));
    }
    return 1;
}

/* ---- steps ------------------------------------------------------------------------------ */

/* The bytes a step sends: a string's decoded bytes (`raw`) or a value's compact JSON, taken
 * from the case file's text when its span is known, else from the cJSON tree. NULL when a
 * raw value is not a string. The caller frees the result. */
static char *payload(const cJSON *value, json_span span, int raw, size_t *out_len) {
    char *out = raw ? json_text_string(span, out_len) : json_text_compact(span, out_len);
    if (out != NULL) {
        return out;
    }
    if (raw && !cJSON_IsString(value)) {
        return NULL;
    }
    char *printed = raw ? NULL : cJSON_PrintUnformatted(value);
    const char *text = raw ? value->valuestring : printed;
    size_t len = text != NULL ? strlen(text) : 0;
    out = text != NULL ? malloc(len + 1) : NULL;
    if (out != NULL) {
        memcpy(out, text, len + 1);
        *out_len = len;
    }
    cJSON_free(printed);
    return out;
}

/* Reads a whole number in [min, max] from a JSON number. */
static int whole_number(const cJSON *value, double min, double max, double *out) {
    if (!cJSON_IsNumber(value)) {
        return 0;
    }
    double d = value->valuedouble;
    if (!(d >= min && d <= max) || floor(d) != d) {
        return 0;
    }
    *out = d;
    return 1;
}

static int step_eval(portcullis_engine *engine, const cJSON *step, json_span step_span, const cJSON *action,
                     json_span span, int raw, int index, failure *f) {
    size_t len = 0;
    char *text = payload(action, span, raw, &len);
    if (text == NULL) {
        return fail(f, index, raw ? "eval_raw is not a string" : "cannot print the action");
    }
    portcullis_buffer *json = NULL;
    portcullis_status status = portcullis_engine_evaluate_json(engine, (const uint8_t *)text, len, &json);
    free(text);
    if (status != PORTCULLIS_OK) {
        return fail(f, index, "portcullis_engine_evaluate_json returned %s", portcullis_status_name(status));
    }
    const char *decision_text = (const char *)portcullis_buffer_data(json);
    size_t decision_len = portcullis_buffer_len(json);
    cJSON *decision = cJSON_ParseWithLength(decision_text, decision_len);
    if (!cJSON_IsObject(decision)) {
        cJSON_Delete(decision);
        portcullis_buffer_free(json);
        return fail(f, index, "the decision is not a JSON object");
    }
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    int ok = expect == NULL || check_decision(expect, decision, json_text_member(step_span, "expect"),
                                              json_text_root(decision_text, decision_len), index, f);
    cJSON_Delete(decision);
    portcullis_buffer_free(json);
    return ok;
}

static int step_update(portcullis_engine *engine, const cJSON *step, const cJSON *policy, json_span span,
                       int raw, int index, failure *f) {
    size_t len = 0;
    char *text = payload(policy, span, raw, &len);
    if (text == NULL) {
        return fail(f, index, raw ? "update_policy_raw is not a string" : "cannot print the policy");
    }
    portcullis_error *err = NULL;
    portcullis_status status = portcullis_engine_update_policy(engine, (const uint8_t *)text, len, &err);
    free(text);
    const cJSON *expect_error = cJSON_GetObjectItemCaseSensitive(step, "expect_error");
    int ok;
    if (expect_error != NULL) {
        ok = check_error(expect_error, status, err, PORTCULLIS_ERR_POLICY, index, f);
    } else if (status != PORTCULLIS_OK) {
        ok = fail(f, index, "update_policy failed: %s at \"%s\": %s", portcullis_status_name(status),
                  portcullis_error_path(err), portcullis_error_message(err));
    } else {
        ok = 1;
    }
    portcullis_error_free(err);
    return ok;
}

static int step_approve(portcullis_engine *engine, const cJSON *step, const cJSON *action, json_span span,
                        int index, failure *f) {
    double ttl_ms, uses = 1;
    if (!whole_number(cJSON_GetObjectItemCaseSensitive(step, "ttl_ms"), 0, 18446744073709549568.0,
                      &ttl_ms)) {
        return fail(f, index, "approve needs ttl_ms, a whole number >= 0");
    }
    const cJSON *uses_value = cJSON_GetObjectItemCaseSensitive(step, "uses");
    if (uses_value != NULL && !whole_number(uses_value, 0, 4294967295.0, &uses)) {
        return fail(f, index, "uses must be a whole number in [0, 2^32)");
    }
    if (!cJSON_IsObject(action)) {
        return fail(f, index, "approve is not an action object");
    }
    size_t len = 0;
    char *text = payload(action, span, 0, &len);
    if (text == NULL) {
        return fail(f, index, "cannot print the action");
    }
    portcullis_buffer *hash = NULL;
    portcullis_error *err = NULL;
    portcullis_status status = portcullis_engine_approve_action(engine, (const uint8_t *)text, len, (uint64_t)ttl_ms,
                                                (uint32_t)uses, &hash, &err);
    free(text);
    const cJSON *expect_error = cJSON_GetObjectItemCaseSensitive(step, "expect_error");
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    int ok = 1;
    if (expect_error != NULL) {
        ok = check_error(expect_error, status, err, PORTCULLIS_OK, index, f);
    } else if (status != PORTCULLIS_OK) {
        ok = fail(f, index, "approve failed: %s: %s", portcullis_status_name(status), portcullis_error_message(err));
    } else if (expect != NULL) {
        /* The buffer is not NUL-terminated: copy it before making a JSON string of it. */
        size_t len = portcullis_buffer_len(hash);
        char *copy = malloc(len + 1);
        cJSON *result = cJSON_CreateObject();
        if (copy == NULL || result == NULL) {
            ok = fail(f, index, "out of memory");
        } else {
            memcpy(copy, portcullis_buffer_data(hash), len);
            copy[len] = '\0';
            cJSON_AddStringToObject(result, "action_hash", copy);
            ok = check_decision(expect, result, (json_span){NULL, NULL}, (json_span){NULL, NULL}, index, f);
        }
        cJSON_Delete(result);
        free(copy);
    }
    portcullis_buffer_free(hash);
    portcullis_error_free(err);
    return ok;
}

static int step_clock(portcullis_engine *engine, const cJSON *step, int index, failure *f) {
    const cJSON *advance = cJSON_GetObjectItemCaseSensitive(step, "advance_ms");
    int64_t target;
    if (advance != NULL) {
        double ms;
        if (!whole_number(advance, -9007199254740992.0, 9007199254740992.0, &ms)) {
            return fail(f, index, "advance_ms must be a whole number");
        }
        int64_t now;
        portcullis_status status = portcullis_engine_now(engine, &now);
        if (status != PORTCULLIS_OK) {
            return fail(f, index, "portcullis_engine_now returned %s", portcullis_status_name(status));
        }
        target = now + (int64_t)ms;
    } else {
        const cJSON *clock = cJSON_GetObjectItemCaseSensitive(step, "set_clock");
        if (!cJSON_IsString(clock) || !rfc3339_to_unix_ms(clock->valuestring, &target)) {
            return fail(f, index, "set_clock is not an RFC 3339 date-time");
        }
    }
    portcullis_status status = portcullis_engine_set_time(engine, target);
    if (status != PORTCULLIS_OK) {
        return fail(f, index, "portcullis_engine_set_time returned %s", portcullis_status_name(status));
    }
    return 1;
}

static const char *const STEP_KINDS[] = {"eval",   "eval_raw",      "update_policy",
                                         "update_policy_raw", "approve", "advance_ms",
                                         "set_clock"};
static const char *const STEP_EXTRAS[] = {"expect", "expect_error", "ttl_ms", "uses",
                                          "description"};

static int is_one_of(const char *key, const char *const *names, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (strcmp(key, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int run_step(portcullis_engine *engine, const cJSON *step, json_span step_span, int index,
                    failure *f) {
    if (!cJSON_IsObject(step)) {
        return fail(f, index, "step is not an object");
    }
    const cJSON *kind = NULL;
    for (const cJSON *item = step->child; item != NULL; item = item->next) {
        if (is_one_of(item->string, STEP_KINDS, sizeof STEP_KINDS / sizeof *STEP_KINDS)) {
            if (kind != NULL) {
                return fail(f, index, "step has both \"%s\" and \"%s\"", kind->string, item->string);
            }
            kind = item;
        } else if (!is_one_of(item->string, STEP_EXTRAS, sizeof STEP_EXTRAS / sizeof *STEP_EXTRAS)) {
            return fail(f, index, "unknown step key \"%s\"", item->string);
        }
    }
    if (kind == NULL) {
        return fail(f, index, "step has none of eval, eval_raw, update_policy, update_policy_raw, "
                              "approve, advance_ms, set_clock");
    }
    const char *name = kind->string;
    json_span span = json_text_member(step_span, name);
    if (cJSON_GetObjectItemCaseSensitive(step, "expect_error") != NULL &&
        (strcmp(name, "eval") == 0 || strcmp(name, "eval_raw") == 0)) {
        return fail(f, index, "expect_error on an %s step (evaluation never fails)", name);
    }
    if (strcmp(name, "eval") == 0 || strcmp(name, "eval_raw") == 0) {
        return step_eval(engine, step, step_span, kind, span, strcmp(name, "eval_raw") == 0, index, f);
    }
    if (strcmp(name, "update_policy") == 0 || strcmp(name, "update_policy_raw") == 0) {
        return step_update(engine, step, kind, span, strcmp(name, "update_policy_raw") == 0, index, f);
    }
    if (strcmp(name, "approve") == 0) {
        return step_approve(engine, step, kind, span, index, f);
    }
    return step_clock(engine, step, index, f);
}

/* ---- cases ------------------------------------------------------------------------------ */

static int run_case(const cJSON *c, json_span case_span, failure *f) {
    if (!cJSON_IsObject(c)) {
        return fail(f, -1, "case is not an object");
    }
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(c, "policy");
    const cJSON *policy_raw = cJSON_GetObjectItemCaseSensitive(c, "policy_raw");
    const cJSON *clock = cJSON_GetObjectItemCaseSensitive(c, "clock");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(c, "steps");
    const cJSON *expect_error = cJSON_GetObjectItemCaseSensitive(c, "expect_error");

    if ((policy == NULL) == (policy_raw == NULL)) {
        return fail(f, -1, "case needs exactly one of policy and policy_raw");
    }
    if (expect_error != NULL && cJSON_GetArraySize(steps) > 0) {
        return fail(f, -1, "a case with expect_error has no steps");
    }
    if (steps != NULL && !cJSON_IsArray(steps)) {
        return fail(f, -1, "steps is not an array");
    }
    int64_t start = DEFAULT_CLOCK_MS;
    if (clock != NULL && (!cJSON_IsString(clock) || !rfc3339_to_unix_ms(clock->valuestring, &start))) {
        return fail(f, -1, "clock is not an RFC 3339 date-time");
    }
    int raw = policy_raw != NULL;
    size_t len = 0;
    char *text = payload(raw ? policy_raw : policy,
                         json_text_member(case_span, raw ? "policy_raw" : "policy"), raw, &len);
    if (text == NULL) {
        return fail(f, -1, policy_raw != NULL ? "policy_raw is not a string" : "cannot print the policy");
    }

    portcullis_engine_options options;
    portcullis_engine_options_default(&options);
    options.clock = PORTCULLIS_CLOCK_MANUAL;
    options.manual_start_ms = start;
    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    portcullis_status status = portcullis_engine_new((const uint8_t *)text, len, &options, &engine, &err);
    free(text);

    int ok = 1;
    if (expect_error != NULL) {
        ok = check_error(expect_error, status, err, PORTCULLIS_ERR_POLICY, -1, f);
    } else if (status != PORTCULLIS_OK) {
        ok = fail(f, -1, "the policy did not load: %s at \"%s\": %s", portcullis_status_name(status),
                  portcullis_error_path(err), portcullis_error_message(err));
    } else {
        json_span steps_span = json_text_member(case_span, "steps");
        int index = 0;
        for (const cJSON *step = steps ? steps->child : NULL; ok && step != NULL;
             step = step->next, index++) {
            ok = run_step(engine, step, json_text_element(steps_span, (size_t)index), index, f);
        }
    }
    portcullis_error_free(err);
    portcullis_engine_free(engine);
    return ok;
}

static void report(const char *file, const char *name, int array_index, const failure *f) {
    char where[64] = "";
    if (array_index >= 0) {
        snprintf(where, sizeof where, "[%d]", array_index);
    }
    char step[32] = "case";
    if (f->step >= 0) {
        snprintf(step, sizeof step, "step %d", f->step);
    }
    printf("FAIL %s%s \"%s\" %s: %s\n", file, where, name ? name : "(unnamed)", step, f->what);
}

int main(int argc, char **argv) {
    const char *dir = getenv("PORTCULLIS_CONFORMANCE_DIR");
    if (dir == NULL || *dir == '\0') {
        dir = argc > 1 ? argv[1] : "tests/conformance";
    }
    path_list files = {0};
    int walked = collect_cases(dir, &files);
    qsort(files.items, files.len, sizeof *files.items, compare_paths);

    int passed = 0, failed = walked ? 0 : 1;
    for (size_t i = 0; i < files.len; i++) {
        const char *path = files.items[i];
        size_t len = 0;
        char *data = read_file(path, &len);
        cJSON *doc = data ? cJSON_ParseWithLength(data, len) : NULL;
        if (doc == NULL) {
            printf("FAIL %s: %s\n", path, data ? "not valid JSON" : strerror(errno));
            failed++;
        } else {
            int is_array = cJSON_IsArray(doc);
            json_span root = json_text_root(data, len);
            int index = 0;
            for (const cJSON *c = is_array ? doc->child : doc; c != NULL;
                 c = is_array ? c->next : NULL, index++) {
                failure f = {-1, ""};
                json_span case_span = is_array ? json_text_element(root, (size_t)index) : root;
                if (run_case(c, case_span, &f)) {
                    passed++;
                } else {
                    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
                    report(path, cJSON_IsString(name) ? name->valuestring : NULL,
                           is_array ? index : -1, &f);
                    failed++;
                }
            }
        }
        cJSON_Delete(doc);
        free(data);
        free(files.items[i]);
    }
    free(files.items);
    printf("%d passed, %d failed\n", passed, failed);
    return failed > 0 || passed == 0 ? 1 : 0;
}
