/*
 * http: request targets, responses and status phrases (no evhttp here, so
 * tests can build requests without a server).
 */
#include "http/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *http_method_name(enum http_method method)
{
    static const char *const names[] = {
        [HTTP_METHOD_GET] = "GET",         [HTTP_METHOD_HEAD] = "HEAD",
        [HTTP_METHOD_POST] = "POST",       [HTTP_METHOD_PUT] = "PUT",
        [HTTP_METHOD_DELETE] = "DELETE",   [HTTP_METHOD_PATCH] = "PATCH",
        [HTTP_METHOD_OPTIONS] = "OPTIONS", [HTTP_METHOD_OTHER] = "OTHER",
    };
    if ((unsigned)method > HTTP_METHOD_OTHER)
        return "OTHER";
    return names[method];
}

const char *http_request_param(const struct http_request *req, const char *key)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].key, key) == 0)
            return req->params[i].value;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode [s, s+n) into *out (advancing it), NUL-terminated.  '+' means a
 * space in query strings only.  A decoded NUL is refused: every consumer
 * treats these as C strings. */
static int decode_into(const char *s, size_t n, bool plus_space, char **out,
                       char *end)
{
    char *o = *out;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return -EINVAL;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -EINVAL;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (o >= end)
            return -E2BIG;
        *o++ = c;
    }
    if (o >= end)
        return -E2BIG;
    *o++ = '\0';
    *out = o;
    return 0;
}

int http_request_parse_target(struct http_request *req,
                              const char *path_and_query, char *buf,
                              size_t buflen)
{
    const char *p = path_and_query;
    const char *q = strchr(p, '?');
    const char *frag = strchr(p, '#');
    const char *path_end;
    char *o = buf, *end = buf + buflen;
    int r;

    if (frag && q && frag < q)
        q = NULL;
    path_end = q ? q : (frag ? frag : p + strlen(p));
    req->segc = 0;
    req->n_params = 0;

    while (p < path_end) {
        const char *s;
        size_t n;
        while (p < path_end && *p == '/')
            p++;
        if (p >= path_end)
            break;
        s = p;
        while (p < path_end && *p != '/')
            p++;
        n = (size_t)(p - s);
        if (req->segc >= HTTP_MAX_SEGMENTS)
            return -E2BIG;
        req->segv[req->segc] = o;
        r = decode_into(s, n, false, &o, end);
        if (r < 0)
            return r;
        req->segc++;
    }

    if (!q)
        return 0;
    p = q + 1;
    path_end = frag && frag > q ? frag : p + strlen(p);
    while (p < path_end) {
        const char *s = p, *eq = NULL;
        size_t n;
        while (p < path_end && *p != '&') {
            if (*p == '=' && !eq)
                eq = p;
            p++;
        }
        n = (size_t)(p - s);
        if (p < path_end)
            p++; /* the '&' */
        if (n == 0)
            continue;
        if (eq == s)
            return -EINVAL;
        if (req->n_params >= HTTP_MAX_PARAMS)
            return -E2BIG;
        req->params[req->n_params].key = o;
        r = decode_into(s, eq ? (size_t)(eq - s) : n, true, &o, end);
        if (r < 0)
            return r;
        req->params[req->n_params].value = o;
        if (eq)
            r = decode_into(eq + 1, n - (size_t)(eq - s) - 1, true, &o, end);
        else
            r = decode_into("", 0, true, &o, end);
        if (r < 0)
            return r;
        req->n_params++;
    }
    return 0;
}

int http_response_add_header(struct http_response *resp, const char *name,
                             const char *value)
{
    if (resp->n_headers >= HTTP_MAX_EXTRA_HEADERS)
        return -E2BIG;
    resp->header_names[resp->n_headers] = name;
    resp->header_values[resp->n_headers] = value;
    resp->n_headers++;
    return 0;
}

int http_response_add_header_copy(struct http_response *resp, const char *name,
                                  const char *value)
{
    char *copy;
    int r;

    if (resp->n_headers >= HTTP_MAX_EXTRA_HEADERS)
        return -E2BIG;
    copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    resp->owned[resp->n_headers] = copy;
    r = http_response_add_header(resp, name, copy);
    return r;
}

void http_response_reset_body(struct http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->status = 0;
    resp->content_type = NULL;
    resp->stream_start = NULL;
    resp->stream_arg = NULL;
}

void http_response_clear(struct http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    for (size_t i = 0; i < resp->n_headers; i++)
        free(resp->owned[i]);
    memset(resp, 0, sizeof(*resp));
}

const char *http_status_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Request Entity Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}
