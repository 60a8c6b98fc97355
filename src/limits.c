/* Rate limiting with GCRA (the generic cell rate algorithm, a token bucket kept as one
 * timestamp): a limit of N per period P lets a client send N requests at once and then one
 * every P/N, so a steady client gets exactly N per period. Each (client, kind) needs one
 * number, its "theoretical arrival time" (TAT); a TAT in the past means "no debt", which is
 * exactly what an absent entry means. That makes eviction safe: a new client takes an empty
 * or expired way, and only when every way of both its candidate sets still owes time is the
 * entry that owes least forgotten, its client forgiven early (limits_live_evictions). With
 * 100,000 clients live at once in the 131,072 entries, 4 were (tests/unit/test_limits.c).
 * Memory is the fixed table below, whatever the number of clients.
 *
 * Keys are a keyed hash (SipHash-2-4, random key per process) of the normalised address and
 * the kind, so clients cannot aim their addresses at one set to evict each other. */
#include "limits.h"
#include "random.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

struct slot {
    uint64_t key; /* 0: empty */
    uint64_t tat; /* nanoseconds on CLOCK_MONOTONIC */
};

/* One lock per group of sets: two workers rarely want the same group, and a lock is held
 * for a few dozen instructions. */
#define LIMITS_LOCKS 256

static struct slot table[LIMITS_SETS][LIMITS_WAYS];
static pthread_mutex_t locks[LIMITS_LOCKS];
static uint64_t hash_key[2];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t live_evictions;

static void init(void)
{
    for (int i = 0; i < LIMITS_LOCKS; i++)
        pthread_mutex_init(&locks[i], NULL);
    random_bytes(hash_key, sizeof hash_key);
}

/* ---- SipHash-2-4 (Aumasson and Bernstein), for short inputs ---------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                               \
    do {                                                                                       \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                              \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                 \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                 \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                              \
    } while (0)

static uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t siphash(const unsigned char *in, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ull ^ hash_key[0], v1 = 0x646f72616e646f6dull ^ hash_key[1],
             v2 = 0x6c7967656e657261ull ^ hash_key[0], v3 = 0x7465646279746573ull ^ hash_key[1];
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load64(in + i);
        v3 ^= m;
        SIPROUND; SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND; SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- keys ----------------------------------------------------------------------------------- */

/* 16 address bytes + the kind. IPv4 becomes ::ffff:a.b.c.d; IPv6 keeps its /64, because one
 * subscriber usually holds a whole /64 and could otherwise change address per request. An
 * absent or unparsable address is the shared "unknown" bucket (all zero bytes). */
static uint64_t client_key(enum rate_kind kind, const char *client)
{
    unsigned char msg[17] = {0};
    struct in_addr v4;
    struct in6_addr v6;
    if (client && inet_pton(AF_INET, client, &v4) == 1) {
        msg[10] = msg[11] = 0xff;
        memcpy(msg + 12, &v4, 4);
    } else if (client && inet_pton(AF_INET6, client, &v6) == 1) {
        memcpy(msg, &v6, 16);
        if (!IN6_IS_ADDR_V4MAPPED(&v6))
            memset(msg + 8, 0, 8);
    }
    msg[16] = (unsigned char)kind;
    uint64_t h = siphash(msg, sizeof msg);
    return h ? h : 1;
}

/* ---- the check ------------------------------------------------------------------------------ */

static long ceil_seconds(uint64_t ns) { return (long)((ns + 999999999u) / 1000000000u); }

void limits_check_at(const struct rate_limit *limit, enum rate_kind kind, const char *client,
                     uint64_t now, struct limit_decision *d)
{
    memset(d, 0, sizeof *d);
    d->allowed = true;
    if (!limit || limit->count <= 0)
        return;
    pthread_once(&once, init);
    const uint64_t period = (uint64_t)limit->period * 1000000000u;
    const uint64_t interval = period / (uint64_t)limit->count; /* one request's worth of time */
    uint64_t key = client_key(kind, client);
    /* Two candidate sets ("power of two choices"): a new client goes where the most room
     * is, which keeps sets from overflowing long before the table is full. */
    struct slot *sets[2] = {table[(key >> 32) % LIMITS_SETS], table[(key & 0xffffffffu) % LIMITS_SETS]};
    size_t la = (size_t)(sets[0] - table[0]) / LIMITS_WAYS % LIMITS_LOCKS,
           lb = (size_t)(sets[1] - table[0]) / LIMITS_WAYS % LIMITS_LOCKS;
    pthread_mutex_t *first = &locks[la < lb ? la : lb], *second = la == lb ? NULL : &locks[la < lb ? lb : la];

    pthread_mutex_lock(first); /* always in index order, so two callers cannot deadlock */
    if (second)
        pthread_mutex_lock(second);
    struct slot *s = NULL;
    for (int k = 0; k < 2 && !s; k++)
        for (int i = 0; i < LIMITS_WAYS && !s; i++)
            if (sets[k][i].key == key)
                s = &sets[k][i];
    if (!s) {
        /* Into the set with more room (empty or expired ways), there the way that owes
         * least: an empty or expired one if any. */
        int room[2] = {0, 0};
        struct slot *best[2] = {&sets[0][0], &sets[1][0]};
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < LIMITS_WAYS; i++) {
                struct slot *w = &sets[k][i];
                room[k] += w->key == 0 || w->tat <= now;
                if (best[k]->key != 0 && (w->key == 0 || w->tat < best[k]->tat))
                    best[k] = w;
            }
        struct slot *victim = room[1] > room[0] || (room[0] == 0 && room[1] == 0 &&
                                                    best[1]->tat < best[0]->tat)
                                  ? best[1] : best[0];
        if (victim->key != 0 && victim->tat > now)
            atomic_fetch_add(&live_evictions, 1);
        s = victim;
        s->key = key;
        s->tat = 0;
    }
    uint64_t tat = s->tat > now ? s->tat : now;
    uint64_t next = tat + interval;
    if (next - now > period) {
        d->allowed = false;
        d->retry_after = ceil_seconds(next - period - now);
        d->remaining = 0;
        d->reset = ceil_seconds(tat - now);
    } else {
        s->tat = next;
        d->remaining = (long)((period - (next - now)) / interval);
        d->reset = ceil_seconds(next - now);
    }
    if (second)
        pthread_mutex_unlock(second);
    pthread_mutex_unlock(first);
    if (!d->allowed) {
        if (d->retry_after < 1)
            d->retry_after = 1;
        if (d->retry_after > limit->period)
            d->retry_after = limit->period;
    }
}

void limits_check(const struct rate_limit *limit, enum rate_kind kind, const char *client,
                  struct limit_decision *d)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    limits_check_at(limit, kind, client,
                    (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, d);
}

uint64_t limits_live_evictions(void) { return atomic_load(&live_evictions); }
