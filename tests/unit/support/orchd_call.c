/*
 * Test helper: see orchd_call.h.
 */
#include "tests/unit/support/orchd_call.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

int orchd_call(struct orch_server *srv, const struct orchd_call *call,
               struct http_response *resp, json_t **ret_body, char *target_buf,
               size_t target_len)
{
    struct http_request req;

    memset(&req, 0, sizeof(req));
    http_response_clear(resp);
    json_decref(*ret_body);
    *ret_body = NULL;
    assert_int_equal(
        http_request_parse_target(&req, call->target, target_buf, target_len),
        0);
    req.method = call->method;
    req.path = call->target;
    req.body = call->body ? call->body : "";
    req.body_len = call->body ? strlen(call->body) : 0;
    req.content_type = call->content_type;
    req.accept = call->accept;
    req.authorization = call->authorization;
    req.peer = "127.0.0.1:1";
    orch_handle(&req, resp, srv);
    if (call->feed)
        orch_feed_run(srv);
    if (resp->body)
        *ret_body = json_loadb(resp->body, resp->body_len, 0, NULL);
    return resp->status;
}
