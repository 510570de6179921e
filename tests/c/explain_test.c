/*
 * portcullis_engine_explain: returns the explanation as JSON, is a dry run (a rate limit of
 * one is still available after explaining twice), and reports NULL pointers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "check.h"

#define BYTES(literal) (const uint8_t *)(literal), (sizeof(literal) - 1)

static const char POLICY[] =
    "{\"portcullis\": 1, \"name\": \"explain\", \"rules\": ["
    "{\"id\": \"reads\", \"effect\": \"allow\", \"match\": {\"tool\": [\"fs.read\"]}},"
    "{\"id\": \"once\", \"effect\": \"rate_limit\", \"match\": {\"tool\": [\"fs.read\"]},"
    " \"limit\": {\"max\": 1, \"window\": \"1m\"}}]}";
static const char READ[] = "{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}}";

static char *take_text(portcullis_buffer *buf) {
    if (buf == NULL) {
        return NULL;
    }
    size_t n = portcullis_buffer_len(buf);
    char *text = malloc(n + 1);
    if (text != NULL) {
        memcpy(text, portcullis_buffer_data(buf), n);
        text[n] = '\0';
    }
    portcullis_buffer_free(buf);
    return text;
}

int main(void) {
    portcullis_engine *engine = NULL;
    CHECK_STATUS(portcullis_engine_new(BYTES(POLICY), NULL, &engine, NULL), PORTCULLIS_OK);
    for (int i = 0; i < 2; i++) {
        portcullis_buffer *json = NULL;
        CHECK_STATUS(portcullis_engine_explain(engine, BYTES(READ), &json), PORTCULLIS_OK);
        char *text = take_text(json);
        CHECK(text != NULL && strstr(text, "\"dry_run\":true") != NULL, "%s", text ? text : "(null)");
        CHECK(text != NULL && strstr(text, "\"effect\":\"allow\"") != NULL, "%s", text ? text : "(null)");
        free(text);
    }
    portcullis_buffer *json = NULL;
    CHECK_STATUS(portcullis_engine_evaluate_json(engine, BYTES(READ), &json), PORTCULLIS_OK);
    char *text = take_text(json);
    CHECK(text != NULL && strstr(text, "\"effect\":\"allow\"") != NULL, "explain used the limit: %s",
          text ? text : "(null)");
    free(text);
    json = NULL;
    CHECK_STATUS(portcullis_engine_explain(engine, BYTES("{not json"), &json), PORTCULLIS_OK);
    text = take_text(json);
    CHECK(text != NULL && strstr(text, "invalid_action") != NULL, "%s", text ? text : "(null)");
    free(text);
    CHECK_STATUS(portcullis_engine_explain(engine, BYTES(READ), NULL), PORTCULLIS_ERR_NULL_POINTER);
    CHECK_STATUS(portcullis_engine_explain(NULL, BYTES(READ), &json), PORTCULLIS_ERR_NULL_POINTER);
    portcullis_engine_free(engine);
    return check_summary();
}
