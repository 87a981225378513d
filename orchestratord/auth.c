/*
 * orchestratord: bearer-token authentication.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
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
