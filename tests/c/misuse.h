/* What the two ABI misuse tests (misuse_test.c, audit_misuse_test.c) share: a literal's
 * bytes, the out-parameter sentinel, and the policies and action they load and decide. */
#ifndef PORTCULLIS_TESTS_MISUSE_H
#define PORTCULLIS_TESTS_MISUSE_H

#include <stdint.h>

#define BYTES(literal) (const uint8_t *)(literal), (sizeof(literal) - 1)

/* Out-parameters start as this sentinel so a test can see that nothing was written. */
static char sentinel_object;
#define SENTINEL ((void *)&sentinel_object)

static const char POLICY[] =
    "{\"portcullis\": 1, \"name\": \"misuse\", \"version\": \"1\", \"rules\": ["
    "{\"id\": \"allow-read\", \"effect\": \"allow\", \"match\": {\"tool\": [\"fs.read\"]}},"
    "{\"id\": \"big-pay\", \"effect\": \"require_approval\", \"match\": {\"tool\": [\"pay\"]}}]}";
static const char POLICY_V2[] =
    "{\"portcullis\": 1, \"name\": \"misuse\", \"version\": \"2\", \"rules\": []}";
static const char READ[] = "{\"tool\": \"fs.read\", \"agent\": {\"id\": \"a1\"}}";

#endif
