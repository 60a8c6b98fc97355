/* Calendar dates: strict ISO parsing and the performance-date rule. Pure. */
#include "domain/date.h"
#include "domain/text.h"

#include <stdio.h>

static bool is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static bool digits(const char *s, int n, long *out)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Shape check and calendar check kept apart so the rejection reason can say which failed. */
static bool has_iso_shape(const char *s, size_t len, long *y, long *m, long *d)
{
    return len == DATE_LEN && s[4] == '-' && s[7] == '-' && digits(s, 4, y) &&
           digits(s + 5, 2, m) && digits(s + 8, 2, d);
}

bool date_parse_iso(const char *s, size_t len, date_key *out)
{
    long y, m, d;
    /* No year 0000: the calendar goes from 1 BC to AD 1, and PostgreSQL refuses it, so the
     * two databases would disagree on /clips?from=0000-01-01 (500 on one, 200 on the other). */
    if (!has_iso_shape(s, len, &y, &m, &d) || y < 1 || m < 1 || m > 12 || d < 1 ||
        d > days_in_month(y, (int)m))
        return false;
    *out = y * 10000 + m * 100 + d;
    return true;
}

bool date_performance(const char *input, size_t len, date_key today, char out[DATE_LEN + 1],
                      const char **reason)
{
    const char *s = input;
    long y, m, d;
    date_key key;
    text_trim(&s, &len);
    if (!has_iso_shape(s, len, &y, &m, &d)) {
        *reason = "The performance date must be written YYYY-MM-DD, for example 1969-08-17.";
        return false;
    }
    if (!date_parse_iso(s, len, &key)) {
        *reason = "The performance date is not a real calendar date.";
        return false;
    }
    if (y < 1000) {
        *reason = "The performance date must be in the year 1000 or later.";
        return false;
    }
    if (key > today) {
        *reason = "The performance date is in the future.";
        return false;
    }
    snprintf(out, DATE_LEN + 1, "%.10s", s);
    return true;
}

date_key date_from_unix(long long seconds)
{
    /* Civil-from-days (Howard Hinnant), valid for the whole proleptic Gregorian range. */
    long long z = (seconds >= 0 ? seconds : seconds - 86399) / 86400 + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long day = doy - (153 * mp + 2) / 5 + 1;
    long long month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2);
    return (date_key)(year * 10000 + month * 100 + day);
}

long long date_days(date_key d)
{
    /* Days-from-civil (Howard Hinnant), the inverse of date_from_unix. */
    long long y = d / 10000, m = d / 100 % 100, day = d % 100;
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
