/* GET /calendar?from=…&to=…: how many clips each day has, for the web page's month view. */
#include "api/api.h"
#include "domain/date.h"

#include <stdlib.h>

#define MAX_CALENDAR_DAYS 400 /* a year view and then some; keeps the answer small */

static void render_day(void *ctx, const char *date, const char *count)
{
    struct jw *w = ctx;
    jw_object_open(w, NULL);
    jw_string(w, "date", date);
    jw_int(w, "count", atoll(count));
    jw_object_close(w);
}

void api_calendar(const struct request *req, struct response *res)
{
    static const char *const names[] = {"from", "to"};
    const char *v[2];
    date_key from, to;
    if (!api_query(req, names, v, 2, res))
        return;
    for (int i = 0; i < 2; i++)
        if (!v[i]) {
            api_error(res, 400, "BAD_REQUEST", i == 0 ? "Query parameter 'from' is required."
                                                      : "Query parameter 'to' is required.", names[i]);
            return;
        }
    if (!api_date_range(v[0], v[1], &from, &to, res))
        return;
    if (date_days(to) - date_days(from) >= MAX_CALENDAR_DAYS) {
        api_error(res, 400, "BAD_REQUEST", "The calendar range must be at most 400 days.", "to");
        return;
    }
    struct jw *w = &res->body;
    jw_object_open(w, NULL);
    jw_array_open(w, "days");
    enum store_status rc = req->store ? store_calendar(req->store, v[0], v[1], render_day, w)
                                      : STORE_UNAVAILABLE;
    jw_array_close(w);
    jw_object_close(w);
    if (rc == STORE_OK) {
        res->status = 200;
        api_depends_on(res, v[0], v[1]);
    } else
        api_store_failure(req, res, rc);
}
