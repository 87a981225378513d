/*
 * orchestratord: bearer-token authentication.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Compare without an early exit so the time taken does not tell how many
 * leading bytes of a guess were right.  The length still shows, which is
 * fine for random tokens. */
static bool secret_equal(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[i < blen ? i : 0];
    return diff == 0 && blen > 0;
}

int orch_auth_check(const struct orch_settings *s,
                    const struct http_request *req, enum orch_role *ret_role,
                    const char **ret_name)
{
    const char *h = req->authorization;
    const char *tok;
    size_t len;
    int found = -1;

    if (s->n_tokens == 0) {
        *ret_role = ORCH_ROLE_ADMIN;
        *ret_name = "anonymous";
        return 0;
    }
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return -ENOKEY;
    tok = h + 7;
    while (*tok == ' ')
        tok++;
    len = strlen(tok);
    while (len > 0 && tok[len - 1] == ' ')
        len--;
    if (len == 0)
        return -ENOKEY;
    /* Look at every token, even after a match, for the same reason. */
    for (size_t i = 0; i < s->n_tokens; i++)
        if (secret_equal(tok, len, s->tokens[i].token) && found < 0)
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
