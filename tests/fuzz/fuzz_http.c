/*
 * libFuzzer target for orchestratord's request handling: parse a request
 * target, run orch_handle() against a ":memory:" store seeded with a few
 * objects, and check what comes back.
 *
 * Input: up to MAX_REQUESTS requests separated by a 0x1e byte.  Each is
 *   one flags byte: bits 0-2 the method (GET HEAD POST PUT DELETE PATCH
 *                   OPTIONS OTHER), bit 3 "tokens configured"
 *   then '\n'-separated fields: target (path and query), Content-Type,
 *   Accept, Authorization (an empty field is an absent header), and the
 *   rest is the body.
 * Every input starts from a fresh server and the same seeded records (see
 * store_reset()), so a crash reproduces from its input alone.  Watches run
 * against an in-memory sink (the server has no event base, so no timers); they
 * stay open until the input's last request, so later writes reach them live.
 *
 * Invariants: a status in 100..599 and never 500 (a ":memory:" store does
 * not fail); a JSON body parses, a YAML body decodes, a Status object
 * carries the response's code; every watch event is one line
 * {"type": ..., "object": {...}}.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "orchestratord/orchd.h"

#define MAX_REQUESTS 4
#define MAX_WATCHES  4
#define REOPEN_EVERY 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* FUZZ_HTTP_VERBOSE=1: print each request's status (to check seeds). */
static bool verbose;

struct sink {
    struct orch_watcher *w;
    bool ended; /* the server finished the watch and freed it */
};

static const enum http_method methods[8] = {
    HTTP_METHOD_GET,     HTTP_METHOD_HEAD,   HTTP_METHOD_POST,
    HTTP_METHOD_PUT,     HTTP_METHOD_DELETE, HTTP_METHOD_PATCH,
    HTTP_METHOD_OPTIONS, HTTP_METHOD_OTHER,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_http", LOG_LEVEL_ERROR);
    verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
    return 0;
}

static void seed(struct store *st, enum store_kind kind, const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    if (!doc || store_create(st, kind, doc) < 0)
        abort();
    json_decref(doc);
}

static void seed_store(struct store *st)
{
    seed(st, STORE_KIND_VMI,
         "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
         "\"VirtualMachineInstance\",\"metadata\":{\"name\":\"vmi-fedora\","
         "\"namespace\":\"default\",\"labels\":{\"app\":\"fedora\"}},"
         "\"spec\":{},\"status\":{\"phase\":\"Running\",\"nodeName\":"
         "\"node1\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
         "{\"type\":\"LiveMigratable\",\"status\":\"True\"}]}}");
    seed(st, STORE_KIND_VMI,
         "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
         "\"VirtualMachineInstance\",\"metadata\":{\"name\":\"vmi-done\","
         "\"namespace\":\"default\"},\"spec\":{},\"status\":{\"phase\":"
         "\"Succeeded\",\"nodeName\":\"node2\"}}");
    seed(st, STORE_KIND_VMI,
         "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
         "\"VirtualMachineInstance\",\"metadata\":{\"name\":\"vmi-pinned\","
         "\"namespace\":\"default\"},\"spec\":{},\"status\":{\"phase\":"
         "\"Running\",\"nodeName\":\"node1\",\"conditions\":[{\"type\":"
         "\"LiveMigratable\",\"status\":\"False\",\"reason\":"
         "\"HostDevice\",\"message\":\"has a host device\"}]}}");
    seed(st, STORE_KIND_NODE,
         "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":"
         "\"node1\",\"labels\":{\"zone\":\"a\"}},\"spec\":{},\"status\":{}}");
}

static void tokens_init(struct orch_settings *s)
{
    s->tokens = calloc(2, sizeof(*s->tokens));
    if (!s->tokens)
        abort();
    s->tokens[0].name = strdup("admin");
    s->tokens[0].token = strdup("s3cret");
    s->tokens[0].role = ORCH_ROLE_ADMIN;
    s->tokens[1].name = strdup("viewer");
    s->tokens[1].token = strdup("look");
    s->tokens[1].role = ORCH_ROLE_VIEWER;
    s->n_tokens = 2;
}

/* Each write is one or more whole event lines. */
static int sink_write(void *ctx, const char *buf, size_t len)
{
    (void)ctx;
    if (len == 0 || buf[len - 1] != '\n')
        abort();
    while (len > 0) {
        const char *nl = memchr(buf, '\n', len);
        size_t n = (size_t)(nl - buf);
        json_t *ev = json_loadb(buf, n, 0, NULL);
        if (!ev || !json_is_string(json_object_get(ev, "type")) ||
            !json_is_object(json_object_get(ev, "object")))
            abort();
        json_decref(ev);
        buf += n + 1;
        len -= n + 1;
    }
    return 0;
}

static size_t sink_pending(void *ctx)
{
    (void)ctx;
    return 0;
}

static void sink_end(void *ctx)
{
    ((struct sink *)ctx)->ended = true;
}

static void check_response(const struct http_response *resp)
{
    if (resp->status < 100 || resp->status > 599 || resp->status == 500)
        abort();
    if (resp->stream_start)
        return;
    if (!resp->content_type)
        return;
    if (strcmp(resp->content_type, "application/json") == 0) {
        json_error_t err;
        json_t *doc;
        if (!resp->body)
            abort();
        doc = json_loadb(resp->body, resp->body_len, 0, &err);
        if (!doc)
            abort();
        {
            const char *kind = json_string_value(json_object_get(doc, "kind"));
            if (kind && strcmp(kind, "Status") == 0 &&
                json_integer_value(json_object_get(doc, "code")) !=
                    resp->status)
                abort();
        }
        json_decref(doc);
    } else if (strcmp(resp->content_type, "application/yaml") == 0) {
        struct api_limits lim = API_LIMITS_DEFAULT;
        json_t *doc = NULL;
        lim.max_body_bytes = (size_t)-1;
        lim.max_depth = 1000;
        lim.max_nodes = (size_t)-1;
        lim.max_items = (size_t)-1;
        lim.max_string_bytes = (size_t)-1;
        if (!resp->body ||
            api_doc_decode(resp->body, resp->body_len, &lim, &doc, NULL) < 0)
            abort();
        json_decref(doc);
    }
}

/* The next '\n'-terminated field of [*P, END) as a new string, or NULL
 * when empty. */
static char *field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl ? nl : end;
    char *s = NULL;

    if (stop > *p) {
        s = strndup((const char *)*p, (size_t)(stop - *p));
        if (!s)
            abort();
    }
    *p = nl ? nl + 1 : end;
    return s;
}

static void one_request(struct orch_server *srv, const uint8_t *p,
                        const uint8_t *end, struct sink *sinks, size_t *n_sinks)
{
    struct http_request req;
    struct http_response resp;
    char *target, *ctype, *accept, *auth, *body;
    char buf[4096];
    size_t body_len;
    uint8_t flags;

    if (p >= end)
        return;
    flags = *p++;
    target = field(&p, end);
    ctype = field(&p, end);
    accept = field(&p, end);
    auth = field(&p, end);
    body_len = (size_t)(end - p);
    body = malloc(body_len + 1);
    if (!body)
        abort();
    memcpy(body, p, body_len);
    body[body_len] = '\0';

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    if (!target ||
        http_request_parse_target(&req, target, buf, sizeof(buf)) < 0)
        goto out;
    req.method = methods[flags & 7];
    req.path = target;
    req.content_type = ctype;
    req.accept = accept;
    req.authorization = auth;
    req.body = body;
    req.body_len = body_len;
    req.peer = "127.0.0.1:1";
    srv->settings.n_tokens = (flags & 8) ? 2 : 0;

    orch_handle(&req, &resp, srv);
    if (verbose)
        fprintf(stderr, "%s %s -> %d%s\n", http_method_name(req.method), target,
                resp.status, resp.stream_start ? " (watch)" : "");
    check_response(&resp);
    if (resp.stream_start) {
        struct orch_watcher *w = resp.stream_arg;
        struct sink *s;
        struct orch_watch_io io = {
            .write = sink_write,
            .pending = sink_pending,
            .end = sink_end,
        };
        if (resp.stream_start != orch_watch_http_start || !w ||
            *n_sinks >= MAX_WATCHES)
            abort(); /* only watches stream; max_watchers caps them */
        s = &sinks[(*n_sinks)++];
        s->w = w;
        s->ended = false;
        io.ctx = s;
        orch_watch_start(w, &io);
    }
    /* What the event loop does next: the commits reach the watches. */
    orch_feed_run(srv);
out:
    http_response_clear(&resp);
    free(target);
    free(ctype);
    free(accept);
    free(auth);
    free(body);
}

/* Delete every record and seed again: each input starts from the same
 * objects.  A fresh ":memory:" store costs ~30 ms under the sanitizers
 * (the schema), emptying it well under 1 ms; the store is still reopened
 * every REOPEN_EVERY inputs so the change feed and event log stay small. */
static struct store *store_reset(void)
{
    static struct store *st;
    static unsigned long runs;
    char err[256];

    if (st && ++runs % REOPEN_EVERY == 0) {
        store_close(st);
        st = NULL;
    }
    if (!st) {
        struct store_opts o = {.change_history = 1000, .event_history = 100};
        if (store_open(":memory:", &o, &st, err, sizeof(err)) < 0)
            abort();
    } else {
        for (int k = 0; k < STORE_KIND_COUNT; k++) {
            struct store_page page = {0};
            if (store_list(st, k, NULL, NULL, &page) < 0)
                abort();
            for (size_t i = 0; i < json_array_size(page.items); i++) {
                const json_t *o = json_array_get(page.items, i);
                if (store_delete(
                        st, k, api_doc_get_string(o, "metadata.namespace"),
                        api_doc_get_string(o, "metadata.name"), 0, NULL) < 0)
                    abort();
            }
            store_page_release(&page);
        }
    }
    seed_store(st);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store *st = store_reset();
    struct orch_server srv;
    struct sink sinks[MAX_WATCHES];
    size_t n_sinks = 0, n_req = 0;
    const uint8_t *p = data, *end = data + size;

    orch_server_init(&srv, st);
    tokens_init(&srv.settings);
    srv.settings.max_watchers = MAX_WATCHES;
    srv.settings.max_list_limit = 3; /* pages with few objects */

    while (p < end && n_req < MAX_REQUESTS) {
        const uint8_t *rs = memchr(p, 0x1e, (size_t)(end - p));
        const uint8_t *stop = rs ? rs : end;
        one_request(&srv, p, stop, sinks, &n_sinks);
        n_req++;
        p = rs ? rs + 1 : end;
    }

    for (size_t i = 0; i < n_sinks; i++)
        if (!sinks[i].ended)
            orch_watch_closed(sinks[i].w);
    if (srv.n_watchers != 0 || srv.watchers)
        abort();
    srv.settings.n_tokens = 2;
    orch_server_release(&srv);
    return 0;
}
