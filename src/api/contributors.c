/* POST /contributors */
#include "api/api.h"
#include "api/body.h"
#include "log.h"

const struct field_spec contributor_fields[CONTRIBUTOR_FIELD_COUNT] = {
    {"display_name", FIELD_STRING_OR_NULL, false, 200, false},
    {"external_id", FIELD_STRING_OR_NULL, false, 200, false},
};

void api_contributors_create(const struct request *req, struct response *res)
{
    if (!api_rate_limit(req, res, RATE_CONTRIBUTORS))
        return;
    json_t *in = body_parse(req->content_type, req->body, req->body_len, contributor_fields,
                            CONTRIBUTOR_FIELD_COUNT, res);
    if (!in)
        return;
    char id[PUBLIC_ID_LEN + 1], now[28];
    api_new_id("ctr_", id);
    log_timestamp(now);
    struct contributor_rec c = {id, body_string(in, "display_name"), body_string(in, "external_id"), now};
    enum store_status rc = req->store ? store_create_contributor(req->store, &c) : STORE_UNAVAILABLE;
    if (rc != STORE_OK) {
        api_store_failure(req, res, rc);
    } else {
        res->status = 201;
        api_contributor_json(&res->body, NULL, &c);
    }
    json_decref(in);
}
