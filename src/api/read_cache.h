/* Rendered answers of the public reads (GET /clips, /clips/{id}, /clips/{id}/neighbors,
 * /calendar), kept while the clips they show have not changed, with their strong ETag.
 *
 * Exact, not "fresh enough": every use first learns of every change committed since, by
 * any process (store_changes: the change log, read when SQLite's data_version or
 * PostgreSQL's snapshot has moved), so a write acknowledged anywhere is seen by the next
 * read here. Each answer says which performance dates it depends on (response.depends_*);
 * a change drops only the answers whose dates it touches. What it saves is the query and
 * the rendering; the question to the database remains. */
#ifndef TIMEWARP_READ_CACHE_H
#define TIMEWARP_READ_CACHE_H
#include "api/api.h"

/* Bytes of rendered bodies kept at most; a body larger than an eighth of it is not kept. */
#define READ_CACHE_BYTES (8u << 20)

/* Answers `req` with `handler`, or from the cache when the data is unchanged. `key` names the
 * request (its target: path and query). Sets the ETag and Cache-Control of a 200, and turns
 * it into a 304 without a body when req->if_none_match matches. */
void read_cache_answer(api_handler handler, const char *key, const struct request *req,
                       struct response *res);

/* Answers from the cache alone, right after someone else's store_changes
 * (store/change_check.c); false when nothing is kept for it (ask read_cache_answer). */
bool read_cache_answer_known(const char *key, const struct request *req, struct response *res);

/* Drops everything (tests; shutdown, so LeakSanitizer sees a clean heap). */
void read_cache_clear(void);

/* Whether an If-None-Match value names `etag` (a quoted strong ETag), weak comparison as
 * RFC 9110 §13.1.2 asks; "*" matches anything. */
bool read_cache_etag_matches(const char *if_none_match, const char *etag);
#endif
