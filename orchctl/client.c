/*
 * orchctl's HTTP client: blocking libcurl, one easy handle reused for every
 * request so the connection stays open (see orchctl.h).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* A reply or a watch stream bigger than this is refused rather than
 * buffered without bound. */
#define CLIENT_MAX_BODY (64u * 1024 * 1024)

/* TCP keepalive on every connection: a server host that went away (no
 * reset ever comes) is noticed on an idle watch after the idle time plus
 * the kernel's probes, instead of never. */
#define CLIENT_KEEPIDLE_S  30L
#define CLIENT_KEEPINTVL_S 10L

struct orchctl_client {
    CURL *curl;
    char *server; /* without a trailing '/' */
    char *auth;   /* "Authorization: Bearer ...", owned, wiped on free */
    char *cacert;
    bool insecure;
    long long timeout_ms; /* per request; 0: none */
    char curl_err[CURL_ERROR_SIZE];
    char message[CURL_ERROR_SIZE + 512];
};

struct buffer {
    char *data;
    size_t len;
    size_t cap;
};

static int buffer_append(struct buffer *b, const char *p, size_t n)
{
    if (b->len + n + 1 > CLIENT_MAX_BODY)
        return -EFBIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *d;

        while (cap < b->len + n + 1)
            cap *= 2;
        d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int orchctl_client_open(const char *server, const char *token,
                        const char *cacert, bool insecure,
                        struct orchctl_client **ret_client)
{
    struct orchctl_client *c = NULL;
    size_t len;

    if (strncasecmp(server, "http://", 7) != 0 &&
        strncasecmp(server, "https://", 8) != 0)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->server = strdup(server);
    c->cacert = cacert ? strdup(cacert) : NULL;
    c->curl = curl_easy_init();
    if (!c->server || (cacert && !c->cacert) || !c->curl)
        goto fail;
    len = strlen(c->server);
    while (len > 0 && c->server[len - 1] == '/')
        c->server[--len] = '\0';
    if (token && *token &&
        asprintf(&c->auth, "Authorization: Bearer %s", token) < 0) {
        c->auth = NULL;
        goto fail;
    }
    c->insecure = insecure;
    *ret_client = c;
    return 0;
fail:
    orchctl_client_free(c);
    return -ENOMEM;
}

void orchctl_client_free(struct orchctl_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->auth)
        explicit_bzero(c->auth, strlen(c->auth));
    free(c->auth);
    free(c->server);
    free(c->cacert);
    free(c);
}

void orchctl_reply_clear(struct orchctl_reply *r)
{
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof(*r));
}

const char *orchctl_client_error(const struct orchctl_client *c)
{
    return c->message;
}

void orchctl_client_set_timeout(struct orchctl_client *c, long long ms)
{
    c->timeout_ms = ms > 0 ? ms : 0;
}

/* A duration for a message: "1s", "90s", "5m", "1500ms". */
static void client_duration(long long ms, char *buf, size_t size)
{
    if (ms % 1000)
        snprintf(buf, size, "%lldms", ms);
    else
        orchctl_age_format(ms / 1000, buf, size);
}

/* host:port of the server for kubectl's connection messages. */
static void client_host(const struct orchctl_client *c, char *buf, size_t size)
{
    const char *p = strstr(c->server, "://");
    size_t n;

    p = p ? p + 3 : c->server;
    n = strcspn(p, "/");
    snprintf(buf, size, "%.*s", (int)n, p);
}

/* Translate a libcurl failure into an errno and kubectl's words. */
static int client_fail(struct orchctl_client *c, CURLcode code)
{
    long sent = 0;
    char host[200], dur[32];

    client_host(c, host, sizeof(host));
    switch (code) {
    case CURLE_COULDNT_CONNECT:
        snprintf(c->message, sizeof(c->message),
                 "The connection to the server %s was refused - did you "
                 "specify the right host or port?",
                 host);
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(c->message, sizeof(c->message),
                 "Unable to connect to the server: dial tcp: lookup %s: no "
                 "such host",
                 host);
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_ABORTED_BY_CALLBACK: /* a watch's wait for its headers */
        /* Sent (on a new connection or a reused one): the server took the
         * request and did not answer. */
        curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &sent);
        if (sent > 0 && c->timeout_ms) {
            client_duration(c->timeout_ms, dur, sizeof(dur));
            snprintf(c->message, sizeof(c->message),
                     "Unable to get an answer from the server %s: none "
                     "within %s (--request-timeout)",
                     host, dur);
        } else {
            snprintf(c->message, sizeof(c->message),
                     "Unable to connect to the server %s: timeout", host);
        }
        return -ETIMEDOUT;
    case CURLE_WRITE_ERROR:
        if (!c->message[0])
            snprintf(c->message, sizeof(c->message),
                     "the reply from the server %s was too large", host);
        return -EFBIG;
    default:
        snprintf(c->message, sizeof(c->message),
                 "Unable to connect to the server %s: %s", host,
                 c->curl_err[0] ? c->curl_err : curl_easy_strerror(code));
        return -EIO;
    }
}

static size_t client_write(char *p, size_t size, size_t n, void *data)
{
    return buffer_append(data, p, size * n) < 0 ? 0 : size * n;
}

/* Set what every request shares; returns the header list to free. */
static struct curl_slist *client_prepare(struct orchctl_client *c,
                                         const char *path, const char *method,
                                         const char *content_type,
                                         const char *body)
{
    struct curl_slist *headers = NULL, *h;
    char *url = NULL;

    curl_easy_reset(c->curl);
    c->curl_err[0] = '\0';
    c->message[0] = '\0';
    if (asprintf(&url, "%s%s", c->server, path) < 0)
        return NULL;
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPIDLE, CLIENT_KEEPIDLE_S);
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPINTVL, CLIENT_KEEPINTVL_S);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "orchctl/" ORCHCTL_VERSION);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->cacert)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cacert);
    if (c->insecure) {
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    h = curl_slist_append(headers, "Accept: application/json");
    if (!h)
        goto fail;
    headers = h;
    if (body) {
        char ct[128];

        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        h = curl_slist_append(headers, ct);
        if (!h)
            goto fail;
        headers = h;
    }
    if (c->auth) {
        h = curl_slist_append(headers, c->auth);
        if (!h)
            goto fail;
        headers = h;
    }
    /* No "Expect: 100-continue" round trip for larger bodies. */
    h = curl_slist_append(headers, "Expect:");
    if (!h)
        goto fail;
    headers = h;
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    return headers;
fail:
    curl_slist_free_all(headers);
    return NULL;
}

int orchctl_client_request(struct orchctl_client *c, const char *method,
                           const char *path, const char *body,
                           struct orchctl_reply *ret_reply)
{
    return orchctl_client_send(c, method, path, NULL, body, ret_reply);
}

int orchctl_client_send(struct orchctl_client *c, const char *method,
                        const char *path, const char *content_type,
                        const char *body, struct orchctl_reply *ret_reply)
{
    struct buffer b = {0};
    struct curl_slist *headers;
    CURLcode code;
    long status = 0;
    int r;

    headers = client_prepare(c, path, method, content_type, body);
    if (!headers)
        return -ENOMEM;
    /* The whole exchange, connecting included: a server that accepts and
     * then says nothing must not hold a cron job for ever. */
    if (c->timeout_ms)
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
    code = curl_easy_perform(c->curl);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
        r = client_fail(c, code);
        free(b.data);
        return r;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (!b.data && buffer_append(&b, "", 0) < 0)
        return -ENOMEM;
    ret_reply->status = status;
    ret_reply->body = b.data;
    ret_reply->len = b.len;
    return 0;
}

struct watch {
    struct orchctl_client *client;
    struct buffer line;
    struct buffer error_body; /* the body of a non-2xx reply */
    int (*on_event)(void *data, const json_t *event);
    void *data;
    int stop; /* what on_event returned, or a negative errno */
    bool checked;
    bool failed_status;
    long long answer_by; /* monotonic ms the status line must come by; 0 */
};

/* While a watch waits for the server's answer: give up at answer_by (the
 * request timeout).  After the answer the stream may be quiet for as long
 * as the server's watch lasts; the transfer's own timeout ends it then. */
static int watch_progress(void *data, curl_off_t dltotal, curl_off_t dlnow,
                          curl_off_t ultotal, curl_off_t ulnow)
{
    struct watch *w = data;
    long status = 0;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;

    if (!w->answer_by)
        return 0;
    curl_easy_getinfo(w->client->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 0) {
        w->answer_by = 0;
        return 0;
    }
    return orchctl_now_ms() >= w->answer_by;
}

static int watch_line(struct watch *w, const char *p, size_t n)
{
    json_t *event;
    json_error_t jerr;
    int r;

    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    event = json_loadb(p, n, 0, &jerr);
    if (!event) {
        snprintf(w->client->message, sizeof(w->client->message),
                 "malformed watch event from the server: %s", jerr.text);
        return -EPROTO;
    }
    r = w->on_event(w->data, event);
    json_decref(event);
    return r;
}

static size_t watch_write(char *p, size_t size, size_t n, void *data)
{
    struct watch *w = data;
    size_t total = size * n, start = 0, i;

    if (!w->checked) {
        long status = 0;

        curl_easy_getinfo(w->client->curl, CURLINFO_RESPONSE_CODE, &status);
        w->failed_status = status < 200 || status > 299;
        w->checked = true;
    }
    if (w->failed_status)
        return buffer_append(&w->error_body, p, total) < 0 ? 0 : total;
    for (i = 0; i < total; i++) {
        if (p[i] != '\n')
            continue;
        if (buffer_append(&w->line, p + start, i - start) < 0) {
            w->stop = -ENOMEM;
            return 0;
        }
        w->stop = watch_line(w, w->line.data ? w->line.data : "", w->line.len);
        w->line.len = 0;
        if (w->stop)
            return 0;
        start = i + 1;
    }
    if (buffer_append(&w->line, p + start, total - start) < 0) {
        w->stop = -EFBIG;
        return 0;
    }
    return total;
}

int orchctl_client_watch(struct orchctl_client *c, const char *path,
                         long timeout_s,
                         int (*on_event)(void *data, const json_t *event),
                         void *data, struct orchctl_reply *ret_reply)
{
    struct watch w = {.client = c, .on_event = on_event, .data = data};
    struct curl_slist *headers;
    char *full = NULL;
    CURLcode code;
    long status = 0;
    int r = 0;

    if (timeout_s > 0 && asprintf(&full, "%s%stimeoutSeconds=%ld", path,
                                  strchr(path, '?') ? "&" : "?", timeout_s) < 0)
        return -ENOMEM;
    headers = client_prepare(c, full ? full : path, "GET", NULL, NULL);
    free(full);
    if (!headers)
        return -ENOMEM;
    if (c->timeout_ms) {
        w.answer_by = orchctl_now_ms() + c->timeout_ms;
        curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, watch_progress);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &w);
        /* The server ends the stream after timeout_s: one that has not
         * ended it a request timeout later is stalled. */
        if (timeout_s > 0)
            curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
                             (long)(timeout_s * 1000 + c->timeout_ms));
    }
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, watch_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &w);
    code = curl_easy_perform(c->curl);
    curl_slist_free_all(headers);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (w.stop) {
        r = w.stop;
        goto out;
    }
    if (code == CURLE_OPERATION_TIMEDOUT && status != 0) {
        char host[200];

        client_host(c, host, sizeof(host));
        snprintf(c->message, sizeof(c->message),
                 "the server %s did not end a watch asked to last %lds: "
                 "giving up on it",
                 host, timeout_s);
        r = -ETIMEDOUT;
        goto out;
    }
    if (code != CURLE_OK) {
        r = client_fail(c, code);
        goto out;
    }
    if (status < 200 || status > 299) {
        r = -EPROTO;
        if (ret_reply) {
            if (!w.error_body.data && buffer_append(&w.error_body, "", 0) < 0)
                goto out;
            ret_reply->status = status;
            ret_reply->body = w.error_body.data;
            ret_reply->len = w.error_body.len;
            w.error_body.data = NULL;
        }
        goto out;
    }
    /* A last event without its newline. */
    if (w.line.len)
        r = watch_line(&w, w.line.data, w.line.len);
out:
    free(w.line.data);
    free(w.error_body.data);
    return r;
}
