/*
 * http: bearer tokens (see http.h).  No evhttp here.
 */
#include "http/http.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

int http_request_bearer(const struct http_request *req, const char **ret_token,
                        size_t *ret_len)
{
    const char *h = req->authorization, *tok;
    size_t len;

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
    *ret_token = tok;
    *ret_len = len;
    return 0;
}

bool http_secret_equal(const char *given, size_t given_len, const char *secret)
{
    size_t slen = strlen(secret);
    unsigned char diff = (unsigned char)(given_len != slen);

    /* No early exit: the time taken must not tell how many leading bytes
     * of a guess were right.  Past the secret's end every byte is compared
     * with its first one, so the loop's length depends on the guess only. */
    for (size_t i = 0; i < given_len; i++)
        diff |= (unsigned char)given[i] ^
                (unsigned char)(slen ? secret[i < slen ? i : 0] : 0);
    return diff == 0 && slen > 0;
}
