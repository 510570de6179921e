/*
 * Navigation in the source text of a JSON document, alongside its cJSON tree.
 *
 * cJSON keeps no source positions, holds strings as NUL-terminated C strings (so it cannot
 * carry U+0000) and turns numbers into doubles (so 1e400 becomes null when printed). The
 * conformance runner therefore sends what a case holds from the case file's own text: the
 * compact form of an object, or the decoded bytes of a string, found with these functions.
 */
#ifndef PORTCULLIS_TESTS_JSON_TEXT_H
#define PORTCULLIS_TESTS_JSON_TEXT_H

#include <stddef.h>

/* A value's bytes in the document: [start, end). Both NULL when not found. */
typedef struct {
    const char *start;
    const char *end;
} json_span;

/* The span of the whole document's value (leading and trailing whitespace dropped). */
json_span json_text_root(const char *text, size_t len);

/* The span of the first member named `key` (compared byte for byte with the source key,
 * so a key spelled with escapes is not found) of the object at `object`. */
json_span json_text_member(json_span object, const char *key);

/* The span of element `index` of the array at `array`. */
json_span json_text_element(json_span array, size_t index);

/* A new copy of the value without whitespace outside strings; NULL on failure. The caller
 * frees it; *out_len is its length (it may contain no NUL, since JSON text cannot). */
char *json_text_compact(json_span value, size_t *out_len);

/* The decoded bytes of the string at `value` (UTF-8; U+0000 kept; a lone surrogate escape
 * becomes its 3-byte generalized UTF-8 form, which is not valid UTF-8); NULL when `value`
 * is not a well-formed string. The caller frees it; *out_len is its length. */
char *json_text_string(json_span value, size_t *out_len);

/* 1 when the two values are equal as conformance cases compare them: numbers as doubles,
 * strings and object keys by their decoded bytes (U+0000 included), object members in any
 * order, any nesting depth up to 10,000. A NULL span (a missing member) equals `null`. */
int json_text_equal(json_span a, json_span b);

#endif
