/*
 * orchestratord/events: core/v1 Events over the store's event log.
 *
 * The log's ids are the events' resourceVersions: a list answers the last
 * id, and a watch from resourceVersion N sends the events after id N.
 * Appends are not in the store's change feed (they do not bump the
 * records' resourceVersion), so a watch polls the log once a second; an
 * event shows at most that late, which is what `kubectl get events -w`
 * needs.
 */
#include "orchestratord/events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "orchestratord/kubeapi.h"
#include "orchestratord/orchd.h"

#define EVENTS_POLL_MS      1000
#define EVENTS_MAX_TERMS    8
#define EVENTS_LIST_DEFAULT 500

int orch_event_record(struct orch_server *srv, const json_t *obj,
                      const char *type, const char *reason, const char *message)
{
    const struct api_kind_info *k;
    struct store_event ev = {0};

    if (!srv || !obj)
        return -EINVAL;
    k = api_kind_find(api_doc_get_string(obj, "apiVersion"),
                      api_doc_get_string(obj, "kind"));
    if (!k)
        return -EINVAL;
    ev.kind = orch_store_kind(k->kind);
    ev.ns = api_doc_get_string(obj, "metadata.namespace");
    ev.name = api_doc_get_string(obj, "metadata.name");
    ev.uid = api_doc_get_string(obj, "metadata.uid");
    ev.type = type;
    ev.reason = reason;
    ev.message = message;
    return store_event_append(srv->store, &ev, NULL);
}

void orch_events_vmim_phase(const json_t *vmim, const char *phase,
                            const char *reason, void *arg)
{
    struct orch_server *srv = arg;
    const char *target =
        api_doc_get_string(vmim, "status.migrationState.targetNode");
    const char *vmi_name = api_doc_get_string(vmim, "spec.vmiName");
    json_t *vmi = NULL;
    char msg[512];

    if (!phase)
        return;
    if (!strcmp(phase, "Succeeded")) {
        snprintf(msg, sizeof(msg),
                 "The VirtualMachineInstance migrated to node %s.",
                 target ? target : "");
        orch_event_record(srv, vmim, "Normal", "Migrated", msg);
    } else if (!strcmp(phase, "Failed")) {
        snprintf(msg, sizeof(msg),
                 "VirtualMachineInstance migration failed%s%s",
                 reason ? ": " : ".", reason ? reason : "");
        orch_event_record(srv, vmim, "Warning", "MigrationFailed", msg);
    } else {
        snprintf(msg, sizeof(msg), "Migration phase is now %s%s%s", phase,
                 reason ? ": " : ".", reason ? reason : "");
        orch_event_record(srv, vmim, "Normal", phase, msg);
        return;
    }
    /* KubeVirt tells the VMI's story too. */
    if (vmi_name && store_get(srv->store, STORE_KIND_VMI,
                              api_doc_get_string(vmim, "metadata.namespace"),
                              vmi_name, &vmi) == 0)
        orch_event_record(
            srv, vmi, !strcmp(phase, "Succeeded") ? "Normal" : "Warning",
            !strcmp(phase, "Succeeded") ? "Migrated" : "MigrationFailed", msg);
    json_decref(vmi);
}

/*
 * Field selectors on events, as the API server's event registry offers
 * them.
 */

static const char *const event_fields[] = {
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.name",
    "metadata.namespace",
    NULL,
};

struct term {
    const char *path;
    char *value;
    bool negate;
};

struct event_filter {
    struct term terms[EVENTS_MAX_TERMS];
    size_t n;
};

static void event_filter_clear(struct event_filter *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->terms[i].value);
    f->n = 0;
}

/* Parse SEL ("a=b,c!=d", also "=="); returns 0 or -EINVAL with MSG. */
static int event_filter_parse(struct event_filter *f, const char *sel,
                              char *msg, size_t len)
{
    const char *p = sel;

    f->n = 0;
    while (p && *p) {
        size_t n = strcspn(p, ","), kl;
        const char *eq, *val;
        bool neg = false;
        const char *const *known;
        char key[64];

        eq = memchr(p, '=', n);
        if (!eq) {
            snprintf(msg, len, "invalid selector: '%.*s'; can't understand",
                     (int)n, p);
            goto bad;
        }
        kl = (size_t)(eq - p);
        val = eq + 1;
        if (kl > 0 && p[kl - 1] == '!') {
            neg = true;
            kl--;
        } else if (*val == '=') {
            val++;
        }
        if (kl >= sizeof(key)) {
            snprintf(msg, len, "field label not supported: %.*s", (int)kl, p);
            goto bad;
        }
        memcpy(key, p, kl);
        key[kl] = '\0';
        for (known = event_fields; *known && strcmp(*known, key); known++)
            ;
        if (!*known) {
            snprintf(msg, len,
                     "\"%s\" is not a known field selector: only "
                     "\"involvedObject.kind\", \"involvedObject.namespace\", "
                     "\"involvedObject.name\", \"involvedObject.uid\", "
                     "\"involvedObject.apiVersion\", "
                     "\"involvedObject.resourceVersion\", "
                     "\"involvedObject.fieldPath\", \"reason\", "
                     "\"reportingComponent\", \"source\", \"type\", "
                     "\"metadata.name\", \"metadata.namespace\"",
                     key);
            goto bad;
        }
        if (f->n == EVENTS_MAX_TERMS) {
            snprintf(msg, len, "too many field selector terms (at most %d)",
                     EVENTS_MAX_TERMS);
            goto bad;
        }
        f->terms[f->n].path = *known;
        f->terms[f->n].value = strndup(val, (size_t)(p + n - val));
        f->terms[f->n].negate = neg;
        if (!f->terms[f->n].value) {
            snprintf(msg, len, "out of memory");
            goto bad;
        }
        f->n++;
        p += n + (p[n] == ',');
    }
    return 0;
bad:
    event_filter_clear(f);
    return -EINVAL;
}

static bool event_filter_match(const struct event_filter *f, const json_t *ev)
{
    for (size_t i = 0; i < f->n; i++) {
        const char *path = f->terms[i].path;
        const char *v;
        if (!strcmp(path, "source"))
            path = "source.component";
        v = api_doc_get_string(ev, path);
        if (!v)
            v = "";
        if (!strcmp(v, f->terms[i].value) == f->terms[i].negate)
            return false;
    }
    return true;
}

/* The value of F's positive term on PATH, or NULL. */
static const char *term_value(const struct event_filter *f, const char *path)
{
    for (size_t i = 0; i < f->n; i++)
        if (!f->terms[i].negate && !strcmp(f->terms[i].path, path))
            return f->terms[i].value;
    return NULL;
}

/* What of F the store's event log can select by itself, so that a
 * describe (which names kind, namespace and name) reads that object's
 * events through the log's index, not the whole log. */
static void store_filter_for(const struct event_filter *f, const char *ns,
                             struct store_event_filter *sf)
{
    const char *kind = term_value(f, "involvedObject.kind");
    const char *name = term_value(f, "involvedObject.name");
    const char *ons = term_value(f, "involvedObject.namespace");
    int k = kind ? store_kind_from_name(kind) : -1;

    sf->kind = k >= 0 ? k : -1;
    sf->ns = ns;
    if (!ns && ons && *ons)
        sf->ns = ons;
    if (k >= 0 && name && (sf->ns || !store_kind_is_namespaced(k)))
        sf->name = name;
}

/* The events after AFTER_ID that pass F, in NS (NULL: all), and the last
 * id read in *RET_LAST. */
static int events_read(struct orch_server *srv, const char *ns,
                       const struct event_filter *f, int64_t after_id,
                       json_t **ret_items, int64_t *ret_last)
{
    struct store_event_filter sf = {.kind = -1, .after_id = after_id};
    json_t *all = NULL, *items = json_array();
    int r;

    store_filter_for(f, ns, &sf);

    *ret_last = after_id;
    if (!items)
        return -ENOMEM;
    r = store_event_list(srv->store, &sf, &all);
    if (r < 0) {
        json_decref(items);
        return r;
    }
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *ev = json_array_get(all, i);
        json_int_t id = json_integer_value(json_object_get(ev, "id"));
        char rv[32];
        if (id > *ret_last)
            *ret_last = id;
        /* The log's id is the event's resourceVersion; "id" is not a
         * member of core/v1 Event. */
        json_object_del(ev, "id");
        snprintf(rv, sizeof(rv), "%" JSON_INTEGER_FORMAT, id);
        json_object_set_new(json_object_get(ev, "metadata"), "resourceVersion",
                            json_string(rv));
        if (event_filter_match(f, ev))
            json_array_append(items, ev);
    }
    json_decref(all);
    *ret_items = items;
    return 0;
}

/*
 * Watch.
 */

struct events_watch {
    struct orch_server *srv;
    struct http_stream *stream;
    struct event *tick;
    struct event_filter filter;
    char *ns;
    int64_t last;
    long remaining_ms;    /* until timeoutSeconds; < 0: none */
    bool table;           /* Accept asked for Tables */
    char *include_object; /* their rows' objects */
};

static void events_watch_free(struct events_watch *w)
{
    if (!w)
        return;
    w->srv->n_event_watchers--;
    if (w->tick)
        event_free(w->tick);
    event_filter_clear(&w->filter);
    free(w->ns);
    free(w->include_object);
    free(w);
}

static int events_watch_send(struct events_watch *w, const json_t *items)
{
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *one = json_pack("[O]", json_array_get(items, i));
        json_t *obj = !w->table ? json_incref(json_array_get(items, i))
                      : one ? orch_table_events(one, NULL, w->include_object,
                                                (long long)time(NULL))
                            : NULL;
        json_t *line =
            obj ? json_pack("{s:s, s:o}", "type", "ADDED", "object", obj)
                : NULL;
        json_decref(one);
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        int r;
        json_decref(line);
        if (!text)
            return -ENOMEM;
        size_t n = strlen(text);
        text[n] = '\n'; /* the NUL goes; the length says where it ends */
        r = http_stream_write(w->stream, text, n + 1);
        free(text);
        if (r < 0)
            return r;
    }
    return 0;
}

static void events_watch_close(void *arg)
{
    events_watch_free(arg);
}

static void events_watch_tick(evutil_socket_t fd, short what, void *arg)
{
    struct events_watch *w = arg;
    struct timeval tv = {EVENTS_POLL_MS / 1000, (EVENTS_POLL_MS % 1000) * 1000};
    json_t *items = NULL;
    (void)fd;
    (void)what;

    if (events_read(w->srv, w->ns, &w->filter, w->last, &items, &w->last) < 0 ||
        events_watch_send(w, items) < 0 || w->srv->shutting_down) {
        json_decref(items);
        http_stream_end(w->stream);
        events_watch_free(w);
        return;
    }
    json_decref(items);
    if (w->remaining_ms >= 0) {
        w->remaining_ms -= EVENTS_POLL_MS;
        if (w->remaining_ms <= 0) {
            http_stream_end(w->stream);
            events_watch_free(w);
            return;
        }
    }
    evtimer_add(w->tick, &tv);
}

static void events_watch_start(struct http_stream *stream, void *arg)
{
    struct events_watch *w = arg;
    struct http_stream_callbacks cbs = {.on_close = events_watch_close,
                                        .arg = w};
    struct timeval now = {0, 0};

    w->stream = stream;
    http_stream_set_callbacks(stream, &cbs);
    /* The first tick sends what is already there after the start. */
    evtimer_add(w->tick, &now);
}

/*
 * The handler.
 */

void orch_events_handle(struct orch_server *srv, const struct http_request *req,
                        struct http_response *resp, const char *ns)
{
    struct event_filter f = {0};
    struct orch_query q;
    char msg[1024];
    const char *rvs = http_request_param(req, "resourceVersion");
    const char *lim = http_request_param(req, "limit");
    const char *tos = http_request_param(req, "timeoutSeconds");
    int64_t after = 0, last = 0;
    json_t *items = NULL, *doc = NULL;
    char *end;
    int r;

    if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD) {
        orch_reply_errno(resp, -EOPNOTSUPP,
                         "the server does not allow this method on the "
                         "requested resource: events are recorded by "
                         "orchestratord");
        return;
    }
    r = orch_query_parse(req->params, req->n_params, "list", &q, msg,
                         sizeof(msg));
    if (r < 0) {
        orch_reply_errno(resp, r, "%s", msg);
        return;
    }
    if (rvs && *rvs) {
        errno = 0;
        after = strtoll(rvs, &end, 10);
        if (errno || *end || after < 0) {
            orch_reply_errno(resp, -EINVAL, "invalid resourceVersion: '%s'",
                             rvs);
            return;
        }
    }
    if (event_filter_parse(&f, http_request_param(req, "fieldSelector"), msg,
                           sizeof(msg)) < 0) {
        orch_reply_errno(resp, -EINVAL, "%s", msg);
        return;
    }
    if (q.watch) {
        struct events_watch *w;
        long long to = tos ? strtoll(tos, &end, 10) : 0;
        /* Each polls the log once a second: as many as other watches. */
        if (srv->n_event_watchers >= srv->settings.max_watchers) {
            event_filter_clear(&f);
            orch_reply_errno(resp, -EAGAIN,
                             "too many watches of events (limit %zu)",
                             srv->settings.max_watchers);
            return;
        }
        w = calloc(1, sizeof(*w));
        if (!w || !srv->base || (ns && !(w->ns = strdup(ns)))) {
            if (w)
                free(w->ns);
            free(w);
            event_filter_clear(&f);
            orch_reply_errno(resp, srv->base ? -ENOMEM : -EOPNOTSUPP,
                             "cannot watch events");
            return;
        }
        w->srv = srv;
        srv->n_event_watchers++;
        w->filter = f;
        w->table = orch_accept_table(req->accept);
        if (http_request_param(req, "includeObject"))
            w->include_object =
                strdup(http_request_param(req, "includeObject"));
        /* Without a resourceVersion a watch starts with what exists, as
         * the API server's synthetic ADDED events. */
        w->last = after;
        w->remaining_ms = to > 0 ? (long)(to > 3600 ? 3600 : to) * 1000 : -1;
        w->tick = evtimer_new(srv->base, events_watch_tick, w);
        if (!w->tick) {
            events_watch_free(w);
            orch_reply_errno(resp, -ENOMEM, "out of memory");
            return;
        }
        resp->status = 200;
        resp->content_type = "application/json";
        resp->stream_start = events_watch_start;
        resp->stream_arg = w;
        return;
    }
    r = events_read(srv, ns, &f, after, &items, &last);
    event_filter_clear(&f);
    if (r < 0) {
        orch_reply_errno(resp, r, "cannot read the events");
        return;
    }
    if (lim) {
        long long n = strtoll(lim, &end, 10);
        /* The newest events are what a page of them is for. */
        while (n > 0 && !*end && json_array_size(items) > (size_t)n)
            json_array_remove(items, 0);
    }
    {
        char rv[32];
        json_t *md;
        snprintf(rv, sizeof(rv), "%" PRId64, last);
        md = json_pack("{s:s}", "resourceVersion", rv);
        if (orch_accept_table(req->accept))
            doc = orch_table_events(items, md,
                                    http_request_param(req, "includeObject"),
                                    (long long)time(NULL));
        else
            doc = json_pack("{s:s, s:s, s:O, s:O}", "apiVersion", "v1", "kind",
                            "EventList", "metadata", md, "items", items);
        json_decref(md);
    }
    json_decref(items);
    if (!doc) {
        orch_reply_errno(resp, -ENOMEM, "out of memory");
        return;
    }
    orch_reply_json(resp, req, 200, doc);
    json_decref(doc);
}
