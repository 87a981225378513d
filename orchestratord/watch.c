/*
 * orchestratord: watches.
 *
 * A watcher first catches up from the store — the current objects as ADDED
 * events (when no resourceVersion was given), then the change feed after
 * the list's resourceVersion or the one given — a page at a time, sending
 * the next page only when the previous one has left the process, so a
 * slow client costs at most a page of memory.  Once the feed is exhausted
 * the watcher is live: the change feed (feed.c) hands it every later
 * committed change, whoever wrote it, through orch_watch_dispatch().
 *
 * The pages after the first are read later, so an object written in
 * between is listed at its new version, which the feed also holds (with
 * the older ones before it).  The watcher remembers such objects and the
 * feed skips their events up to the version listed: each object goes out
 * once per version, never older after newer.  A live watcher's cursor is
 * the last resourceVersion it was given or that the feed has gone past,
 * so a change reaches it once whether its catch-up or the feed saw it
 * first.
 *
 * A watch ends with an ERROR event (a Status, as the API server sends) and
 * then the stream's last chunk, never in the middle of a line: when its
 * position has left the history (410 Expired), when its resourceVersion is
 * in the future (504 Timeout, ResourceVersionTooLarge), when its client does
 * not read (more than WATCH_MAX_PENDING bytes queued) and when SIGHUP
 * revoked the token that opened it.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log/log.h"
#include "orchestratord/kubeapi.h"

#define WATCH_PAGE        200
#define WATCH_LOW_WATER   (64 * 1024)
#define WATCH_MAX_PENDING (4 * 1024 * 1024)

enum watch_state {
    WATCH_IDLE = 0, /* made, not started */
    WATCH_LISTING,  /* sending the current objects */
    WATCH_FEED,     /* sending the change feed */
    WATCH_LIVE,     /* sending each write as it happens */
    WATCH_DONE,
};

struct orch_watcher {
    struct orch_server *srv;
    struct orch_watcher *prev, *next;
    const struct api_kind_info *kind;
    char *ns;
    char *name;
    struct orch_filter filter;
    enum watch_state state;
    int64_t cursor; /* last resourceVersion sent or covered */
    bool from_rv;   /* started from the client's resourceVersion */
    /* Who opened it: the token's name and the Authorization header it
     * came with (NULL without one), to end it if SIGHUP revokes that. */
    char *user;
    char *authorization;
    char *continue_token;
    long timeout_s;
    struct event *timer;
    struct event *resume; /* the listing goes on at the loop's next turn */
    struct orch_watch_io io;
    bool pumping;
    /* Objects listed at a version after the first page's (sorted by key
     * once the listing ends); freed when the watcher goes live. */
    struct listed_obj *listed;
    size_t n_listed, cap_listed;
    bool table;           /* events carry Tables (orch_watch_params) */
    char *include_object; /* for the Tables' rows; NULL: Metadata */
};

struct listed_obj {
    char *key; /* "namespace/name" */
    int64_t rv;
};

static void watch_unlink(struct orch_watcher *w)
{
    struct orch_server *srv = w->srv;
    if (w->prev)
        w->prev->next = w->next;
    else if (srv->watchers == w)
        srv->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    srv->n_watchers--;
    orch_feed_listeners_changed(srv);
}

static void listed_clear(struct orch_watcher *w)
{
    for (size_t i = 0; i < w->n_listed; i++)
        free(w->listed[i].key);
    free(w->listed);
    w->listed = NULL;
    w->n_listed = w->cap_listed = 0;
}

void orch_watch_free(struct orch_watcher *w)
{
    if (!w)
        return;
    watch_unlink(w);
    if (w->timer)
        event_free(w->timer);
    if (w->resume)
        event_free(w->resume);
    orch_filter_clear(&w->filter);
    listed_clear(w);
    free(w->continue_token);
    free(w->ns);
    free(w->name);
    free(w->user);
    free(w->include_object);
    if (w->authorization) {
        /* Do not leave secrets in freed memory. */
        explicit_bzero(w->authorization, strlen(w->authorization));
        free(w->authorization);
    }
    free(w);
}

int orch_watch_new(struct orch_server *srv, const struct orch_watch_params *p,
                   struct orch_watcher **ret_watcher, char **ret_msg)
{
    struct orch_watcher *w;
    const char *rv = p->resource_version;
    int64_t cursor = -1;
    int r;

    *ret_msg = NULL;
    if (srv->n_watchers >= srv->settings.max_watchers)
        return -EAGAIN;
    if (rv && *rv && strcmp(rv, "0") != 0) {
        if (store_rv_parse(rv, &cursor) < 0) {
            if (asprintf(ret_msg, "invalid resourceVersion: '%s'", rv) < 0)
                *ret_msg = NULL;
            return -EINVAL;
        }
    }
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    r = orch_filter_parse(&w->filter, p->label_selector, p->field_selector,
                          ret_msg);
    if (r < 0) {
        free(w);
        return r;
    }
    w->srv = srv;
    w->kind = p->kind;
    w->ns = p->ns ? strdup(p->ns) : NULL;
    w->name = p->name ? strdup(p->name) : NULL;
    w->cursor = cursor;
    w->from_rv = cursor >= 0;
    w->timeout_s = p->timeout_s <= 0 ? ORCH_WATCH_TIMEOUT_S
                   : p->timeout_s > ORCH_WATCH_MAX_TIMEOUT_S
                       ? ORCH_WATCH_MAX_TIMEOUT_S
                       : p->timeout_s;
    w->user = p->user ? strdup(p->user) : NULL;
    w->table = p->table;
    w->include_object = p->include_object ? strdup(p->include_object) : NULL;
    w->authorization = p->authorization ? strdup(p->authorization) : NULL;
    /* Registered now so max_watchers counts it; it receives nothing until
     * started. */
    w->next = srv->watchers;
    if (srv->watchers)
        srv->watchers->prev = w;
    srv->watchers = w;
    srv->n_watchers++;
    orch_feed_listeners_changed(srv);
    if ((p->ns && !w->ns) || (p->name && !w->name) || (p->user && !w->user) ||
        (p->authorization && !w->authorization)) {
        orch_watch_free(w);
        return -ENOMEM;
    }
    *ret_watcher = w;
    return 0;
}

static bool watch_matches(const struct orch_watcher *w, const json_t *obj)
{
    if (w->ns) {
        const char *ns = api_doc_get_string(obj, "metadata.namespace");
        if (!ns || strcmp(ns, w->ns) != 0)
            return false;
    }
    if (w->name) {
        const char *n = api_doc_get_string(obj, "metadata.name");
        if (!n || strcmp(n, w->name) != 0)
            return false;
    }
    return orch_filter_match(obj, (void *)&w->filter);
}

/* The event line {"type":TYPE,"object":OBJ}\n, from OBJ's JSON text when
 * the caller has it.  Returns a malloc'd line and its length, or NULL. */
static char *event_line(const char *type, const json_t *obj,
                        const char *obj_text, size_t obj_len, size_t *ret_len)
{
    static const char head[] = "{\"type\":\"", mid[] = "\",\"object\":";
    char *dumped = NULL, *line;
    size_t tlen = strlen(type), n;

    if (!obj_text) {
        dumped = json_dumps(obj, JSON_COMPACT);
        if (!dumped)
            return NULL;
        obj_text = dumped;
        obj_len = strlen(dumped);
    }
    /* TYPE is one of ADDED, MODIFIED, DELETED: nothing to escape. */
    n = sizeof(head) - 1 + tlen + sizeof(mid) - 1 + obj_len + 2;
    line = malloc(n + 1);
    if (line) {
        char *o = line;
        memcpy(o, head, sizeof(head) - 1);
        o += sizeof(head) - 1;
        memcpy(o, type, tlen);
        o += tlen;
        memcpy(o, mid, sizeof(mid) - 1);
        o += sizeof(mid) - 1;
        memcpy(o, obj_text, obj_len);
        o += obj_len;
        *o++ = '}';
        *o++ = '\n';
        *o = '\0';
        *ret_len = n;
    }
    free(dumped);
    return line;
}

/* The line of one event for W: OBJ as is, or as a Table of one row when
 * the client asked for Tables (an ERROR's Status stays a Status). */
static char *watcher_line(const struct orch_watcher *w, const char *type,
                          const json_t *obj, const char *obj_text,
                          size_t obj_len, size_t *ret_len)
{
    json_t *one, *t;
    char *line;

    if (!w->table || !strcmp(type, "ERROR"))
        return event_line(type, obj, obj_text, obj_len, ret_len);
    one = json_pack("[O]", obj);
    t = one ? orch_table_new(w->kind->kind, one, NULL, w->include_object,
                             (long long)time(NULL))
            : NULL;
    line = t ? event_line(type, t, NULL, 0, ret_len) : NULL;
    json_decref(one);
    json_decref(t);
    return line;
}

static int send_event(struct orch_watcher *w, const char *type,
                      const json_t *obj)
{
    size_t len = 0;
    char *line = watcher_line(w, type, obj, NULL, 0, &len);
    int r;

    if (!line)
        return -ENOMEM;
    r = w->io.write(w->io.ctx, line, len);
    free(line);
    if (r == 0)
        w->srv->metrics.watch_events++;
    return r;
}

/* End the watch: tell the stream and free the watcher. */
static void watch_finish(struct orch_watcher *w)
{
    struct orch_watch_io io = w->io;
    w->state = WATCH_DONE;
    orch_watch_free(w);
    if (io.end)
        io.end(io.ctx);
}

/* End the watch with an ERROR event carrying a Status, then the end of
 * the stream.  DETAILS (may be NULL) is stolen. */
static void finish_with_status(struct orch_watcher *w, int code,
                               const char *reason, const char *msg,
                               json_t *details)
{
    json_t *st = orch_status_new(code, reason, msg, details);
    if (st)
        send_event(w, "ERROR", st);
    json_decref(st);
    watch_finish(w);
}

static void finish_expired(struct orch_watcher *w, int64_t rv)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "too old resource version: %" PRId64, rv);
    finish_with_status(w, 410, "Expired", msg, NULL);
}

/* The API server's answer to a watch from a resourceVersion it has not
 * reached (k8s.io/apiserver storage.NewTooLargeResourceVersionError): a
 * Timeout whose cause says so, and when to retry. */
static void finish_too_large(struct orch_watcher *w, int64_t rv,
                             int64_t current)
{
    char msg[160];
    json_t *details = json_pack(
        "{s:[{s:s, s:s}], s:i}", "causes", "reason", "ResourceVersionTooLarge",
        "message", "Too large resource version", "retryAfterSeconds", 1);
    snprintf(msg, sizeof(msg),
             "Timeout: Too large resource version: %" PRId64
             ", current: %" PRId64,
             rv, current);
    finish_with_status(w, 504, "Timeout", msg, details);
}

/* The client leaves what it is sent unread: end the watch rather than
 * queue without bound.  The ERROR line and the last chunk go after what is
 * queued, whole; the client lists again (or watches from the last
 * resourceVersion it read, which the feed may still hold). */
static void finish_slow(struct orch_watcher *w, size_t pending)
{
    char msg[256];
    log_warn("watch of '%s': client too slow (%zu bytes unread), ending it",
             w->kind->plural, pending);
    snprintf(msg, sizeof(msg),
             "the watch fell behind: its client left %zu bytes unread "
             "(limit %d); list and watch again",
             pending, WATCH_MAX_PENDING);
    finish_with_status(w, 410, "Expired", msg, NULL);
}

static int64_t obj_rv(const json_t *obj)
{
    int64_t rv = 0;
    const char *s = api_doc_get_string(obj, "metadata.resourceVersion");
    if (s)
        store_rv_parse(s, &rv);
    return rv;
}

static char *obj_key(const json_t *obj)
{
    const char *ns = api_doc_get_string(obj, "metadata.namespace");
    const char *name = api_doc_get_string(obj, "metadata.name");
    char *key = NULL;
    if (asprintf(&key, "%s/%s", ns ? ns : "", name ? name : "") < 0)
        return NULL;
    return key;
}

static int listed_cmp(const void *a, const void *b)
{
    return strcmp(((const struct listed_obj *)a)->key,
                  ((const struct listed_obj *)b)->key);
}

/* Remember that OBJ went out at RV.  Returns 0 or -ENOMEM. */
static int listed_add(struct orch_watcher *w, const json_t *obj, int64_t rv)
{
    if (w->n_listed == w->cap_listed) {
        size_t cap = w->cap_listed ? 2 * w->cap_listed : 16;
        struct listed_obj *l = realloc(w->listed, cap * sizeof(*l));
        if (!l)
            return -ENOMEM;
        w->listed = l;
        w->cap_listed = cap;
    }
    w->listed[w->n_listed].key = obj_key(obj);
    if (!w->listed[w->n_listed].key)
        return -ENOMEM;
    w->listed[w->n_listed++].rv = rv;
    return 0;
}

/* Whether the listing already sent OBJ at RV or later. */
static bool listed_covers(const struct orch_watcher *w, const json_t *obj,
                          int64_t rv)
{
    struct listed_obj want = {0};
    const struct listed_obj *hit;

    if (w->n_listed == 0)
        return false;
    want.key = obj_key(obj);
    if (!want.key)
        return false;
    hit =
        bsearch(&want, w->listed, w->n_listed, sizeof(*w->listed), listed_cmp);
    free(want.key);
    return hit && rv <= hit->rv;
}

/* Send one listed page as ADDED events.  Returns 0 or -ENOMEM. */
static int send_page(struct orch_watcher *w, const json_t *items)
{
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *obj = json_array_get(items, i);
        int64_t rv = obj_rv(obj);
        if (!watch_matches(w, obj))
            continue;
        if (rv > w->cursor && listed_add(w, obj, rv) < 0)
            return -ENOMEM;
        if (send_event(w, "ADDED", obj) < 0)
            break;
    }
    return 0;
}

/* Send catch-up pages while the stream is drained enough.  Returns false
 * when the watcher was finished (and freed). */
static bool pump(struct orch_watcher *w)
{
    struct orch_server *srv = w->srv;
    enum store_kind sk = orch_store_kind(w->kind->kind);
    int r;

    while (w->state == WATCH_LISTING || w->state == WATCH_FEED) {
        if (w->io.pending && w->io.pending(w->io.ctx) > WATCH_LOW_WATER)
            return true; /* orch_watch_drained() resumes */
        if (w->state == WATCH_LISTING) {
            struct store_list_opts o = {0};
            struct store_page page = {0};
            /* The first listing reads through the indexes as a list does,
             * and at most max_scan records per turn of the loop, so that a
             * watch with a selector no index serves never holds the loop
             * for long on a big store. */
            orch_filter_list_opts(&w->filter, w->kind->kind, &o);
            o.limit = WATCH_PAGE;
            o.continue_token = w->continue_token;
            o.max_scan =
                srv->list_max_scan ? srv->list_max_scan : ORCH_LIST_MAX_SCAN;
            r = store_list(srv->store, sk, w->ns, &o, &page);
            if (r < 0) {
                log_warn("watch of '%s': cannot list: %s", w->kind->plural,
                         strerror(-r));
                watch_finish(w);
                return false;
            }
            if (w->cursor < 0)
                w->cursor = page.resource_version;
            if (send_page(w, page.items) < 0) {
                log_warn("watch of '%s': out of memory", w->kind->plural);
                store_page_release(&page);
                watch_finish(w);
                return false;
            }
            free(w->continue_token);
            w->continue_token =
                page.continue_token ? strdup(page.continue_token) : NULL;
            if (!page.continue_token) {
                w->state = WATCH_FEED;
                if (w->n_listed > 1)
                    qsort(w->listed, w->n_listed, sizeof(*w->listed),
                          listed_cmp);
            }
            store_page_release(&page);
            if (w->state == WATCH_LISTING && w->resume) {
                event_active(w->resume, EV_TIMEOUT, 0);
                return true;
            }
            continue;
        }
        if (w->from_rv) {
            int64_t current = 0;
            w->from_rv = false;
            r = store_resource_version(srv->store, &current);
            if (r < 0) {
                log_warn("watch of '%s': cannot read the resourceVersion: %s",
                         w->kind->plural, strerror(-r));
                watch_finish(w);
                return false;
            }
            if (w->cursor > current) {
                finish_too_large(w, w->cursor, current);
                return false;
            }
        }
        {
            json_t *events = NULL;
            int64_t next = w->cursor;
            r = store_changes_since(srv->store, sk, w->ns, w->cursor,
                                    WATCH_PAGE, &events, &next);
            if (r == -EKEYEXPIRED) {
                finish_expired(w, w->cursor);
                return false;
            }
            if (r < 0) {
                log_warn("watch of '%s': cannot read changes: %s",
                         w->kind->plural, strerror(-r));
                watch_finish(w);
                return false;
            }
            for (size_t i = 0; i < json_array_size(events); i++) {
                json_t *ev = json_array_get(events, i);
                json_t *obj = json_object_get(ev, "object");
                const char *type =
                    json_string_value(json_object_get(ev, "type"));
                if (type && obj && watch_matches(w, obj) &&
                    !listed_covers(w, obj, obj_rv(obj)))
                    send_event(w, type, obj);
            }
            json_decref(events);
            if (next > w->cursor)
                w->cursor = next;
            if (r == 0) {
                /* The feed reached the store's version, past everything
                 * listed: orch_watch_dispatch() sends only newer ones. */
                w->state = WATCH_LIVE;
                listed_clear(w);
            }
        }
    }
    return true;
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    watch_finish(arg);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    orch_watch_drained(arg);
}

void orch_watch_start(struct orch_watcher *w, const struct orch_watch_io *io)
{
    w->io = *io;
    w->state = w->cursor < 0 ? WATCH_LISTING : WATCH_FEED;
    if (w->srv->base) {
        struct timeval tv = {w->timeout_s, 0};
        w->timer = evtimer_new(w->srv->base, timeout_cb, w);
        if (w->timer)
            evtimer_add(w->timer, &tv);
        w->resume = event_new(w->srv->base, -1, 0, resume_cb, w);
    }
    pump(w);
}

void orch_watch_drained(struct orch_watcher *w)
{
    if (w->pumping)
        return;
    w->pumping = true;
    if (pump(w))
        w->pumping = false;
}

void orch_watch_closed(struct orch_watcher *w)
{
    w->io.end = NULL;
    orch_watch_free(w);
}

void orch_watch_dispatch(struct orch_server *srv, enum api_kind kind,
                         int64_t rv, const char *type, const json_t *obj,
                         const char *obj_text, size_t obj_len)
{
    struct orch_watcher *w, *next;
    char *line = NULL; /* made once, for the first watcher that wants it */
    size_t len = 0;

    for (w = srv->watchers; w; w = next) {
        size_t pending;
        next = w->next;
        if (w->state != WATCH_LIVE || w->kind->kind != kind)
            continue;
        if (rv <= w->cursor)
            continue;
        w->cursor = rv;
        if (!watch_matches(w, obj))
            continue;
        pending = w->io.pending ? w->io.pending(w->io.ctx) : 0;
        if (pending > WATCH_MAX_PENDING) {
            finish_slow(w, pending);
            continue;
        }
        if (w->table) {
            size_t tlen = 0;
            char *tline = watcher_line(w, type, obj, obj_text, obj_len, &tlen);
            int r = tline ? w->io.write(w->io.ctx, tline, tlen) : -ENOMEM;
            free(tline);
            if (r < 0)
                watch_finish(w);
            else
                srv->metrics.watch_events++;
            continue;
        }
        if (!line)
            line = event_line(type, obj, obj_text, obj_len, &len);
        if (!line || w->io.write(w->io.ctx, line, len) < 0)
            watch_finish(w);
        else
            srv->metrics.watch_events++;
    }
    free(line);
}

void orch_watch_covered(struct orch_server *srv, int64_t rv)
{
    for (struct orch_watcher *w = srv->watchers; w; w = w->next)
        if (w->state == WATCH_LIVE && w->cursor < rv)
            w->cursor = rv;
}

unsigned orch_watch_live_kinds(const struct orch_server *srv)
{
    unsigned kinds = 0;
    for (const struct orch_watcher *w = srv->watchers; w; w = w->next)
        if (w->state == WATCH_LIVE)
            kinds |= 1u << w->kind->kind;
    return kinds;
}

void orch_watch_resync(struct orch_server *srv)
{
    struct orch_watcher *w, *next;

    /* All first, then pump: a pump can end (free) only its own watcher. */
    for (w = srv->watchers; w; w = w->next)
        if (w->state == WATCH_LIVE)
            w->state = WATCH_FEED;
    for (w = srv->watchers; w; w = next) {
        next = w->next;
        if (w->state == WATCH_FEED && !w->pumping) {
            w->pumping = true;
            if (pump(w))
                w->pumping = false;
        }
    }
}

void orch_watch_end_revoked(struct orch_server *srv)
{
    struct orch_watcher *w, *next;

    for (w = srv->watchers; w; w = next) {
        struct http_request req = {.authorization = w->authorization};
        enum orch_role role;
        const char *name = NULL;
        char msg[256];

        next = w->next;
        if (w->state == WATCH_IDLE || w->state == WATCH_DONE)
            continue;
        /* The rule of a new request, on the credential the watch came
         * with: it must still be accepted as the same token. */
        if (orch_auth_check(&srv->settings, &req, &role, &name) == 0 &&
            strcmp(name, w->user ? w->user : "") == 0)
            continue;
        log_info("watch of '%s' by '%s': token revoked, ending it",
                 w->kind->plural, w->user ? w->user : "");
        snprintf(msg, sizeof(msg), "the token \"%s\" of this watch was revoked",
                 w->user ? w->user : "");
        finish_with_status(w, 401, "Unauthorized", msg, NULL);
    }
}

void orch_watch_end_all(struct orch_server *srv)
{
    while (srv->watchers)
        watch_finish(srv->watchers);
}

/*
 * The http glue's side.
 */

static int http_io_write(void *ctx, const char *buf, size_t len)
{
    return http_stream_write(ctx, buf, len);
}

static size_t http_io_pending(void *ctx)
{
    return http_stream_pending(ctx);
}

static void http_io_end(void *ctx)
{
    http_stream_end(ctx);
}

static void http_on_drain(void *arg)
{
    orch_watch_drained(arg);
}

static void http_on_close(void *arg)
{
    orch_watch_closed(arg);
}

void orch_watch_http_start(struct http_stream *stream, void *arg)
{
    struct orch_watcher *w = arg;
    struct orch_watch_io io = {
        .write = http_io_write,
        .pending = http_io_pending,
        .end = http_io_end,
        .ctx = stream,
    };
    struct http_stream_callbacks cbs = {
        .on_drain = http_on_drain,
        .on_close = http_on_close,
        .arg = w,
    };
    http_stream_set_callbacks(stream, &cbs);
    orch_watch_start(w, &io);
}
