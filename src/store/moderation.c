/* Storage for reports and moderation (SPEC.md "Reports and moderation"): filing reports,
 * the operators' queue, hiding and restoring clips, dismissing reports, and the audit trail.
 * Every change and its audit row are one transaction; the lists are keyset-paginated on
 * (created_at, insertion order) like the archive. Shared retry rule: store.c's store_run. */
#include "store/store.h"
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

/* Statement ids 32 and up are this file's (db.h). */
enum {
    ID_INSERT_REPORT = 32, ID_CLIP_STATE, ID_REPORT_POSITION, ID_REPORTS_FIRST, ID_REPORTS_AFTER,
    ID_HIDE, ID_RESOLVE_FOR_CLIP, ID_RESTORE, ID_INSERT_ACTION, ID_CLIP_BY_ROW, ID_DISMISS,
    ID_GET_REPORT, ID_ACTION_POSITION, ID_ACTIONS_FIRST, ID_ACTIONS_AFTER,
};

#define REPORT_SELECT                                                                          \
    "SELECT r.public_id, cl.public_id, r.reason, r.status, r.resolution, r.created_at, "      \
    CLIP_COLUMNS " FROM reports r JOIN clips cl ON cl.id = r.clip_id " CLIP_JOINS
#define REPORT_ORDER " ORDER BY r.created_at, r.id LIMIT ?"
#define ACTION_SELECT                                                                          \
    "SELECT public_id, action, target_id, reason, actor, created_at FROM moderation_actions "
#define ACTION_ORDER " ORDER BY created_at, id LIMIT ?"

static const struct db_stmt
    /* Only a visible clip takes reports; the check and the insert are one statement. */
    ST_INSERT_REPORT = {ID_INSERT_REPORT,
        "INSERT INTO reports (public_id, clip_id, reason, status, created_at) "
        "SELECT ?, cl.id, ?, 'open', ? FROM clips cl WHERE cl.public_id = ? "
        "AND cl.hidden_at IS NULL RETURNING id"},
    ST_CLIP_STATE = {ID_CLIP_STATE, "SELECT id, hidden_at FROM clips WHERE public_id = ?"},
    ST_REPORT_POSITION = {ID_REPORT_POSITION,
        "SELECT created_at, id FROM reports WHERE public_id = ?"},
    ST_REPORTS_FIRST = {ID_REPORTS_FIRST, REPORT_SELECT "WHERE r.status = ?" REPORT_ORDER},
    /* Keyset on the reports_queue index (status, created_at, id). */
    ST_REPORTS_AFTER = {ID_REPORTS_AFTER,
        REPORT_SELECT "WHERE r.status = ? AND (r.created_at, r.id) > (?, ?)" REPORT_ORDER},
    ST_HIDE = {ID_HIDE,
        "UPDATE clips SET hidden_at = ? WHERE id = ? AND hidden_at IS NULL RETURNING id"},
    ST_RESOLVE_FOR_CLIP = {ID_RESOLVE_FOR_CLIP,
        "UPDATE reports SET status = 'resolved', resolution = 'hidden', resolved_at = ? "
        "WHERE clip_id = ? AND status = 'open' RETURNING id"},
    ST_RESTORE = {ID_RESTORE,
        "UPDATE clips SET hidden_at = NULL WHERE id = ? AND hidden_at IS NOT NULL RETURNING id"},
    ST_INSERT_ACTION = {ID_INSERT_ACTION,
        "INSERT INTO moderation_actions (public_id, action, target_id, reason, actor, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)"},
    ST_CLIP_BY_ROW = {ID_CLIP_BY_ROW, "SELECT " CLIP_COLUMNS " FROM clips cl " CLIP_JOINS "WHERE cl.id = ?"},
    ST_DISMISS = {ID_DISMISS,
        "UPDATE reports SET status = 'resolved', resolution = 'dismissed', resolved_at = ? "
        "WHERE public_id = ? AND status = 'open' RETURNING id"},
    ST_GET_REPORT = {ID_GET_REPORT, REPORT_SELECT "WHERE r.public_id = ?"},
    ST_ACTION_POSITION = {ID_ACTION_POSITION,
        "SELECT created_at, id FROM moderation_actions WHERE public_id = ?"},
    ST_ACTIONS_FIRST = {ID_ACTIONS_FIRST, ACTION_SELECT ACTION_ORDER},
    ST_ACTIONS_AFTER = {ID_ACTIONS_AFTER, ACTION_SELECT "WHERE (created_at, id) > (?, ?)" ACTION_ORDER};

/* ---- row adapters ------------------------------------------------------------------------- */

/* The first two columns of the first row, and how many rows there were. */
struct pair {
    char a[40], b[40];
    bool a_null, b_null;
    long rows;
};

static void capture_pair(void *ctx, const char *const *c, int n)
{
    struct pair *p = ctx;
    if (p->rows++ > 0 || n < 1)
        return;
    snprintf(p->a, sizeof p->a, "%s", c[0] ? c[0] : "");
    p->a_null = !c[0];
    if (n > 1)
        snprintf(p->b, sizeof p->b, "%s", c[1] ? c[1] : "");
    p->b_null = n < 2 || !c[1];
}

struct visit {
    store_report_fn on_report;
    store_clip_fn on_clip;
    store_action_fn on_action;
    void *ctx;
    long rows;
};

static void report_row(void *ctx, const char *const *c, int n)
{
    struct visit *v = ctx;
    if (n < 6 + CLIP_COLUMN_COUNT)
        return;
    struct report_rec r = {c[0], c[1], c[2], c[3], c[4], c[5]};
    struct clip_rec clip = store_clip_from_row(c + 6);
    v->rows++;
    v->on_report(v->ctx, &r, &clip);
}

static void clip_row(void *ctx, const char *const *c, int n)
{
    struct visit *v = ctx;
    if (n < CLIP_COLUMN_COUNT)
        return;
    struct clip_rec clip = store_clip_from_row(c);
    v->rows++;
    v->on_clip(v->ctx, &clip);
}

static void action_row(void *ctx, const char *const *c, int n)
{
    struct visit *v = ctx;
    if (n < 6)
        return;
    struct action_rec a = {c[0], c[1], c[2], c[3], c[4], c[5]};
    v->rows++;
    v->on_action(v->ctx, &a);
}

/* A failed statement as the operation's result (store_track has noted it for the retry). */
static enum store_status failed(struct store *st, enum db_status rc)
{
    return store_status_from(store_track(st, rc));
}

/* ---- filing a report ------------------------------------------------------------------------ */

static enum store_status op_create_report(struct store *st, void *args)
{
    const struct report_rec *r = args;
    struct pair inserted = {0}, clip = {0};
    const char *p[] = {r->id, r->reason, r->created_at, r->clip_id};
    enum db_status rc = store_exec(st, &ST_INSERT_REPORT, p, 4, capture_pair, &inserted);
    if (rc != DB_OK)
        return failed(st, rc);
    if (inserted.rows)
        return STORE_OK;
    const char *q[] = {r->clip_id};
    if ((rc = store_exec(st, &ST_CLIP_STATE, q, 1, capture_pair, &clip)) != DB_OK)
        return failed(st, rc);
    return clip.rows == 0 ? STORE_NOT_FOUND : STORE_GONE;
}

enum store_status store_create_report(struct store *st, const struct report_rec *r)
{
    return store_run(st, op_create_report, (void *)r);
}

/* ---- keyset lists ---------------------------------------------------------------------------- */

struct list_args {
    const struct db_stmt *first, *after, *position;
    const char *status; /* reports only */
    const char *after_id;
    int limit;
    db_row_fn row;
    struct visit *visit;
};

static enum store_status op_list(struct store *st, void *args)
{
    struct list_args *a = args;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", a->limit);
    a->visit->rows = 0;
    int n = 0;
    const char *p[4];
    if (a->status)
        p[n++] = a->status;
    enum db_status rc;
    if (!a->after_id) {
        p[n++] = limit;
        rc = store_exec(st, a->first, p, n, a->row, a->visit);
        return rc == DB_OK ? STORE_OK : failed(st, rc);
    }
    struct pair pos = {0};
    const char *q[] = {a->after_id};
    if ((rc = store_exec(st, a->position, q, 1, capture_pair, &pos)) != DB_OK)
        return failed(st, rc);
    if (!pos.rows)
        return STORE_NOT_FOUND;
    p[n++] = pos.a;
    p[n++] = pos.b;
    p[n++] = limit;
    rc = store_exec(st, a->after, p, n, a->row, a->visit);
    return rc == DB_OK ? STORE_OK : failed(st, rc);
}

enum store_status store_list_reports(struct store *st, const char *status, const char *after_id,
                                     int limit, store_report_fn fn, void *ctx)
{
    struct visit v = {.on_report = fn, .ctx = ctx};
    struct list_args a = {&ST_REPORTS_FIRST, &ST_REPORTS_AFTER, &ST_REPORT_POSITION, status,
                          after_id, limit, report_row, &v};
    return store_run(st, op_list, &a);
}

enum store_status store_list_actions(struct store *st, const char *after_id, int limit,
                                     store_action_fn fn, void *ctx)
{
    struct visit v = {.on_action = fn, .ctx = ctx};
    struct list_args a = {&ST_ACTIONS_FIRST, &ST_ACTIONS_AFTER, &ST_ACTION_POSITION, NULL,
                          after_id, limit, action_row, &v};
    return store_run(st, op_list, &a);
}

/* ---- moderation actions ------------------------------------------------------------------------ */

struct action_args {
    const struct action_rec *a;
    struct visit *visit;
};

static enum db_status record(struct store *st, const struct action_rec *a)
{
    const char *p[] = {a->id, a->action, a->target_id, a->reason, a->actor, a->created_at};
    return store_exec(st, &ST_INSERT_ACTION, p, 6, NULL, NULL);
}

/* The steps of hide (hide = true) or restore, inside the write transaction. */
static enum store_status visibility_steps(struct store *st, const struct action_args *x, bool hide)
{
    const struct action_rec *a = x->a;
    struct pair clip = {0}, changed = {0}, resolved = {0};
    const char *q[] = {a->target_id};
    enum db_status rc = store_exec(st, &ST_CLIP_STATE, q, 1, capture_pair, &clip);
    if (rc != DB_OK)
        return failed(st, rc);
    if (!clip.rows)
        return STORE_NOT_FOUND;
    if (hide) {
        const char *p[] = {a->created_at, clip.a};
        if ((rc = store_exec(st, &ST_HIDE, p, 2, capture_pair, &changed)) != DB_OK ||
            (rc = store_exec(st, &ST_RESOLVE_FOR_CLIP, p, 2, capture_pair, &resolved)) != DB_OK)
            return failed(st, rc);
    } else {
        const char *p[] = {clip.a};
        if ((rc = store_exec(st, &ST_RESTORE, p, 1, capture_pair, &changed)) != DB_OK)
            return failed(st, rc);
    }
    /* Hiding twice is one action; a second hide that still resolves a report filed in the
     * meantime is an action of its own. */
    if ((changed.rows || resolved.rows) && (rc = record(st, a)) != DB_OK)
        return failed(st, rc);
    const char *r[] = {clip.a};
    if ((rc = store_exec(st, &ST_CLIP_BY_ROW, r, 1, clip_row, x->visit)) != DB_OK)
        return failed(st, rc);
    return STORE_OK;
}

static enum store_status dismiss_steps(struct store *st, const struct action_args *x)
{
    const struct action_rec *a = x->a;
    struct pair changed = {0};
    const char *p[] = {a->created_at, a->target_id};
    enum db_status rc = store_exec(st, &ST_DISMISS, p, 2, capture_pair, &changed);
    if (rc != DB_OK)
        return failed(st, rc);
    if (changed.rows && (rc = record(st, a)) != DB_OK)
        return failed(st, rc);
    const char *q[] = {a->target_id};
    if ((rc = store_exec(st, &ST_GET_REPORT, q, 1, report_row, x->visit)) != DB_OK)
        return failed(st, rc);
    return x->visit->rows ? STORE_OK : STORE_NOT_FOUND;
}

enum action_kind { ACTION_RESTORE, ACTION_HIDE, ACTION_DISMISS };

/* One write transaction around the steps; nothing is kept unless every step succeeded. */
static enum store_status in_transaction(struct store *st, const struct action_args *x,
                                        enum action_kind kind)
{
    enum db_status rc = store_begin_write(st);
    if (rc != DB_OK)
        return failed(st, rc);
    enum store_status result = kind == ACTION_DISMISS ? dismiss_steps(st, x)
                                                      : visibility_steps(st, x, kind == ACTION_HIDE);
    rc = store_end_write(st, result == STORE_OK);
    if (result == STORE_OK && rc != DB_OK)
        return failed(st, rc);
    return result;
}

static enum store_status op_restore(struct store *st, void *args)
{
    return in_transaction(st, args, ACTION_RESTORE);
}

static enum store_status op_hide(struct store *st, void *args) { return in_transaction(st, args, ACTION_HIDE); }

static enum store_status op_dismiss(struct store *st, void *args)
{
    return in_transaction(st, args, ACTION_DISMISS);
}

enum store_status store_hide_clip(struct store *st, const struct action_rec *a, store_clip_fn fn,
                                  void *ctx)
{
    struct visit v = {.on_clip = fn, .ctx = ctx};
    struct action_args x = {a, &v};
    return store_run(st, op_hide, &x);
}

enum store_status store_restore_clip(struct store *st, const struct action_rec *a,
                                     store_clip_fn fn, void *ctx)
{
    struct visit v = {.on_clip = fn, .ctx = ctx};
    struct action_args x = {a, &v};
    return store_run(st, op_restore, &x);
}

enum store_status store_dismiss_report(struct store *st, const struct action_rec *a,
                                       store_report_fn fn, void *ctx)
{
    struct visit v = {.on_report = fn, .ctx = ctx};
    struct action_args x = {a, &v};
    return store_run(st, op_dismiss, &x);
}
