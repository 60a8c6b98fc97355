/* Timestamp checks for records that arrive from outside the API (imports). */
#include "domain/timestamp.h"
#include "domain/date.h"

#include <stdio.h>
#include <string.h>

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* "YYYY-MM-DD?HH:MM:SS" with `sep` between date and time; true when it is a real moment. */
static bool date_and_time(const char *s, const char *seps)
{
    date_key d;
    return date_parse_iso(s, 10, &d) && strchr(seps, s[10]) && digits(s + 11, 2) && s[13] == ':' &&
           digits(s + 14, 2) && s[16] == ':' && digits(s + 17, 2) && num(s + 11, 2) < 24 &&
           num(s + 14, 2) < 60 && num(s + 17, 2) < 60;
}

bool timestamp_valid(const char *s)
{
    return s && strlen(s) == TIMESTAMP_LEN && date_and_time(s, "T") && s[19] == '.' &&
           digits(s + 20, 6) && s[26] == 'Z';
}

bool timestamp_normalize(const char *in, char out[TIMESTAMP_LEN + 1])
{
    size_t len = in ? strlen(in) : 0;
    if (len < 19 || !date_and_time(in, "T "))
        return false;
    char frac[7] = "000000";
    const char *p = in + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6)
                frac[n] = *p;
            else if (n >= 9) /* nanoseconds at most */
                return false;
        if (n == 0)
            return false;
    }
    if (!(strcmp(p, "") == 0 || strcmp(p, "Z") == 0 || strcmp(p, "+00") == 0 ||
          strcmp(p, "+00:00") == 0))
        return false;
    snprintf(out, TIMESTAMP_LEN + 1, "%.10sT%.8s.%sZ", in, in + 11, frac);
    return true;
}
