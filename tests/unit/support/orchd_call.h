/*
 * Test helper: one request through orchestratord's handler (orch_handle),
 * as the HTTP server would hand it over, for the tests of the API and the
 * controllers.  The response lands in the caller's RESP, its body parsed
 * into *RET_BODY (NULL when it is not JSON).
 */
#ifndef ORCH_TEST_ORCHD_CALL_H
#define ORCH_TEST_ORCHD_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "http/http.h"
#include "orchestratord/orchd.h"

struct orchd_call {
    enum http_method method;
    const char *target;       /* path and query */
    const char *body;         /* NULL: none */
    const char *content_type; /* the request's headers; NULL: absent */
    const char *accept;
    const char *authorization;
    /* Then hand the commits to the watchers, as the event loop does next
     * (orch_feed_run). */
    bool feed;
};

/* Clears RESP and *RET_BODY first.  TARGET_BUF (TARGET_LEN bytes) holds the
 * parsed target while the request runs.  Returns the status code. */
int orchd_call(struct orch_server *srv, const struct orchd_call *call,
               struct http_response *resp, json_t **ret_body, char *target_buf,
               size_t target_len);

#endif
