/* Request-body validation: Content-Type, JSON well-formedness (strict: duplicate keys,
 * invalid UTF-8 and excessive nesting rejected), object shape and per-field rules.
 * Pure apart from allocation; a fuzz target drives it directly. */
#ifndef TIMEWARP_BODY_H
#define TIMEWARP_BODY_H
#include "api/api.h"
#include <jansson.h>

#define BODY_MAX_DEPTH 64

enum field_kind { FIELD_STRING, FIELD_STRING_OR_NULL };

struct field_spec {
    const char *name;
    enum field_kind kind;
    bool required;
    size_t max_codepoints; /* 0: no limit beyond the body limit */
    bool not_blank;        /* after trimming surrounding whitespace */
};

/* The two request bodies the API takes, defined beside their handlers (contributors.c,
 * submissions.c); the unit tests and the fuzzer use these very tables. */
#define CONTRIBUTOR_FIELD_COUNT 2
#define SUBMISSION_FIELD_COUNT 5
extern const struct field_spec contributor_fields[CONTRIBUTOR_FIELD_COUNT];
extern const struct field_spec submission_fields[SUBMISSION_FIELD_COUNT];
/* The moderation bodies (reports.c, admin.c): a report's reason, a hide's reason, and the
 * optional reason of a restore or dismiss. One field each. */
extern const struct field_spec report_fields[1];
extern const struct field_spec hide_fields[1];
extern const struct field_spec moderation_note_fields[1];

/* Parses and validates the body of `req`. On success returns the object (caller owns it);
 * otherwise fills `res` with the 4xx and returns NULL. */
json_t *body_parse(const char *content_type, const char *body, size_t len,
                   const struct field_spec *specs, size_t nspecs, struct response *res);

/* application/json, with or without parameters such as charset. */
bool body_is_json_content_type(const char *ct);
/* One field's rules (type, length, blank) on a present value: true when it passes, else
 * `msg` says why in the words the API uses. The import of an archive applies these too. */
bool body_field_valid(const struct field_spec *f, json_t *v, char *msg, size_t msg_len);

/* The field as a C string, or NULL if absent or JSON null. */
const char *body_string(json_t *obj, const char *name);
#endif
