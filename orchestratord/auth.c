/*
 * orchestratord: bearer-token authentication.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int orch_auth_check(const struct orch_settings *s,
                    const struct http_request *req, enum orch_role *ret_role,
                    const char **ret_name)
{
    const char *tok;
    size_t len;
    int found = -1;

    if (s->n_tokens == 0) {
        *ret_role = ORCH_ROLE_ADMIN;
        *ret_name = "anonymous";
        return 0;
    }
    if (http_request_bearer(req, &tok, &len) < 0)
        return -ENOKEY;
    /* Look at every token, even after a match, so the time taken does not
     * tell which one matched. */
    for (size_t i = 0; i < s->n_tokens; i++)
        if (http_secret_equal(tok, len, s->tokens[i].token) && found < 0)
            found = (int)i;
    if (found < 0)
        return -ENOKEY;
    *ret_role = s->tokens[found].role;
    *ret_name = s->tokens[found].name;
    return 0;
}

bool orch_method_is_read(enum http_method method)
{
    return method == HTTP_METHOD_GET || method == HTTP_METHOD_HEAD ||
           method == HTTP_METHOD_OPTIONS;
}

static const char *method_verb(enum http_method method)
{
    switch (method) {
    case HTTP_METHOD_POST:
        return "create";
    case HTTP_METHOD_PUT:
        return "update";
    case HTTP_METHOD_DELETE:
        return "delete";
    case HTTP_METHOD_PATCH:
        return "patch";
    default:
        return "get";
    }
}

bool orch_auth_allowed(enum orch_role role, const char *user,
                       enum http_method method, enum orch_auth_target target,
                       enum api_kind kind, const char *node, char *msg,
                       size_t msglen)
{
    bool read = orch_method_is_read(method);
    const struct api_kind_info *k;

    switch (role) {
    case ORCH_ROLE_ADMIN:
        return true;
    case ORCH_ROLE_VIEWER:
        if (read)
            return true;
        snprintf(msg, msglen,
                 "User \"%s\" (viewer) cannot %s: the viewer role only "
                 "reads",
                 user, method_verb(method));
        return false;
    case ORCH_ROLE_NODE:
        break;
    }
    /* A node credential acts for its own host only (DESIGN.md, trust per
     * direction): its report, and reading the nodes and VMIs. */
    switch (target) {
    case ORCH_AUTH_NODEREPORT:
        if (node && strcmp(node, user) == 0)
            return true;
        snprintf(msg, msglen,
                 "nodereports \"%s\" is forbidden: node \"%s\" may only "
                 "report for itself",
                 node ? node : "", user);
        return false;
    case ORCH_AUTH_OTHER:
        if (read)
            return true;
        break;
    case ORCH_AUTH_RESOURCE:
        if (read && (kind == API_KIND_NODE || kind == API_KIND_VMI))
            return true;
        break;
    }
    k = target == ORCH_AUTH_RESOURCE ? api_kind_info(kind) : NULL;
    snprintf(msg, msglen,
             "%s is forbidden: node \"%s\" cannot %s it: a node credential "
             "may only report its own node and read nodes and VMIs",
             k ? k->plural : "this resource", user, method_verb(method));
    return false;
}
