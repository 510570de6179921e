#include "json_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 10000

static const json_span NOT_FOUND = {NULL, NULL};

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_space(const char *p, const char *end) {
    while (p < end && is_space(*p)) {
        p++;
    }
    return p;
}

/* `p` at an opening quote: returns the position after the closing one, or NULL. */
static const char *skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* `p` at a value: returns the position after it, or NULL when it is malformed. */
static const char *skip_value(const char *p, const char *end, int depth) {
    if (p >= end || depth > MAX_DEPTH) {
        return NULL;
    }
    if (*p == '"') {
        return skip_string(p, end);
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = skip_space(p + 1, end);
        if (p < end && *p == close) {
            return p + 1;
        }
        for (;;) {
            if (close == '}') {
                if (p >= end || *p != '"' || (p = skip_string(p, end)) == NULL) return NULL;
                p = skip_space(p, end);
                if (p >= end || *p != ':') return NULL;
                p = skip_space(p + 1, end);
            }
            if ((p = skip_value(p, end, depth + 1)) == NULL) return NULL;
            p = skip_space(p, end);
            if (p < end && *p == ',') {
                p = skip_space(p + 1, end);
            } else if (p < end && *p == close) {
                return p + 1;
            } else {
                return NULL;
            }
        }
    }
    /* A number or a literal: up to the next delimiter. */
    const char *start = p;
    while (p < end && !is_space(*p) && *p != ',' && *p != '}' && *p != ']' && *p != ':') {
        p++;
    }
    return p > start ? p : NULL;
}

json_span json_text_root(const char *text, size_t len) {
    const char *end = text + len;
    const char *start = skip_space(text, end);
    const char *after = skip_value(start, end, 0);
    if (after == NULL) {
        return NOT_FOUND;
    }
    return (json_span){start, after};
}

json_span json_text_member(json_span object, const char *key) {
    const char *p = object.start, *end = object.end;
    if (p == NULL || *p != '{') {
        return NOT_FOUND;
    }
    size_t key_len = strlen(key);
    p = skip_space(p + 1, end);
    while (p < end && *p == '"') {
        const char *key_start = p + 1;
        const char *after_key = skip_string(p, end);
        if (after_key == NULL) return NOT_FOUND;
        int match = (size_t)(after_key - 1 - key_start) == key_len && memcmp(key_start, key, key_len) == 0;
        p = skip_space(after_key, end);
        if (p >= end || *p != ':') return NOT_FOUND;
        p = skip_space(p + 1, end);
        const char *value_end = skip_value(p, end, 1);
        if (value_end == NULL) return NOT_FOUND;
        if (match) {
            return (json_span){p, value_end};
        }
        p = skip_space(value_end, end);
        if (p >= end || *p != ',') return NOT_FOUND;
        p = skip_space(p + 1, end);
    }
    return NOT_FOUND;
}

json_span json_text_element(json_span array, size_t index) {
    const char *p = array.start, *end = array.end;
    if (p == NULL || *p != '[') {
        return NOT_FOUND;
    }
    p = skip_space(p + 1, end);
    for (size_t i = 0; p < end && *p != ']'; i++) {
        const char *value_end = skip_value(p, end, 1);
        if (value_end == NULL) return NOT_FOUND;
        if (i == index) {
            return (json_span){p, value_end};
        }
        p = skip_space(value_end, end);
        if (p >= end || *p != ',') return NOT_FOUND;
        p = skip_space(p + 1, end);
    }
    return NOT_FOUND;
}

char *json_text_compact(json_span value, size_t *out_len) {
    if (value.start == NULL) {
        return NULL;
    }
    char *out = malloc((size_t)(value.end - value.start) + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    int in_string = 0;
    for (const char *p = value.start; p < value.end; p++) {
        if (in_string) {
            out[n++] = *p;
            if (*p == '\\' && p + 1 < value.end) {
                out[n++] = *++p;
            } else if (*p == '"') {
                in_string = 0;
            }
        } else if (!is_space(*p)) {
            in_string = *p == '"';
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static int hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *json_text_string(json_span value, size_t *out_len) {
    const char *p = value.start, *end = value.end;
    if (p == NULL || end - p < 2 || *p != '"' || end[-1] != '"') {
        return NULL;
    }
    end--; /* the closing quote */
    char *out = malloc((size_t)(end - p) + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    for (p++; p < end; p++) {
        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        if (++p >= end) break;
        unsigned cp;
        switch (*p) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u':
            if (!hex4(p + 1, end, &cp)) {
                free(out);
                return NULL;
            }
            p += 4;
            unsigned low;
            if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 7 && p[1] == '\\' && p[2] == 'u' &&
                hex4(p + 3, end, &low) && low >= 0xDC00 && low < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
            n += put_utf8(out + n, cp);
            break;
        default:
            free(out);
            return NULL;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* The member at `index` of the object at `object`: its value span, and its key's span
 * (quotes included) in *key. NOT_FOUND past the last member. */
static json_span member_at(json_span object, size_t index, json_span *key) {
    const char *p = object.start, *end = object.end;
    if (p == NULL || *p != '{') {
        return NOT_FOUND;
    }
    p = skip_space(p + 1, end);
    for (size_t i = 0; p < end && *p == '"'; i++) {
        const char *after_key = skip_string(p, end);
        if (after_key == NULL) return NOT_FOUND;
        *key = (json_span){p, after_key};
        p = skip_space(after_key, end);
        if (p >= end || *p != ':') return NOT_FOUND;
        p = skip_space(p + 1, end);
        const char *value_end = skip_value(p, end, 1);
        if (value_end == NULL) return NOT_FOUND;
        if (i == index) {
            return (json_span){p, value_end};
        }
        p = skip_space(value_end, end);
        if (p >= end || *p != ',') return NOT_FOUND;
        p = skip_space(p + 1, end);
    }
    return NOT_FOUND;
}

/* 1 when both spans are strings with the same decoded bytes. */
static int same_string(json_span a, json_span b) {
    size_t la = 0, lb = 0;
    char *sa = json_text_string(a, &la), *sb = json_text_string(b, &lb);
    int same = sa != NULL && sb != NULL && la == lb && memcmp(sa, sb, la) == 0;
    free(sa);
    free(sb);
    return same;
}

/* A number token as a double (strtod rounds to nearest); 0 when it is not a number. */
static int number_of(json_span v, double *out) {
    size_t len = (size_t)(v.end - v.start);
    char buf[400];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, v.start, len);
    buf[len] = '\0';
    char *stop = NULL;
    *out = strtod(buf, &stop);
    return stop == buf + len;
}

static int equal_at(json_span a, json_span b, int depth);

static int equal_objects(json_span a, json_span b, int depth) {
    size_t na = 0, nb = 0;
    json_span key;
    while (member_at(a, na, &key).start != NULL) na++;
    while (member_at(b, nb, &key).start != NULL) nb++;
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++) {
        json_span ka, kb;
        json_span va = member_at(a, i, &ka), vb = NOT_FOUND;
        for (size_t j = 0; j < nb && vb.start == NULL; j++) {
            json_span candidate = member_at(b, j, &kb);
            if (same_string(ka, kb)) vb = candidate;
        }
        if (vb.start == NULL || !equal_at(va, vb, depth + 1)) return 0;
    }
    return 1;
}

static int equal_arrays(json_span a, json_span b, int depth) {
    for (size_t i = 0;; i++) {
        json_span x = json_text_element(a, i), y = json_text_element(b, i);
        if (x.start == NULL || y.start == NULL) return x.start == NULL && y.start == NULL;
        if (!equal_at(x, y, depth + 1)) return 0;
    }
}

static int is_null(json_span v) {
    return v.start == NULL || ((size_t)(v.end - v.start) == 4 && memcmp(v.start, "null", 4) == 0);
}

static int equal_at(json_span a, json_span b, int depth) {
    if (depth > MAX_DEPTH) return 0;
    if (is_null(a) || is_null(b)) return is_null(a) && is_null(b);
    char ta = *a.start, tb = *b.start;
    if (ta == '{' || tb == '{') return ta == tb && equal_objects(a, b, depth);
    if (ta == '[' || tb == '[') return ta == tb && equal_arrays(a, b, depth);
    if (ta == '"' || tb == '"') return ta == tb && same_string(a, b);
    double x, y;
    if (number_of(a, &x) && number_of(b, &y)) return x == y;
    return a.end - a.start == b.end - b.start && memcmp(a.start, b.start, (size_t)(a.end - a.start)) == 0;
}

int json_text_equal(json_span a, json_span b) {
    return equal_at(a, b, 0);
}
