/* A minimal assertion harness for the C tests: CHECK records, the summary line ends a run. */
#ifndef PORTCULLIS_TESTS_CHECK_H
#define PORTCULLIS_TESTS_CHECK_H

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int check_passed;
static atomic_int check_failed;

/* Records one check; prints the failing expression (or message) with file and line. */
#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (cond) {                                                                           \
            atomic_fetch_add(&check_passed, 1);                                               \
        } else {                                                                              \
            atomic_fetch_add(&check_failed, 1);                                               \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                             \
            printf(__VA_ARGS__);                                                              \
            printf("\n");                                                                     \
        }                                                                                     \
    } while (0)

#define CHECK_STATUS(call, expected)                                                          \
    do {                                                                                      \
        portcullis_status check_status_ = (call);                                                     \
        CHECK(check_status_ == (expected), "%s returned %s, expected %s", #call,              \
              portcullis_status_name(check_status_), portcullis_status_name(expected));                       \
    } while (0)

#define CHECK_STR(actual, expected)                                                           \
    do {                                                                                      \
        const char *check_a_ = (actual), *check_e_ = (expected);                               \
        CHECK(check_a_ != NULL && strcmp(check_a_, check_e_) == 0, "got \"%s\", expected \"%s\"", \
              check_a_ ? check_a_ : "(null)", check_e_);                                      \
    } while (0)

/* Prints "N passed, M failed" and returns the process exit status. */
static inline int check_summary(void) {
    int passed = atomic_load(&check_passed), failed = atomic_load(&check_failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed > 0 || passed == 0 ? 1 : 0;
}

#endif
