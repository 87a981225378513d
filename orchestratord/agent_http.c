/*
 * orchestratord: the real agent client (agent_client.h) on the HTTP
 * client of http/ (evhttp stays there).  A call's context is a small
 * struct freed when its answer comes; freeing the client drops the calls
 * in flight with it, so none calls back later.
 */
#include "orchestratord/agent_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "orchestratord/orchd.h"

struct agent_http {
    struct http_client *http;
    const struct orch_settings *settings;
    struct agent_call *calls; /* in flight, freed with the client */
};

struct agent_call {
    struct agent_http *a;
    struct agent_call *prev, *next;
    orch_agent_done_fn done;
    void *arg;
};

static void call_unlink(struct agent_call *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        k->a->calls = k->next;
    if (k->next)
        k->next->prev = k->prev;
}

static void http_done(int err, int status, const char *body, size_t len,
                      void *arg)
{
    struct agent_call *k = arg;
    json_t *doc = NULL;

    call_unlink(k);
    if (err == 0 && len)
        doc = json_loadb(body, len, 0, NULL);
    k->done(err, status, doc, k->arg);
    json_decref(doc);
    free(k);
}

/* BASE (the agent's URL, maybe with a trailing '/') + PATH. */
static int join(char *buf, size_t len, const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    return snprintf(buf, len, "%.*s%s", (int)n, base, path) < (int)len
               ? 0
               : -EINVAL;
}

static int agent_send(struct agent_http *a, enum http_method m, const char *url,
                      const char *body, orch_agent_done_fn done, void *arg)
{
    struct http_client_request r = {.method = m, .url = url};
    struct agent_call *k = calloc(1, sizeof(*k));
    char *auth = NULL;
    int ret;

    if (!k)
        return -ENOMEM;
    if (a->settings->agent_token &&
        asprintf(&auth, "Bearer %s", a->settings->agent_token) < 0) {
        free(k);
        return -ENOMEM;
    }
    r.authorization = auth;
    if (body) {
        r.content_type = "application/json";
        r.body = body;
        r.body_len = strlen(body);
    }
    k->a = a;
    k->done = done;
    k->arg = arg;
    ret = http_client_send(a->http, &r, http_done, k);
    if (auth) {
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    if (ret < 0) {
        free(k);
        return ret;
    }
    k->next = a->calls;
    if (a->calls)
        a->calls->prev = k;
    a->calls = k;
    return 0;
}

static int agent_submit(void *ctx, const char *url, const json_t *job,
                        orch_agent_done_fn done, void *arg)
{
    char target[1024];
    char *body;
    int r;

    if (join(target, sizeof(target), url, "/v1/jobs") < 0)
        return -EINVAL;
    body = json_dumps(job, JSON_COMPACT);
    if (!body)
        return -ENOMEM;
    r = agent_send(ctx, HTTP_METHOD_POST, target, body, done, arg);
    free(body);
    return r;
}

static int agent_get(void *ctx, const char *url, const char *id,
                     orch_agent_done_fn done, void *arg)
{
    char path[512], target[1024];

    /* Job ids are uids and fixed words: nothing to escape. */
    if (strpbrk(id, "/?#% ") ||
        snprintf(path, sizeof(path), "/v1/jobs/%s", id) >= (int)sizeof(path) ||
        join(target, sizeof(target), url, path) < 0)
        return -EINVAL;
    return agent_send(ctx, HTTP_METHOD_GET, target, NULL, done, arg);
}

static void agent_free(void *ctx)
{
    struct agent_http *a = ctx;

    if (!a)
        return;
    http_client_free(a->http);
    while (a->calls) {
        struct agent_call *k = a->calls;
        a->calls = k->next;
        free(k);
    }
    free(a);
}

static const struct orch_agent_ops agent_http_ops = {
    .submit = agent_submit,
    .get = agent_get,
    .free = agent_free,
};

int orch_agent_http_new(struct event_base *base,
                        const struct orch_settings *settings,
                        struct orch_agent *ret, char *errbuf, size_t errlen)
{
    struct http_client_opts o = {
        .cacert = settings->agent_cacert,
        .timeout_s = ORCH_AGENT_CALL_TIMEOUT_S,
    };
    struct agent_http *a = calloc(1, sizeof(*a));
    int r;

    if (!a)
        return -ENOMEM;
    a->settings = settings;
    r = http_client_new(base, &o, &a->http, errbuf, errlen);
    if (r < 0) {
        free(a);
        return r;
    }
    ret->ops = &agent_http_ops;
    ret->ctx = a;
    return 0;
}
