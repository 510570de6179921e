/* RFC 3339 timestamps to Unix milliseconds, for the conformance clocks. */
#ifndef PORTCULLIS_TESTS_RFC3339_H
#define PORTCULLIS_TESTS_RFC3339_H

#include <stdint.h>

/*
 * Parses an RFC 3339 date-time ("2026-05-22T17:05:00Z", "2026-05-22T19:05:00.250+02:00")
 * into milliseconds since the Unix epoch. Accepts 'T', 't' or ' ' between date and time,
 * 'Z' or 'z' or a numeric offset, and any number of fraction digits (truncated to ms).
 * Returns 1 and writes *out_ms on success, 0 for anything else (nothing written).
 */
int rfc3339_to_unix_ms(const char *text, int64_t *out_ms);

#endif
