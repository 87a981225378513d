/*
 * Unit tests for orchestratord's change feed and watches: the server on one
 * store handle of a database file in a temporary directory, other writers
 * on other handles (and in a forked child process), watchers streaming
 * into memory sinks.  Without an event base the feed runs when the test
 * calls orch_feed_run(); with one, on its own.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "log/log.h"
#include "orchestratord/orchd.h"

#define NS "default"
#define VMI_PATH                                                               \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"

struct fixture {
    char dir[64];
    char db[128];
    pid_t child;      /* a writer process, killed by teardown if still there */
    struct store *st; /* the server's handle */
    struct orch_server srv;
    struct http_response resp;
    char target[1024];
};

/* The temporary directory only: no store, so no thread yet. */
static int setup_dir(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    log_init("test_orchestratord_watch", LOG_LEVEL_ERROR);
    snprintf(f->dir, sizeof(f->dir), "/tmp/orch-watch-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/orch.db", f->dir);
    *state = f;
    return 0;
}

/* The server on its store handle. */
static void server_open(struct fixture *f)
{
    char err[256];
    assert_int_equal(store_open(f->db, NULL, &f->st, err, sizeof(err)), 0);
    orch_server_init(&f->srv, f->st);
}

static int setup(void **state)
{
    setup_dir(state);
    server_open(*state);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    if (f->child > 0) {
        kill(f->child, SIGKILL);
        waitpid(f->child, NULL, 0);
    }
    http_response_clear(&f->resp);
    orch_server_release(&f->srv);
    store_close(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Another handle on the fixture's database, as another writer has. */
static struct store *open_other(struct fixture *f, long change_history)
{
    struct store_opts o = {.change_history = change_history};
    struct store *st = NULL;
    char err[256];
    assert_int_equal(store_open(f->db, &o, &st, err, sizeof(err)), 0);
    return st;
}

static json_t *new_vmi(const char *name, const char *phase)
{
    json_t *vmi = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:s}}",
                            "apiVersion", "kubevirt.io/v1", "kind",
                            "VirtualMachineInstance", "metadata", "name", name,
                            "namespace", NS, "spec", "status", "phase", phase);
    assert_non_null(vmi);
    return vmi;
}

/* Create the VMI NAME through ST; returns its resourceVersion. */
static int64_t put_vmi(struct store *st, const char *name)
{
    json_t *vmi = new_vmi(name, "Running");
    int64_t rv = 0;
    assert_int_equal(store_create(st, STORE_KIND_VMI, vmi), 0);
    assert_int_equal(
        store_rv_parse(api_doc_get_string(vmi, "metadata.resourceVersion"),
                       &rv),
        0);
    json_decref(vmi);
    return rv;
}

/* Move the VMI NAME to PHASE through ST; returns the new resourceVersion. */
static int64_t set_phase(struct store *st, const char *name, const char *phase)
{
    json_t *vmi = NULL;
    int64_t rv = 0;
    assert_int_equal(store_get(st, STORE_KIND_VMI, NS, name, &vmi), 0);
    api_doc_set_string(vmi, "status.phase", phase);
    assert_int_equal(store_update(st, STORE_KIND_VMI, vmi, 0), 0);
    assert_int_equal(
        store_rv_parse(api_doc_get_string(vmi, "metadata.resourceVersion"),
                       &rv),
        0);
    json_decref(vmi);
    return rv;
}

/* A watch IO that keeps what it is sent and reports PENDING bytes queued. */
struct sink {
    char *buf;
    size_t len, cap;
    size_t pending;
    bool ended;
};

static int sink_write(void *ctx, const char *buf, size_t len)
{
    struct sink *s = ctx;
    if (s->len + len + 1 > s->cap) {
        s->cap = 2 * (s->len + len + 1);
        s->buf = realloc(s->buf, s->cap);
        assert_non_null(s->buf);
    }
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return 0;
}

static size_t sink_pending(void *ctx)
{
    return ((struct sink *)ctx)->pending;
}

static void sink_end(void *ctx)
{
    ((struct sink *)ctx)->ended = true;
}

/* The sink's lines as watch events.  Every line must be whole JSON. */
static json_t *sink_events(const struct sink *s)
{
    json_t *events = json_array();
    const char *p = s->buf, *end = s->buf + s->len;

    if (s->len > 0 && s->buf[s->len - 1] != '\n')
        fail_msg("the stream does not end with a whole line: %s", s->buf);
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t jerr;
        json_t *ev = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        if (!ev)
            fail_msg("not a JSON line (%s): %.*s", jerr.text, (int)(nl - p), p);
        json_array_append_new(events, ev);
        p = nl + 1;
    }
    return events;
}

static const char *ev_str(const json_t *ev, const char *path)
{
    const char *s;
    if (strcmp(path, "type") == 0)
        s = json_string_value(json_object_get(ev, "type"));
    else
        s = api_doc_get_string(json_object_get(ev, "object"), path);
    return s ? s : "(null)";
}

/* Start a watch of VMIs in "default" from resourceVersion RV (NULL: list
 * first) streaming into SINK. */
static struct orch_watcher *watch_vmis(struct fixture *f, const char *rv,
                                       struct sink *sink)
{
    struct orch_watch_params p = {
        .kind = api_kind_info(API_KIND_VMI),
        .ns = NS,
        .resource_version = rv,
    };
    struct orch_watch_io io = {sink_write, sink_pending, sink_end, sink};
    struct orch_watcher *w = NULL;
    char *msg = NULL;

    assert_int_equal(orch_watch_new(&f->srv, &p, &w, &msg), 0);
    assert_null(msg);
    orch_watch_start(w, &io);
    return w;
}

/* One expected event. */
struct want {
    const char *type;
    const char *name;
    int64_t rv;
};

/* EVENTS hold exactly WANT, in that order. */
static void assert_events(const json_t *events, const struct want *want,
                          size_t n)
{
    if (json_array_size(events) != n) {
        char *dump = json_dumps(events, JSON_COMPACT);
        fail_msg("%zu events, want %zu: %s", json_array_size(events), n, dump);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *ev = json_array_get(events, i);
        char rv[32];
        snprintf(rv, sizeof(rv), "%lld", (long long)want[i].rv);
        assert_string_equal(ev_str(ev, "type"), want[i].type);
        assert_string_equal(ev_str(ev, "metadata.name"), want[i].name);
        assert_string_equal(ev_str(ev, "metadata.resourceVersion"), rv);
    }
}

/* Writes through another handle on the same file reach an open watch once
 * each, in order, as the feed finds them; running the feed again sends
 * nothing more.  So do writes through the server's own handle. */
static void test_feed_other_handle(void **state)
{
    struct fixture *f = *state;
    struct store *other = open_other(f, 0);
    struct sink sink = {0};
    struct orch_watcher *w = watch_vmis(f, NULL, &sink);
    struct want want[6];
    json_t *events, *last = NULL;

    assert_int_equal(sink.len, 0); /* nothing to list */
    want[0] = (struct want){"ADDED", "a", put_vmi(other, "a")};
    want[1] = (struct want){"ADDED", "b", put_vmi(other, "b")};
    want[2] = (struct want){"MODIFIED", "a", set_phase(other, "a", "Failed")};
    assert_int_equal(store_delete(other, STORE_KIND_VMI, NS, "b", 0, &last), 0);
    want[3] = (struct want){"DELETED", "b", 0};
    assert_int_equal(
        store_rv_parse(api_doc_get_string(last, "metadata.resourceVersion"),
                       &want[3].rv),
        0);
    json_decref(last);
    /* Nothing is sent by the writer. */
    assert_int_equal(sink.len, 0);

    orch_feed_run(&f->srv);
    orch_feed_run(&f->srv);
    events = sink_events(&sink);
    assert_events(events, want, 4);
    json_decref(events);

    /* The server's own handle: the same path. */
    want[4] = (struct want){"ADDED", "c", put_vmi(f->st, "c")};
    want[5] = (struct want){"MODIFIED", "c", set_phase(other, "c", "Failed")};
    orch_feed_run(&f->srv);
    events = sink_events(&sink);
    assert_events(events, want, 6);
    json_decref(events);
    assert_false(sink.ended);
    assert_int_equal(f->srv.metrics.watch_events, 6);

    orch_watch_closed(w);
    assert_int_equal(f->srv.n_watchers, 0);
    store_close(other);
    free(sink.buf);
}

static void ignore_cb(const char *type, const json_t *obj, void *arg)
{
    (void)type;
    (void)obj;
    (void)arg;
}

/* The feed is behind (a subscriber holds it at an older version) when a
 * watch catches up from a resourceVersion on its own and goes live: the
 * feed then hands out changes the catch-up already sent, and the watch
 * must not send them twice. */
static void test_feed_and_catch_up_once(void **state)
{
    struct fixture *f = *state;
    struct store *other = open_other(f, 0);
    struct orch_feed_sub *sub = NULL;
    struct sink sink = {0};
    struct orch_watcher *w;
    struct want want[3];
    json_t *events;
    char rv0[32];
    int64_t rv;

    put_vmi(other, "old");
    assert_int_equal(store_resource_version(f->st, &rv), 0);
    snprintf(rv0, sizeof(rv0), "%lld", (long long)rv);
    assert_int_equal(
        orch_feed_subscribe(&f->srv, API_KIND_NONE, ignore_cb, NULL, &sub), 0);
    want[0] = (struct want){"ADDED", "a", put_vmi(other, "a")};
    want[1] = (struct want){"MODIFIED", "a", set_phase(other, "a", "Failed")};

    w = watch_vmis(f, rv0, &sink);
    events = sink_events(&sink);
    assert_events(events, want, 2); /* the catch-up */
    json_decref(events);
    assert_true(f->srv.feed.cursor < want[1].rv);

    orch_feed_run(&f->srv); /* hands out a and a again */
    want[2] = (struct want){"ADDED", "b", put_vmi(other, "b")};
    orch_feed_run(&f->srv);
    events = sink_events(&sink);
    assert_events(events, want, 3);
    json_decref(events);

    orch_watch_closed(w);
    orch_feed_unsubscribe(&f->srv, sub);
    store_close(other);
    free(sink.buf);
}

#define CHILD_VMIS 20

/* The child: waits for a byte on GO, then writes through its own handle
 * on the file: CHILD_VMIS VMIs created, then each moved to Failed.  No
 * cmocka here: the exit status says. */
static void child_write(const char *db, int go)
{
    struct store *st = NULL;
    char err[256], c;

    if (read(go, &c, 1) != 1)
        _exit(1);
    if (store_open(db, NULL, &st, err, sizeof(err)) < 0)
        _exit(2);
    for (int i = 0; i < CHILD_VMIS; i++) {
        char name[16];
        json_t *vmi;
        snprintf(name, sizeof(name), "child-%02d", i);
        vmi = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:s}}", "apiVersion",
                        "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                        "metadata", "name", name, "namespace", NS, "spec",
                        "status", "phase", "Running");
        if (!vmi || store_create(st, STORE_KIND_VMI, vmi) < 0)
            _exit(3);
        api_doc_set_string(vmi, "status.phase", "Failed");
        if (store_update(st, STORE_KIND_VMI, vmi, 0) < 0)
            _exit(4);
        json_decref(vmi);
    }
    store_close(st);
    _exit(0);
}

/* A child process writes to the database while the server's loop runs:
 * the feed's timer finds the commits and the watch gets each change once,
 * in order, with nothing driving it but the loop.  The child is forked
 * before this process opens the store, so that it inherits no thread and
 * no lock a thread holds (SQLite's, the checkpointer's), and starts
 * writing when the server is up. */
static void test_feed_forked_child(void **state)
{
    struct fixture *f = *state;
    struct event_base *base = NULL;
    struct sink sink = {0};
    struct orch_watcher *w;
    struct timespec t0, now;
    json_t *events;
    int64_t rv0 = 0, prev = 0;
    int status = 0, go[2];

    assert_int_equal(pipe(go), 0);
    f->child = fork();
    assert_true(f->child >= 0);
    if (f->child == 0) {
        close(go[1]);
        child_write(f->db, go[0]);
    }
    close(go[0]);

    server_open(f);
    base = event_base_new();
    assert_non_null(base);
    f->srv.base = base;
    w = watch_vmis(f, NULL, &sink);
    assert_int_equal(store_resource_version(f->st, &rv0), 0);
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);

    /* Run the loop until every change has come, or fail after 20 s: the
     * bound is a safety net, not the assertion. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        size_t lines = 0;
        for (size_t i = 0; i < sink.len; i++)
            lines += sink.buf[i] == '\n';
        if (lines >= 2 * CHILD_VMIS)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 20)
            fail_msg("%zu of %d events after 20 s", lines, 2 * CHILD_VMIS);
        event_base_loop(base, EVLOOP_ONCE);
    }
    assert_int_equal(waitpid(f->child, &status, 0), f->child);
    f->child = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Nothing more, however often the feed runs. */
    orch_feed_run(&f->srv);
    event_base_loop(base, EVLOOP_NONBLOCK);

    events = sink_events(&sink);
    assert_int_equal(json_array_size(events), 2 * CHILD_VMIS);
    for (size_t i = 0; i < json_array_size(events); i++) {
        const json_t *ev = json_array_get(events, i);
        char name[16];
        int64_t rv = 0;
        snprintf(name, sizeof(name), "child-%02d", (int)(i / 2));
        assert_string_equal(ev_str(ev, "type"), i % 2 ? "MODIFIED" : "ADDED");
        assert_string_equal(ev_str(ev, "metadata.name"), name);
        assert_int_equal(
            store_rv_parse(ev_str(ev, "metadata.resourceVersion"), &rv), 0);
        assert_true(rv > rv0 && rv > prev);
        prev = rv;
    }
    json_decref(events);

    orch_watch_closed(w);
    /* The feed's timer went with the last listener: the base can go. */
    assert_null(f->srv.feed.tick);
    f->srv.base = NULL;
    event_base_free(base);
    free(sink.buf);
}

/* What a subscriber was given. */
struct record {
    char lines[32][80]; /* "TYPE kind/name@rv" */
    size_t n;
    struct orch_server *srv;
    struct orch_feed_sub *self;
    bool leave;         /* unsubscribe at the first event */
    struct store *echo; /* create "<name>-echo" for each new VMI */
};

static void record_cb(const char *type, const json_t *obj, void *arg)
{
    struct record *rec = arg;
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *name = api_doc_get_string(obj, "metadata.name");
    const char *rv = api_doc_get_string(obj, "metadata.resourceVersion");

    assert_true(json_is_object(obj));
    assert_true(rec->n < 32);
    if (strcmp(type, "ERROR") == 0)
        snprintf(rec->lines[rec->n++], sizeof(rec->lines[0]), "ERROR %s %lld",
                 json_string_value(json_object_get(obj, "reason")),
                 (long long)json_integer_value(json_object_get(obj, "code")));
    else
        snprintf(rec->lines[rec->n++], sizeof(rec->lines[0]), "%s %s/%s@%s",
                 type, kind ? kind : "?", name ? name : "?", rv ? rv : "?");
    if (rec->leave)
        orch_feed_unsubscribe(rec->srv, rec->self);
    if (rec->echo && strcmp(type, "ADDED") == 0 && kind &&
        strcmp(kind, "VirtualMachineInstance") == 0 && !strstr(name, "echo")) {
        char echo[64];
        snprintf(echo, sizeof(echo), "%s-echo", name);
        put_vmi(rec->echo, echo);
    }
}

static void assert_record(const struct record *rec, const char *const *want,
                          size_t n)
{
    bool same = rec->n == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(rec->lines[i], want[i]) == 0;
    if (same)
        return;
    for (size_t i = 0; i < rec->n; i++)
        print_message("  got %s\n", rec->lines[i]);
    for (size_t i = 0; i < n; i++)
        print_message("  want %s\n", want[i]);
    fail_msg("the subscriber got other events");
}

/* In-process subscribers get decoded objects of the kinds they asked for,
 * whoever wrote them, in order; one may unsubscribe itself; one may write
 * (as the controller will), and its writes come back through the feed. */
static void test_feed_subscriber(void **state)
{
    struct fixture *f = *state;
    struct store *other = open_other(f, 0);
    struct record vmis = {.srv = &f->srv, .echo = f->st};
    struct record all = {.srv = &f->srv}, once = {.srv = &f->srv};
    json_t *mig = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "kubevirt.io/v1",
        "kind", "VirtualMachineInstanceMigration", "metadata", "name", "m1",
        "namespace", NS, "spec", "vmiName", "x");
    char want_vmis[3][80], want_all[4][80];
    const char *wv[3], *wa[4];
    int64_t rv;

    assert_int_equal(orch_feed_subscribe(&f->srv, API_KIND_VMI, record_cb,
                                         &vmis, &vmis.self),
                     0);
    assert_int_equal(
        orch_feed_subscribe(&f->srv, API_KIND_NONE, record_cb, &all, &all.self),
        0);
    once.leave = true;
    assert_int_equal(orch_feed_subscribe(&f->srv, API_KIND_NONE, record_cb,
                                         &once, &once.self),
                     0);
    assert_int_equal(
        orch_feed_subscribe(&f->srv, API_KIND_COUNT, record_cb, &once, NULL),
        -EINVAL);

    rv = put_vmi(other, "x");
    snprintf(want_vmis[0], 80, "ADDED VirtualMachineInstance/x@%lld",
             (long long)rv);
    assert_int_equal(store_create(f->st, STORE_KIND_MIGRATION, mig), 0);
    snprintf(want_all[1], 80, "ADDED VirtualMachineInstanceMigration/m1@%s",
             api_doc_get_string(mig, "metadata.resourceVersion"));
    json_decref(mig);
    rv = set_phase(other, "x", "Failed");
    snprintf(want_vmis[1], 80, "MODIFIED VirtualMachineInstance/x@%lld",
             (long long)rv);
    assert_int_equal(vmis.n + all.n + once.n, 0); /* not before the feed */

    orch_feed_run(&f->srv);
    /* The echo was created while the first change was handed out, after
     * the others: it comes last, in the same run. */
    assert_int_equal(store_resource_version(f->st, &rv), 0);
    snprintf(want_vmis[2], 80, "ADDED VirtualMachineInstance/x-echo@%lld",
             (long long)rv);
    memcpy(want_all[0], want_vmis[0], 80);
    memcpy(want_all[2], want_vmis[1], 80);
    memcpy(want_all[3], want_vmis[2], 80);
    for (int i = 0; i < 3; i++)
        wv[i] = want_vmis[i];
    for (int i = 0; i < 4; i++)
        wa[i] = want_all[i];
    assert_record(&vmis, wv, 3);
    assert_record(&all, wa, 4);
    assert_record(&once, wa, 1);

    orch_feed_unsubscribe(&f->srv, vmis.self);
    orch_feed_unsubscribe(&f->srv, all.self);
    /* Nobody listens: the feed stands still. */
    assert_int_equal(f->srv.feed.cursor, -1);
    store_close(other);
}

/* Another writer trims the history past the feed's position: the feed
 * cannot tell what it missed, so the live watch ends with 410 Expired
 * (its own position is gone too) and subscribers get an ERROR event; the
 * feed then goes on from the store's version. */
static void test_feed_expired(void **state)
{
    struct fixture *f = *state;
    struct store *other = open_other(f, 2);
    struct record rec = {.srv = &f->srv};
    struct sink sink = {0};
    json_t *events;
    char want[80];
    int64_t rv;

    watch_vmis(f, NULL, &sink);
    assert_int_equal(
        orch_feed_subscribe(&f->srv, API_KIND_VMI, record_cb, &rec, &rec.self),
        0);
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof(name), "v%d", i);
        put_vmi(other, name);
    }
    orch_feed_run(&f->srv);

    events = sink_events(&sink);
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(ev_str(json_array_get(events, 0), "type"), "ERROR");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(events, 0), "object"), "code")),
        410);
    json_decref(events);
    assert_true(sink.ended);
    assert_int_equal(f->srv.n_watchers, 0);

    rv = put_vmi(other, "after");
    orch_feed_run(&f->srv);
    snprintf(want, sizeof(want), "ADDED VirtualMachineInstance/after@%lld",
             (long long)rv);
    {
        const char *w[] = {"ERROR Expired 410", want};
        assert_record(&rec, w, 2);
    }
    orch_feed_unsubscribe(&f->srv, rec.self);
    store_close(other);
    free(sink.buf);
}

/* A watch from a resourceVersion the store has not reached gets the API
 * server's answer: an ERROR event with a 504 Timeout Status whose cause
 * is ResourceVersionTooLarge, then the end.  The current version itself is
 * fine. */
static void test_watch_too_large_rv(void **state)
{
    struct fixture *f = *state;
    struct sink sink = {0}, ok = {0};
    struct orch_watcher *w;
    json_t *events, *st, *cause;
    char rv[32], msg[128];
    int64_t cur;

    put_vmi(f->st, "a");
    assert_int_equal(store_resource_version(f->st, &cur), 0);
    snprintf(rv, sizeof(rv), "%lld", (long long)cur + 100);
    watch_vmis(f, rv, &sink);
    assert_true(sink.ended);
    assert_int_equal(f->srv.n_watchers, 0);
    events = sink_events(&sink);
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(ev_str(json_array_get(events, 0), "type"), "ERROR");
    st = json_object_get(json_array_get(events, 0), "object");
    assert_string_equal(json_string_value(json_object_get(st, "kind")),
                        "Status");
    assert_string_equal(json_string_value(json_object_get(st, "status")),
                        "Failure");
    assert_string_equal(json_string_value(json_object_get(st, "reason")),
                        "Timeout");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 504);
    snprintf(msg, sizeof(msg),
             "Timeout: Too large resource version: %lld, current: %lld",
             (long long)cur + 100, (long long)cur);
    assert_string_equal(json_string_value(json_object_get(st, "message")), msg);
    cause = json_array_get(
        json_object_get(json_object_get(st, "details"), "causes"), 0);
    assert_string_equal(json_string_value(json_object_get(cause, "reason")),
                        "ResourceVersionTooLarge");
    assert_string_equal(json_string_value(json_object_get(cause, "message")),
                        "Too large resource version");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(st, "details"), "retryAfterSeconds")),
                     1);
    json_decref(events);

    snprintf(rv, sizeof(rv), "%lld", (long long)cur);
    w = watch_vmis(f, rv, &ok);
    assert_false(ok.ended);
    assert_int_equal(ok.len, 0);
    put_vmi(f->st, "b");
    orch_feed_run(&f->srv);
    assert_non_null(ok.buf);
    assert_non_null(strstr(ok.buf, "\"type\":\"ADDED\""));
    orch_watch_closed(w);
    free(sink.buf);
    free(ok.buf);
}

/* A live watch whose client leaves more than the cap unread is ended with
 * a 410 ERROR event and the end of the stream, after whole lines only. */
static void test_watch_slow_reader(void **state)
{
    struct fixture *f = *state;
    struct sink sink = {0};
    json_t *events, *st;

    watch_vmis(f, NULL, &sink);
    put_vmi(f->st, "a");
    orch_feed_run(&f->srv);
    assert_false(sink.ended);
    sink.pending = 5 * 1024 * 1024; /* the client stopped reading */
    put_vmi(f->st, "b");
    orch_feed_run(&f->srv);
    assert_true(sink.ended);
    assert_int_equal(f->srv.n_watchers, 0);
    events = sink_events(&sink);
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(ev_str(json_array_get(events, 0), "metadata.name"),
                        "a");
    assert_string_equal(ev_str(json_array_get(events, 1), "type"), "ERROR");
    st = json_object_get(json_array_get(events, 1), "object");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 410);
    assert_string_equal(json_string_value(json_object_get(st, "reason")),
                        "Expired");
    assert_non_null(
        strstr(json_string_value(json_object_get(st, "message")), "unread"));
    json_decref(events);
    free(sink.buf);
}

/* Run a GET through orch_handle() with AUTH (a bearer token or NULL);
 * returns the status. */
static int get(struct fixture *f, const char *target, const char *auth)
{
    struct http_request req;
    char header[128];

    memset(&req, 0, sizeof(req));
    http_response_clear(&f->resp);
    assert_int_equal(
        http_request_parse_target(&req, target, f->target, sizeof(f->target)),
        0);
    req.method = HTTP_METHOD_GET;
    req.path = target;
    req.body = "";
    req.peer = "127.0.0.1:1";
    if (auth) {
        snprintf(header, sizeof(header), "Bearer %s", auth);
        req.authorization = header;
    }
    orch_handle(&req, &f->resp, &f->srv);
    return f->resp.status;
}

/* Start the watch the last get() answered, into SINK. */
static struct orch_watcher *start_answered(struct fixture *f, struct sink *sink)
{
    struct orch_watch_io io = {sink_write, sink_pending, sink_end, sink};
    struct orch_watcher *w = f->resp.stream_arg;
    assert_int_equal(f->resp.status, 200);
    assert_non_null(w);
    orch_watch_start(w, &io);
    return w;
}

struct deadlines {
    struct timeval now;
    long max_s; /* the latest non-persistent timer, seconds from now */
    int n;
};

static int timer_cb(const struct event_base *base, const struct event *ev,
                    void *arg)
{
    struct deadlines *d = arg;
    struct timeval tv;
    (void)base;
    if (event_get_events(ev) & EV_PERSIST)
        return 0; /* the feed's tick */
    if (event_pending((struct event *)ev, EV_TIMEOUT, &tv)) {
        long s = (long)(tv.tv_sec - d->now.tv_sec);
        if (d->n++ == 0 || s > d->max_s)
            d->max_s = s;
    }
    return 0;
}

/* timeoutSeconds beyond the ceiling is clamped to it (1800 s): the watch's
 * timer is due by then; a small one is kept; none is the default. */
static void test_watch_timeout_clamp(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *query;
        long min_s, max_s;
    } cases[] = {
        {"&timeoutSeconds=100000", 1700, 1800},
        /* int64 max, as the API server reads it (ParseInt: beyond it a 400). */
        {"&timeoutSeconds=9223372036854775807", 1700, 1800},
        {"&timeoutSeconds=5", 0, 5},
        {"", 1700, 1800},
    };
    struct event_base *base = event_base_new();

    assert_non_null(base);
    f->srv.base = base;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct sink sink = {0};
        struct deadlines d = {0};
        struct orch_watcher *w;
        char target[256];

        snprintf(target, sizeof(target), VMI_PATH "?watch=true%s",
                 cases[i].query);
        assert_int_equal(get(f, target, NULL), 200);
        w = start_answered(f, &sink);
        gettimeofday(&d.now, NULL);
        event_base_foreach_event(base, timer_cb, &d);
        assert_int_equal(d.n, 1);
        if (d.max_s < cases[i].min_s || d.max_s > cases[i].max_s)
            fail_msg("'%s': the watch ends in %ld s", cases[i].query, d.max_s);
        orch_watch_closed(w);
        free(sink.buf);
    }
    f->srv.base = NULL;
    event_base_free(base);
}

static void set_tokens(struct orch_settings *s, const char *const *pairs,
                       size_t n)
{
    for (size_t i = 0; i < s->n_tokens; i++) {
        free(s->tokens[i].name);
        free(s->tokens[i].token);
    }
    free(s->tokens);
    s->tokens = calloc(n ? n : 1, sizeof(*s->tokens));
    assert_non_null(s->tokens);
    for (size_t i = 0; i < n; i++) {
        s->tokens[i].name = strdup(pairs[2 * i]);
        s->tokens[i].token = strdup(pairs[2 * i + 1]);
        s->tokens[i].role = ORCH_ROLE_VIEWER;
    }
    s->n_tokens = n;
}

/* Revoking a token (as SIGHUP does) ends the watches it opened, with a 401
 * ERROR event: a token removed, a token whose secret changed, and a watch
 * opened without a token once tokens are required.  The others go on. */
static void test_watch_revoked(void **state)
{
    struct fixture *f = *state;
    static const char *const two[] = {"ops", "tok-aaaa", "dash", "tok-bbbb"};
    static const char *const dash_only[] = {"dash", "tok-bbbb"};
    static const char *const dash_new[] = {"dash", "tok-cccc"};
    struct sink anon = {0}, ops = {0}, dash = {0};
    json_t *events, *st;

    assert_int_equal(get(f, VMI_PATH "?watch=true", NULL), 200);
    start_answered(f, &anon);
    set_tokens(&f->srv.settings, two, 2);
    orch_watch_end_revoked(&f->srv);
    assert_true(anon.ended);
    events = sink_events(&anon);
    st = json_object_get(json_array_get(events, 0), "object");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 401);
    assert_string_equal(json_string_value(json_object_get(st, "reason")),
                        "Unauthorized");
    json_decref(events);

    assert_int_equal(get(f, VMI_PATH "?watch=true", "tok-aaaa"), 200);
    start_answered(f, &ops);
    assert_int_equal(get(f, VMI_PATH "?watch=true", "tok-bbbb"), 200);
    start_answered(f, &dash);
    assert_int_equal(f->srv.n_watchers, 2);

    /* A reload that changes nothing ends nothing. */
    set_tokens(&f->srv.settings, two, 2);
    orch_watch_end_revoked(&f->srv);
    assert_int_equal(f->srv.n_watchers, 2);

    set_tokens(&f->srv.settings, dash_only, 1);
    orch_watch_end_revoked(&f->srv);
    assert_true(ops.ended);
    assert_false(dash.ended);
    assert_non_null(ops.buf);
    assert_non_null(strstr(ops.buf, "\"code\":401"));
    assert_non_null(strstr(ops.buf, "the token \\\"ops\\\""));
    assert_int_equal(f->srv.n_watchers, 1);

    /* Still open: it gets the changes. */
    put_vmi(f->st, "a");
    orch_feed_run(&f->srv);
    assert_non_null(dash.buf);
    assert_non_null(strstr(dash.buf, "\"type\":\"ADDED\""));

    set_tokens(&f->srv.settings, dash_new, 1);
    orch_watch_end_revoked(&f->srv);
    assert_true(dash.ended);
    assert_int_equal(f->srv.n_watchers, 0);
    free(anon.buf);
    free(ops.buf);
    free(dash.buf);
}

/* A watch's first listing with a selector no index serves reads at most
 * list_max_scan records per turn of the loop: the first turn sends only
 * part of the matches, the loop's next turns the rest, each once. */
static void test_watch_listing_budget(void **state)
{
    struct fixture *f = *state;
    struct event_base *base = event_base_new();
    struct sink sink = {0};
    struct orch_watcher *w;
    json_t *events;
    size_t first;

    assert_non_null(base);
    for (int i = 0; i < 40; i++) {
        char name[32];
        json_t *vmi;
        snprintf(name, sizeof(name), "vmi-%02d", i);
        vmi = new_vmi(name, "Running");
        if (i % 2 == 0)
            json_object_set_new(json_object_get(vmi, "metadata"), "labels",
                                json_pack("{s:s}", "team", "blue"));
        assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmi), 0);
        json_decref(vmi);
    }
    f->srv.base = base;
    f->srv.list_max_scan = 4;
    assert_int_equal(
        get(f, VMI_PATH "?watch=true&labelSelector=team%3Dblue", NULL), 200);
    w = start_answered(f, &sink);
    events = sink_events(&sink);
    first = json_array_size(events);
    json_decref(events);
    if (first == 0 || first >= 20)
        fail_msg("the first turn sent %zu of 20 matches", first);
    for (int i = 0; i < 100; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    events = sink_events(&sink);
    assert_int_equal(json_array_size(events), 20);
    for (size_t i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof(name), "vmi-%02zu", 2 * i);
        assert_string_equal(ev_str(json_array_get(events, i), "type"), "ADDED");
        assert_string_equal(ev_str(json_array_get(events, i), "metadata.name"),
                            name);
    }
    json_decref(events);
    orch_watch_closed(w);
    free(sink.buf);
    f->srv.base = NULL;
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_feed_other_handle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_and_catch_up_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_forked_child, setup_dir,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_feed_subscriber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_too_large_rv, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_watch_slow_reader, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_watch_timeout_clamp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_watch_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_listing_budget, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("orchestratord_watch", tests, NULL,
                                       NULL);
}
