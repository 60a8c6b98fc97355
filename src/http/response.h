/* Responses as bytes: the status line, the headers every response carries (request id,
 * security headers, HSTS in production, Connection: close when closing), then the body. Every
 * response, edge errors included, goes through here, so each has the same headers and the
 * SPEC.md error shape. */
#ifndef TIMEWARP_HTTP_RESPONSE_H
#define TIMEWARP_HTTP_RESPONSE_H
#include "api/api.h"
#include "http/connection.h"
#include "static_files.h"

/* A handler's response (JSON; Cache-Control: no-store). */
void response_send_api(struct conn *c, struct response *res, bool close);
/* An error in SPEC.md's shape; the codes follow the status. */
void response_send_error(struct conn *c, int status, const char *message, bool close);
/* The embedded web page. */
void response_send_static(struct conn *c, const struct static_file *f, bool not_modified,
                          bool immutable);
void response_send_redirect(struct conn *c, const char *location);
void response_send_text(struct conn *c, int status, const char *content_type, char *owned, size_t len);
/* "100 Continue" before a body the client waits to send. */
void response_send_continue(struct conn *c);

void response_configure(const struct config *cfg);
#endif
