/*
 * Unit tests for migrator/jobs' recovery after a restart (issue 10): the
 * journal under state_dir/jobs read back by migr_jobs_recover, migrate
 * jobs in flight re-attached to libvirt's job, the others run again, bad
 * files moved aside, old ones removed.
 *
 * The source host is libvirt's test driver (test:///default, whose
 * running domain "test" stands for the migrating guest); the destination
 * (destLibvirtURI qemu+tcp://198.18.0.12/system) is a test driver loaded
 * from a file the test writes, or unreachable.  What the test driver
 * cannot do is caught with -Wl,--wrap (test_migrator_jobs_recover.ldflags):
 * virDomainGetJobStats reports a running outgoing migration while the
 * test says one runs, virDomainAbortJob ends it, virConnectOpen sends
 * the destination's URI to the file (or fails), and
 * virDomainLookupByName makes "test" gone from the source once the test
 * says it migrated away.  The monitor runs every 5 ms; the tests wait
 * with deadlines, never with sleeps.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libvirt/libvirt.h>

#include "conf/conf.h"
#include "http/http.h"
#include "migrator/jobs.h"
#include "migrator/sriov.h"
#include "tests/unit/support/sysfs_fixture.h"

#define WAIT_MS 10000
#define DEST    "qemu+tcp://198.18.0.12/system"

/* ---------------------------------------------------------------------- */
/* The fake libvirt job and destination                                    */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool migrating; /* an outgoing migration job runs on every domain */
    bool here_gone; /* "test" is gone from test:///default */
    uint64_t remaining;
    int stats_calls, abort_calls, dest_opens;
    char dest_uri[PATH_MAX + 64]; /* "": the destination is unreachable */
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

int __wrap_virDomainGetJobStats(virDomainPtr d, int *type,
                                virTypedParameterPtr *params, int *nparams,
                                unsigned int flags);
int __wrap_virDomainAbortJob(virDomainPtr d);
virConnectPtr __wrap_virConnectOpen(const char *uri);
virConnectPtr __real_virConnectOpen(const char *uri);
virDomainPtr __wrap_virDomainLookupByName(virConnectPtr conn, const char *name);
virDomainPtr __real_virDomainLookupByName(virConnectPtr conn, const char *name);

int __wrap_virDomainGetJobStats(virDomainPtr d, int *type,
                                virTypedParameterPtr *params, int *nparams,
                                unsigned int flags)
{
    char *uri = virConnectGetURI(virDomainGetConnect(d));
    bool here = uri && strcmp(uri, "test:///default") == 0;
    int max = 0;

    free(uri);
    *params = NULL;
    *nparams = 0;
    pthread_mutex_lock(&fk.lock);
    if ((flags & VIR_DOMAIN_JOB_STATS_COMPLETED) && !here) {
        /* The destination keeps the incoming job's statistics. */
        *type = VIR_DOMAIN_JOB_COMPLETED;
        virTypedParamsAddULLong(params, nparams, &max, VIR_DOMAIN_JOB_DOWNTIME,
                                123);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_TIME_ELAPSED, 9999);
    } else if (!(flags & VIR_DOMAIN_JOB_STATS_COMPLETED) && fk.migrating) {
        *type = VIR_DOMAIN_JOB_UNBOUNDED;
        fk.stats_calls++;
        virTypedParamsAddInt(params, nparams, &max, VIR_DOMAIN_JOB_OPERATION,
                             VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_DATA_TOTAL, 1u << 30);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_DATA_REMAINING, fk.remaining);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_DATA_PROCESSED,
                                (1u << 30) - fk.remaining);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_TIME_ELAPSED, 4242);
        pthread_cond_broadcast(&fk.cond);
    } else {
        *type = VIR_DOMAIN_JOB_NONE;
    }
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

int __wrap_virDomainAbortJob(virDomainPtr d)
{
    int r = -1;
    (void)d;

    pthread_mutex_lock(&fk.lock);
    fk.abort_calls++;
    if (fk.migrating) {
        fk.migrating = false; /* a pre-copy migration fails: still here */
        r = 0;
    }
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
    return r;
}

virConnectPtr __wrap_virConnectOpen(const char *uri)
{
    char dest[sizeof(fk.dest_uri)];

    if (!uri || strncmp(uri, "qemu+tcp://", 11) != 0)
        return __real_virConnectOpen(uri);
    pthread_mutex_lock(&fk.lock);
    fk.dest_opens++;
    snprintf(dest, sizeof(dest), "%s", fk.dest_uri);
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
    /* Unreachable: libvirt fails without an error of its own here; the
     * seam calls that "unknown libvirt error", no connection. */
    return dest[0] ? __real_virConnectOpen(dest) : NULL;
}

virDomainPtr __wrap_virDomainLookupByName(virConnectPtr conn, const char *name)
{
    char *uri = virConnectGetURI(conn);
    bool gone;

    pthread_mutex_lock(&fk.lock);
    gone = fk.here_gone && uri && strcmp(uri, "test:///default") == 0 &&
           strcmp(name, "test") == 0;
    pthread_mutex_unlock(&fk.lock);
    free(uri);
    /* A name the driver does not know: libvirt's own "no domain" error. */
    return __real_virDomainLookupByName(conn, gone ? "no-such-domain" : name);
}

static void fake_reset(void)
{
    pthread_mutex_lock(&fk.lock);
    fk.migrating = fk.here_gone = false;
    fk.remaining = 1u << 29;
    fk.stats_calls = fk.abort_calls = fk.dest_opens = 0;
    fk.dest_uri[0] = '\0';
    pthread_mutex_unlock(&fk.lock);
}

static void fake_set(bool migrating, bool here_gone)
{
    pthread_mutex_lock(&fk.lock);
    fk.migrating = migrating;
    fk.here_gone = here_gone;
    pthread_mutex_unlock(&fk.lock);
}

/* Wait (with a deadline) until *counter reaches n. */
static void fake_wait(const int *counter, int n, const char *what)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&fk.lock);
    while (*counter < n)
        if (pthread_cond_timedwait(&fk.cond, &fk.lock, &until) != 0)
            fail_msg("fewer than %d %s", n, what);
    pthread_mutex_unlock(&fk.lock);
}

/* ---------------------------------------------------------------------- */
/* Fixture                                                                 */

struct t {
    char dir[PATH_MAX];
    struct conf_migrator cfg;
    struct migr_jobs *j;
    struct migr_jobs_recovery rec;
    const char *conf_extra;   /* more config text; NULL none */
    struct migr_sriov *sriov; /* the agent's VF table; NULL none */
};

static void t_init(struct t *t)
{
    char path[PATH_MAX + 16];

    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/test-recover-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(path, sizeof(path), "%s/jobs", t->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    fake_reset();
}

/* A job table on t->dir, its journal recovered; the workers started when
 * `start`. */
static void t_open(struct t *t, bool start)
{
    char text[PATH_MAX + 256], err[256];
    struct migr_jobs_opts o = {
        .migration_address = "127.0.0.1",
        .monitor_interval_ms = 5,
        .second_ms = 20,
    };

    snprintf(text, sizeof(text),
             "libvirt_uri = \"test:///default\";\nstate_dir = \"%s\";\n%s",
             t->dir, t->conf_extra ? t->conf_extra : "");
    assert_int_equal(conf_migrator_init(&t->cfg), 0);
    if (conf_migrator_load_string(&t->cfg, text, "test", err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    o.cfg = &t->cfg;
    o.sriov = t->sriov;
    assert_int_equal(migr_jobs_new(&o, &t->j), 0);
    assert_int_equal(migr_jobs_recover(t->j, &t->rec), 0);
    if (start)
        assert_int_equal(migr_jobs_start(t->j), 0);
}

/* Free the table (not the directory: a restart opens it again). */
static void t_stop(struct t *t)
{
    migr_jobs_free(t->j);
    t->j = NULL;
    migr_jobs_recovery_clear(&t->rec);
    conf_migrator_clear(&t->cfg);
}

static void t_close(struct t *t)
{
    char cmd[PATH_MAX + 16];

    fake_set(false, false);
    t_stop(t);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static bool exists(struct t *t, const char *name)
{
    char path[PATH_MAX + 256];

    snprintf(path, sizeof(path), "%s/jobs/%s", t->dir, name);
    return access(path, F_OK) == 0;
}

/* The destination: a test driver whose "test" runs (`running`), or where
 * there is no such domain; NULL: unreachable. */
static void dest_set(struct t *t, const char *state)
{
    char path[PATH_MAX + 16], xml[512];

    pthread_mutex_lock(&fk.lock);
    fk.dest_uri[0] = '\0';
    pthread_mutex_unlock(&fk.lock);
    if (!state)
        return;
    snprintf(path, sizeof(path), "%s/dest-%s.xml", t->dir, state);
    snprintf(xml, sizeof(xml), "<node>%s</node>\n",
             strcmp(state, "running") == 0
                 ? "<domain type='test'><name>test</name>"
                   "<memory>1048576</memory><os><type>hvm</type></os>"
                   "</domain>"
                 : "");
    write_file(path, xml);
    pthread_mutex_lock(&fk.lock);
    snprintf(fk.dest_uri, sizeof(fk.dest_uri), "test://%s", path);
    pthread_mutex_unlock(&fk.lock);
}

static void rfc(time_t t, char *buf, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Write state_dir/jobs/ID.json as the journal has it: the request of
 * `type` (its section `section`), and the job in `state`, created
 * `age_s` ago and, when final, finished `age_s` ago; `more` adds members
 * to the job ("" none). */
static void journal_dom(struct t *t, const char *id, const char *type,
                        const char *domain, const char *section,
                        const char *state, time_t age_s, const char *more)
{
    char path[PATH_MAX + 256], when[32], *text = NULL;
    bool fin = strcmp(state, "Succeeded") == 0 || strcmp(state, "Failed") == 0;

    rfc(time(NULL) - age_s, when, sizeof(when));
    assert_true(
        asprintf(&text,
                 "{\"job\":{\"id\":\"%s\",\"type\":\"%s\",\"state\":\"%s\","
                 "\"createdAt\":\"%s\",\"startedAt\":\"%s\","
                 "\"finishedAt\":%s%s%s,\"migration\":{\"uid\":\"u1\"},"
                 "\"domain\":\"%s\"%s%s},"
                 "\"request\":{\"id\":\"%s\",\"type\":\"%s\","
                 "\"migration\":{\"uid\":\"u1\"},\"domain\":\"%s\","
                 "\"%s\":%s}}",
                 id, type, state, when, when, fin ? "\"" : "",
                 fin ? when : "null", fin ? "\"" : "", domain, *more ? "," : "",
                 more, id, type, domain, type, section) > 0);
    snprintf(path, sizeof(path), "%s/jobs/%s.json", t->dir, id);
    write_file(path, text);
    free(text);
}

/* journal_dom for the domain "test". */
static void journal(struct t *t, const char *id, const char *type,
                    const char *section, const char *state, time_t age_s,
                    const char *more)
{
    journal_dom(t, id, type, "test", section, state, age_s, more);
}

static const char *migrate_sec =
    "{\"destLibvirtURI\":\"" DEST "\","
    "\"migrationURI\":\"tcp://198.18.0.12:49152\"}";

static int call(struct t *t, enum http_method m, const char *target,
                const char *body, json_t **ret)
{
    struct http_request req = {0};
    struct http_response resp = {0};
    char buf[1024];
    int status;

    assert_int_equal(http_request_parse_target(&req, target, buf, sizeof(buf)),
                     0);
    req.method = m;
    req.body = body ? body : "";
    req.body_len = strlen(req.body);
    migr_jobs_handle(t->j, &req, &resp);
    status = resp.status;
    *ret = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    http_response_clear(&resp);
    return status;
}

static json_t *get_job(struct t *t, const char *id)
{
    char target[256];
    json_t *o = NULL;

    snprintf(target, sizeof(target), "/v1/jobs/%s", id);
    assert_int_equal(call(t, HTTP_METHOD_GET, target, NULL, &o), 200);
    assert_non_null(o);
    return o;
}

static json_t *at(json_t *o, const char *path)
{
    char buf[128], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k && o;
         k = strtok_r(NULL, ".", &save))
        o = json_object_get(o, k);
    return o;
}

static const char *sget(json_t *o, const char *path)
{
    return json_string_value(at(o, path));
}

static json_t *run_to_end(struct t *t, const char *id)
{
    assert_int_equal(migr_jobs_wait(t->j, id, WAIT_MS), 0);
    return get_job(t, id);
}

/* ---------------------------------------------------------------------- */
/* Re-attached migrations                                                  */

/* libvirt still runs the migration: the job is Running, re-attached, with
 * libvirt's progress; when libvirt's job ends with the domain gone here
 * and running at the destination, it Succeeded. */
static void test_still_running_then_target(void **state)
{
    struct t t;
    json_t *o;
    (void)state;

    t_init(&t);
    journal(&t, "u1-migrate", "migrate", migrate_sec, "Running", 30, "");
    t_open(&t, false);
    assert_int_equal(t.rec.reattached, 1);
    assert_int_equal(t.rec.loaded + t.rec.rerun + t.rec.removed, 0);
    assert_int_equal(t.rec.n_bad, 0);
    o = get_job(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Running");
    assert_true(json_is_true(at(o, "reattached")));
    json_decref(o);

    fake_set(true, false);
    dest_set(&t, "running");
    assert_int_equal(migr_jobs_start(t.j), 0);
    fake_wait(&fk.stats_calls, 3, "samples of the running job");
    assert_int_equal(migr_jobs_wait(t.j, "u1-migrate", 50), -ETIMEDOUT);
    o = get_job(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Running");
    assert_int_equal(json_integer_value(at(o, "progress.dataRemaining")),
                     1u << 29);
    assert_int_equal(json_integer_value(at(o, "progress.timeElapsedMs")), 4242);
    json_decref(o);
    /* While libvirt's job runs, the destination is none of its business. */
    assert_int_equal(fk.dest_opens, 0);

    fake_set(false, true); /* migrated: undefined here */
    o = run_to_end(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_true(json_is_true(at(o, "reattached")));
    assert_string_equal(sget(o, "result.mode"), "PreCopy");
    /* The destination's completed statistics, else the last sample. */
    assert_int_equal(json_integer_value(at(o, "result.downtimeMs")), 123);
    assert_int_equal(json_integer_value(at(o, "result.timeElapsedMs")), 9999);
    assert_int_equal(json_integer_value(at(o, "result.dataTotal")), 1u << 30);
    json_decref(o);
    assert_int_equal(fk.abort_calls, 0);
    t_close(&t);
}

/* The libvirt job is over and the domain runs here: it Failed (Aborted
 * when an abort had been asked). */
static void test_failed_on_source(void **state)
{
    struct t t;
    json_t *o;
    (void)state;

    t_init(&t);
    journal(&t, "u1-migrate", "migrate", migrate_sec, "Running", 30, "");
    /* An abort was asked before the restart: Aborted, not a failure. */
    journal(&t, "u2-migrate", "migrate", migrate_sec, "Running", 20,
            "\"abortRequested\":true");
    t_open(&t, true);
    assert_int_equal(t.rec.reattached, 2);
    o = run_to_end(&t, "u2-migrate");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "Aborted");
    json_decref(o);
    o = run_to_end(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "MigrationFailed");
    assert_non_null(
        strstr(sget(o, "error.message"), "still runs on this host"));
    assert_true(json_is_true(at(o, "reattached")));
    json_decref(o);
    /* Running here is enough to know. */
    assert_int_equal(fk.dest_opens, 0);
    t_close(&t);
}

/* The timeouts count from the re-attachment: no progress for
 * progressTimeoutS after it -> libvirt's job aborted, ProgressTimeout. */
static void test_progress_timeout(void **state)
{
    struct t t;
    json_t *o;
    (void)state;

    t_init(&t);
    journal(&t, "u1-migrate", "migrate",
            "{\"destLibvirtURI\":\"" DEST "\","
            "\"migrationURI\":\"tcp://198.18.0.12:49152\","
            "\"progressTimeoutS\":3,\"completionTimeoutPerGiBS\":0}",
            "Running", 3600, "");
    fake_set(true, false);
    t_open(&t, true);
    /* Started an hour ago: the first samples do not time out at once. */
    fake_wait(&fk.stats_calls, 3, "samples of the running job");
    o = get_job(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Running");
    json_decref(o);
    o = run_to_end(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "ProgressTimeout");
    assert_non_null(strstr(sget(o, "error.message"), "re-attached"));
    assert_non_null(
        strstr(sget(o, "error.message"), "still runs on this host"));
    json_decref(o);
    assert_int_equal(fk.abort_calls, 1);
    t_close(&t);
}

/* An abort job in flight at the crash runs again: the re-attached monitor
 * aborts libvirt's job, the domain stays here: Aborted. */
static void test_abort_rerun(void **state)
{
    struct t t;
    json_t *o;
    (void)state;

    t_init(&t);
    journal(&t, "u1-migrate", "migrate", migrate_sec, "Running", 30, "");
    journal(&t, "u1-abort", "abort", "{\"jobId\":\"u1-migrate\"}", "Running",
            10, "");
    fake_set(true, false);
    t_open(&t, true);
    assert_int_equal(t.rec.reattached, 1);
    assert_int_equal(t.rec.rerun, 1);
    o = run_to_end(&t, "u1-abort");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_string_equal(sget(o, "result.abortStatus"), "Succeeded");
    json_decref(o);
    o = run_to_end(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "Aborted");
    json_decref(o);
    assert_true(fk.abort_calls >= 1);
    t_close(&t);
}

/* Gone here and the destination unreachable: nothing is known, the job
 * stays Running and asks again; a stop leaves it Running in the journal,
 * and the next start finds the outcome once the destination answers. */
static void test_unknown_waits(void **state)
{
    struct t t;
    char path[PATH_MAX + 64];
    json_t *o, *doc;
    (void)state;

    t_init(&t);
    journal(&t, "u1-migrate", "migrate", migrate_sec, "Running", 30, "");
    fake_set(false, true);
    t_open(&t, true);
    fake_wait(&fk.dest_opens, 3, "questions to the destination");
    o = get_job(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Running");
    json_decref(o);
    t_stop(&t); /* returns: the monitor does not wait for an answer */
    snprintf(path, sizeof(path), "%s/jobs/u1-migrate.json", t.dir);
    doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(sget(doc, "job.state"), "Running");
    json_decref(doc);

    /* The destination has no such domain either: it runs nowhere. */
    dest_set(&t, "none");
    t_open(&t, true);
    assert_int_equal(t.rec.reattached, 1);
    o = run_to_end(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "MigrationFailed");
    assert_non_null(strstr(sget(o, "error.message"), "neither"));
    json_decref(o);
    t_stop(&t);

    /* A final journal is served as it ended, not re-attached again. */
    dest_set(&t, "running");
    t_open(&t, true);
    assert_int_equal(t.rec.loaded, 1);
    assert_int_equal(t.rec.reattached, 0);
    o = get_job(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Failed");
    json_decref(o);
    t_close(&t);
}

/* ---------------------------------------------------------------------- */
/* The journal's files                                                     */

static void test_journal_files(void **state)
{
    struct t t;
    char path[PATH_MAX + 64];
    json_t *o;
    const char *done_result =
        "\"result\":{\"downtimeMs\":140,\"timeElapsedMs\":900,"
        "\"dataTotal\":5,\"mode\":\"PreCopy\"}";
    (void)state;

    t_init(&t);
    /* Served as it ended. */
    journal(&t, "done", "migrate", migrate_sec, "Succeeded", 3600, done_result);
    /* Finished more than 24 h ago: removed. */
    journal(&t, "old", "prepare", "{}", "Failed", 25 * 3600,
            "\"error\":{\"reason\":\"NoFreePort\",\"message\":\"x\"}");
    /* In flight: run again. */
    journal(&t, "p1-prepare", "prepare", "{}", "Running", 5, "");
    /* Bad: truncated, an unknown type, a name that is not its id. */
    snprintf(path, sizeof(path), "%s/jobs/trunc.json", t.dir);
    write_file(path, "{\"job\":{\"id\":\"trunc\",\"type\":\"prep");
    journal(&t, "weird", "frobnicate", "{}", "Running", 5, "");
    journal(&t, "named", "prepare", "{}", "Running", 5, "");
    {
        char from[PATH_MAX + 64], to[PATH_MAX + 64];

        snprintf(from, sizeof(from), "%s/jobs/named.json", t.dir);
        snprintf(to, sizeof(to), "%s/jobs/misnamed.json", t.dir);
        assert_int_equal(rename(from, to), 0);
    }
    /* A write cut short, and what is not a journal. */
    snprintf(path, sizeof(path), "%s/jobs/done.json.tmp", t.dir);
    write_file(path, "{\"jo");
    snprintf(path, sizeof(path), "%s/jobs/README", t.dir);
    write_file(path, "not a journal");

    t_open(&t, true);
    assert_int_equal(t.rec.loaded, 1);
    assert_int_equal(t.rec.rerun, 1);
    assert_int_equal(t.rec.removed, 1);
    assert_int_equal(t.rec.reattached, 0);
    assert_int_equal(t.rec.n_bad, 3);
    {
        bool trunc = false, weird = false, named = false;

        for (size_t i = 0; i < t.rec.n_bad; i++) {
            const char *b = t.rec.bad[i];

            trunc |= strncmp(b, "trunc.json: not JSON", 20) == 0;
            weird |= strncmp(b, "weird.json: request: type:", 26) == 0;
            named |= strncmp(b, "misnamed.json: request.id:", 26) == 0;
            assert_non_null(strstr(b, "moved aside"));
        }
        assert_true(trunc && weird && named);
    }
    assert_true(exists(&t, "trunc.json.corrupt"));
    assert_true(exists(&t, "weird.json.corrupt"));
    assert_true(exists(&t, "misnamed.json.corrupt"));
    assert_false(exists(&t, "trunc.json"));
    assert_false(exists(&t, "old.json"));
    assert_false(exists(&t, "done.json.tmp"));
    assert_true(exists(&t, "README"));

    o = get_job(&t, "done");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_int_equal(json_integer_value(at(o, "result.downtimeMs")), 140);
    assert_null(at(o, "reattached"));
    json_decref(o);
    assert_int_equal(call(&t, HTTP_METHOD_GET, "/v1/jobs/old", NULL, &o), 404);
    json_decref(o);
    o = run_to_end(&t, "p1-prepare");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_true(json_integer_value(at(o, "result.port")) > 0);
    json_decref(o);
    /* The same request again is the job recovered, not another. */
    {
        char body[512];

        snprintf(body, sizeof(body),
                 "{\"id\":\"done\",\"type\":\"migrate\",\"migration\":"
                 "{\"uid\":\"u1\"},\"domain\":\"test\",\"migrate\":%s}",
                 migrate_sec);
        assert_int_equal(call(&t, HTTP_METHOD_POST, "/v1/jobs", body, &o), 200);
        assert_string_equal(sget(o, "state"), "Succeeded");
        json_decref(o);
    }
    /* Once: the workers run now. */
    {
        struct migr_jobs_recovery again;

        assert_int_equal(migr_jobs_recover(t.j, &again), -EBUSY);
    }
    t_close(&t);
}

/* No journal directory is no journal. */
static void test_no_journal(void **state)
{
    struct t t;
    char path[PATH_MAX + 16];
    (void)state;

    t_init(&t);
    snprintf(path, sizeof(path), "%s/jobs", t.dir);
    assert_int_equal(rmdir(path), 0);
    t_open(&t, false);
    assert_int_equal(t.rec.loaded + t.rec.reattached + t.rec.rerun +
                         t.rec.removed + t.rec.n_bad,
                     0);
    t_close(&t);
}

/* ---------------------------------------------------------------------- */
/* SR-IOV VFs only the journal knows                                       */

/* The agent's table starts empty after a restart.  The journal gives back
 * a finished prepare's VFs while its migration has not come (macvtap by
 * netdev, hostdev by PCI address), not those of a prepare released since,
 * and the VF of a NIC a migrate job in flight unplugged; a VF that is not
 * there is said.  When that migration turns out to have succeeded, the
 * re-attached job's cleanup gives the unplugged VF back. */
static void test_sriov_vfs_taken_back(void **state)
{
    static const struct fx_vf vfs[] = {
        {"iavf", "ens1f0v0"},
        {"iavf", "ens1f0v1"},
        {"vfio-pci", ""},
        {"iavf", "ens1f0v3"},
    };
    struct migr_vf_reservation held[8];
    struct fx fx;
    struct t t;
    json_t *o;
    char unplugged[1024];
    (void)state;

    assert_int_equal(fx_make(&fx, "recover-sriov"), 0);
    fx_pf(&fx, "ens1f0", 0x3b, 8, vfs, 4);
    t_init(&t);
    t.conf_extra =
        "networks = (\n"
        "  { name = \"mv\"; pf = \"ens1f0\"; mode = \"macvtap\"; },\n"
        "  { name = \"hd\"; pf = \"ens1f0\"; vlan = 7; }\n"
        ");\n";
    assert_int_equal(migr_sriov_new(fx.root, NULL, &t.sriov), 0);

    /* Prepared for vm1 (macvtap, VF1) and vm2 (hostdev, VF2): waiting. */
    journal_dom(&t, "p1", "prepare", "vm1", "{}", "Succeeded", 60,
                "\"result\":{\"port\":49152,\"sriov\":[{\"iface\":\"n1\","
                "\"pf\":\"ens1f0\",\"pci\":\"0000:3b:02.1\",\"netdev\":"
                "\"ens1f0v1\",\"mac\":\"02:00:00:00:00:01\",\"mode\":"
                "\"macvtap\",\"unplug\":false}]}");
    journal_dom(
        &t, "p2", "prepare", "vm2", "{}", "Succeeded", 60,
        "\"result\":{\"port\":49153,\"sriov\":[{\"iface\":\"n2\","
        "\"pf\":\"ens1f0\",\"pci\":\"0000:3b:02.2\",\"mac\":"
        "\"02:00:00:00:00:02\",\"mode\":\"hostdev\",\"unplug\":true}]}");
    /* Prepared for vm5 (VF0), then released: nothing held. */
    journal_dom(&t, "p5", "prepare", "vm5", "{}", "Succeeded", 60,
                "\"result\":{\"port\":49154,\"sriov\":[{\"iface\":\"n5\","
                "\"pf\":\"ens1f0\",\"pci\":\"0000:3b:02.0\",\"netdev\":"
                "\"ens1f0v0\",\"mac\":\"02:00:00:00:00:05\",\"mode\":"
                "\"macvtap\",\"unplug\":false}]}");
    journal_dom(&t, "r5", "release", "vm5", "{\"prepareJobId\":\"p5\"}",
                "Succeeded", 30, "\"result\":{}");
    /* A VF this host does not have. */
    journal_dom(&t, "p6", "prepare", "vm6", "{}", "Succeeded", 60,
                "\"result\":{\"port\":49155,\"sriov\":[{\"iface\":\"n6\","
                "\"pf\":\"ens1f0\",\"pci\":\"0000:3b:03.7\",\"netdev\":"
                "\"ens1f0v9\",\"mac\":\"02:00:00:00:00:06\",\"mode\":"
                "\"macvtap\",\"unplug\":false}]}");
    /* "test" migrating with its VF3 NIC unplugged. */
    snprintf(unplugged, sizeof(unplugged),
             "\"unplugged\":[{\"iface\":\"n3\",\"xml\":\"<interface "
             "type='direct'><mac address='02:00:00:00:00:03'/><source "
             "dev='ens1f0v3' mode='passthrough'/><alias "
             "name='ua-sriov-n3'/></interface>\"}]");
    journal(&t, "u1-migrate", "migrate", migrate_sec, "Running", 30, unplugged);

    dest_set(&t, "running");
    fake_set(false, true); /* it made it: gone here, running there */
    t_open(&t, false);
    assert_int_equal(t.rec.vfs_adopted, 3);
    assert_int_equal(t.rec.n_vf_lost, 1);
    assert_non_null(strstr(t.rec.vf_lost[0], "job 'p6' (domain 'vm6')"));
    assert_non_null(strstr(t.rec.vf_lost[0], "ens1f0v9"));
    assert_non_null(strstr(t.rec.vf_lost[0], "no PF"));
    assert_int_equal(migr_sriov_list(t.sriov, held, 8), 3);
    for (size_t i = 0; i < 3; i++) {
        const struct migr_vf_reservation *r = &held[i];

        if (r->index == 1) {
            assert_string_equal(r->owner, "vm1");
            assert_string_equal(r->mac, "02:00:00:00:00:01");
        } else if (r->index == 2) {
            assert_string_equal(r->owner, "vm2");
            assert_int_equal(r->vlan, 7); /* the hostdev network's */
        } else {
            assert_int_equal(r->index, 3);
            assert_string_equal(r->owner, "test");
        }
    }

    /* The re-attached migration ends at the destination: the source's
     * cleanup gives VF3 back, the prepares' VFs stay held. */
    assert_int_equal(migr_jobs_start(t.j), 0);
    o = run_to_end(&t, "u1-migrate");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_string_equal(
        json_string_value(json_array_get(at(o, "result.unplugged"), 0)), "n3");
    json_decref(o);
    assert_int_equal(migr_sriov_list(t.sriov, held, 8), 2);
    assert_true(held[0].index != 3 && held[1].index != 3);

    t_close(&t);
    migr_sriov_free(t.sriov);
    fx_remove(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_still_running_then_target),
        cmocka_unit_test(test_failed_on_source),
        cmocka_unit_test(test_progress_timeout),
        cmocka_unit_test(test_abort_rerun),
        cmocka_unit_test(test_unknown_waits),
        cmocka_unit_test(test_journal_files),
        cmocka_unit_test(test_no_journal),
        cmocka_unit_test(test_sriov_vfs_taken_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
