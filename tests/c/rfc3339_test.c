/* The conformance runner's RFC 3339 parser: exact instants, offsets, and what it refuses. */
#include <stdint.h>

#include "check.h"
#include "rfc3339.h"

static void check_instant(const char *text, int64_t expected) {
    int64_t ms = -1;
    int ok = rfc3339_to_unix_ms(text, &ms);
    CHECK(ok && ms == expected, "\"%s\": got %lld, expected %lld", text, (long long)ms,
          (long long)expected);
}

static void check_refused(const char *text) {
    int64_t ms = 12345;
    CHECK(!rfc3339_to_unix_ms(text, &ms) && ms == 12345, "\"%s\" should be refused", text);
}

int main(void) {
    check_instant("1970-01-01T00:00:00Z", 0);
    check_instant("2026-01-01T00:00:00Z", INT64_C(1767225600000));
    check_instant("2026-05-22T17:05:00Z", INT64_C(1779469500000));
    check_instant("2026-05-22t17:05:00z", INT64_C(1779469500000));
    check_instant("2026-05-22 17:05:00Z", INT64_C(1779469500000));
    check_instant("2026-05-22T19:05:00+02:00", INT64_C(1779469500000));
    check_instant("2026-05-22T12:35:00-04:30", INT64_C(1779469500000));
    check_instant("2026-05-22T17:05:00.250Z", INT64_C(1779469500250));
    check_instant("2026-05-22T17:05:00.5Z", INT64_C(1779469500500));
    check_instant("2026-05-22T17:05:00.123456789Z", INT64_C(1779469500123));
    check_instant("2024-02-29T00:00:00Z", INT64_C(1709164800000));
    check_instant("2000-03-01T00:00:00Z", INT64_C(951868800000));
    check_instant("1969-12-31T23:59:59Z", INT64_C(-1000));

    check_refused("");
    check_refused("2026-01-01");
    check_refused("2026-01-01T00:00:00");
    check_refused("2026-01-01T00:00Z");
    check_refused("2026-13-01T00:00:00Z");
    check_refused("2026-02-29T00:00:00Z");
    check_refused("2100-02-29T00:00:00Z");
    check_refused("2026-01-01T24:00:00Z");
    check_refused("2026-01-01T00:60:00Z");
    check_refused("2026-01-01T00:00:00.Z");
    check_refused("2026-01-01T00:00:00+0200");
    check_refused("2026-01-01T00:00:00Z ");
    check_refused("26-01-01T00:00:00Z");
    return check_summary();
}
