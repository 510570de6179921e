/*
 * A policy nested 512 levels deep (the limit) loads and evaluates through the C ABI on a
 * thread with a 256 KiB stack; 513 levels is PORTCULLIS_ERR_POLICY at path "" naming 512.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "check.h"

#define SMALL_STACK (256 * 1024)

/* A deny rule whose `ne` operand is a nested list, `depth` levels in all (document 1,
 * rules 2, rule 3, when 4, the operand from 5). The caller frees the text. */
static char *deep_policy(int depth) {
    static const char head[] = "{\"portcullis\": 1, \"name\": \"deep\", \"default\": \"allow\", \"rules\": "
                               "[{\"id\": \"deep\", \"effect\": \"deny\", \"when\": {\"field\": \"params.x\", \"ne\": ";
    static const char tail[] = "}}]}";
    int n = depth - 4;
    char *text = malloc(sizeof head + sizeof tail + 2 * (size_t)n);
    if (text == NULL) {
        return NULL;
    }
    char *p = text;
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    memset(p, '[', (size_t)n);
    p += n;
    memset(p, ']', (size_t)n);
    p += n;
    memcpy(p, tail, sizeof tail);
    return text;
}

static void *run(void *unused) {
    (void)unused;
    char *ok = deep_policy(512), *too_deep = deep_policy(513);
    CHECK(ok != NULL && too_deep != NULL, "out of memory");
    if (ok == NULL || too_deep == NULL) {
        free(ok);
        free(too_deep);
        return NULL;
    }
    portcullis_engine *engine = NULL;
    portcullis_error *err = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)ok, strlen(ok), NULL, &engine, &err), PORTCULLIS_OK);
    if (engine != NULL) {
        static const char action[] = "{\"tool\": \"t\", \"agent\": {\"id\": \"a\"}, \"params\": {\"x\": [[1]]}}";
        portcullis_decision d;
        CHECK_STATUS(portcullis_engine_evaluate(engine, (const uint8_t *)action, strlen(action), &d), PORTCULLIS_OK);
        CHECK(d.effect == PORTCULLIS_EFFECT_DENY && d.code == PORTCULLIS_CODE_RULE, "the deep rule denies");
        portcullis_engine_free(engine);
    }
    portcullis_error_free(err);
    engine = NULL;
    err = NULL;
    CHECK_STATUS(portcullis_engine_new((const uint8_t *)too_deep, strlen(too_deep), NULL, &engine, &err),
                 PORTCULLIS_ERR_POLICY);
    CHECK(engine == NULL, "no engine for a policy 513 levels deep");
    if (err != NULL) {
        CHECK_STR(portcullis_error_path(err), "");
        CHECK(strstr(portcullis_error_message(err), "512") != NULL, "message names the limit: %s",
              portcullis_error_message(err));
    }
    portcullis_error_free(err);
    free(ok);
    free(too_deep);
    return NULL;
}

int main(void) {
    pthread_attr_t attr;
    pthread_t thread;
    CHECK(pthread_attr_init(&attr) == 0, "pthread_attr_init");
    CHECK(pthread_attr_setstacksize(&attr, SMALL_STACK) == 0, "a 256 KiB stack");
    CHECK(pthread_create(&thread, &attr, run, NULL) == 0, "pthread_create");
    CHECK(pthread_join(thread, NULL) == 0, "pthread_join");
    pthread_attr_destroy(&attr);
    return check_summary();
}
