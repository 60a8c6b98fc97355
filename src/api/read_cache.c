/* The cache of rendered public reads (see read_cache.h). */
#include "api/read_cache.h"
#include "metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A CDN or browser may reuse an answer for 5 s and serve it stale for 30 s more while it
 * asks again (docs/SCALING.md); this server itself is always exact. */
#define PUBLIC_CACHE_CONTROL "public, max-age=5, stale-while-revalidate=30"

/* Direct-mapped: a key has one slot, a newer answer replaces an older. Many more slots than
 * answers an 8 MiB cache holds of the hot keys, or two hot keys keep taking each other's
 * slot: with 1,024 slots, a third of the mixed load's reads of 2,000 clips missed. */
#define SLOTS 16384
#define MAX_KEY 512

struct entry {
    int lo, hi; /* the performance dates it depends on (YYYYMMDD) */
    size_t len;
    char etag[24];
    char key[MAX_KEY];
    char body[]; /* len bytes */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *slots[SLOTS];
/* The slots in use, so a change goes through the answers kept, not through every slot:
 * used[0..n_used) are their numbers, and used_at[i] is slot i's place in used. */
static unsigned used[SLOTS], used_at[SLOTS], n_used;
static size_t bytes_kept;
static unsigned long long applied; /* the changes learned (store.h) that have been applied */

static uint64_t hash_bytes(const void *p, size_t n)
{
    /* FNV-1a over 8-byte words, then a final mix: fast on a 20 KB page and, for an ETag, as
     * good as any 64-bit digest (the bodies are not chosen by an adversary to collide: they
     * are our own rendering of the archive). */
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static size_t slot_of(const char *key) { return hash_bytes(key, strlen(key)) % SLOTS; }

static void drop_slot_locked(size_t i)
{
    if (!slots[i])
        return;
    bytes_kept -= slots[i]->len;
    free(slots[i]);
    slots[i] = NULL;
    unsigned last = used[--n_used]; /* the last in use takes the dropped one's place */
    used[used_at[i]] = last;
    used_at[last] = used_at[i];
}

static void fill_slot_locked(size_t i, struct entry *e)
{
    drop_slot_locked(i);
    slots[i] = e;
    bytes_kept += e->len;
    used_at[i] = n_used;
    used[n_used++] = (unsigned)i;
}

static void drop_all_locked(void)
{
    while (n_used)
        drop_slot_locked(used[n_used - 1]);
}

void read_cache_clear(void)
{
    pthread_mutex_lock(&lock);
    drop_all_locked();
    pthread_mutex_unlock(&lock);
}

static bool overlaps(const struct entry *e, int lo, int hi) { return e->lo <= hi && lo <= e->hi; }

static void drop_overlapping_locked(void *ctx, int lo, int hi)
{
    (void)ctx;
    for (unsigned k = n_used; k-- > 0;) /* backwards: a drop moves only a slot already seen */
        if (overlaps(slots[used[k]], lo, hi))
            drop_slot_locked(used[k]);
}

/* Drops what every change learned since the last call touches: after it, what is kept is
 * current as of the last change check anyone made. */
static void apply_changes_locked(void)
{
    unsigned long long now = store_changes_learned();
    if (now > applied && !store_changes_between(applied, now, drop_overlapping_locked, NULL))
        drop_all_locked(); /* too many to go through: they were forgotten */
    if (now > applied)
        applied = now;
}

/* Copies the kept answer for `key` into res; false if there is none. */
static bool lookup(const char *key, struct response *res, bool body_wanted)
{
    bool hit = false;
    pthread_mutex_lock(&lock);
    apply_changes_locked();
    struct entry *e = slots[slot_of(key)];
    if (e && strcmp(e->key, key) == 0) {
        hit = true;
        memcpy(res->etag, e->etag, sizeof res->etag);
        if (body_wanted)
            jw_raw(&res->body, e->body, e->len);
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

struct touched {
    const struct entry *e;
    bool yes;
};

static void note_if_touched(void *ctx, int lo, int hi)
{
    struct touched *t = ctx;
    t->yes |= overlaps(t->e, lo, hi);
}

/* Keeps res, rendered from a read that began once `learned` changes were known, unless a
 * change learned since touches what it depends on. */
static void keep(const char *key, unsigned long long learned, const struct response *res)
{
    size_t len = res->body.len;
    if (strlen(key) >= MAX_KEY || len > READ_CACHE_BYTES / 8 || res->body.failed)
        return;
    struct entry *e = malloc(sizeof *e + len);
    if (!e)
        return;
    /* Unset (0, 0): it may depend on any clip. */
    e->lo = res->depends_hi ? res->depends_lo : 0;
    e->hi = res->depends_hi ? res->depends_hi : 99991231;
    e->len = len;
    memcpy(e->etag, res->etag, sizeof e->etag);
    snprintf(e->key, sizeof e->key, "%s", key);
    memcpy(e->body, res->body.buf, len);
    pthread_mutex_lock(&lock);
    apply_changes_locked();
    struct touched t = {e, false};
    if (!store_changes_between(learned, applied, note_if_touched, &t) || t.yes) {
        pthread_mutex_unlock(&lock); /* stale already, or perhaps */
        free(e);
        return;
    }
    size_t i = slot_of(key);
    drop_slot_locked(i);
    /* Full: start again rather than track ages (what was kept longest is likely cold). */
    if (bytes_kept + len > READ_CACHE_BYTES)
        drop_all_locked();
    fill_slot_locked(i, e);
    pthread_mutex_unlock(&lock);
}

bool read_cache_etag_matches(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

static void not_modified(struct response *res)
{
    jw_free(&res->body);
    jw_init(&res->body);
    res->status = 304;
}

bool read_cache_answer_known(const char *key, const struct request *req, struct response *res)
{
    /* The cheapest answer: the client has it already (no copy of the body at all). */
    if (req->if_none_match && lookup(key, res, false) &&
        read_cache_etag_matches(req->if_none_match, res->etag)) {
        res->cache_control = PUBLIC_CACHE_CONTROL;
        not_modified(res);
        metrics_count(METRIC_READ_CACHE_HIT);
        return true;
    }
    res->etag[0] = '\0';
    if (!lookup(key, res, true))
        return false;
    metrics_count(METRIC_READ_CACHE_HIT);
    res->status = 200;
    res->cache_control = PUBLIC_CACHE_CONTROL;
    return true;
}

void read_cache_answer(api_handler handler, const char *key, const struct request *req,
                       struct response *res)
{
    unsigned long long learned = 0;
    if (!req->store) { /* no database now: the handler says so in its own words */
        handler(req, res);
        return;
    }
    /* A database that cannot answer this cannot answer the query either: say so now, within
     * the time budget, rather than try the query after it. */
    enum store_status rc = store_changes(req->store, &learned);
    if (rc != STORE_OK) {
        api_store_failure(req, res, rc);
        return;
    }
    if (read_cache_answer_known(key, req, res))
        return;
    metrics_count(METRIC_READ_CACHE_MISS);
    handler(req, res);
    if (res->status != 200 || res->body.failed)
        return;
    snprintf(res->etag, sizeof res->etag, "\"%016llx\"",
             (unsigned long long)hash_bytes(res->body.buf, res->body.len));
    keep(key, learned, res);
    res->cache_control = PUBLIC_CACHE_CONTROL;
    if (req->if_none_match && read_cache_etag_matches(req->if_none_match, res->etag))
        not_modified(res);
}
