/*
 * orchestratord: Status objects and the one errno -> HTTP table.
 */
#include "orchestratord/orchd.h"
#include "utf8/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int err;
    int code;
    const char *reason;
} status_table[] = {
    {EINVAL, 400, "BadRequest"},
    {ENOKEY, 401, "Unauthorized"},
    {EACCES, 403, "Forbidden"},
    {EPERM, 403, "Forbidden"},
    {ENOENT, 404, "NotFound"},
    {EOPNOTSUPP, 405, "MethodNotAllowed"},
    {ENOPROTOOPT, 406, "NotAcceptable"},
    {EEXIST, 409, "AlreadyExists"},
    {ESTALE, 409, "Conflict"},
    {EALREADY, 409, "Conflict"},
    {EKEYEXPIRED, 410, "Expired"},
    {EMSGSIZE, 413, "RequestEntityTooLarge"},
    {E2BIG, 413, "RequestEntityTooLarge"},
    {EPROTONOSUPPORT, 415, "UnsupportedMediaType"},
    {EDOM, 422, "Invalid"},
    {EAGAIN, 429, "TooManyRequests"},
    {EBUSY, 503, "ServiceUnavailable"},
    {ENOSPC, 507, "InsufficientStorage"},
    {ESHUTDOWN, 503, "ServiceUnavailable"},
};

int orch_status_for_errno(int err, const char **ret_reason)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof(status_table) / sizeof(*status_table); i++) {
        if (status_table[i].err == err) {
            if (ret_reason)
                *ret_reason = status_table[i].reason;
            return status_table[i].code;
        }
    }
    if (ret_reason)
        *ret_reason = "InternalError";
    return 500;
}

/* MSG with every byte that is not part of valid UTF-8 replaced by U+FFFD
 * (malloc'd), or NULL on ENOMEM.  Messages quote what clients sent, which
 * need not be UTF-8, and snprintf() may cut a character in two; jansson
 * refuses such strings, and the Status would become a 500. */
static char *utf8_sanitize(const char *msg)
{
    const unsigned char *s = (const unsigned char *)msg;
    size_t len = strlen(msg), o = 0;
    char *out = malloc(len * 3 + 1); /* each bad byte grows to 3 */

    if (!out)
        return NULL;
    while (*s) {
        size_t n = utf8_seq_len(s);
        if (n == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            s++;
        } else {
            memcpy(out + o, s, n);
            o += n;
            s += n;
        }
    }
    out[o] = '\0';
    return out;
}

json_t *orch_status_new(int code, const char *reason, const char *message,
                        json_t *details)
{
    char *clean = utf8_sanitize(message ? message : "");
    json_t *st = NULL;

    if (clean)
        st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
                       "apiVersion", "v1", "metadata", "status",
                       code < 400 ? "Success" : "Failure", "message", clean,
                       "reason", reason ? reason : "", "code", code);
    free(clean);
    if (st && details)
        json_object_set_new(st, "details", details);
    else if (details)
        json_decref(details);
    if (st && code < 400) {
        json_object_del(st, "reason");
        if (!message)
            json_object_del(st, "message");
    }
    return st;
}

static void reply_encoded(struct http_response *resp, int code, json_t *doc,
                          enum api_format fmt)
{
    char *buf = NULL;
    size_t len = 0;

    http_response_reset_body(resp);
    if (!doc || api_doc_encode(doc, fmt, &buf, &len) < 0) {
        static const char oom[] =
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
            "\"status\":\"Failure\",\"message\":\"out of memory\","
            "\"reason\":\"InternalError\",\"code\":500}";
        resp->status = 500;
        resp->content_type = "application/json";
        resp->body = strdup(oom);
        resp->body_len = resp->body ? strlen(oom) : 0;
        return;
    }
    resp->status = code;
    resp->content_type =
        fmt == API_FORMAT_YAML ? "application/yaml" : "application/json";
    resp->body = buf;
    resp->body_len = len;
}

void orch_reply_status(struct http_response *resp, int code, const char *reason,
                       const char *message, json_t *details)
{
    json_t *st = orch_status_new(code, reason, message, details);
    reply_encoded(resp, code, st, API_FORMAT_JSON);
    json_decref(st);
}

void orch_reply_errno(struct http_response *resp, int err, const char *fmt, ...)
{
    char msg[1024];
    const char *reason;
    int code = orch_status_for_errno(err, &reason);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    orch_reply_status(resp, code, reason, msg, NULL);
}

int orch_accept_format(const char *accept)
{
    const char *p = accept;

    if (!accept || !*accept)
        return API_FORMAT_JSON;
    while (*p) {
        char range[128];
        size_t n = 0;
        while (*p == ' ' || *p == ',')
            p++;
        while (*p && *p != ',' && *p != ';' && n + 1 < sizeof(range))
            range[n++] = *p++;
        range[n] = '\0';
        while (n > 0 && range[n - 1] == ' ')
            range[--n] = '\0';
        while (*p && *p != ',')
            p++; /* parameters such as ;q= or ;stream=watch */
        if (!strcasecmp(range, "application/yaml") ||
            !strcasecmp(range, "application/x-yaml") ||
            !strcasecmp(range, "text/yaml"))
            return API_FORMAT_YAML;
        if (!strcasecmp(range, "application/json") ||
            !strcasecmp(range, "application/*") || !strcasecmp(range, "*/*") ||
            !strcasecmp(range, "*"))
            return API_FORMAT_JSON;
    }
    return -ENOPROTOOPT;
}

void orch_reply_json(struct http_response *resp, const struct http_request *req,
                     int code, const json_t *doc)
{
    int fmt = orch_accept_format(req ? req->accept : NULL);
    reply_encoded(resp, code, (json_t *)doc,
                  fmt < 0 ? API_FORMAT_JSON : (enum api_format)fmt);
}

bool orch_body_fits(const struct orch_server *srv,
                    const struct http_request *req, struct http_response *resp)
{
    if (req->body_len <= srv->settings.api_limits.max_body_bytes)
        return true;
    orch_reply_errno(resp, -EMSGSIZE,
                     "the request body is too large: %zu bytes, the limit is "
                     "%zu",
                     req->body_len, srv->settings.api_limits.max_body_bytes);
    return false;
}
