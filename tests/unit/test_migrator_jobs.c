/*
 * Unit tests for migrator/jobs: the job API over its handler, the worker
 * pool, the monitor's timeouts, abort, the journal and watch streams.
 *
 * libvirt is the test driver (test:///default, whose running domain
 * "test" has 8 GiB) for lookups; what it cannot do - migrate, job
 * statistics, abort, post-copy, max downtime - is caught with
 * -Wl,--wrap (test_migrator_jobs.ldflags) by a fake migration that the
 * tests steer: it blocks until told to finish, or until aborted, or
 * completes once switched to post-copy.  The monitor runs every 5 ms and
 * a timeout's second lasts 20 ms, so the timeouts take a fraction of a
 * second; the tests wait for states with migr_jobs_wait (a condition
 * variable with a deadline), never with sleeps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <libvirt/libvirt.h>

#include "conf/conf.h"
#include "http/http.h"
#include "migrator/jobs.h"
#include "migrator/virt.h"
#include "tests/unit/support/httpc.h"

#define WAIT_MS 10000

/* ---------------------------------------------------------------------- */
/* The fake migration                                                      */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool pass_through; /* the real (test driver) call: a real failure */
    bool migrating;
    bool finish;   /* the test lets it succeed */
    bool aborted;  /* virDomainAbortJob was called while migrating */
    bool postcopy; /* virDomainMigrateStartPostCopy was called */
    bool shrink;   /* dataRemaining shrinks on every sample */
    uint64_t remaining;
    int stats_calls;
    int abort_calls;
    unsigned flags;
    char uri[128];
    unsigned long long bandwidth;
    int disks_port; /* VIR_MIGRATE_PARAM_DISKS_PORT, -1 when not given */
    char *dest_xml; /* VIR_MIGRATE_PARAM_DEST_XML (malloc'd), NULL none */
    unsigned long long downtime;
    int suspends; /* virDomainSuspend calls that went through */
    int resumes;  /* virDomainResume calls */
    /* The target's checks: what the CPU comparison answers, the free
     * memory, and what the comparison was given. */
    int cpu_result;
    int cpu_calls;
    char cpu_xml[512];
    char cpu_arch[32];
    unsigned long long free_memory;
    /* SR-IOV unplug and replug (the test driver has no device hot-plug):
     * the NIC the domain's XML shows until a detach takes it out - unless
     * hold_nic, a guest that never lets it go - and what was attached. */
    bool nic_gone, hold_nic;
    int migrate_calls, detach_calls, attach_calls;
    char detach_alias[64];
    char detach_fails[64]; /* a detach of this alias fails; "" none */
    char *attach_xml;
    unsigned attach_flags;
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

int __wrap_virDomainMigrateToURI3(virDomainPtr d, const char *dconnuri,
                                  virTypedParameterPtr params,
                                  unsigned int nparams, unsigned int flags);
int __real_virDomainMigrateToURI3(virDomainPtr d, const char *dconnuri,
                                  virTypedParameterPtr params,
                                  unsigned int nparams, unsigned int flags);
int __wrap_virDomainGetJobStats(virDomainPtr d, int *type,
                                virTypedParameterPtr *params, int *nparams,
                                unsigned int flags);
int __wrap_virDomainAbortJob(virDomainPtr d);
int __wrap_virDomainMigrateStartPostCopy(virDomainPtr d, unsigned int flags);
int __wrap_virDomainMigrateSetMaxDowntime(virDomainPtr d,
                                          unsigned long long downtime,
                                          unsigned int flags);
int __wrap_virDomainSuspend(virDomainPtr d);
int __real_virDomainSuspend(virDomainPtr d);
int __wrap_virDomainResume(virDomainPtr d);
int __real_virDomainResume(virDomainPtr d);

int __wrap_virDomainDetachDeviceAlias(virDomainPtr d, const char *alias,
                                      unsigned int flags);
int __wrap_virDomainAttachDeviceFlags(virDomainPtr d, const char *xml,
                                      unsigned int flags);
char *__wrap_virDomainGetXMLDesc(virDomainPtr d, unsigned int flags);
char *__real_virDomainGetXMLDesc(virDomainPtr d, unsigned int flags);

int __wrap_virDomainDetachDeviceAlias(virDomainPtr d, const char *alias,
                                      unsigned int flags)
{
    (void)d;
    (void)flags;
    pthread_mutex_lock(&fk.lock);
    fk.detach_calls++;
    snprintf(fk.detach_alias, sizeof(fk.detach_alias), "%s", alias);
    if (strcmp(alias, fk.detach_fails) == 0) {
        pthread_mutex_unlock(&fk.lock);
        return -1;
    }
    fk.nic_gone = !fk.hold_nic;
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

int __wrap_virDomainAttachDeviceFlags(virDomainPtr d, const char *xml,
                                      unsigned int flags)
{
    (void)d;
    pthread_mutex_lock(&fk.lock);
    fk.attach_calls++;
    free(fk.attach_xml);
    fk.attach_xml = strdup(xml);
    fk.attach_flags = flags;
    if (flags & VIR_DOMAIN_AFFECT_LIVE)
        fk.nic_gone = false;
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

/* The domain's XML without its interfaces once a detach took them out. */
char *__wrap_virDomainGetXMLDesc(virDomainPtr d, unsigned int flags)
{
    char *xml = __real_virDomainGetXMLDesc(d, flags), *a, *b;

    pthread_mutex_lock(&fk.lock);
    while (xml && fk.nic_gone && (a = strstr(xml, "<interface")) &&
           (b = strstr(a, "</interface>")))
        memmove(a, b + strlen("</interface>"),
                strlen(b + strlen("</interface>")) + 1);
    pthread_mutex_unlock(&fk.lock);
    return xml;
}

int __wrap_virDomainResume(virDomainPtr d)
{
    pthread_mutex_lock(&fk.lock);
    fk.resumes++;
    pthread_mutex_unlock(&fk.lock);
    return __real_virDomainResume(d);
}
int __wrap_virConnectCompareHypervisorCPU(virConnectPtr conn,
                                          const char *emulator,
                                          const char *arch, const char *machine,
                                          const char *virttype,
                                          const char *xmlCPU,
                                          unsigned int flags);
unsigned long long __wrap_virNodeGetFreeMemory(virConnectPtr conn);

/* The test driver has no CPU model to compare with: the tests say the
 * answer. */
int __wrap_virConnectCompareHypervisorCPU(virConnectPtr conn,
                                          const char *emulator,
                                          const char *arch, const char *machine,
                                          const char *virttype,
                                          const char *xmlCPU,
                                          unsigned int flags)
{
    int r;
    (void)conn;
    (void)emulator;
    (void)machine;
    (void)virttype;
    (void)flags;

    pthread_mutex_lock(&fk.lock);
    fk.cpu_calls++;
    snprintf(fk.cpu_xml, sizeof(fk.cpu_xml), "%s", xmlCPU ? xmlCPU : "");
    snprintf(fk.cpu_arch, sizeof(fk.cpu_arch), "%s", arch ? arch : "");
    r = fk.cpu_result;
    pthread_mutex_unlock(&fk.lock);
    return r;
}

/* The test driver's free memory is a few MiB: the tests set it. */
unsigned long long __wrap_virNodeGetFreeMemory(virConnectPtr conn)
{
    unsigned long long n;
    (void)conn;

    pthread_mutex_lock(&fk.lock);
    n = fk.free_memory;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

/* The test driver pauses its domain for real; the tests are told. */
int __wrap_virDomainSuspend(virDomainPtr d)
{
    int r = __real_virDomainSuspend(d);

    pthread_mutex_lock(&fk.lock);
    if (r == 0)
        fk.suspends++;
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
    return r;
}

int __wrap_virDomainMigrateToURI3(virDomainPtr d, const char *dconnuri,
                                  virTypedParameterPtr params,
                                  unsigned int nparams, unsigned int flags)
{
    const char *s = NULL;
    int r;

    pthread_mutex_lock(&fk.lock);
    fk.flags = flags;
    fk.migrate_calls++;
    if (virTypedParamsGetString(params, (int)nparams, VIR_MIGRATE_PARAM_URI,
                                &s) == 1)
        snprintf(fk.uri, sizeof(fk.uri), "%s", s);
    virTypedParamsGetULLong(params, (int)nparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                            &fk.bandwidth);
    fk.disks_port = -1;
    virTypedParamsGetInt(params, (int)nparams, VIR_MIGRATE_PARAM_DISKS_PORT,
                         &fk.disks_port);
    free(fk.dest_xml);
    fk.dest_xml = NULL;
    if (virTypedParamsGetString(params, (int)nparams,
                                VIR_MIGRATE_PARAM_DEST_XML, &s) == 1)
        fk.dest_xml = strdup(s);
    if (fk.pass_through) {
        pthread_mutex_unlock(&fk.lock);
        return __real_virDomainMigrateToURI3(d, dconnuri, params, nparams,
                                             flags);
    }
    fk.migrating = true;
    pthread_cond_broadcast(&fk.cond);
    while (!fk.finish && !fk.aborted && !fk.postcopy)
        pthread_cond_wait(&fk.cond, &fk.lock);
    fk.migrating = false;
    r = fk.aborted ? -1 : 0;
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
    return r;
}

int __wrap_virDomainGetJobStats(virDomainPtr d, int *type,
                                virTypedParameterPtr *params, int *nparams,
                                unsigned int flags)
{
    int max = 0;
    (void)d;

    *params = NULL;
    *nparams = 0;
    pthread_mutex_lock(&fk.lock);
    if (flags & VIR_DOMAIN_JOB_STATS_COMPLETED) {
        *type = VIR_DOMAIN_JOB_COMPLETED;
        virTypedParamsAddULLong(params, nparams, &max, VIR_DOMAIN_JOB_DOWNTIME,
                                140);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_TIME_ELAPSED, 1000);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_DATA_TOTAL, 1u << 30);
    } else if (fk.migrating) {
        *type = VIR_DOMAIN_JOB_UNBOUNDED;
        fk.stats_calls++;
        if (fk.shrink && fk.remaining > 1000)
            fk.remaining -= 1000;
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
                                VIR_DOMAIN_JOB_MEMORY_BPS, 123456);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, 77);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_MEMORY_ITERATION, 3);
        virTypedParamsAddULLong(params, nparams, &max,
                                VIR_DOMAIN_JOB_TIME_ELAPSED, 500);
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
    if (fk.migrating && !fk.postcopy) {
        fk.aborted = true;
        r = 0;
        pthread_cond_broadcast(&fk.cond);
    }
    pthread_mutex_unlock(&fk.lock);
    return r;
}

int __wrap_virDomainMigrateStartPostCopy(virDomainPtr d, unsigned int flags)
{
    int r = -1;
    (void)d;
    (void)flags;

    pthread_mutex_lock(&fk.lock);
    if (fk.migrating && (fk.flags & VIR_MIGRATE_POSTCOPY)) {
        fk.postcopy = true;
        r = 0;
        pthread_cond_broadcast(&fk.cond);
    }
    pthread_mutex_unlock(&fk.lock);
    return r;
}

int __wrap_virDomainMigrateSetMaxDowntime(virDomainPtr d,
                                          unsigned long long downtime,
                                          unsigned int flags)
{
    (void)d;
    (void)flags;
    pthread_mutex_lock(&fk.lock);
    fk.downtime = downtime;
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static void fake_reset(void)
{
    pthread_mutex_lock(&fk.lock);
    fk.pass_through = fk.migrating = fk.finish = fk.aborted = false;
    fk.postcopy = fk.shrink = false;
    fk.remaining = 1u << 29;
    fk.stats_calls = fk.abort_calls = fk.suspends = fk.resumes = 0;
    fk.cpu_result = VIR_CPU_COMPARE_IDENTICAL;
    fk.cpu_calls = 0;
    fk.cpu_xml[0] = fk.cpu_arch[0] = '\0';
    fk.free_memory = UINT64_C(16) << 30;
    fk.flags = 0;
    fk.uri[0] = '\0';
    fk.bandwidth = fk.downtime = 0;
    pthread_mutex_unlock(&fk.lock);
}

/* Wait (with a deadline) until the fake has been asked for `n` samples of
 * a running migration. */
static void fake_wait_samples(int n)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&fk.lock);
    while (fk.stats_calls < n)
        if (pthread_cond_timedwait(&fk.cond, &fk.lock, &until) != 0)
            fail_msg("the monitor took fewer than %d samples", n);
    pthread_mutex_unlock(&fk.lock);
}

/* Wait (with a deadline) until the monitor has paused the guest. */
static void fake_wait_suspended(void)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&fk.lock);
    while (fk.suspends == 0)
        if (pthread_cond_timedwait(&fk.cond, &fk.lock, &until) != 0)
            fail_msg("the monitor did not pause the guest");
    pthread_mutex_unlock(&fk.lock);
}

static void fake_finish(void)
{
    pthread_mutex_lock(&fk.lock);
    fk.finish = true;
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
}

/* ---------------------------------------------------------------------- */
/* Fixture                                                                 */

struct t {
    char dir[PATH_MAX];
    struct conf_migrator cfg;
    struct migr_jobs *j;
};

static void t_open(struct t *t, const char *extra, bool start)
{
    char text[PATH_MAX + 1024], err[256];
    struct migr_jobs_opts o = {
        .migration_address = "127.0.0.1",
        .monitor_interval_ms = 5,
        .second_ms = 20,
    };

    snprintf(t->dir, sizeof(t->dir), "/tmp/test-jobs-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(text, sizeof(text),
             "libvirt_uri = \"test:///default\";\nstate_dir = \"%s\";\n%s",
             t->dir, extra ? extra : "");
    assert_int_equal(conf_migrator_init(&t->cfg), 0);
    if (conf_migrator_load_string(&t->cfg, text, "test", err, sizeof(err)) < 0)
        fail_msg("config: %s", err);
    o.cfg = &t->cfg;
    assert_int_equal(migr_jobs_new(&o, &t->j), 0);
    if (start)
        assert_int_equal(migr_jobs_start(t->j), 0);
    fake_reset();
}

static void t_close(struct t *t)
{
    char cmd[PATH_MAX + 16];

    /* A test that failed midway must not leave a worker in the fake. */
    fake_finish();
    migr_jobs_free(t->j);
    conf_migrator_clear(&t->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

/* Call the handler; returns the status and *ret the parsed body (NULL when
 * not JSON). */
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
    if (ret)
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

static const char *sget(json_t *o, const char *path)
{
    /* "a.b.c" */
    char buf[128], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k && o;
         k = strtok_r(NULL, ".", &save))
        o = json_object_get(o, k);
    return o ? json_string_value(o) : NULL;
}

static json_int_t iget(json_t *o, const char *path)
{
    char buf[128], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k && o;
         k = strtok_r(NULL, ".", &save))
        o = json_object_get(o, k);
    if (!json_is_integer(o))
        fail_msg("'%s' is not an integer", path);
    return json_integer_value(o);
}

/* A migrate request for domain "test" with `knobs` added to "migrate". */
static char *migrate_body(const char *id, const char *domain, const char *knobs)
{
    char *s = NULL;

    assert_true(
        asprintf(&s,
                 "{\"id\":\"%s\",\"type\":\"migrate\","
                 "\"migration\":{\"namespace\":\"ns\",\"name\":\"m1\","
                 "\"uid\":\"u1\"},\"domain\":\"%s\","
                 "\"migrate\":{\"destLibvirtURI\":\"qemu+tcp://198.18.0.12/"
                 "system\",\"migrationURI\":\"tcp://198.18.0.12:49152\","
                 "\"bandwidthMiBps\":64,\"maxDowntimeMs\":900%s%s}}",
                 id, domain, knobs && *knobs ? "," : "",
                 knobs ? knobs : "") > 0);
    return s;
}

static json_t *post_ok(struct t *t, const char *body, int want)
{
    json_t *o = NULL;

    assert_int_equal(call(t, HTTP_METHOD_POST, "/v1/jobs", body, &o), want);
    assert_non_null(o);
    return o;
}

static json_t *run_to_end(struct t *t, const char *id)
{
    assert_int_equal(migr_jobs_wait(t->j, id, WAIT_MS), 0);
    return get_job(t, id);
}

/* ---------------------------------------------------------------------- */
/* The API                                                                 */

static void test_lifecycle(void **state)
{
    struct t t;
    const char *body = "{\"id\":\"u1-prepare\",\"type\":\"prepare\","
                       "\"migration\":{\"namespace\":\"ns\",\"name\":\"m\","
                       "\"uid\":\"u1\"},\"domain\":\"ns_vm\",\"prepare\":{}}";
    json_t *o;
    (void)state;

    t_open(&t, NULL, false); /* no workers: the job stays Pending */
    o = post_ok(&t, body, 202);
    assert_string_equal(sget(o, "id"), "u1-prepare");
    assert_string_equal(sget(o, "type"), "prepare");
    assert_string_equal(sget(o, "state"), "Pending");
    assert_string_equal(sget(o, "migration.uid"), "u1");
    assert_string_equal(sget(o, "domain"), "ns_vm");
    assert_non_null(sget(o, "createdAt"));
    assert_true(json_is_null(json_object_get(o, "startedAt")));
    json_decref(o);

    /* The same request again: the existing job, not another. */
    o = post_ok(&t, body, 200);
    assert_string_equal(sget(o, "state"), "Pending");
    json_decref(o);
    /* The same id with another request. */
    o = post_ok(&t,
                "{\"id\":\"u1-prepare\",\"type\":\"prepare\","
                "\"domain\":\"other\"}",
                409);
    assert_string_equal(sget(o, "reason"), "AlreadyExists");
    json_decref(o);

    o = get_job(&t, "u1-prepare");
    assert_string_equal(sget(o, "state"), "Pending");
    json_decref(o);
    assert_int_equal(call(&t, HTTP_METHOD_GET, "/v1/jobs/nope", NULL, &o), 404);
    assert_string_equal(sget(o, "reason"), "NotFound");
    json_decref(o);
    assert_int_equal(call(&t, HTTP_METHOD_GET, "/v1/jobs", NULL, &o), 200);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 1);
    json_decref(o);
    assert_int_equal(
        call(&t, HTTP_METHOD_DELETE, "/v1/jobs/u1-prepare", NULL, NULL), 405);
    assert_int_equal(call(&t, HTTP_METHOD_GET, "/v1/jobs/a/b", NULL, NULL),
                     404);
    t_close(&t);
}

static void test_bad_bodies(void **state)
{
    static const struct {
        const char *body;
        const char *field; /* NULL: not JSON at all */
    } cases[] = {
        {"not json", NULL},
        {"{\"id\":\"a\",\"id\":\"b\",\"type\":\"prepare\"}", NULL},
        {"[]", ""},
        {"{\"type\":\"prepare\",\"domain\":\"d\"}", "id"},
        {"{\"id\":\"../etc/passwd\",\"type\":\"prepare\",\"domain\":\"d\"}",
         "id"},
        {"{\"id\":\".hidden\",\"type\":\"prepare\",\"domain\":\"d\"}", "id"},
        /* jansson refuses NUL in strings: not JSON as far as we go. */
        {"{\"id\":\"a\\u0000b\",\"type\":\"prepare\",\"domain\":\"d\"}", NULL},
        {"{\"id\":7,\"type\":\"prepare\",\"domain\":\"d\"}", "id"},
        {"{\"id\":\"a\",\"type\":\"reboot\",\"domain\":\"d\"}", "type"},
        {"{\"id\":\"a\",\"type\":\"prepare\"}", "domain"},
        {"{\"id\":\"a\",\"type\":\"prepare\",\"domain\":\"d\","
         "\"migration\":\"x\"}",
         "migration"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\"}", "migrate"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"migrationURI\":\"tcp://h:1\"}}",
         "migrate.destLibvirtURI"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"file:///etc\",\"migrationURI\":\"tcp://h:1\"}}",
         "migrate.destLibvirtURI"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"progressTimeoutS\":-1}}",
         "migrate.progressTimeoutS"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"allowPostCopy\":\"yes\"}}",
         "migrate.allowPostCopy"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"bandwidthMiBps\":1e99}}",
         "migrate.bandwidthMiBps"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"copyStorage\":\"all\"}}",
         "migrate.copyStorage"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"copyStorage\":true}}",
         "migrate.copyStorage"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"disksPort\":65536}}",
         "migrate.disksPort"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"sriov\":{\"iface\":\"n\"}}}",
         "migrate.sriov"},
        {"{\"id\":\"a\",\"type\":\"migrate\",\"domain\":\"d\",\"migrate\":{"
         "\"destLibvirtURI\":\"qemu+tcp://h/system\",\"migrationURI\":"
         "\"tcp://h:1\",\"sriov\":[{\"iface\":\"n\",\"netdev\":3}]}}",
         "migrate.sriov"},
        {"{\"id\":\"a\",\"type\":\"prepare\",\"domain\":\"d\",\"prepare\":{"
         "\"sourceLibvirtURI\":\"host-a\"}}",
         "prepare.sourceLibvirtURI"},
        {"{\"id\":\"a\",\"type\":\"prepare\",\"domain\":\"d\",\"prepare\":{"
         "\"sourceLibvirtURI\":7}}",
         "prepare.sourceLibvirtURI"},
        {"{\"id\":\"a\",\"type\":\"abort\",\"abort\":{}}", "abort.jobId"},
        {"{\"id\":\"a\",\"type\":\"release\",\"domain\":\"d\"}", "release"},
        {"{\"id\":\"a\",\"type\":\"release\",\"domain\":\"d\","
         "\"release\":{}}",
         "release.prepareJobId"},
        {"{\"id\":\"a\",\"type\":\"abort\",\"abort\":[]}", "abort"},
    };
    char deep[4096 + 1];
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, false);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        json_t *cause;

        o = NULL;
        if (call(&t, HTTP_METHOD_POST, "/v1/jobs", cases[i].body, &o) != 400)
            fail_msg("case %zu: not 400", i);
        assert_string_equal(sget(o, "kind"), "Status");
        assert_string_equal(sget(o, "reason"), "BadRequest");
        cause = json_array_get(
            json_object_get(json_object_get(o, "details"), "causes"), 0);
        if (cases[i].field) {
            if (!sget(cause, "field") ||
                strcmp(sget(cause, "field"), cases[i].field) != 0)
                fail_msg("case %zu: field '%s', want '%s'", i,
                         sget(cause, "field") ? sget(cause, "field") : "(none)",
                         cases[i].field);
        } else {
            assert_null(cause);
        }
        json_decref(o);
    }
    /* Hostile nesting: refused, not a crash. */
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    assert_int_equal(call(&t, HTTP_METHOD_POST, "/v1/jobs", deep, NULL), 400);
    /* Nothing was made of any of it. */
    assert_int_equal(call(&t, HTTP_METHOD_GET, "/v1/jobs", NULL, &o), 200);
    assert_int_equal(json_array_size(json_object_get(o, "items")), 0);
    json_decref(o);
    t_close(&t);
}

/* ---------------------------------------------------------------------- */
/* Prepare                                                                 */

/* A TCP socket bound to 127.0.0.1:port (listening when `listening`), or
 * -1 when the port is taken. */
static int bind_port(int port, bool listening)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (listening && listen(fd, 1) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Two neighbouring ports below the kernel's ephemeral range (so that no
 * client connection takes one meanwhile), the first held by a listener
 * (*ret_fd) and the second free.  Returns the first. */
static int busy_then_free(int *ret_fd)
{
    for (int p = 20000; p < 30000; p += 2) {
        int fd = bind_port(p, true), fd2;

        if (fd < 0)
            continue;
        fd2 = bind_port(p + 1, false);
        if (fd2 >= 0) {
            close(fd2);
            *ret_fd = fd;
            return p;
        }
        close(fd);
    }
    fail_msg("no two free neighbouring ports in [20000, 30000)");
    return -1;
}

static void test_prepare_ports(void **state)
{
    const char *body = "{\"id\":\"p1\",\"type\":\"prepare\",\"domain\":\"d\"}";
    char extra[256], uri[64];
    int fd = -1, busy = busy_then_free(&fd);
    struct t t;
    json_t *o;
    (void)state;

    /* The range: the busy port, then the free one. */
    snprintf(extra, sizeof(extra),
             "migration_port_min = %d;\nmigration_port_max = %d;\n", busy,
             busy + 1);
    t_open(&t, extra, true);
    json_decref(post_ok(&t, body, 202));
    o = run_to_end(&t, "p1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_int_equal(iget(o, "result.port"), busy + 1);
    assert_string_equal(sget(o, "result.migrationAddress"), "127.0.0.1");
    snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", busy + 1);
    assert_string_equal(sget(o, "result.migrationURI"), uri);
    assert_string_equal(sget(o, "result.destLibvirtURI"),
                        "qemu+tcp://127.0.0.1/system");
    assert_non_null(sget(o, "startedAt"));
    assert_non_null(sget(o, "finishedAt"));
    json_decref(o);
    t_close(&t);

    /* Every port busy; and libvirt_peer_uri as configured. */
    snprintf(extra, sizeof(extra),
             "migration_port_min = %d;\nmigration_port_max = %d;\n"
             "libvirt_peer_uri = \"qemu+tls://host-b.lab/system\";\n",
             busy, busy);
    t_open(&t, extra, true);
    json_decref(post_ok(&t, body, 202));
    o = run_to_end(&t, "p1");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "NoFreePort");
    json_decref(o);
    close(fd);
    json_decref(post_ok(
        &t, "{\"id\":\"p2\",\"type\":\"prepare\",\"domain\":\"d\"}", 202));
    o = run_to_end(&t, "p2");
    assert_int_equal(iget(o, "result.port"), busy);
    assert_string_equal(sget(o, "result.destLibvirtURI"),
                        "qemu+tls://host-b.lab/system");
    json_decref(o);
    t_close(&t);
}

/* A prepare of `domain` from the libvirt at `source` (the test driver
 * plays the source) as job `id`; returns the ended job. */
static json_t *prepare_from(struct t *t, const char *id, const char *domain,
                            const char *source)
{
    char *body = NULL;

    assert_true(asprintf(&body,
                         "{\"id\":\"%s\",\"type\":\"prepare\",\"domain\":"
                         "\"%s\",\"prepare\":{\"sourceLibvirtURI\":\"%s\"}}",
                         id, domain, source) > 0);
    json_decref(post_ok(t, body, 202));
    free(body);
    return run_to_end(t, id);
}

static void assert_failed(json_t *o, const char *reason, const char *part)
{
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), reason);
    if (!strstr(sget(o, "error.message"), part))
        fail_msg("'%s' does not say '%s'", sget(o, "error.message"), part);
    json_decref(o);
}

/* The target's checks against the source's migratable XML: the test
 * driver's "test" (8 GiB, disk /guest/diskimage1, no CPU model) and a
 * domain with a CPU model and a per-VM disk. */
static void test_prepare_checks(void **state)
{
    char xml[PATH_MAX + 512], path[PATH_MAX + 64], cpu_xml[512];
    struct migr_virt *v = NULL;
    int calls;
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, "shared_storage = [\"/srv/nfs\", \"/guest/\"];\n", true);
    o = prepare_from(&t, "p1", "test", "test:///default");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_non_null(sget(o, "result.migrationURI"));
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(fk.cpu_calls, 0); /* no CPU model to compare */
    fk.free_memory = UINT64_C(4) << 30;
    pthread_mutex_unlock(&fk.lock);
    assert_failed(prepare_from(&t, "p2", "test", "test:///default"),
                  "InsufficientMemory",
                  "the guest's memory (8192 MiB) is more than this host's "
                  "free memory (4096 MiB)");
    assert_failed(prepare_from(&t, "p3", "nope", "test:///default"),
                  "DomainNotFound", "'nope'");
    /* Nothing listens on port 1. */
    assert_failed(
        prepare_from(&t, "p4", "test", "qemu+tcp://127.0.0.1:1/system"),
        "SourceUnreachable", "qemu+tcp://127.0.0.1:1/system");

    /* A CPU model, and a disk in the per-VM directory this host makes. */
    snprintf(path, sizeof(path), "%s/vms/ns_cpuvm/overlay.qcow2", t.dir);
    snprintf(xml, sizeof(xml),
             "<domain type='test'><name>ns_cpuvm</name>"
             "<memory unit='MiB'>512</memory>"
             "<os><type arch='i686'>hvm</type></os>"
             "<cpu mode='custom' match='exact'><model>Haswell</model></cpu>"
             "<devices><disk type='file' device='disk'><source file='%s'/>"
             "<target dev='vdb'/></disk>"
             "<disk type='file' device='cdrom'><target dev='hdc'/>"
             "<readonly/></disk></devices></domain>",
             path);
    assert_int_equal(migr_virt_open("test:///default", &v, NULL, 0), 0);
    assert_int_equal(migr_virt_define(v, xml, NULL, NULL, 0), 0);
    pthread_mutex_lock(&fk.lock);
    fk.free_memory = UINT64_C(1) << 30;
    fk.cpu_result = VIR_CPU_COMPARE_INCOMPATIBLE;
    pthread_mutex_unlock(&fk.lock);
    assert_failed(prepare_from(&t, "p5", "ns_cpuvm", "test:///default"),
                  "CPUIncompatible", "the guest's CPU model 'Haswell'");
    pthread_mutex_lock(&fk.lock);
    snprintf(cpu_xml, sizeof(cpu_xml), "%s", fk.cpu_xml);
    calls = fk.cpu_calls;
    fk.cpu_result = VIR_CPU_COMPARE_SUPERSET;
    pthread_mutex_unlock(&fk.lock);
    assert_int_equal(calls, 1);
    /* The <cpu> element alone, as libvirt formatted it. */
    if (strncmp(cpu_xml, "<cpu", 4) != 0 ||
        !strstr(cpu_xml, ">Haswell</model>"))
        fail_msg("compared '%s'", cpu_xml);
    o = prepare_from(&t, "p6", "ns_cpuvm", "test:///default");
    assert_string_equal(sget(o, "state"), "Succeeded");
    json_decref(o);
    t_close(&t);

    /* The same disks without shared storage configured. */
    t_open(&t, NULL, true);
    assert_failed(prepare_from(&t, "p1", "test", "test:///default"),
                  "DiskNotShared", "disk vda ('/guest/diskimage1')");
    /* ns_cpuvm's per-VM file is under another state_dir now. */
    assert_failed(prepare_from(&t, "p2", "ns_cpuvm", "test:///default"),
                  "DiskNotShared", "disk vdb");
    t_close(&t);
    assert_int_equal(migr_virt_undefine(v, "ns_cpuvm", NULL, 0), 0);
    migr_virt_close(v);
}

/* state_dir/vms/DOMAIN/ with a file in a subdirectory, as a prepare
 * would leave a seed and an overlay. */
static void per_vm_files(const struct t *t, const char *domain)
{
    char cmd[PATH_MAX * 4];

    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/vms/%s/seed' && echo x >'%s/vms/%s/seed/user-data' "
             "&& echo y >'%s/vms/%s/overlay.qcow2'",
             t->dir, domain, t->dir, domain, t->dir, domain);
    assert_int_equal(system(cmd), 0);
}

static bool per_vm_exists(const struct t *t, const char *domain)
{
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/vms/%s", t->dir, domain);
    return access(path, F_OK) == 0;
}

static json_t *release(struct t *t, const char *id, const char *domain,
                       const char *prepare_id)
{
    char *body = NULL;

    assert_true(asprintf(&body,
                         "{\"id\":\"%s\",\"type\":\"release\",\"domain\":"
                         "\"%s\",\"release\":{\"prepareJobId\":\"%s\"}}",
                         id, domain, prepare_id) > 0);
    json_decref(post_ok(t, body, 202));
    free(body);
    return run_to_end(t, id);
}

/* release undoes a prepare: the per-VM files go unless the domain is
 * here; nothing left is no failure. */
static void test_release(void **state)
{
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, true);
    o = prepare_from(&t, "u1-prepare", "test", "test:///default");
    json_decref(o); /* (DiskNotShared: a prepare that ended all the same) */
    per_vm_files(&t, "ns_gone");
    o = release(&t, "u1-release", "ns_gone", "u1-prepare");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_string_equal(sget(o, "type"), "release");
    assert_true(json_is_true(
        json_object_get(json_object_get(o, "result"), "filesRemoved")));
    assert_false(json_is_true(
        json_object_get(json_object_get(o, "result"), "domainHere")));
    json_decref(o);
    assert_false(per_vm_exists(&t, "ns_gone"));
    per_vm_files(&t, "other");
    assert_true(per_vm_exists(&t, "other")); /* another VM's stay */

    /* The domain is defined here (the test driver's "test"): its files
     * are its own now. */
    per_vm_files(&t, "test");
    o = release(&t, "u2-release", "test", "u2-prepare");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_true(json_is_true(
        json_object_get(json_object_get(o, "result"), "domainHere")));
    assert_false(json_is_true(
        json_object_get(json_object_get(o, "result"), "filesRemoved")));
    json_decref(o);
    assert_true(per_vm_exists(&t, "test"));

    /* Nothing to undo, no such prepare job: still Succeeded, and again. */
    o = release(&t, "u3-release", "ns_never", "u3-prepare");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_false(json_is_true(
        json_object_get(json_object_get(o, "result"), "filesRemoved")));
    json_decref(o);
    /* A name that is not one path component removes nothing. */
    o = release(&t, "u4-release", "..", "u4-prepare");
    assert_string_equal(sget(o, "state"), "Succeeded");
    json_decref(o);
    assert_true(per_vm_exists(&t, "other"));
    t_close(&t);
}

/* A prepare with the VMI of a VM made from a manifest (contract A.1):
 * the seed and the containerDisk's overlay wait on the target, with a
 * second port for libvirt's NBD server (the overlay is copied to it:
 * copyStorage "incremental"); a release after a migration that failed
 * leaves none of it. */
static void test_prepare_vmi_then_release(void **state)
{
    char extra[PATH_MAX * 2], cmd[PATH_MAX * 2], images[256];
    char *body = NULL;
    struct t t;
    json_t *o;
    json_int_t port, disks;
    (void)state;

    snprintf(images, sizeof(images), "/tmp/test-jobs-img-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s' && qemu-img create -q -f qcow2 "
             "'%s/quay.io_containerdisks_fedora_39.qcow2' 16M",
             images, images);
    assert_int_equal(system(cmd), 0);
    snprintf(extra, sizeof(extra),
             "image_dir = \"%s\";\nmigration_port_min = 49300;\n"
             "migration_port_max = 49309;\n",
             images);
    t_open(&t, extra, true);
    assert_true(
        asprintf(&body,
                 "{\"id\":\"v1-prepare\",\"type\":\"prepare\",\"domain\":"
                 "\"default_vm1\",\"prepare\":{\"vmi\":{\"apiVersion\":"
                 "\"kubevirt.io/v1\",\"kind\":\"VirtualMachineInstance\","
                 "\"metadata\":{\"name\":\"vm1\",\"namespace\":\"default\","
                 "\"uid\":\"5d2e7f10-aaaa-4bbb-8ccc-0123456789ab\"},\"spec\":{"
                 "\"domain\":{\"resources\":{\"requests\":{\"memory\":"
                 "\"128Mi\"}},\"devices\":{\"disks\":[{\"name\":\"root\","
                 "\"disk\":{\"bus\":\"virtio\"}}]}},\"volumes\":[{\"name\":"
                 "\"root\",\"containerDisk\":{\"image\":"
                 "\"quay.io/containerdisks/fedora:39\"}}]}}}}") > 0);
    json_decref(post_ok(&t, body, 202));
    o = run_to_end(&t, "v1-prepare");
    if (strcmp(sget(o, "state"), "Succeeded") != 0)
        fail_msg("prepare: %s: %s", sget(o, "error.reason"),
                 sget(o, "error.message"));
    port = iget(o, "result.port");
    disks = iget(o, "result.disksPort");
    assert_true(port >= 49300 && port <= 49309);
    assert_true(disks >= 49300 && disks <= 49309);
    assert_true(disks != port);
    json_decref(o);
    assert_true(per_vm_exists(&t, "default_vm1"));

    /* The migration never came: the release takes the files back. */
    o = release(&t, "v1-release", "default_vm1", "v1-prepare");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_true(json_is_true(
        json_object_get(json_object_get(o, "result"), "filesRemoved")));
    json_decref(o);
    assert_false(per_vm_exists(&t, "default_vm1"));

    /* A prepare without a VMI has no disk to copy: one port. */
    json_decref(post_ok(&t,
                        "{\"id\":\"v2-prepare\",\"type\":\"prepare\","
                        "\"domain\":\"d2\"}",
                        202));
    o = run_to_end(&t, "v2-prepare");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_null(json_object_get(json_object_get(o, "result"), "disksPort"));
    json_decref(o);
    free(body);
    t_close(&t);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", images);
    assert_int_equal(system(cmd), 0);
}

/* ---------------------------------------------------------------------- */
/* Migrate                                                                 */

static void test_migrate_succeeds(void **state)
{
    char *body = migrate_body("m1", "test", "\"allowAutoConverge\":true");
    char path[PATH_MAX + 32];
    struct t t;
    json_t *o, *jr;
    (void)state;

    t_open(&t, NULL, true);
    pthread_mutex_lock(&fk.lock);
    fk.shrink = true;
    pthread_mutex_unlock(&fk.lock);
    json_decref(post_ok(&t, body, 202));
    fake_wait_samples(3);
    o = get_job(&t, "m1");
    assert_string_equal(sget(o, "state"), "Running");
    assert_int_equal(iget(o, "progress.dataTotal"), 1 << 30);
    assert_true(iget(o, "progress.dataRemaining") < (1 << 29));
    assert_int_equal(iget(o, "progress.memoryTransferRate"), 123456);
    assert_int_equal(iget(o, "progress.dirtyRate"), 77);
    assert_int_equal(iget(o, "progress.iteration"), 3);
    assert_int_equal(iget(o, "progress.timeElapsedMs"), 500);
    assert_string_equal(sget(o, "progress.mode"), "PreCopy");
    json_decref(o);
    /* The journal says Running before the end. */
    snprintf(path, sizeof(path), "%s/jobs/m1.json", t.dir);
    jr = json_load_file(path, 0, NULL);
    assert_non_null(jr);
    assert_string_equal(sget(jr, "job.state"), "Running");
    assert_string_equal(sget(jr, "request.migrate.migrationURI"),
                        "tcp://198.18.0.12:49152");
    json_decref(jr);

    fake_finish();
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_int_equal(iget(o, "result.downtimeMs"), 140);
    assert_int_equal(iget(o, "result.timeElapsedMs"), 1000);
    assert_int_equal(iget(o, "result.dataTotal"), 1 << 30);
    assert_string_equal(sget(o, "result.mode"), "PreCopy");
    json_decref(o);

    pthread_mutex_lock(&fk.lock);
    assert_int_equal(
        fk.flags & (VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER |
                    VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE),
        VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
            VIR_MIGRATE_UNDEFINE_SOURCE);
    assert_true(fk.flags & VIR_MIGRATE_AUTO_CONVERGE);
    assert_false(fk.flags & VIR_MIGRATE_POSTCOPY);
    assert_false(fk.flags & VIR_MIGRATE_TLS); /* disableTLS by default */
    /* copyStorage "none" by default: the disks are shared. */
    assert_false(fk.flags &
                 (VIR_MIGRATE_NON_SHARED_INC | VIR_MIGRATE_NON_SHARED_DISK));
    assert_int_equal(fk.disks_port, -1);
    assert_string_equal(fk.uri, "tcp://198.18.0.12:49152");
    assert_int_equal(fk.bandwidth, 64);
    assert_int_equal(fk.downtime, 900); /* set once the job ran */
    assert_int_equal(fk.abort_calls, 0);
    pthread_mutex_unlock(&fk.lock);

    jr = json_load_file(path, 0, NULL);
    assert_non_null(jr);
    assert_string_equal(sget(jr, "job.state"), "Succeeded");
    json_decref(jr);
    free(body);
    t_close(&t);
}

/* SR-IOV in macvtap mode: the destination XML is the domain's own with
 * the direct interface on the target's VF netdev; an interface the
 * domain lacks fails the job before any migration. */
static void test_migrate_sriov_dest_xml(void **state)
{
    static const char dom[] =
        "<domain type='test'><name>sriovdom</name>"
        "<memory>65536</memory><os><type>hvm</type></os><devices>"
        "<interface type='direct'><mac address='02:00:00:00:00:01'/>"
        "<source dev='ens1f0v0' mode='passthrough'/>"
        "<model type='virtio'/><alias name='ua-sriov-net1'/></interface>"
        "</devices></domain>";
    char *body =
        migrate_body("m1", "sriovdom",
                     "\"sriov\":[{\"iface\":\"net1\",\"netdev\":\"ens1f0v3\","
                     "\"pci\":\"0000:3c:02.3\"}]");
    char *bad = migrate_body(
        "m2", "sriovdom",
        "\"sriov\":[{\"iface\":\"net9\",\"netdev\":\"ens1f0v3\"}]");
    virConnectPtr keep = virConnectOpen("test:///default");
    virDomainPtr d;
    struct t t;
    json_t *o;
    (void)state;

    assert_non_null(keep);
    d = virDomainCreateXML(keep, dom, 0);
    assert_non_null(d);
    t_open(&t, NULL, true);
    json_decref(post_ok(&t, body, 202));
    fake_finish();
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_non_null(fk.dest_xml);
    assert_non_null(
        strstr(fk.dest_xml, "<source dev='ens1f0v3' mode='passthrough'/>"));
    assert_null(strstr(fk.dest_xml, "ens1f0v0"));
    assert_non_null(strstr(fk.dest_xml, "<alias name='ua-sriov-net1'/>"));
    free(fk.dest_xml);
    fk.dest_xml = NULL;
    fk.finish = false;
    pthread_mutex_unlock(&fk.lock);

    json_decref(post_ok(&t, bad, 202));
    o = run_to_end(&t, "m2");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "MigrationFailed");
    assert_non_null(strstr(sget(o, "error.message"), "net9"));
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_false(fk.migrating);
    assert_null(fk.dest_xml);
    pthread_mutex_unlock(&fk.lock);

    t_close(&t);
    virDomainDestroy(d);
    virDomainFree(d);
    virConnectClose(keep);
    free(body);
    free(bad);
}

/* SR-IOV by unplug and plug (a network with migration "unplug"; hostdev
 * mode always): the NIC is taken out before the migration, its live XML
 * journaled; on success the result names it, on a failed migration the
 * same NIC goes back in; a guest that never lets it go fails the job
 * UnplugTimeout without a migration, the NIC back in its definition. */
static void test_migrate_sriov_unplug(void **state)
{
    static const char dom[] =
        "<domain type='test'><name>sriovdom</name>"
        "<memory>65536</memory><os><type>hvm</type></os><devices>"
        "<interface type='direct'><mac address='02:00:00:00:00:01'/>"
        "<source dev='ens1f0v0' mode='passthrough'/>"
        "<model type='virtio'/><alias name='ua-sriov-net1'/></interface>"
        "</devices></domain>";
    const char *knob = "\"sriov\":[{\"iface\":\"net1\",\"netdev\":"
                       "\"ens1f0v3\",\"unplug\":true}]";
    char *ok = migrate_body("u1", "sriovdom", knob);
    char *fails = migrate_body("u2", "sriovdom", knob);
    char *held = migrate_body("u3", "sriovdom", knob);
    virConnectPtr keep = virConnectOpen("test:///default");
    char path[PATH_MAX + 32];
    virDomainPtr d;
    struct t t;
    json_t *o, *jr;
    (void)state;

    assert_non_null(keep);
    d = virDomainCreateXML(keep, dom, 0);
    assert_non_null(d);
    pthread_mutex_lock(&fk.lock);
    fk.migrate_calls = fk.detach_calls = fk.attach_calls = 0;
    pthread_mutex_unlock(&fk.lock);
    t_open(&t, NULL, true);

    /* Succeeds: unplugged first, nothing to retarget, nothing plugged. */
    json_decref(post_ok(&t, ok, 202));
    fake_finish();
    o = run_to_end(&t, "u1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_object_get(o, "result"), "unplugged"), 0)),
        "net1");
    json_decref(o);
    snprintf(path, sizeof(path), "%s/jobs/u1.json", t.dir);
    jr = json_load_file(path, 0, NULL);
    assert_non_null(jr);
    o = json_object_get(json_object_get(jr, "job"), "unplugged");
    assert_int_equal(json_array_size(o), 1);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(o, 0), "xml")),
               "<source dev=\"ens1f0v0\""));
    json_decref(jr);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(fk.detach_calls, 1);
    assert_string_equal(fk.detach_alias, "ua-sriov-net1");
    assert_int_equal(fk.migrate_calls, 1);
    assert_null(fk.dest_xml); /* not migrated in place: no retarget */
    assert_int_equal(fk.attach_calls, 0);
    fk.finish = false;
    fk.nic_gone = false;
    fk.pass_through = true; /* the test driver cannot migrate */
    pthread_mutex_unlock(&fk.lock);

    /* The migration fails: the same NIC goes back in, live. */
    json_decref(post_ok(&t, fails, 202));
    o = run_to_end(&t, "u2");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "MigrationFailed");
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    fk.pass_through = false;
    assert_int_equal(fk.detach_calls, 2);
    assert_int_equal(fk.attach_calls, 1);
    assert_true(fk.attach_flags & VIR_DOMAIN_AFFECT_LIVE);
    assert_non_null(strstr(fk.attach_xml, "<source dev=\"ens1f0v0\""));
    assert_non_null(strstr(fk.attach_xml, "02:00:00:00:00:01"));
    assert_non_null(strstr(fk.attach_xml, "ua-sriov-net1"));
    assert_false(fk.nic_gone);
    fk.hold_nic = true;
    pthread_mutex_unlock(&fk.lock);

    /* The guest never lets go: no migration, the NIC back in the
     * definition (live it never left). */
    json_decref(post_ok(&t, held, 202));
    o = run_to_end(&t, "u3");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "UnplugTimeout");
    assert_non_null(strstr(sget(o, "error.message"), "within 30 s"));
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(fk.migrate_calls, 2);
    assert_int_equal(fk.attach_calls, 2);
    assert_int_equal(fk.attach_flags, VIR_DOMAIN_AFFECT_CONFIG);
    fk.hold_nic = false;
    fk.migrate_calls = fk.detach_calls = fk.attach_calls = 0;
    free(fk.attach_xml);
    fk.attach_xml = NULL;
    free(fk.dest_xml);
    fk.dest_xml = NULL;
    pthread_mutex_unlock(&fk.lock);

    t_close(&t);
    virDomainDestroy(d);
    virDomainFree(d);
    virConnectClose(keep);
    free(ok);
    free(fails);
    free(held);
}

/* Of two NICs to unplug, the second's detach fails: no migration, and only
 * the first - the one taken out - is plugged back and kept in the journal;
 * the second never left the guest nor its definition. */
static void test_migrate_sriov_unplug_partial(void **state)
{
    static const char dom[] =
        "<domain type='test'><name>sriov2dom</name>"
        "<memory>65536</memory><os><type>hvm</type></os><devices>"
        "<interface type='direct'><mac address='02:00:00:00:00:01'/>"
        "<source dev='ens1f0v0' mode='passthrough'/>"
        "<model type='virtio'/><alias name='ua-sriov-net1'/></interface>"
        "<interface type='direct'><mac address='02:00:00:00:00:02'/>"
        "<source dev='ens1f0v1' mode='passthrough'/>"
        "<model type='virtio'/><alias name='ua-sriov-net2'/></interface>"
        "</devices></domain>";
    char *body = migrate_body("p1", "sriov2dom",
                              "\"sriov\":[{\"iface\":\"net1\",\"netdev\":"
                              "\"ens1f0v3\",\"unplug\":true},{\"iface\":"
                              "\"net2\",\"netdev\":\"ens1f0v4\","
                              "\"unplug\":true}]");
    virConnectPtr keep = virConnectOpen("test:///default");
    char path[PATH_MAX + 32];
    virDomainPtr d;
    struct t t;
    json_t *o, *jr;
    (void)state;

    assert_non_null(keep);
    d = virDomainCreateXML(keep, dom, 0);
    assert_non_null(d);
    pthread_mutex_lock(&fk.lock);
    fk.migrate_calls = fk.detach_calls = fk.attach_calls = 0;
    snprintf(fk.detach_fails, sizeof(fk.detach_fails), "ua-sriov-net2");
    pthread_mutex_unlock(&fk.lock);
    t_open(&t, NULL, true);

    json_decref(post_ok(&t, body, 202));
    o = run_to_end(&t, "p1");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "UnplugFailed");
    json_decref(o);
    snprintf(path, sizeof(path), "%s/jobs/p1.json", t.dir);
    jr = json_load_file(path, 0, NULL);
    assert_non_null(jr);
    o = json_object_get(json_object_get(jr, "job"), "unplugged");
    assert_int_equal(json_array_size(o), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(o, 0), "iface")),
        "net1");
    json_decref(jr);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(fk.detach_calls, 2);
    assert_int_equal(fk.migrate_calls, 0);
    assert_int_equal(fk.attach_calls, 1);
    assert_true(fk.attach_flags & VIR_DOMAIN_AFFECT_LIVE);
    assert_non_null(strstr(fk.attach_xml, "ua-sriov-net1"));
    fk.detach_fails[0] = '\0';
    fk.nic_gone = false;
    fk.migrate_calls = fk.detach_calls = fk.attach_calls = 0;
    free(fk.attach_xml);
    fk.attach_xml = NULL;
    pthread_mutex_unlock(&fk.lock);

    t_close(&t);
    virDomainDestroy(d);
    virDomainFree(d);
    virConnectClose(keep);
    free(body);
}

static void test_migrate_fails(void **state)
{
    char *b1 = migrate_body("m1", "test",
                            "\"disableTLS\":false,"
                            "\"copyStorage\":\"incremental\","
                            "\"disksPort\":49153");
    char *b2 = migrate_body("m2", "no-such-domain", NULL);
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, true);
    pthread_mutex_lock(&fk.lock);
    fk.pass_through = true; /* the test driver cannot migrate */
    pthread_mutex_unlock(&fk.lock);
    json_decref(post_ok(&t, b1, 202));
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "MigrationFailed");
    assert_non_null(strstr(sget(o, "error.message"), "migration failed"));
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_true(fk.flags & VIR_MIGRATE_TLS);
    /* copyStorage "incremental": the local overlay is copied, over the
     * backing image the target has too. */
    assert_true(fk.flags & VIR_MIGRATE_NON_SHARED_INC);
    assert_false(fk.flags & VIR_MIGRATE_NON_SHARED_DISK);
    /* ... to the NBD port the target's prepare gave. */
    assert_int_equal(fk.disks_port, 49153);
    pthread_mutex_unlock(&fk.lock);

    json_decref(post_ok(&t, b2, 202));
    o = run_to_end(&t, "m2");
    assert_string_equal(sget(o, "error.reason"), "DomainNotFound");
    json_decref(o);
    free(b1);
    free(b2);
    t_close(&t);
}

/* The domain is still defined and running here. */
static void assert_domain_stays(void)
{
    struct migr_virt *v = NULL;
    struct migr_dom_info info;

    assert_int_equal(migr_virt_open("test:///default", &v, NULL, 0), 0);
    assert_int_equal(migr_virt_info(v, "test", &info, NULL, 0), 0);
    assert_int_equal(info.state, MIGR_DOM_RUNNING);
    migr_virt_close(v);
}

/* progressTimeout always aborts, even with post-copy and workload
 * disruption allowed (KubeVirt uses those only at the completion
 * timeout). */
static void test_progress_timeout(void **state)
{
    char *body = migrate_body("m1", "test",
                              "\"progressTimeoutS\":2,\"allowPostCopy\":true,"
                              "\"allowWorkloadDisruption\":true");
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, true);
    json_decref(post_ok(&t, body, 202)); /* dataRemaining never shrinks */
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "ProgressTimeout");
    assert_non_null(strstr(sget(o, "error.message"), "no progress for 2 s"));
    assert_string_equal(sget(o, "progress.mode"), "PreCopy");
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_true(fk.flags & VIR_MIGRATE_POSTCOPY);
    assert_true(fk.aborted);
    assert_false(fk.postcopy);
    assert_int_equal(fk.suspends, 0);
    pthread_mutex_unlock(&fk.lock);
    assert_domain_stays();
    free(body);
    t_close(&t);
}

/* A migration that makes progress but does not end: 8 GiB of guest
 * memory is 9 GB to KubeVirt, so at 1 s per GB the deadline is 9 s of
 * 20 ms. */
#define SLOW_KNOBS "\"progressTimeoutS\":0,\"completionTimeoutPerGiBS\":1"

static void slow_migration(void)
{
    pthread_mutex_lock(&fk.lock);
    fk.shrink = true;
    fk.remaining = UINT64_C(1) << 40;
    pthread_mutex_unlock(&fk.lock);
}

static void test_postcopy_switch(void **state)
{
    char *body = migrate_body("m1", "test",
                              SLOW_KNOBS ",\"allowPostCopy\":true,"
                                         "\"allowWorkloadDisruption\":true");
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, true);
    slow_migration();
    json_decref(post_ok(&t, body, 202));
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_string_equal(sget(o, "result.mode"), "PostCopy");
    assert_string_equal(sget(o, "progress.mode"), "PostCopy");
    /* The progress ends with the migration's final numbers, not the last
     * pre-copy sample's (which had a lot left). */
    assert_int_equal(iget(o, "progress.dataRemaining"), 0);
    assert_int_equal(iget(o, "progress.dataProcessed"),
                     iget(o, "progress.dataTotal"));
    assert_int_equal(iget(o, "progress.timeElapsedMs"), 1000);
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_true(fk.flags & VIR_MIGRATE_POSTCOPY);
    assert_true(fk.postcopy);
    assert_int_equal(fk.abort_calls, 0);
    assert_int_equal(fk.suspends, 0);
    pthread_mutex_unlock(&fk.lock);
    free(body);
    t_close(&t);
}

/* Without allowWorkloadDisruption the completion timeout aborts, post-copy
 * allowed or not. */
static void test_completion_timeout(void **state)
{
    static const char *const knobs[] = {
        SLOW_KNOBS,
        SLOW_KNOBS ",\"allowPostCopy\":true,\"allowWorkloadDisruption\":false",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(knobs) / sizeof(*knobs); i++) {
        char *body = migrate_body("m1", "test", knobs[i]);
        struct t t;
        json_t *o;

        t_open(&t, NULL, true);
        slow_migration();
        json_decref(post_ok(&t, body, 202));
        o = run_to_end(&t, "m1");
        assert_string_equal(sget(o, "state"), "Failed");
        assert_string_equal(sget(o, "error.reason"), "CompletionTimeout");
        assert_non_null(strstr(sget(o, "error.message"),
                               "not completed after 9 s (1 s per GB, 9 GB)"));
        json_decref(o);
        pthread_mutex_lock(&fk.lock);
        assert_true(fk.aborted);
        assert_false(fk.postcopy);
        assert_int_equal(fk.suspends, 0);
        assert_true(fk.stats_calls > 3); /* it did make progress meanwhile */
        pthread_mutex_unlock(&fk.lock);
        assert_domain_stays();
        free(body);
        t_close(&t);
    }
}

static void assert_domain_state(enum migr_dom_state want)
{
    struct migr_virt *v = NULL;
    struct migr_dom_info info;

    assert_int_equal(migr_virt_open("test:///default", &v, NULL, 0), 0);
    assert_int_equal(migr_virt_info(v, "test", &info, NULL, 0), 0);
    assert_int_equal(info.state, want);
    migr_virt_close(v);
}

/* allowWorkloadDisruption without post-copy: at the deadline the guest is
 * paused and the deadline doubled; past that, the abort, and the guest runs
 * on here. */
static void test_pause_doubles_deadline(void **state)
{
    char *body = migrate_body("m1", "test",
                              SLOW_KNOBS ",\"allowWorkloadDisruption\":true");
    struct migr_virt *v = NULL;
    struct t t;
    json_t *o;
    (void)state;

    assert_int_equal(migr_virt_open("test:///default", &v, NULL, 0), 0);
    t_open(&t, NULL, true);
    slow_migration();
    json_decref(post_ok(&t, body, 202));
    fake_wait_suspended();
    assert_domain_state(MIGR_DOM_PAUSED);
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "CompletionTimeout");
    assert_non_null(
        strstr(sget(o, "error.message"), "not completed after 18 s"));
    assert_non_null(strstr(sget(o, "error.message"), "doubled"));
    assert_string_equal(sget(o, "progress.mode"), "Paused");
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    assert_int_equal(fk.suspends, 1);
    assert_int_equal(fk.resumes, 1);
    assert_true(fk.aborted);
    assert_false(fk.postcopy);
    pthread_mutex_unlock(&fk.lock);
    assert_domain_stays(); /* resumed */
    migr_virt_close(v);
    free(body);
    t_close(&t);
}

/* ...and a paused guest's migration that completes in the doubled time
 * succeeds in mode Paused. */
static void test_pause_then_completes(void **state)
{
    char *body = migrate_body("m1", "test",
                              SLOW_KNOBS ",\"allowWorkloadDisruption\":true");
    struct migr_virt *v = NULL;
    struct t t;
    json_t *o;
    int n;
    (void)state;

    /* A connection of our own keeps the test driver's state: with the
     * last one closed, libvirt makes it afresh (its domain running). */
    assert_int_equal(migr_virt_open("test:///default", &v, NULL, 0), 0);
    t_open(&t, NULL, true);
    slow_migration();
    json_decref(post_ok(&t, body, 202));
    fake_wait_suspended();
    fake_finish();
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_string_equal(sget(o, "result.mode"), "Paused");
    json_decref(o);
    pthread_mutex_lock(&fk.lock);
    n = fk.resumes;
    pthread_mutex_unlock(&fk.lock);
    assert_int_equal(n, 0);
    /* The fake migration leaves the test domain here, paused: libvirt
     * would resume it on the target. */
    assert_domain_state(MIGR_DOM_PAUSED);
    assert_int_equal(migr_virt_resume(v, "test", NULL, 0), 0);
    migr_virt_close(v);
    free(body);
    t_close(&t);
}

static void test_abort(void **state)
{
    char *body = migrate_body("m1", "test", NULL);
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, true);
    pthread_mutex_lock(&fk.lock);
    fk.shrink = true;
    pthread_mutex_unlock(&fk.lock);
    json_decref(post_ok(&t, body, 202));
    fake_wait_samples(2);
    json_decref(post_ok(&t,
                        "{\"id\":\"m1-abort\",\"type\":\"abort\","
                        "\"domain\":\"test\",\"abort\":{\"jobId\":\"m1\"}}",
                        202));
    o = run_to_end(&t, "m1-abort");
    assert_string_equal(sget(o, "state"), "Succeeded");
    assert_string_equal(sget(o, "result.abortStatus"), "Succeeded");
    json_decref(o);
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "Aborted");
    assert_true(json_is_true(json_object_get(o, "abortRequested")));
    json_decref(o);
    assert_domain_stays();

    /* No such job, and an abort of an abort. */
    json_decref(post_ok(&t,
                        "{\"id\":\"x-abort\",\"type\":\"abort\","
                        "\"abort\":{\"jobId\":\"nope\"}}",
                        202));
    o = run_to_end(&t, "x-abort");
    assert_string_equal(sget(o, "error.reason"), "NotRunning");
    json_decref(o);
    free(body);
    t_close(&t);
}

/* With 2 workers one migration runs at a time and the second waits
 * Pending; an abort of the waiting one ends it at once, while the first
 * runs on untouched - and a prepare is still answered meanwhile. */
static void test_abort_pending(void **state)
{
    char *b1 = migrate_body("m1", "test", NULL);
    char *b2 = migrate_body("m2", "test", NULL);
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, "migration_workers = 2;\n", true);
    pthread_mutex_lock(&fk.lock);
    fk.shrink = true;
    pthread_mutex_unlock(&fk.lock);
    json_decref(post_ok(&t, b1, 202));
    fake_wait_samples(1);
    json_decref(post_ok(&t, b2, 202));
    json_decref(post_ok(
        &t, "{\"id\":\"p1\",\"type\":\"prepare\",\"domain\":\"d\"}", 202));
    o = run_to_end(&t, "p1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    json_decref(o);
    o = get_job(&t, "m2");
    assert_string_equal(sget(o, "state"), "Pending");
    json_decref(o);

    json_decref(post_ok(&t,
                        "{\"id\":\"m2-abort\",\"type\":\"abort\","
                        "\"abort\":{\"jobId\":\"m2\"}}",
                        202));
    o = run_to_end(&t, "m2-abort");
    assert_string_equal(sget(o, "result.abortStatus"), "Succeeded");
    json_decref(o);
    o = run_to_end(&t, "m2");
    assert_string_equal(sget(o, "error.reason"), "Aborted");
    assert_true(json_is_null(json_object_get(o, "startedAt")));
    json_decref(o);
    o = get_job(&t, "m1");
    assert_string_equal(sget(o, "state"), "Running");
    json_decref(o);
    fake_finish();
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    json_decref(o);
    free(b1);
    free(b2);
    t_close(&t);
}

static void test_abort_too_late(void **state)
{
    char *body = migrate_body("m1", "test", NULL);
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, true);
    fake_finish();
    json_decref(post_ok(&t, body, 202));
    o = run_to_end(&t, "m1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    json_decref(o);
    json_decref(post_ok(&t,
                        "{\"id\":\"m1-abort\",\"type\":\"abort\","
                        "\"abort\":{\"jobId\":\"m1\"}}",
                        202));
    o = run_to_end(&t, "m1-abort");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "TooLate");
    json_decref(o);
    free(body);
    t_close(&t);
}

/* ---------------------------------------------------------------------- */
/* Watch                                                                   */

static void handler(const struct http_request *req, struct http_response *resp,
                    void *arg)
{
    migr_jobs_handle(arg, req, resp);
}

static void *loop_main(void *arg)
{
    event_base_dispatch(arg);
    return NULL;
}

/* Keeps the loop running while no connection is open. */
static void keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void test_watch(void **state)
{
    char *body = migrate_body("m1", "test", NULL);
    struct http_server_opts ho = {0};
    struct http_server *srv = NULL;
    struct event_base *base = event_base_new();
    struct event *keep;
    struct timeval hour = {3600, 0};
    static char buf[256 * 1024];
    char err[256], req[256], *line, *save = NULL, *body_start;
    const char *last_state = NULL;
    json_t *last = NULL;
    uint16_t port = 0;
    pthread_t loop;
    struct t t;
    int fd, lines = 0;
    (void)state;

    assert_non_null(base);
    keep = event_new(base, -1, EV_PERSIST, keepalive_cb, NULL);
    assert_int_equal(event_add(keep, &hour), 0);
    t_open(&t, NULL, true);
    assert_int_equal(migr_jobs_attach(t.j, base), 0);
    assert_int_equal(
        http_server_new(base, &ho, handler, t.j, &srv, err, sizeof(err)), 0);
    assert_int_equal(http_server_bind(srv, "127.0.0.1", 0, &port), 0);
    assert_int_equal(pthread_create(&loop, NULL, loop_main, base), 0);

    pthread_mutex_lock(&fk.lock);
    fk.shrink = true;
    pthread_mutex_unlock(&fk.lock);
    /* Posted through the handler on the test thread: the job table is
     * behind its mutex, the loop only streams. */
    json_decref(post_ok(&t, body, 202));
    fake_wait_samples(2);
    fd = test_http_connect(port);
    assert_true(fd >= 0);
    snprintf(req, sizeof(req),
             "GET /v1/jobs/m1?watch=true HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n");
    assert_true(test_http_send(fd, req, strlen(req)));
    fake_wait_samples(6); /* a few changes to stream */
    fake_finish();
    test_http_read_until_close(fd, buf, sizeof(buf), WAIT_MS);
    close(fd);

    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "chunked"));
    body_start = strstr(buf, "\r\n\r\n");
    assert_non_null(body_start);
    /* Chunk sizes and lines: every JSON line is an event. */
    for (line = strtok_r(body_start, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        json_t *ev;

        if (line[0] != '{')
            continue;
        ev = json_loads(line, 0, NULL);
        assert_non_null(ev);
        assert_string_equal(sget(ev, "type"), "MODIFIED");
        assert_string_equal(sget(ev, "object.id"), "m1");
        lines++;
        json_decref(last);
        last = ev;
    }
    assert_true(lines >= 2);
    last_state = sget(last, "object.state");
    assert_string_equal(last_state, "Succeeded");
    json_decref(last);

    event_base_loopbreak(base);
    pthread_join(loop, NULL);
    migr_jobs_detach(t.j);
    http_server_free(srv);
    event_free(keep);
    event_base_free(base);
    free(body);
    t_close(&t);
}

/* ---------------------------------------------------------------------- */
/* start and stop (contract A.5): parsing here, the work in vmhost         */

static void test_vm_jobs(void **state)
{
    static const struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"{\"id\":\"a\",\"type\":\"start\",\"domain\":\"d\"}", "start"},
        {"{\"id\":\"a\",\"type\":\"start\",\"domain\":\"d\",\"start\":{}}",
         "start.vmi"},
        {"{\"id\":\"a\",\"type\":\"start\",\"domain\":\"d\",\"start\":"
         "{\"vmi\":7}}",
         "start.vmi"},
        {"{\"id\":\"a\",\"type\":\"start\",\"start\":{\"vmi\":{}}}", "domain"},
        {"{\"id\":\"a\",\"type\":\"stop\",\"domain\":\"d\",\"stop\":"
         "{\"gracePeriodS\":-1}}",
         "stop.gracePeriodS"},
        {"{\"id\":\"a\",\"type\":\"prepare\",\"domain\":\"d\",\"prepare\":"
         "{\"vmi\":\"x\"}}",
         "prepare.vmi"},
    };
    struct t t;
    json_t *o;
    (void)state;

    t_open(&t, NULL, true);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        json_t *cause;

        o = NULL;
        if (call(&t, HTTP_METHOD_POST, "/v1/jobs", bad[i].body, &o) != 400)
            fail_msg("case %zu: not 400", i);
        cause = json_array_get(
            json_object_get(json_object_get(o, "details"), "causes"), 0);
        if (!sget(cause, "field") || strcmp(sget(cause, "field"), bad[i].field))
            fail_msg("case %zu: field '%s', want '%s'", i,
                     sget(cause, "field") ? sget(cause, "field") : "(none)",
                     bad[i].field);
        json_decref(o);
    }

    /* A VMI that is not the domain's: InvalidSpec from vmhost, through
     * the job. */
    json_decref(post_ok(
        &t,
        "{\"id\":\"s1\",\"type\":\"start\",\"domain\":\"default_x\","
        "\"start\":{\"vmi\":{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
        "\"VirtualMachineInstance\",\"metadata\":{\"name\":\"y\",\"uid\":"
        "\"u1\"},\"spec\":{}}}}",
        202));
    o = run_to_end(&t, "s1");
    assert_string_equal(sget(o, "type"), "start");
    assert_string_equal(sget(o, "state"), "Failed");
    assert_string_equal(sget(o, "error.reason"), "InvalidSpec");
    assert_string_equal(sget(o, "error.message"),
                        "domain: \"default_x\" is not the VMI's NAMESPACE_NAME "
                        "(\"default_y\")");
    json_decref(o);

    /* Stopping a domain that is not there succeeds. */
    json_decref(post_ok(&t,
                        "{\"id\":\"x1\",\"type\":\"stop\",\"domain\":"
                        "\"default_nothing\",\"stop\":{\"gracePeriodS\":1}}",
                        202));
    o = run_to_end(&t, "x1");
    assert_string_equal(sget(o, "state"), "Succeeded");
    json_decref(o);
    t_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_prepare_ports),
        cmocka_unit_test(test_prepare_checks),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_prepare_vmi_then_release),
        cmocka_unit_test(test_migrate_succeeds),
        cmocka_unit_test(test_migrate_sriov_dest_xml),
        cmocka_unit_test(test_migrate_sriov_unplug),
        cmocka_unit_test(test_migrate_sriov_unplug_partial),
        cmocka_unit_test(test_migrate_fails),
        cmocka_unit_test(test_progress_timeout),
        cmocka_unit_test(test_postcopy_switch),
        cmocka_unit_test(test_completion_timeout),
        cmocka_unit_test(test_pause_doubles_deadline),
        cmocka_unit_test(test_pause_then_completes),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_abort_pending),
        cmocka_unit_test(test_abort_too_late),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_vm_jobs),
    };

    evthread_use_pthreads();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
