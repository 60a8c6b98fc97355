/* The storage interface the handlers see: domain records in, domain records out.
 * No HTTP here, and no SQL above here. */
#ifndef TIMEWARP_STORE_H
#define TIMEWARP_STORE_H
#include "config.h"
#include <stdbool.h>
#include <stddef.h>

enum store_status {
    STORE_OK,
    STORE_NOT_FOUND,   /* no such record (or, for a submission, no such contributor) */
    STORE_DUPLICATE,   /* the clip exists already: the submission was stored as rejected */
    STORE_GONE,        /* moderators hid that clip (for a submission: stored as rejected) */
    STORE_UNAVAILABLE, /* the database cannot be reached right now */
    STORE_ERROR,
};

/* All strings borrowed; NULL means JSON null. */
struct contributor_rec {
    const char *id, *display_name, *external_id, *created_at;
};
struct submission_rec {
    const char *id, *contributor_id, *clip_id, *status, *validation_error, *raw_youtube_input,
        *raw_date_input, *title, *notes, *submitted_at;
    const char *clip_hidden_at; /* read only: the clip it created was hidden then (else NULL) */
};
struct clip_rec {
    const char *id, *youtube_video_id, *performance_date, *title, *notes, *created_at,
        *created_by_contributor_id, *added_via_submission_id;
    const char *hidden_at; /* read only: when moderators hid it, NULL while visible */
};
/* A report on a clip; status "open" or "resolved", resolution NULL, "hidden" or "dismissed". */
struct report_rec {
    const char *id, *clip_id, *reason, *status, *resolution, *created_at;
};
/* One moderation action of the audit trail: action "hide", "restore" or "dismiss". */
struct action_rec {
    const char *id, *action, *target_id, *reason, *actor, *created_at;
};

typedef void (*store_submission_fn)(void *ctx, const struct submission_rec *s);
typedef void (*store_clip_fn)(void *ctx, const struct clip_rec *c);

struct store;

struct store *store_open(const struct config *c, char *err, size_t err_len);
void store_close(struct store *st);
/* The connection was lost (or the database stopped answering): the next operation reconnects,
 * and the worker pool's breaker counts the database as unreachable. */
bool store_is_broken(const struct store *st);
bool store_reconnect(struct store *st);
/* Every operation from now on ends by this time (CLOCK_MONOTONIC microseconds). */
void store_set_deadline(struct store *st, long long deadline_us);
/* The driver's last error text, for logs only (may contain SQL). */
const char *store_last_error(struct store *st);

enum store_status store_ping(struct store *st);
enum store_status store_create_contributor(struct store *st, const struct contributor_rec *c);

/* Stores submission `s` (status and validation_error as given) and, when `clip` is not NULL,
 * the clip in the same transaction. If the clip's (video, date) exists already, the
 * submission is stored as rejected with `duplicate_error` and STORE_DUPLICATE returned, or,
 * when moderators hid that clip, with `removed_error` and STORE_GONE returned.
 * An unknown contributor gives STORE_NOT_FOUND with nothing written. */
enum store_status store_create_submission(struct store *st, const struct submission_rec *s,
                                          const struct clip_rec *clip, const char *duplicate_error,
                                          const char *removed_error);

enum store_status store_get_submission(struct store *st, const char *id, store_submission_fn fn,
                                       void *ctx);
enum store_status store_get_clip(struct store *st, const char *id, store_clip_fn fn, void *ctx);

/* Clips with from <= performance_date <= to in archive order, starting after clip
 * `after_id` (NULL: from the start); at most `limit`. STORE_NOT_FOUND if after_id is unknown. */
enum store_status store_list_clips(struct store *st, const char *from, const char *to,
                                   const char *after_id, int limit, store_clip_fn fn, void *ctx);

/* Clips just before and after clip `id` in archive order; fn gets NULL for "none".
 * STORE_NOT_FOUND if `id` is unknown, STORE_GONE if it is hidden. Hidden clips are never
 * anyone's neighbour, nor in store_list_clips or store_calendar. */
enum store_status store_clip_neighbors(struct store *st, const char *id, store_clip_fn previous,
                                       store_clip_fn next, void *ctx);

/* Number of clips per performance date in [from, to], ascending, days with clips only. */
typedef void (*store_day_fn)(void *ctx, const char *date, const char *count);
enum store_status store_calendar(struct store *st, const char *from, const char *to, store_day_fn fn,
                                 void *ctx);

/* ---- what changed (for the response cache, api/read_cache.c; store/change_log.c) ---- */
/* Every change to the clips, by any process, reaches this process as a range of
 * performance dates (YYYYMMDD; 0..99991231 when it cannot be placed), numbered in the
 * order this process learned of it. store_changes learns of every change committed before
 * it began and gives the number learned so far: an answer rendered from a read that began
 * after that is current until a change numbered from there on touches its dates. */
enum store_status store_changes(struct store *st, unsigned long long *learned);
unsigned long long store_changes_learned(void);
typedef void (*store_change_fn)(void *ctx, int lo, int hi);
/* Calls fn for the changes numbered [from, to); false (and no calls) if some of them are no
 * longer remembered: take it that anything changed. */
bool store_changes_between(unsigned long long from, unsigned long long to, store_change_fn fn, void *ctx);
/* After a write on this connection (store.c; the group commit too). */
void store_note_change(struct store *st);
/* Deletes the log rows every reader has had time to read (the periodic probe, io.c). */
enum store_status store_prune_changes(struct store *st);

/* ---- group commit (store/io.c) ---- */
/* Opens one write transaction that the following operations join, each in a savepoint
 * (their own begin/commit become SAVEPOINT/RELEASE); false if it could not begin. */
bool store_group_begin(struct store *st);
/* Commits the group; false if the COMMIT failed (then nothing of the group is stored). */
bool store_group_end(struct store *st);
/* Whether the last operation sent a write (so a failed group COMMIT lost it). */
bool store_wrote(const struct store *st);

/* ---- moderation (store/moderation.c) ---- */
typedef void (*store_report_fn)(void *ctx, const struct report_rec *r, const struct clip_rec *clip);
typedef void (*store_action_fn)(void *ctx, const struct action_rec *a);

/* Files report `r` (open) on the clip whose public id is r->clip_id. STORE_NOT_FOUND: no
 * such clip; STORE_GONE: it is hidden. Nothing is written then. */
enum store_status store_create_report(struct store *st, const struct report_rec *r);

/* Reports with `status` oldest first (created_at, then insertion order), after report
 * `after_id` (NULL: from the start; STORE_NOT_FOUND if unknown), at most `limit`, each
 * with its clip. */
enum store_status store_list_reports(struct store *st, const char *status, const char *after_id,
                                     int limit, store_report_fn fn, void *ctx);

/* Hides clip a->target_id at a->created_at and resolves its open reports as "hidden", in
 * one transaction; action `a` is recorded when anything changed (so hiding twice is one
 * action). fn gets the clip as it then is. STORE_NOT_FOUND: no such clip. */
enum store_status store_hide_clip(struct store *st, const struct action_rec *a, store_clip_fn fn,
                                  void *ctx);
/* Makes clip a->target_id visible again, recording `a` if it was hidden. */
enum store_status store_restore_clip(struct store *st, const struct action_rec *a,
                                     store_clip_fn fn, void *ctx);
/* Resolves open report a->target_id as "dismissed", recording `a`; a report already
 * resolved is left as it is. fn gets the report as it then is. */
enum store_status store_dismiss_report(struct store *st, const struct action_rec *a,
                                       store_report_fn fn, void *ctx);
/* The audit trail, oldest first, after action `after_id` (NULL: from the start). */
enum store_status store_list_actions(struct store *st, const char *after_id, int limit,
                                     store_action_fn fn, void *ctx);

/* Migrations: brings the schema to `target` (-1 = latest), printing progress to stderr. A
 * step down that would drop data refuses unless `force`, and `err` says what would be lost. */
bool store_migrate(struct store *st, int target, bool force, char *err, size_t err_len);
/* The schema version the database records (0 before any migration), -1 if unreadable. */
int store_schema_version(struct store *st);
/* The latest migration this binary carries for the store's backend. */
int store_latest_schema_version(struct store *st);
#endif
