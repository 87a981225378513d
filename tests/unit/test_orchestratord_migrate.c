/*
 * Integration test: the real orchestratord (a child process) migrates a
 * VMI through a fake migrator agent API served by http/'s server on a
 * thread of this process: the controller started by the daemon, the real
 * agent client with the bearer token, the loop's timers and the change
 * feed, the phase changes logged, the record and /metrics read over REST.
 * Waits are for conditions read over the API, each with a deadline that
 * fails the test.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "http/http.h"
#include "store/store.h"
#include "tests/unit/support/daemon.h"
#include "tests/unit/support/httpc.h"

#define AGENT_TOKEN "agent-secret-0123456789abcdef"
#define VMIMS                                                                  \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"

/* The fake agents of both hosts: one job table (ids are unique). */
struct agent {
    struct event_base *base;
    struct http_server *http;
    pthread_t thread;
    int port;
    pthread_mutex_t lock;
    json_t *jobs; /* id -> job */
    int bad_auth; /* requests without the right token */
    int requests;
};

static struct agent agent;
static char tmpdir[128], logpath[256];
static pid_t daemon_pid = -1;
static int port;

static void agent_handler(const struct http_request *req,
                          struct http_response *resp, void *arg)
{
    struct agent *a = arg;
    json_t *out = NULL;
    const char *tok = NULL;
    size_t toklen = 0;

    pthread_mutex_lock(&a->lock);
    a->requests++;
    if (http_request_bearer(req, &tok, &toklen) < 0 ||
        !http_secret_equal(tok, toklen, AGENT_TOKEN)) {
        a->bad_auth++;
        resp->status = 401;
    } else if (req->method == HTTP_METHOD_POST && req->segc == 2) {
        json_t *in = json_loadb(req->body, req->body_len, 0, NULL);
        const char *id = json_string_value(json_object_get(in, "id"));
        const char *type = json_string_value(json_object_get(in, "type"));
        json_t *job = id ? json_object_get(a->jobs, id) : NULL;

        if (!job && id && type) {
            /* A target prepares at once; a migration runs until the test
             * ends it. */
            if (strcmp(type, "prepare") == 0)
                job =
                    json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:s, s:s}}", "id",
                              id, "type", type, "state", "Succeeded", "result",
                              "migrationAddress", "127.0.0.1", "port", 49152,
                              "migrationURI", "tcp://127.0.0.1:49152",
                              "destLibvirtURI", "qemu+tcp://127.0.0.1/system");
            else
                job = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i, s:s}}", "id",
                                id, "type", type, "state", "Running",
                                "progress", "dataTotal", 4096, "dataProcessed",
                                1024, "dataRemaining", 3072, "mode", "PreCopy");
            json_object_set_new(a->jobs, id, job);
            resp->status = 202;
        } else {
            resp->status = job ? 200 : 400;
        }
        out = job ? json_incref(job) : NULL;
        json_decref(in);
    } else if (req->method == HTTP_METHOD_GET && req->segc == 3) {
        json_t *job = json_object_get(a->jobs, req->segv[2]);
        resp->status = job ? 200 : 404;
        out = job ? json_incref(job) : NULL;
    } else {
        resp->status = 404;
    }
    if (!out)
        out = json_pack("{s:s}", "kind", "Status");
    resp->content_type = "application/json";
    resp->body = json_dumps(out, JSON_COMPACT);
    resp->body_len = strlen(resp->body);
    json_decref(out);
    pthread_mutex_unlock(&a->lock);
}

static void *agent_loop(void *arg)
{
    event_base_dispatch(((struct agent *)arg)->base);
    return NULL;
}

static void record(struct store *st, enum store_kind kind, json_t *obj)
{
    assert_int_equal(store_create(st, kind, obj), 0);
    json_decref(obj);
}

static json_t *node(const char *name)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", agent.port);
    return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:[{s:s, s:s}],"
                     " s:{s:s}}}",
                     "apiVersion", "v1", "kind", "Node", "metadata", "name",
                     name, "annotations", "orchestrator.io/agent-url", url,
                     "status", "conditions", "type", "Ready", "status", "True",
                     "capacity", "memory", "16Gi");
}

static int setup(void **state)
{
    char db[256], conf[256], err[256];
    struct http_server_opts o = {0};
    struct store *st = NULL;
    uint16_t aport = 0;
    FILE *f;

    (void)state;
    evthread_use_pthreads();
    pthread_mutex_init(&agent.lock, NULL);
    agent.jobs = json_object();
    agent.base = event_base_new();
    assert_non_null(agent.base);
    assert_int_equal(http_server_new(agent.base, &o, agent_handler, &agent,
                                     &agent.http, err, sizeof(err)),
                     0);
    assert_int_equal(http_server_bind(agent.http, "127.0.0.1", 0, &aport), 0);
    agent.port = aport;
    assert_int_equal(pthread_create(&agent.thread, NULL, agent_loop, &agent),
                     0);

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/orch-migrate-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(db, sizeof(db), "%s/orch.db", tmpdir);
    snprintf(conf, sizeof(conf), "%s/orchestratord.conf", tmpdir);
    snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
    assert_int_equal(store_open(db, NULL, &st, err, sizeof(err)), 0);
    record(st, STORE_KIND_NODE, node("hv01"));
    record(st, STORE_KIND_NODE, node("hv02"));
    record(st, STORE_KIND_VMI,
           json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:{s:s}}}},"
                     " s:{s:s, s:s}}",
                     "apiVersion", "kubevirt.io/v1", "kind",
                     "VirtualMachineInstance", "metadata", "name", "vm1",
                     "namespace", "default", "spec", "domain", "resources",
                     "requests", "memory", "1Gi", "status", "phase", "Running",
                     "nodeName", "hv01"));
    store_close(st);
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "listen = \"127.0.0.1:0\";\nagent_token = \"%s\";\n",
            AGENT_TOKEN);
    fclose(f);
    {
        const char *argv[] = {"-f", conf, "--db", db, NULL};
        port = test_daemon_start("orchestratord", argv, logpath, &daemon_pid);
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];
    (void)state;
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGTERM);
        waitpid(daemon_pid, NULL, 0);
    }
    event_base_loopexit(agent.base, NULL);
    pthread_join(agent.thread, NULL);
    http_server_free(agent.http);
    event_base_free(agent.base);
    json_decref(agent.jobs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* One request to orchestratord; the body of the answer, parsed (or NULL
 * when it is not JSON), in *RET. */
static int rest(const char *method, const char *path, const char *body,
                json_t **ret)
{
    static char buf[256 * 1024];
    char raw[2048];
    const char *b;
    int n, code;

    n = snprintf(raw, sizeof(raw),
                 "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "\r\n%s",
                 method, path, body ? strlen(body) : 0, body ? body : "");
    code = test_http_exchange(port, raw, (size_t)n, buf, sizeof(buf));
    b = strstr(buf, "\r\n\r\n");
    if (ret)
        *ret = b ? json_loads(b + 4, 0, NULL) : NULL;
    return code;
}

static json_t *get_vmim(void)
{
    json_t *o = NULL;
    assert_int_equal(rest("GET", VMIMS "/m1", NULL, &o), 200);
    return o;
}

static const char *jstr(const json_t *o, const char *a, const char *b)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(o, "status"), a), b));
}

/* Wait (10 s at most) until the migration's phase is PHASE and, when
 * WITH_PROGRESS, status.progress is there. */
static void wait_phase(const char *phase, bool with_progress)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 500; i++) {
        json_t *o = get_vmim();
        const char *p = json_string_value(
            json_object_get(json_object_get(o, "status"), "phase"));
        bool ok = p && strcmp(p, phase) == 0 &&
                  (!with_progress ||
                   json_object_get(json_object_get(o, "status"), "progress"));
        json_decref(o);
        if (ok)
            return;
        nanosleep(&pause, NULL);
    }
    fail_msg("the migration did not reach %s within 10 s", phase);
}

static void test_migrates_through_the_agents(void **state)
{
    json_t *o = NULL;
    char *log;
    (void)state;

    assert_int_equal(rest("POST", VMIMS,
                          "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
                          "\"VirtualMachineInstanceMigration\",\"metadata\":"
                          "{\"name\":\"m1\"},\"spec\":{\"vmiName\":\"vm1\"}}",
                          NULL),
                     201);
    wait_phase("Running", true);
    o = get_vmim();
    assert_string_equal(jstr(o, "migrationState", "sourceNode"), "hv01");
    assert_string_equal(jstr(o, "migrationState", "targetNodeAddress"),
                        "127.0.0.1");
    json_decref(o);
    assert_int_equal(rest("GET",
                          "/apis/kubevirt.io/v1/namespaces/default/"
                          "virtualmachineinstances/vm1",
                          NULL, &o),
                     200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(o, "status"), "nodeName")),
                        "hv01");
    json_decref(o);

    /* The source's migration ends. */
    pthread_mutex_lock(&agent.lock);
    {
        const char *id;
        json_t *job;
        json_object_foreach(agent.jobs, id, job)
        {
            if (strstr(id, "-migrate"))
                json_object_set_new(job, "state", json_string("Succeeded"));
        }
    }
    pthread_mutex_unlock(&agent.lock);
    wait_phase("Succeeded", false);
    assert_int_equal(rest("GET",
                          "/apis/kubevirt.io/v1/namespaces/default/"
                          "virtualmachineinstances/vm1",
                          NULL, &o),
                     200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(o, "status"), "nodeName")),
                        "hv02");
    json_decref(o);
    pthread_mutex_lock(&agent.lock);
    assert_int_equal(agent.bad_auth, 0);
    assert_true(agent.requests >= 2);
    assert_int_equal(json_object_size(agent.jobs), 2);
    pthread_mutex_unlock(&agent.lock);
    /* The daemon logged each step. */
    log = test_read_file(logpath, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "migration 'default/m1' uid "));
    assert_non_null(strstr(log, ": PreparingTarget\n"));
    assert_non_null(strstr(log, ": Succeeded\n"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrates_through_the_agents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
