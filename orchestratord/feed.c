/*
 * orchestratord: the change feed.  Every committed write, whoever made it,
 * is a change in the store's feed (store_changes_read()); this module reads
 * the new ones in resourceVersion order and hands each to the live watches
 * (watch.c, one event line per change for all of them) and to in-process
 * subscribers (decoded objects).
 *
 * When: right after a commit made through this process's store handle (the
 * store's commit hook makes the feed's event active; the read happens on a
 * later turn of the loop, never inside the write), and on a short timer, for
 * commits by other handles or processes on the same file: the timer only
 * compares the store's resourceVersion with the cursor, which costs one
 * indexed read.  The timer runs while someone listens (a watcher or a
 * subscriber), so it is freed with the last listener, before main frees the
 * loop.
 *
 * A turn of the loop handles at most FEED_BATCH changes and schedules the
 * rest, so a burst from another process does not hold the loop.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log/log.h"

#define FEED_BATCH   256
#define FEED_TICK_MS 200

struct orch_feed_sub {
    struct orch_feed_sub *next;
    enum api_kind kind; /* API_KIND_NONE: every kind */
    orch_feed_fn fn;
    void *arg;
    bool dead; /* unsubscribed while the feed was dispatching */
};

static enum api_kind api_kind_of(enum store_kind sk)
{
    for (int k = API_KIND_NONE + 1; k < API_KIND_COUNT; k++)
        if (orch_store_kind((enum api_kind)k) == sk)
            return (enum api_kind)k;
    return API_KIND_NONE;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg);

/* The store committed a write of ours: read it on the next turn. */
static void commit_cb(void *arg)
{
    struct orch_server *srv = arg;
    srv->feed.again = true;
    if (srv->feed.tick)
        event_active(srv->feed.tick, EV_TIMEOUT, 0);
}

void orch_feed_init(struct orch_server *srv)
{
    memset(&srv->feed, 0, sizeof(srv->feed));
    srv->feed.cursor = -1;
    if (srv->store)
        store_set_commit_hook(srv->store, commit_cb, srv);
}

static size_t live_subs(const struct orch_feed *f)
{
    size_t n = 0;
    for (const struct orch_feed_sub *s = f->subs; s; s = s->next)
        n += !s->dead;
    return n;
}

static void subs_sweep(struct orch_feed *f)
{
    struct orch_feed_sub **pp = &f->subs;
    while (*pp) {
        struct orch_feed_sub *s = *pp;
        if (s->dead) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

/* Start or stop listening as listeners come and go.  Not while the feed is
 * dispatching: the feed calls it again when it is done. */
static int feed_update(struct orch_server *srv)
{
    struct orch_feed *f = &srv->feed;
    bool listened = srv->n_watchers > 0 || live_subs(f) > 0;

    if (f->running)
        return 0;
    subs_sweep(f);
    if (!listened) {
        if (f->tick)
            event_free(f->tick);
        f->tick = NULL;
        f->cursor = -1;
        return 0;
    }
    if (!f->tick && srv->base) {
        struct timeval tv = {0, FEED_TICK_MS * 1000};
        f->tick = event_new(srv->base, -1, EV_PERSIST, tick_cb, srv);
        if (!f->tick || event_add(f->tick, &tv) < 0) {
            if (f->tick)
                event_free(f->tick);
            f->tick = NULL;
            return -ENOMEM;
        }
    }
    if (f->cursor < 0) {
        /* Nothing before now is anyone's: a watcher catches up on its
         * own, a subscriber gets what is committed from here on.  On
         * failure run_batch() tries again. */
        int r = store_resource_version(srv->store, &f->cursor);
        if (r < 0) {
            f->cursor = -1;
            return r;
        }
    }
    return 0;
}

void orch_feed_listeners_changed(struct orch_server *srv)
{
    int r = feed_update(srv);
    if (r < 0)
        log_warn("change feed: cannot start: %s", strerror(-r));
}

void orch_feed_release(struct orch_server *srv)
{
    struct orch_feed *f = &srv->feed;
    if (srv->store)
        store_set_commit_hook(srv->store, NULL, NULL);
    for (struct orch_feed_sub *s = f->subs; s; s = s->next)
        s->dead = true;
    f->running = false;
    subs_sweep(f);
    if (f->tick)
        event_free(f->tick);
    memset(f, 0, sizeof(*f));
    f->cursor = -1;
}

int orch_feed_subscribe(struct orch_server *srv, enum api_kind kind,
                        orch_feed_fn fn, void *arg,
                        struct orch_feed_sub **ret_sub)
{
    struct orch_feed_sub *s;
    int r;

    if (!fn || (unsigned)kind >= API_KIND_COUNT)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->kind = kind;
    s->fn = fn;
    s->arg = arg;
    s->next = srv->feed.subs;
    srv->feed.subs = s;
    r = feed_update(srv);
    if (r < 0) {
        s->dead = true;
        feed_update(srv);
        return r;
    }
    if (ret_sub)
        *ret_sub = s;
    return 0;
}

void orch_feed_unsubscribe(struct orch_server *srv, struct orch_feed_sub *sub)
{
    if (!sub)
        return;
    sub->dead = true;
    feed_update(srv);
}

/* The feed fell behind the store's history: what it missed cannot be
 * told.  Watchers go back to catching up on their own (those whose own
 * position is gone too get 410 Expired); subscribers get an ERROR event, as
 * a watch would, and should list again. */
static void feed_lost(struct orch_server *srv)
{
    char msg[160];
    json_t *st;

    snprintf(msg, sizeof(msg),
             "too old resource version: %" PRId64 " (the change feed fell "
             "behind the store's history)",
             srv->feed.cursor);
    st = orch_status_new(410, "Expired", msg, NULL);
    for (struct orch_feed_sub *s = srv->feed.subs; s; s = s->next)
        if (!s->dead && st)
            s->fn("ERROR", st, s->arg);
    json_decref(st);
    orch_watch_resync(srv);
}

static void dispatch(struct orch_server *srv, const struct store_change *c,
                     unsigned want)
{
    enum api_kind kind = api_kind_of(c->kind);
    json_t *obj;

    if (!(want & (1u << kind)))
        return;
    obj = json_loadb(c->text, c->len, 0, NULL);
    if (!obj) {
        /* The store parses what it stores; this is a damaged record, or
         * no memory.  One change is lost, not the feed. */
        log_warn("change feed: cannot decode the change at resourceVersion "
                 "%" PRId64,
                 c->rv);
        return;
    }
    orch_watch_dispatch(srv, kind, c->rv, c->type, obj, c->text, c->len);
    for (struct orch_feed_sub *s = srv->feed.subs; s; s = s->next)
        if (!s->dead && (s->kind == API_KIND_NONE || s->kind == kind))
            s->fn(c->type, obj, s->arg);
    json_decref(obj);
}

/* Read and hand out one batch.  Returns 1 if there may be more, 0 when the
 * feed has reached the store's resourceVersion, or a negative errno. */
static int run_batch(struct orch_server *srv)
{
    struct orch_feed *f = &srv->feed;
    struct store_change_batch b = {0};
    unsigned want = orch_watch_live_kinds(srv);
    int64_t current = 0;
    int r;

    if (f->cursor < 0) {
        /* Listened to since a failed read (feed_update()): start now. */
        if (srv->n_watchers > 0 || live_subs(f) > 0)
            return store_resource_version(srv->store, &f->cursor);
        return 0;
    }
    for (struct orch_feed_sub *s = f->subs; s; s = s->next)
        if (!s->dead)
            want |= s->kind == API_KIND_NONE ? ~0u : 1u << s->kind;
    r = store_resource_version(srv->store, &current);
    if (r < 0)
        return r;
    if (current <= f->cursor)
        return 0;
    if (!want) {
        /* Nobody takes changes now; a watcher that goes live later starts
         * from a version at least as new as this one. */
        f->cursor = current;
        return 0;
    }
    r = store_changes_read(srv->store, f->cursor, FEED_BATCH, &b);
    if (r == -EKEYEXPIRED) {
        feed_lost(srv);
        f->cursor = current;
        return 0;
    }
    if (r < 0)
        return r;
    for (size_t i = 0; i < b.n; i++)
        dispatch(srv, &b.items[i], want);
    f->cursor = b.next_rv;
    orch_watch_covered(srv, f->cursor);
    r = b.n == FEED_BATCH;
    store_change_batch_release(&b);
    return r;
}

/* One batch, with the bookkeeping around it.  Returns as run_batch(). */
static int run_once(struct orch_server *srv)
{
    struct orch_feed *f = &srv->feed;
    int r;

    if (f->running)
        return 0;
    f->running = true;
    f->again = false;
    r = run_batch(srv);
    f->running = false;
    feed_update(srv); /* listeners that left meanwhile */
    if (r < 0)
        log_warn("change feed: cannot read the changes: %s", strerror(-r));
    return r;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct orch_server *srv = arg;
    (void)fd;
    (void)what;
    /* More than a batch, or a commit while this one ran: come back on the
     * next turn rather than hold the loop. */
    if ((run_once(srv) > 0 || srv->feed.again) && srv->feed.tick)
        event_active(srv->feed.tick, EV_TIMEOUT, 0);
}

void orch_feed_run(struct orch_server *srv)
{
    if (srv->feed.running)
        return;
    while (run_once(srv) > 0 || srv->feed.again)
        ;
}
