#include "rfc3339.h"

#include <stddef.h>

/* Reads exactly `count` decimal digits at *p, advancing it; -1 when one is not a digit. */
static int digits(const char **p, int count) {
    int value = 0;
    for (int i = 0; i < count; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        value = value * 10 + (c - '0');
    }
    *p += count;
    return value;
}

static int is_leap(int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t year, int month, int day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

int rfc3339_to_unix_ms(const char *text, int64_t *out_ms) {
    if (text == NULL) {
        return 0;
    }
    const char *p = text;
    int year = digits(&p, 4);
    if (year < 0 || *p++ != '-') return 0;
    int month = digits(&p, 2);
    if (month < 1 || month > 12 || *p++ != '-') return 0;
    int day = digits(&p, 2);
    if (day < 1 || day > days_in_month(year, month)) return 0;
    if (*p != 'T' && *p != 't' && *p != ' ') return 0;
    p++;
    int hour = digits(&p, 2);
    if (hour < 0 || hour > 23 || *p++ != ':') return 0;
    int minute = digits(&p, 2);
    if (minute < 0 || minute > 59 || *p++ != ':') return 0;
    int second = digits(&p, 2);
    if (second < 0 || second > 60) return 0; /* 60: a leap second */
    int millis = 0;
    if (*p == '.') {
        p++;
        int count = 0;
        while (*p >= '0' && *p <= '9') {
            if (count < 3) {
                millis = millis * 10 + (*p - '0');
            }
            count++;
            p++;
        }
        if (count == 0) return 0;
        for (; count < 3; count++) {
            millis *= 10;
        }
    }
    int offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int offset_hour = digits(&p, 2);
        if (offset_hour < 0 || offset_hour > 23 || *p++ != ':') return 0;
        int offset_minute = digits(&p, 2);
        if (offset_minute < 0 || offset_minute > 59) return 0;
        offset_minutes = sign * (offset_hour * 60 + offset_minute);
    } else {
        return 0;
    }
    if (*p != '\0') return 0;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second - (int64_t)offset_minutes * 60;
    *out_ms = seconds * 1000 + millis;
    return 1;
}
