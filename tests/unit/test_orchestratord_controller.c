/*
 * Unit tests for the migration controller (orchestratord/controller.c) and
 * the phase machine's rules (orchestratord/migration.c), with the agents
 * faked at the client seam (struct orch_agent_ops): the fake keeps a job
 * table as a migrator would, answers calls only when the test flushes
 * them, and the clock is the test's.  Records live in a temporary file so
 * that a second server can open it as a restarted orchestratord would.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log/log.h"
#include "orchestratord/agent_client.h"
#include "orchestratord/controller.h"
#include "orchestratord/hosts.h"
#include "orchestratord/migration.h"
#include "orchestratord/orchd.h"
#include "tests/unit/support/fake_agent.h"
#include "tests/unit/support/orchd_call.h"

#define VMIMS                                                                  \
    "/apis/kubevirt.io/v1/namespaces/default/"                                 \
    "virtualmachineinstancemigrations"
#define URL(n) "http://198.18.0.1" n ":8443"

/*
 * Fixture.
 */

struct fixture {
    char dir[64];
    char db[128];
    struct store *st;
    struct orch_server srv;
    struct fake_agent fk;
    struct http_response resp;
    json_t *body;
    char target[4096];
    json_t *phases; /* "ns/name phase" the hook saw */
};

static void on_phase(const json_t *vmim, const char *phase, const char *reason,
                     void *arg)
{
    struct fixture *f = arg;
    (void)reason;
    json_array_append_new(
        f->phases,
        json_sprintf("%s %s", api_doc_get_string(vmim, "metadata.name"),
                     phase));
}

static void controller_start(struct fixture *f)
{
    struct orch_controller_opts o = {
        .agent = {.ops = &fake_agent_ops, .ctx = &f->fk},
        .clock_ms = fake_agent_clock,
        .on_phase = on_phase,
        .arg = f,
    };
    assert_int_equal(orch_controller_start(&f->srv, &o), 0);
    assert_non_null(f->srv.controller);
}

static void server_open(struct fixture *f)
{
    char err[256];
    assert_int_equal(store_open(f->db, NULL, &f->st, err, sizeof(err)), 0);
    orch_server_init(&f->srv, f->st);
    controller_start(f);
}

static void server_close(struct fixture *f)
{
    orch_server_release(&f->srv);
    assert_null(f->srv.controller);
    store_close(f->st);
    f->st = NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    log_init("test_orchestratord_controller", LOG_LEVEL_ERROR);
    strcpy(f->dir, "/tmp/orch-ctrl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/orch.db", f->dir);
    fake_agent_init(&f->fk);
    f->phases = json_array();
    fake_agent_now = 1000000;
    server_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[192];
    http_response_clear(&f->resp);
    json_decref(f->body);
    server_close(f);
    fake_agent_clear(&f->fk);
    json_decref(f->phases);
    for (const char *s = ""; s; s = *s ? NULL : "-wal") {
        snprintf(path, sizeof(path), "%s%s", f->db, s);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s-shm", f->db);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int call(struct fixture *f, enum http_method m, const char *target,
                const char *body)
{
    struct orchd_call c = {.method = m,
                           .target = target,
                           .body = body,
                           .content_type = body ? "application/json" : NULL};
    return orchd_call(&f->srv, &c, &f->resp, &f->body, f->target,
                      sizeof(f->target));
}

/* Turns of the loop: the feed, a pass, the agents' answers, 100 ms. */
static void settle(struct fixture *f, int turns)
{
    for (int i = 0; i < turns; i++) {
        orch_feed_run(&f->srv);
        assert_true(orch_controller_run(f->srv.controller) >= 0);
        fake_agent_flush(&f->fk);
        fake_agent_now += 100;
    }
    orch_feed_run(&f->srv);
}

static void add_node(struct fixture *f, const char *name, const char *url,
                     const char *ready, bool unschedulable, const char *mem,
                     const char *label)
{
    json_t *n = json_pack(
        "{s:s, s:s, s:{s:s, s:{s:s}, s:{}}, s:{s:b},"
        " s:{s:[{s:s, s:s}], s:{s:s}, s:{s:s}}}",
        "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
        "kubernetes.io/hostname", name, "annotations", "spec", "unschedulable",
        unschedulable, "status", "conditions", "type", "Ready", "status", ready,
        "capacity", "memory", mem, "allocatable", "memory", mem);
    if (url) {
        json_t *ann =
            json_object_get(json_object_get(n, "metadata"), "annotations");
        json_object_set_new(ann, "orchestrator.io/agent-url", json_string(url));
        json_object_set_new(ann, "orchestrator.io/libvirt-peer-uri",
                            json_sprintf("qemu+tcp://%s/system", name));
    }
    if (label) {
        char k[64], v[64];
        assert_int_equal(sscanf(label, "%63[^=]=%63s", k, v), 2);
        json_object_set_new(
            json_object_get(json_object_get(n, "metadata"), "labels"), k,
            json_string(v));
    }
    assert_int_equal(store_create(f->st, STORE_KIND_NODE, n), 0);
    json_decref(n);
}

static void add_vmi(struct fixture *f, const char *name, const char *node,
                    const char *mem)
{
    json_t *v = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:{s:{s:{s:s}}}},"
        " s:{s:s, s:s}}",
        "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
        "metadata", "name", name, "namespace", "default", "labels", "app",
        "web", "spec", "domain", "resources", "requests", "memory", mem,
        "status", "phase", "Running", "nodeName", node);
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, v), 0);
    json_decref(v);
}

static void post_vmim(struct fixture *f, const char *name, const char *vmi,
                      const char *selector)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"kubevirt.io/v1\","
             "\"kind\":\"VirtualMachineInstanceMigration\","
             "\"metadata\":{\"name\":\"%s\"},"
             "\"spec\":{\"vmiName\":\"%s\"%s%s%s}}",
             name, vmi, selector ? ",\"addedNodeSelector\":{" : "",
             selector ? selector : "", selector ? "}" : "");
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIMS, body), 201);
}

static json_t *get(struct fixture *f, enum store_kind k, const char *name)
{
    json_t *o = NULL;
    assert_int_equal(store_get(f->st, k, "default", name, &o), 0);
    return o;
}

static const char *jstr(const json_t *doc, const char *path)
{
    const char *s = api_doc_get_string(doc, path);
    return s ? s : "(null)";
}

static void assert_phase(struct fixture *f, const char *vmim, const char *phase)
{
    json_t *o = get(f, STORE_KIND_MIGRATION, vmim);
    assert_string_equal(jstr(o, "status.phase"), phase);
    json_decref(o);
}

/* The invariant: the VMI has exactly one node, NODE. */
static void assert_vmi_on(struct fixture *f, const char *vmi, const char *node)
{
    json_t *o = get(f, STORE_KIND_VMI, vmi);
    const json_t *n = json_object_get(json_object_get(o, "status"), "nodeName");
    assert_true(json_is_string(n));
    assert_string_equal(json_string_value(n), node);
    json_decref(o);
}

/* /metrics holds LINE. */
static void assert_metric(struct fixture *f, const char *line)
{
    size_t len = 0;
    char *text = orch_metrics_render(&f->srv, &len);
    assert_non_null(text);
    if (!strstr(text, line))
        fail_msg("no '%s' in:\n%s", line, text);
    free(text);
}

static char *job_of(struct fixture *f, const char *vmim, const char *kind)
{
    json_t *o = get(f, STORE_KIND_MIGRATION, vmim);
    char *id = NULL;
    assert_true(asprintf(&id, "%s-%s", jstr(o, "metadata.uid"), kind) > 0);
    json_decref(o);
    return id;
}

static bool logged(struct fixture *f, const char *line)
{
    for (size_t i = 0; i < json_array_size(f->fk.log); i++)
        if (strcmp(json_string_value(json_array_get(f->fk.log, i)), line) == 0)
            return true;
    return false;
}

static int log_count(struct fixture *f, const char *prefix)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(f->fk.log); i++)
        n += strncmp(json_string_value(json_array_get(f->fk.log, i)), prefix,
                     strlen(prefix)) == 0;
    return n;
}

static void two_hosts(struct fixture *f)
{
    add_node(f, "hv01", URL("1"), "True", false, "16Gi", NULL);
    add_node(f, "hv02", URL("2"), "True", false, "16Gi", NULL);
    add_vmi(f, "vm1", "hv01", "1Gi");
}

static json_t *prepared(void)
{
    return json_pack("{s:{s:s, s:i, s:s, s:s}}", "result", "migrationAddress",
                     "198.18.0.12", "port", 49152, "migrationURI",
                     "tcp://198.18.0.12:49152", "destLibvirtURI",
                     "qemu+tcp://198.18.0.12/system");
}

static json_t *progress(long total, long done, long left)
{
    return json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}}", "progress",
                     "dataTotal", (json_int_t)total, "dataProcessed",
                     (json_int_t)done, "dataRemaining", (json_int_t)left,
                     "memoryTransferRate", (json_int_t)1000000, "dirtyRate",
                     (json_int_t)10, "iteration", (json_int_t)2, "mode",
                     "PreCopy", "timeElapsedMs", (json_int_t)1500);
}

/* Drive vm1's migration "m1" to Running with the migrate job Running. */
static void to_running(struct fixture *f)
{
    char *prep, *mig;

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");
    prep = job_of(f, "m1", "prepare");
    fake_agent_set(&f->fk, prep, "Succeeded", prepared());
    settle(f, 5);
    assert_phase(f, "m1", "Running");
    mig = job_of(f, "m1", "migrate");
    fake_agent_set(&f->fk, mig, "Running", progress(1000, 400, 600));
    settle(f, 12);
    assert_vmi_on(f, "vm1", "hv01");
    free(prep);
    free(mig);
}

/*
 * The whole phase machine.
 */

static void test_phases_to_succeeded(void **state)
{
    struct fixture *f = *state;
    char *prep, *mig, line[256];
    json_t *o, *req, *tr;
    static const char *const want[] = {
        "Pending",     "Scheduling", "Scheduled", "PreparingTarget",
        "TargetReady", "Running",    "Succeeded",
    };

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");
    assert_vmi_on(f, "vm1", "hv01");
    prep = job_of(f, "m1", "prepare");
    mig = job_of(f, "m1", "migrate");
    /* The prepare job goes to the target, submitted without asking first
     * (the controller entered the phase itself). */
    snprintf(line, sizeof(line), "submit %s %s", URL("2"), prep);
    assert_true(logged(f, line));
    snprintf(line, sizeof(line), "get %s %s", URL("2"), prep);
    assert_true(logged(f, line)); /* polled while Pending */
    req = json_object_get(f->fk.requests, prep);
    assert_string_equal(jstr(req, "type"), "prepare");
    assert_string_equal(jstr(req, "domain"), "default_vm1");
    assert_string_equal(jstr(req, "migration.name"), "m1");
    /* The target checks the guest against the source's libvirt. */
    assert_string_equal(jstr(req, "prepare.sourceLibvirtURI"),
                        "qemu+tcp://hv01/system");
    /* Not a VM made from a manifest: the target makes no files for it. */
    assert_null(json_object_get(json_object_get(req, "prepare"), "vmi"));

    fake_agent_set(&f->fk, prep, "Succeeded", prepared());
    settle(f, 5);
    assert_phase(f, "m1", "Running");
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.migrationState.targetNodeAddress"),
                        "198.18.0.12");
    {
        const json_t *ports = json_object_get(
            json_object_get(json_object_get(o, "status"), "migrationState"),
            "targetDirectMigrationNodePorts");
        assert_int_equal(json_object_size(ports), 1);
        assert_int_equal(json_integer_value(json_object_get(ports, "49152")),
                         49152);
    }
    assert_string_equal(jstr(o, "status.migrationState.sourceNode"), "hv01");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv02");
    assert_non_null(api_doc_get_string(o, "status.migrationState."
                                          "startTimestamp"));
    json_decref(o);
    /* The migrate job goes to the source with the target's addresses and
     * the resolved policy. */
    snprintf(line, sizeof(line), "submit %s %s", URL("1"), mig);
    assert_true(logged(f, line));
    req = json_object_get(f->fk.requests, mig);
    assert_string_equal(jstr(req, "type"), "migrate");
    assert_string_equal(jstr(req, "migrate.migrationURI"),
                        "tcp://198.18.0.12:49152");
    assert_string_equal(jstr(req, "migrate.destLibvirtURI"),
                        "qemu+tcp://198.18.0.12/system");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(req, "migrate"), "progressTimeoutS")),
                     150);
    /* The defaults: libvirt's own max downtime; no disruption, said. */
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(req, "migrate"), "maxDowntimeMs")),
                     0);
    assert_true(json_is_false(json_object_get(json_object_get(req, "migrate"),
                                              "allowWorkloadDisruption")));
    assert_string_equal(jstr(req, "migrate.copyStorage"), "none");
    assert_vmi_on(f, "vm1", "hv01");

    /* Progress reaches the record, and again when it moves. */
    fake_agent_set(&f->fk, mig, "Running", progress(1000, 400, 600));
    settle(f, 12);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(o, "status"), "progress"),
            "dataRemainingBytes")),
        600);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(o, "status"), "progress"),
            "dirtyMemoryRateBytes")),
        40960);
    json_decref(o);
    fake_agent_set(&f->fk, mig, "Running", progress(1000, 900, 100));
    settle(f, 12);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(o, "status"), "progress"),
            "dataRemainingBytes")),
        100);
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");
    assert_metric(f, "kubevirt_vmi_migration_data_remaining_bytes{namespace="
                     "\"default\",name=\"vm1\",node=\"hv01\"} 100\n");
    assert_metric(f, "kubevirt_vmi_migrations_in_running_phase 1\n");

    fake_agent_set(&f->fk, mig, "Succeeded",
                   json_pack("{s:{s:s, s:i}}", "result", "mode", "PreCopy",
                             "downtimeMs", 20));
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Succeeded");
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(o, "status"), "migrationState"),
        "completed")));
    assert_non_null(api_doc_get_string(o, "status.migrationState."
                                          "endTimestamp"));
    tr = json_object_get(json_object_get(o, "status"),
                         "phaseTransitionTimestamps");
    assert_int_equal(json_array_size(tr), 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(jstr(json_array_get(tr, i), "phase"), want[i]);
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv02");
    o = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv02");
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(o, "status"), "migrationState"),
        "completed")));
    json_decref(o);
    assert_int_equal(f->srv.metrics.migrations_succeeded, 1);
    assert_metric(f, "kubevirt_vmi_migrations_in_running_phase 0\n");
    assert_metric(f, "kubevirt_vmi_migration_succeeded 1\n");
    assert_metric(f, "kubevirt_vmi_migration_phase_transition_time_from_"
                     "creation_seconds_count{phase=\"Succeeded\"} 1\n");
    assert_metric(f, "kubevirt_vmi_migration_phase_transition_time_from_"
                     "creation_seconds_count{phase=\"Running\"} 1\n");
    /* The hook saw each phase the controller set. */
    assert_int_equal(json_array_size(f->phases), 6);
    assert_string_equal(json_string_value(json_array_get(f->phases, 5)),
                        "m1 Succeeded");
    free(prep);
    free(mig);
}

/*
 * Limits.
 */

static int count_phase(struct fixture *f, const char *phase)
{
    const char *p[1] = {phase};
    int64_t n = 0;
    assert_int_equal(store_migration_count_phases(f->st, p, 1, &n), 0);
    return (int)n;
}

static void test_limit_per_cluster(void **state)
{
    struct fixture *f = *state;
    char vm[32], m[32];

    add_node(f, "big", URL("9"), "True", false, "512Gi", NULL);
    for (int h = 1; h <= 4; h++) {
        char node[16], url[64];
        snprintf(node, sizeof(node), "hv%02d", h);
        snprintf(url, sizeof(url), "http://198.18.0.%d:8443", h);
        add_node(f, node, url, "True", false, "16Gi", NULL);
        for (int i = 0; i < 2; i++) {
            snprintf(vm, sizeof(vm), "vm%d-%d", h, i);
            add_vmi(f, vm, node, "1Gi");
        }
    }
    for (int h = 1; h <= 4; h++)
        for (int i = 0; i < 2; i++) {
            snprintf(vm, sizeof(vm), "vm%d-%d", h, i);
            snprintf(m, sizeof(m), "m%d-%d", h, i);
            post_vmim(f, m, vm, NULL);
        }
    /* The prepare jobs never finish: the first five hold their places. */
    settle(f, 10);
    assert_int_equal(count_phase(f, "Pending"), 3);
    assert_int_equal(count_phase(f, "PreparingTarget"), 5);
    assert_int_equal(log_count(f, "submit"), 5);
    /* One fails: the next Pending one takes its place. */
    {
        char *prep = job_of(f, "m1-0", "prepare");
        fake_agent_set(&f->fk, prep, "Failed",
                       json_pack("{s:{s:s, s:s}}", "error", "reason", "NoPort",
                                 "message", "no free migration port"));
        free(prep);
    }
    settle(f, 10);
    assert_phase(f, "m1-0", "Failed");
    assert_int_equal(count_phase(f, "Pending"), 2);
    assert_int_equal(count_phase(f, "PreparingTarget"), 5);
}

static void test_limit_per_source(void **state)
{
    struct fixture *f = *state;

    add_node(f, "hv01", URL("1"), "True", false, "16Gi", NULL);
    add_node(f, "hv02", URL("2"), "True", false, "64Gi", NULL);
    add_vmi(f, "a", "hv01", "1Gi");
    add_vmi(f, "b", "hv01", "1Gi");
    add_vmi(f, "c", "hv01", "1Gi");
    post_vmim(f, "ma", "a", NULL);
    post_vmim(f, "mb", "b", NULL);
    post_vmim(f, "mc", "c", NULL);
    settle(f, 10);
    assert_int_equal(count_phase(f, "Pending"), 1);
    assert_int_equal(count_phase(f, "PreparingTarget"), 2);
    assert_phase(f, "mc", "Pending");
}

/*
 * Choice of target.
 */

static json_t *node_doc(const char *name, const char *ready, bool unsched,
                        const char *mem, const char *zone)
{
    return json_pack(
        "{s:{s:s, s:{s:s}, s:{s:s}}, s:{s:b}, s:{s:[{s:s, s:s}], s:{s:s}}}",
        "metadata", "name", name, "labels", "zone", zone, "annotations",
        "orchestrator.io/agent-url", "http://198.18.0.1:8443", "spec",
        "unschedulable", unsched, "status", "conditions", "type", "Ready",
        "status", ready, "capacity", "memory", mem);
}

static int64_t used_fn(const char *node, void *arg)
{
    (void)arg;
    /* hv05 is full of guests already. */
    return strcmp(node, "hv05") == 0 ? (int64_t)15 << 30 : 0;
}

static void test_pick_target(void **state)
{
    json_t *nodes = json_pack("[o, o, o, o, o, o]",
                              node_doc("hv01", "True", false, "16Gi", "a"),
                              node_doc("hv02", "False", false, "16Gi", "a"),
                              node_doc("hv03", "True", true, "16Gi", "a"),
                              node_doc("hv04", "True", false, "16Gi", "b"),
                              node_doc("hv05", "True", false, "16Gi", "a"),
                              node_doc("hv06", "Unknown", false, "16Gi", "a"));
    json_t *sel = json_pack("{s:s}", "zone", "a");
    const json_t *n = NULL;
    char msg[1024];
    (void)state;

    /* Everything but hv04 ruled out, each for its reason. */
    assert_int_equal(orch_migration_pick_target(nodes, "hv01", sel,
                                                (int64_t)2 << 30, used_fn, NULL,
                                                &n, msg, sizeof(msg)),
                     -ENOENT);
    assert_non_null(strstr(msg, "5 other nodes"));
    assert_non_null(strstr(msg, "hv02 is not Ready"));
    assert_non_null(strstr(msg, "hv03 is unschedulable"));
    assert_non_null(strstr(msg, "hv04 does not match addedNodeSelector"));
    assert_non_null(strstr(msg, "hv05 has not enough free memory"));
    assert_non_null(strstr(msg, "hv06 is not Ready"));
    /* Without the selector hv04 fits. */
    assert_int_equal(orch_migration_pick_target(nodes, "hv01", NULL,
                                                (int64_t)2 << 30, used_fn, NULL,
                                                &n, msg, sizeof(msg)),
                     0);
    assert_string_equal(jstr(n, "metadata.name"), "hv04");
    /* Small enough for hv05 too: the most free memory wins (hv04). */
    assert_int_equal(orch_migration_pick_target(nodes, "hv01", NULL,
                                                (int64_t)512 << 20, used_fn,
                                                NULL, &n, msg, sizeof(msg)),
                     0);
    assert_string_equal(jstr(n, "metadata.name"), "hv04");
    /* Only the source. */
    json_array_clear(nodes);
    json_array_append_new(nodes, node_doc("hv01", "True", false, "16Gi", "a"));
    assert_int_equal(orch_migration_pick_target(nodes, "hv01", NULL, 1, NULL,
                                                NULL, &n, msg, sizeof(msg)),
                     -ENOENT);
    assert_string_equal(msg, "no node to migrate to: there is no node other "
                             "than the source 'hv01'");
    json_decref(sel);
    json_decref(nodes);
}

static void test_no_target_fails(void **state)
{
    struct fixture *f = *state;
    json_t *o;

    add_node(f, "hv01", URL("1"), "True", false, "16Gi", NULL);
    add_node(f, "hv02", URL("2"), "True", true, "16Gi", NULL);
    add_node(f, "hv03", URL("3"), "True", false, "1Gi", NULL);
    add_node(f, "hv04", URL("4"), "True", false, "16Gi", "zone=b");
    add_vmi(f, "vm1", "hv01", "2Gi");
    post_vmim(f, "m1", "vm1", "\"zone\":\"b\"");
    add_vmi(f, "vm2", "hv01", "2Gi");
    settle(f, 5);
    /* hv04 matches the selector: it is chosen. */
    assert_phase(f, "m1", "PreparingTarget");
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv04");
    json_decref(o);

    post_vmim(f, "m2", "vm2", "\"zone\":\"c\"");
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m2");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_non_null(strstr(jstr(o, "status.migrationState.failureReason"),
                           "hv02 is unschedulable"));
    assert_non_null(strstr(jstr(o, "status.migrationState.failureReason"),
                           "hv03 does not match addedNodeSelector"));
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(o, "status"), "migrationState"),
        "failed")));
    json_decref(o);
    assert_vmi_on(f, "vm2", "hv01");
    assert_int_equal(f->srv.metrics.migrations_failed, 1);
    /* No target was prepared: nothing to release. */
    for (size_t i = 0; i < json_array_size(f->fk.log); i++)
        assert_null(strstr(json_string_value(json_array_get(f->fk.log, i)),
                           "-release"));
}

/* SR-IOV (orchestratord/sriov.h): the target must have the VMI's network
 * on the PF of the same name with a free VF; otherwise the migration fails
 * in Scheduling and the reason names PF and host. */
static void add_sriov_node(struct fixture *f, const char *name, const char *url,
                           const char *pf, int free_vfs)
{
    json_t *n = json_pack(
        "{s:s, s:s, s:{s:s, s:{s:s}, s:{s:s}}, s:{},"
        " s:{s:[{s:s, s:s}], s:{s:s}, s:{s:s}, s:[{s:s, s:s, s:s}],"
        " s:{s:[{s:s, s:i, s:i}]}}}",
        "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
        "kubernetes.io/hostname", name, "annotations",
        "orchestrator.io/agent-url", url, "spec", "status", "conditions",
        "type", "Ready", "status", "True", "capacity", "memory", "16Gi",
        "allocatable", "memory", "16Gi", "sriovNetworks", "name", "sriov-net1",
        "pf", pf, "mode", "macvtap", "sriov", "pfs", "name", pf, "vfsFree",
        free_vfs, "vfsInUse", 4 - free_vfs);
    assert_int_equal(store_create(f->st, STORE_KIND_NODE, n), 0);
    json_decref(n);
}

static void add_sriov_vmi(struct fixture *f, const char *name, const char *node)
{
    json_t *v = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:{s:s}}, s:{s:[{s:s, s:s, s:{}}]}},"
        " s:[{s:s, s:{s:s}}], s:[{s:s, s:{s:s}}]}, s:{s:s, s:s}}",
        "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
        "metadata", "name", name, "namespace", "default", "spec", "domain",
        "resources", "requests", "memory", "1Gi", "devices", "interfaces",
        "name", "net1", "macAddress", "02:00:00:00:00:01", "sriov", "networks",
        "name", "net1", "multus", "networkName", "sriov-net1", "volumes",
        "name", "cloudinit", "cloudInitNoCloud", "networkData",
        "version: 2\nethernets:\n  e:\n    match: {macAddress: "
        "'02:00:00:00:00:01'}\n    addresses: [198.18.0.70/15]\n",
        "status", "phase", "Running", "nodeName", node);
    assert_non_null(v);
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, v), 0);
    json_decref(v);
}

static void test_sriov_target(void **state)
{
    struct fixture *f = *state;
    const char *why;
    json_t *o;

    add_sriov_node(f, "hv01", URL("1"), "ens1f0", 2);
    add_sriov_node(f, "hv02", URL("2"), "ens1f0", 0);
    add_sriov_node(f, "hv03", URL("3"), "ens2f0", 4);
    add_sriov_vmi(f, "vm1", "hv01");
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    why = jstr(o, "status.migrationState.failureReason");
    assert_non_null(why);
    assert_non_null(strstr(why, "hv02: PF 'ens1f0' (network 'sriov-net1') "
                                "has no free VF (4 of 4 in use)"));
    assert_non_null(strstr(why, "hv03: network 'sriov-net1' is on PF "
                                "'ens2f0' here but on PF 'ens1f0' on the "
                                "source hv01"));
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");

    /* A host with a free VF on ens1f0 is chosen. */
    add_sriov_node(f, "hv04", URL("4"), "ens1f0", 1);
    post_vmim(f, "m2", "vm1", NULL);
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m2");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv04");
    json_decref(o);
}

/* Node NAME's PF now as its migrator would report it: FREE free VFs and,
 * when USED_BY is not NULL, one more reserved for that domain. */
static void set_sriov_pf(struct fixture *f, const char *name, int free_vfs,
                         const char *used_by)
{
    json_t *n = get(f, STORE_KIND_NODE, name), *vfs = json_array(), *pf;
    int total = free_vfs + (used_by != NULL);

    for (int i = 0; i < total; i++)
        json_array_append_new(
            vfs, json_pack("{s:i, s:b, s:b, s:s?}", "index", i, "reserved",
                           used_by && i == 0, "inUse", used_by && i == 0,
                           "usedBy", used_by && i == 0 ? used_by : NULL));
    pf = json_array_get(
        json_object_get(json_object_get(json_object_get(n, "status"), "sriov"),
                        "pfs"),
        0);
    assert_non_null(pf);
    json_object_set_new(pf, "vfsFree", json_integer(free_vfs));
    json_object_set_new(pf, "vfsInUse", json_integer(used_by != NULL));
    json_object_set_new(pf, "vfs", vfs);
    assert_int_equal(store_update(f->st, STORE_KIND_NODE, n, 0), 0);
    json_decref(n);
}

/* Three SR-IOV migrations scheduled in one pass (issue 12 leftover): hv02
 * and hv03 have one free VF each; m1 takes hv02, so m2 is placed on hv03
 * and m3 fits nowhere, with the reason naming the work that holds them. */
static void test_sriov_vfs_held_in_one_pass(void **state)
{
    struct fixture *f = *state;
    const char *why;
    json_t *o;

    add_sriov_node(f, "hv01", URL("1"), "ens1f0", 0);
    add_sriov_node(f, "hv02", URL("2"), "ens1f0", 1);
    add_sriov_node(f, "hv03", URL("3"), "ens1f0", 1);
    add_sriov_node(f, "hv04", URL("4"), "ens1f0", 0);
    add_sriov_vmi(f, "vm1", "hv01");
    add_sriov_vmi(f, "vm2", "hv01");
    add_sriov_vmi(f, "vm3", "hv04");
    post_vmim(f, "m1", "vm1", NULL);
    post_vmim(f, "m2", "vm2", NULL);
    post_vmim(f, "m3", "vm3", NULL);
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv02");
    json_decref(o);
    o = get(f, STORE_KIND_MIGRATION, "m2");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv03");
    json_decref(o);
    o = get(f, STORE_KIND_MIGRATION, "m3");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    why = jstr(o, "status.migrationState.failureReason");
    if (!strstr(why, "hv02: PF 'ens1f0' (network 'sriov-net1') has no free "
                     "VF (1 free, 1 held by work in flight: default/vm1)") ||
        !strstr(why, "hv03: PF 'ens1f0' (network 'sriov-net1') has no free "
                     "VF (1 free, 1 held by work in flight: default/vm2)"))
        fail_msg("failureReason: %s", why);
    json_decref(o);
    assert_vmi_on(f, "vm3", "hv04");
}

/* Two migrations scheduled in one pass count each other's memory: hv02
 * has room for one of the two 2Gi guests, the other fails for memory. */
static void test_memory_held_in_one_pass(void **state)
{
    struct fixture *f = *state;
    json_t *o1, *o2;
    const json_t *failed;

    add_node(f, "hv01", URL("1"), "True", false, "16Gi", NULL);
    add_node(f, "hv02", URL("2"), "True", false, "3Gi", NULL);
    add_vmi(f, "vm1", "hv01", "2Gi");
    add_vmi(f, "vm2", "hv01", "2Gi");
    post_vmim(f, "m1", "vm1", NULL);
    post_vmim(f, "m2", "vm2", NULL);
    settle(f, 5);
    o1 = get(f, STORE_KIND_MIGRATION, "m1");
    o2 = get(f, STORE_KIND_MIGRATION, "m2");
    /* Either may be first; exactly one goes to hv02. */
    failed = strcmp(jstr(o1, "status.phase"), "Failed") == 0 ? o1 : o2;
    assert_string_equal(
        jstr(failed == o1 ? o2 : o1, "status.migrationState.targetNode"),
        "hv02");
    assert_string_equal(jstr(failed, "status.phase"), "Failed");
    if (!strstr(jstr(failed, "status.migrationState.failureReason"),
                "hv02 has not enough free memory"))
        fail_msg("failureReason: %s",
                 jstr(failed, "status.migrationState.failureReason"));
    json_decref(o1);
    json_decref(o2);
}

/* A migration in flight holds its VF on the target until the report shows
 * it (then it is not counted twice) or the migration ends. */
static void test_sriov_vfs_held_by_migration_in_flight(void **state)
{
    struct fixture *f = *state;
    char *prep;
    json_t *o;

    add_sriov_node(f, "hv01", URL("1"), "ens1f0", 0);
    add_sriov_node(f, "hv02", URL("2"), "ens1f0", 1);
    add_sriov_node(f, "hv03", URL("3"), "ens1f0", 0);
    add_sriov_vmi(f, "vm1", "hv01");
    add_sriov_vmi(f, "vm2", "hv01");
    add_sriov_vmi(f, "vm3", "hv03");
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");

    /* hv02's one free VF is m1's: m2 fails in Scheduling, saying so. */
    post_vmim(f, "m2", "vm2", NULL);
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m2");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_string_equal(jstr(o, "status.migrationState.failureReason"),
                        "no node to migrate to: hv02: PF 'ens1f0' (network "
                        "'sriov-net1') has no free VF (1 free, 1 held by work "
                        "in flight: default/vm1), hv03: PF 'ens1f0' (network "
                        "'sriov-net1') has no free VF (4 of 4 in use)");
    json_decref(o);
    assert_int_equal(log_count(f, "submit " URL("2")), 1); /* m1's only */

    /* m1 ends (its prepare failed): it holds nothing any more. */
    prep = job_of(f, "m1", "prepare");
    fake_agent_set(&f->fk, prep, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason", "NoFreeVF",
                             "message", "test"));
    free(prep);
    settle(f, 5);
    assert_phase(f, "m1", "Failed");
    post_vmim(f, "m3", "vm2", NULL);
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m3");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv02");
    json_decref(o);

    /* m3's prepare reserved its VF and hv02 reports it as vm2's, with one
     * more VF free: m3 is not counted a second time, m4 fits. */
    set_sriov_pf(f, "hv02", 1, "default_vm2");
    post_vmim(f, "m4", "vm3", NULL);
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m4");
    assert_string_equal(jstr(o, "status.migrationState.targetNode"), "hv02");
    json_decref(o);
}

/* A VM whose start the VM controller placed on hv02 (Scheduled, not yet
 * running) holds hv02's one free VF against a migration too. */
static void test_sriov_vfs_held_by_vm_start(void **state)
{
    struct fixture *f = *state;
    json_t *o;

    add_sriov_node(f, "hv01", URL("1"), "ens1f0", 0);
    add_sriov_node(f, "hv02", URL("2"), "ens1f0", 1);
    add_sriov_vmi(f, "vm1", "hv01");
    add_sriov_vmi(f, "vm0", "hv02");
    o = get(f, STORE_KIND_VMI, "vm0");
    json_object_set_new(json_object_get(o, "status"), "phase",
                        json_string("Scheduled"));
    assert_int_equal(store_update(f->st, STORE_KIND_VMI, o, 0), 0);
    json_decref(o);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_string_equal(jstr(o, "status.migrationState.failureReason"),
                        "no node to migrate to: hv02: PF 'ens1f0' (network "
                        "'sriov-net1') has no free VF (1 free, 1 held by work "
                        "in flight: default/vm0)");
    json_decref(o);
}

/*
 * Agents that fail.
 */

static void test_agent_down_fails_after_bound(void **state)
{
    struct fixture *f = *state;
    json_t *o;

    two_hosts(f);
    snprintf(f->fk.down, sizeof(f->fk.down), "%s", URL("2"));
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 30);
    /* Retried, with backoff: a few calls in 3 s, not one per turn. */
    assert_phase(f, "m1", "PreparingTarget");
    assert_true(log_count(f, "submit") >= 2);
    assert_true(log_count(f, "submit") <= 4);
    fake_agent_now += (int64_t)ORCH_CONTROLLER_AGENT_BOUND_S * 1000;
    settle(f, 2);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_non_null(strstr(jstr(o, "status.migrationState.failureReason"),
                           "target node 'hv02' did not prepare the migration "
                           "within 120 s"));
    assert_non_null(strstr(jstr(o, "status.migrationState.failureReason"),
                           strerror(ECONNREFUSED)));
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");
}

static void node_report(struct fixture *f, const char *node, const char *url,
                        const char *state, bool migrating);

/* The target's migrator falls silent while its prepare job cannot reach
 * it: the node monitor turns it Unknown after the grace period, and the
 * migration fails then, not after ORCH_CONTROLLER_AGENT_BOUND_S, with a
 * reason naming the host.  No migrate job was ever sent to the source;
 * the release goes to the target; the VMI stays on the source. */
static void test_target_unknown_fails_preparing(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = fake_agent_now, grace_ms;
    const char *why;
    json_t *o;

    two_hosts(f);
    assert_int_equal(orch_hosts_load(&f->srv, fake_agent_now), 0);
    snprintf(f->fk.down, sizeof(f->fk.down), "%s", URL("2"));
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 10);
    assert_phase(f, "m1", "PreparingTarget");

    /* Within the grace period hv02 is still Ready: the prepare job is
     * retried, the migration waits. */
    grace_ms = (int64_t)f->srv.settings.node_grace_s * 1000;
    fake_agent_now = t0 + grace_ms - 2000;
    node_report(f, "hv01", URL("1"), "running", false);
    assert_int_equal(orch_hosts_tick(&f->srv, fake_agent_now), 0);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");

    /* Past it hv02 (and only hv02: hv01 reported) turns Unknown. */
    fake_agent_now = t0 + grace_ms + 1000;
    assert_int_equal(orch_hosts_tick(&f->srv, fake_agent_now), 1);
    settle(f, 2);
    assert_true(fake_agent_now - t0 <
                (int64_t)ORCH_CONTROLLER_AGENT_BOUND_S * 1000 / 2);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    why = jstr(o, "status.migrationState.failureReason");
    if (!strstr(why, "target node 'hv02' is not Ready (Unknown, "
                     "NodeStatusUnknown: migrator stopped posting node "
                     "status) before the migration started") ||
        !strstr(why, strerror(ECONNREFUSED)))
        fail_msg("failureReason '%s'", why);
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");
    assert_int_equal(log_count(f, "submit " URL("1")), 0);
    assert_int_equal(log_count(f, "get " URL("1")), 0);
    assert_true(log_count(f, "submit " URL("2")) >= 1);
    {
        char *rel = job_of(f, "m1", "release"), line[256];
        snprintf(line, sizeof(line), "submit %s %s", URL("2"), rel);
        assert_true(logged(f, line));
        free(rel);
    }
    assert_int_equal(f->srv.metrics.migrations_failed, 1);
}

/* A target whose migrator reports libvirt unreachable (Ready=False) while
 * its prepare job is still running: the migration fails at once, naming
 * the host and libvirt's error. */
static void test_target_libvirt_down_fails_preparing(void **state)
{
    struct fixture *f = *state;
    const char *why;
    char *prep;
    json_t *rep, *o;

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");
    prep = job_of(f, "m1", "prepare");
    fake_agent_set(&f->fk, prep, "Running", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");

    rep = json_pack("{s:s, s:{s:s}, s:s, s:{s:s}, s:[]}", "name", "hv02",
                    "agent", "url", URL("2"), "bootId", "hv02", "libvirt",
                    "error", "Failed to connect socket", "domains");
    assert_true(orch_hosts_report(&f->srv, "hv02", rep, fake_agent_now) >= 0);
    json_decref(rep);
    settle(f, 2);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    why = jstr(o, "status.migrationState.failureReason");
    if (!strstr(why, "target node 'hv02' is not Ready (False, "
                     "LibvirtUnreachable: libvirt unreachable: Failed to "
                     "connect socket) before the migration started "
                     "(prepare: the job is still Running)"))
        fail_msg("failureReason '%s'", why);
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");
    assert_int_equal(log_count(f, "submit " URL("1")), 0);
    free(prep);
}

/* Once the migrate job may exist (TargetReady on), a target turning
 * Unknown ends nothing: the source's job decides, as before. */
static void test_target_unknown_while_running(void **state)
{
    struct fixture *f = *state;
    char *mig;

    to_running(f);
    assert_int_equal(orch_hosts_load(&f->srv, fake_agent_now), 0);
    fake_agent_now += (int64_t)f->srv.settings.node_grace_s * 1000 + 1000;
    node_report(f, "hv01", URL("1"), "running", false);
    assert_int_equal(orch_hosts_tick(&f->srv, fake_agent_now), 1);
    settle(f, 10);
    assert_phase(f, "m1", "Running");
    mig = job_of(f, "m1", "migrate");
    fake_agent_set(&f->fk, mig, "Succeeded", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "Succeeded");
    assert_vmi_on(f, "vm1", "hv02");
    free(mig);
}

static void test_migrate_job_fails(void **state)
{
    struct fixture *f = *state;
    char *mig;
    json_t *o;

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    fake_agent_set(&f->fk, mig, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason",
                             "ProgressTimeout", "message",
                             "no progress for 150 s"));
    /* The next poll of a running job comes within a second. */
    settle(f, 10);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_string_equal(jstr(o, "status.migrationState.failureReason"),
                        "source node 'hv01': ProgressTimeout: no progress for "
                        "150 s");
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");
    free(mig);
}

/* The target's checks refuse: the record names the host and what it
 * lacked.  A source that did not say where its libvirt is gets no
 * checks asked for. */
static void test_prepare_check_fails(void **state)
{
    struct fixture *f = *state;
    char *prep, *rel, line[256];
    json_t *o, *req;

    add_node(f, "hv01", NULL, "True", false, "16Gi", NULL);
    add_node(f, "hv02", URL("2"), "True", false, "16Gi", NULL);
    add_vmi(f, "vm1", "hv01", "1Gi");
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");
    prep = job_of(f, "m1", "prepare");
    req = json_object_get(f->fk.requests, prep);
    assert_non_null(req);
    assert_int_equal(json_object_size(json_object_get(req, "prepare")), 0);
    fake_agent_set(&f->fk, prep, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason",
                             "CPUIncompatible", "message",
                             "the guest's CPU model 'Haswell' is incompatible "
                             "with this host's CPU"));
    /* The failed job is seen; then the target's agent stops answering, as
     * the migration fails. */
    settle(f, 1);
    snprintf(f->fk.down, sizeof(f->fk.down), "%s", URL("2"));
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_string_equal(jstr(o, "status.migrationState.failureReason"),
                        "target node 'hv02' could not prepare the migration: "
                        "CPUIncompatible: the guest's CPU model 'Haswell' is "
                        "incompatible with this host's CPU");
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");

    /* The release of the prepare goes to the target, retried until the
     * agent takes it, then no more. */
    rel = job_of(f, "m1", "release");
    snprintf(line, sizeof(line), "submit %s %s", URL("2"), rel);
    assert_int_equal(log_count(f, line), 1);
    f->fk.down[0] = '\0';
    settle(f, 30);
    assert_int_equal(log_count(f, line), 2);
    assert_non_null(json_object_get(f->fk.jobs, rel)); /* taken */
    req = json_object_get(f->fk.requests, rel);
    assert_string_equal(jstr(req, "type"), "release");
    assert_string_equal(jstr(req, "domain"), "default_vm1");
    assert_string_equal(jstr(req, "migration.name"), "m1");
    assert_string_equal(jstr(req, "release.prepareJobId"), prep);
    settle(f, 30);
    assert_int_equal(log_count(f, line), 2);
    free(rel);
    free(prep);
}

/*
 * Cancel.
 */

static void test_cancel_before_running(void **state)
{
    struct fixture *f = *state;
    json_t *o;

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/m1", NULL), 202);
    settle(f, 3);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_string_equal(jstr(o, "status.migrationState.abortStatus"),
                        "Succeeded");
    json_decref(o);
    /* Nothing ran on the source. */
    assert_int_equal(log_count(f, "submit " URL("1")), 0);
    assert_vmi_on(f, "vm1", "hv01");
}

static void test_cancel_while_running(void **state)
{
    struct fixture *f = *state;
    char *mig, *abo, line[256];
    json_t *o, *req;

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    abo = job_of(f, "m1", "abort");
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/m1", NULL), 202);
    settle(f, 3);
    snprintf(line, sizeof(line), "submit %s %s", URL("1"), abo);
    assert_true(logged(f, line));
    req = json_object_get(f->fk.requests, abo);
    assert_string_equal(jstr(req, "abort.jobId"), mig);
    assert_phase(f, "m1", "Running");
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.migrationState.abortStatus"),
                        "Aborting");
    json_decref(o);
    fake_agent_set(
        &f->fk, abo, "Succeeded",
        json_pack("{s:{s:s}}", "result", "abortStatus", "Succeeded"));
    fake_agent_set(&f->fk, mig, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason", "Aborted",
                             "message", "operation aborted"));
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_string_equal(jstr(o, "status.migrationState.abortStatus"),
                        "Succeeded");
    assert_string_equal(jstr(o, "status.migrationState.failureReason"),
                        "Live migration has been aborted");
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");
    /* The target's prepare is released. */
    {
        char *rel = job_of(f, "m1", "release"), line[256];
        snprintf(line, sizeof(line), "submit %s %s", URL("2"), rel);
        assert_int_equal(log_count(f, line), 1);
        free(rel);
    }
    free(mig);
    free(abo);
}

/* A cancel that comes while the submit of the migrate job is in flight
 * cannot just end the record: the source may start the job.  It goes to
 * Running, where the abort job stops it. */
static void test_cancel_with_submit_in_flight(void **state)
{
    struct fixture *f = *state;
    char *prep, *mig, *abo, line[256];
    json_t *o;

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    prep = job_of(f, "m1", "prepare");
    mig = job_of(f, "m1", "migrate");
    abo = job_of(f, "m1", "abort");
    fake_agent_set(&f->fk, prep, "Succeeded", prepared());
    snprintf(line, sizeof(line), "submit %s %s", URL("1"), mig);
    /* Turns without the agents' answers until the submit is on its way. */
    for (int i = 0; i < 10 && !logged(f, line); i++) {
        orch_feed_run(&f->srv);
        assert_true(orch_controller_run(f->srv.controller) >= 0);
        if (!logged(f, line))
            fake_agent_flush(&f->fk);
        fake_agent_now += 100;
    }
    assert_true(logged(f, line));
    assert_phase(f, "m1", "TargetReady");
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/m1", NULL), 202);
    settle(f, 5);
    assert_phase(f, "m1", "Running");
    snprintf(line, sizeof(line), "submit %s %s", URL("1"), abo);
    assert_true(logged(f, line));
    fake_agent_set(&f->fk, abo, "Succeeded", NULL);
    fake_agent_set(&f->fk, mig, "Failed",
                   json_pack("{s:{s:s}}", "error", "reason", "Aborted"));
    settle(f, 10);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Failed");
    assert_string_equal(jstr(o, "status.migrationState.abortStatus"),
                        "Succeeded");
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv01");
    free(prep);
    free(mig);
    free(abo);
}

static void test_cancel_too_late(void **state)
{
    struct fixture *f = *state;
    char *mig, *abo;
    json_t *o;

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    abo = job_of(f, "m1", "abort");
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/m1", NULL), 202);
    settle(f, 3);
    fake_agent_set(&f->fk, mig, "Succeeded",
                   json_pack("{s:{s:s}}", "result", "mode", "PreCopy"));
    fake_agent_set(&f->fk, abo, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason", "TooLate",
                             "message", "the migration already succeeded"));
    settle(f, 5);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.phase"), "Succeeded");
    assert_string_equal(jstr(o, "status.migrationState.abortStatus"), "Failed");
    json_decref(o);
    assert_vmi_on(f, "vm1", "hv02");
    free(mig);
    free(abo);
}

/*
 * Policy.
 */

static json_t *policy(const char *name, json_t *vmi_sel, json_t *ns_sel)
{
    json_t *p =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:{}}}", "apiVersion",
                  "migrations.kubevirt.io/v1alpha1", "kind", "MigrationPolicy",
                  "metadata", "name", name, "spec", "selectors");
    json_t *sels = json_object_get(json_object_get(p, "spec"), "selectors");
    if (vmi_sel)
        json_object_set_new(sels, "virtualMachineInstanceSelector", vmi_sel);
    if (ns_sel)
        json_object_set_new(sels, "namespaceSelector", ns_sel);
    return p;
}

static void test_policy_precedence(void **state)
{
    json_t *labels = json_pack("{s:s, s:s}", "app", "web", "tier", "fe");
    json_t *ps = json_array();
    const json_t *m;
    (void)state;

#define NS_DEFAULT json_pack("{s:s}", "kubernetes.io/metadata.name", "default")
    /* One namespace label vs one VMI label: the VMI label wins the tie. */
    json_array_append_new(ps, policy("a-ns", NULL, NS_DEFAULT));
    json_array_append_new(
        ps, policy("z-vmi", json_pack("{s:s}", "app", "web"), NULL));
    m = orch_migration_policy_match(ps, labels, "default");
    assert_string_equal(jstr(m, "metadata.name"), "z-vmi");
    /* A policy with a label the VMI lacks never applies, however many
     * others it matches. */
    json_array_append_new(ps, policy("b-miss",
                                     json_pack("{s:s, s:s, s:s}", "app", "web",
                                               "tier", "fe", "gpu", "yes"),
                                     NULL));
    m = orch_migration_policy_match(ps, labels, "default");
    assert_string_equal(jstr(m, "metadata.name"), "z-vmi");
    /* More matching labels in total win. */
    json_array_append_new(
        ps, policy("y-both", json_pack("{s:s}", "tier", "fe"), NS_DEFAULT));
    m = orch_migration_policy_match(ps, labels, "default");
    assert_string_equal(jstr(m, "metadata.name"), "y-both");
    /* A complete tie: the smallest name. */
    json_array_append_new(
        ps, policy("x-both", json_pack("{s:s}", "app", "web"), NS_DEFAULT));
    m = orch_migration_policy_match(ps, labels, "default");
    assert_string_equal(jstr(m, "metadata.name"), "x-both");
    /* Another namespace: the namespace selectors fail. */
    m = orch_migration_policy_match(ps, labels, "other");
    assert_string_equal(jstr(m, "metadata.name"), "z-vmi");
#undef NS_DEFAULT
    json_decref(ps);
    json_decref(labels);
}

static void test_policy_resolve(void **state)
{
    struct orch_migration_settings set;
    json_t *p = policy("p", NULL, NULL), *c;
    (void)state;

    orch_migration_settings_default(&set);
    set.progress_timeout = 77;
    c = orch_migration_config_resolve(&set, NULL);
    assert_false(json_is_true(json_object_get(c, "allowPostCopy")));
    assert_string_equal(jstr(c, "bandwidthPerMigration"), "0Mi");
    assert_int_equal(json_integer_value(json_object_get(c, "progressTimeout")),
                     77);
    /* maxDowntimeMs 0 is libvirt's own, which KubeVirt's field cannot
     * say: left out. */
    assert_null(json_object_get(c, "maxDowntimeMs"));
    json_decref(c);
    set.max_downtime_ms = 900;
    c = orch_migration_config_resolve(&set, NULL);
    assert_int_equal(json_integer_value(json_object_get(c, "maxDowntimeMs")),
                     900);
    json_decref(c);
    /* allowWorkloadDisruption follows the policy's allowPostCopy; fields
     * a policy cannot set stay the cluster's. */
    json_object_update_new(json_object_get(p, "spec"),
                           json_pack("{s:b, s:s, s:I}", "allowPostCopy", 1,
                                     "bandwidthPerMigration", "64Mi",
                                     "progressTimeout", (json_int_t)5));
    c = orch_migration_config_resolve(&set, p);
    assert_true(json_is_true(json_object_get(c, "allowPostCopy")));
    assert_true(json_is_true(json_object_get(c, "allowWorkloadDisruption")));
    assert_string_equal(jstr(c, "bandwidthPerMigration"), "64Mi");
    assert_int_equal(json_integer_value(json_object_get(c, "progressTimeout")),
                     77);
    json_decref(c);
    json_decref(p);
}

static void test_policy_in_migration(void **state)
{
    struct fixture *f = *state;
    json_t *p = policy("web", json_pack("{s:s}", "app", "web"), NULL), *o;
    char *mig;

    json_object_update_new(json_object_get(p, "spec"),
                           json_pack("{s:b, s:s, s:b, s:i}",
                                     "allowAutoConverge", 1,
                                     "bandwidthPerMigration", "100Mi",
                                     "allowPostCopy", 1, "maxDowntimeMs", 300));
    assert_int_equal(store_create(f->st, STORE_KIND_MIGRATION_POLICY, p), 0);
    json_decref(p);
    to_running(f);
    o = get(f, STORE_KIND_MIGRATION, "m1");
    assert_string_equal(jstr(o, "status.migrationState.migrationPolicyName"),
                        "web");
    assert_true(json_is_true(json_object_get(
        json_object_get(
            json_object_get(json_object_get(o, "status"), "migrationState"),
            "migrationConfiguration"),
        "allowAutoConverge")));
    json_decref(o);
    mig = job_of(f, "m1", "migrate");
    o = json_object_get(json_object_get(f->fk.requests, mig), "migrate");
    assert_true(json_is_true(json_object_get(o, "allowAutoConverge")));
    assert_int_equal(json_integer_value(json_object_get(o, "bandwidthMiBps")),
                     100);
    assert_int_equal(json_integer_value(json_object_get(o, "maxDowntimeMs")),
                     300);
    /* The policy's allowWorkloadDisruption, unset, follows its
     * allowPostCopy: the migrator gets both, explicit. */
    assert_true(json_is_true(json_object_get(o, "allowPostCopy")));
    assert_true(json_is_true(json_object_get(o, "allowWorkloadDisruption")));
    free(mig);
}

/*
 * Restart.
 */

/* A new orchestratord on the same file, its agents still holding the
 * jobs: it asks for the jobs by id and starts none. */
static void restart(struct fixture *f)
{
    server_close(f);
    assert_true(f->fk.freed);
    json_array_clear(f->fk.log);
    server_open(f);
}

static void test_restart_resumes_running(void **state)
{
    struct fixture *f = *state;
    char *mig, line[256];

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    restart(f);
    settle(f, 3);
    snprintf(line, sizeof(line), "get %s %s", URL("1"), mig);
    assert_true(logged(f, line));
    assert_int_equal(log_count(f, "submit"), 0);
    assert_phase(f, "m1", "Running");
    fake_agent_set(&f->fk, mig, "Succeeded", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "Succeeded");
    assert_vmi_on(f, "vm1", "hv02");
    assert_int_equal(log_count(f, "submit"), 0);
    free(mig);
}

static void test_restart_resumes_preparing(void **state)
{
    struct fixture *f = *state;
    char *prep, line[256];

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");
    prep = job_of(f, "m1", "prepare");
    restart(f);
    fake_agent_set(&f->fk, prep, "Succeeded", prepared());
    settle(f, 5);
    /* The prepare job was asked for, not submitted again; the migrate job
     * was then submitted once. */
    snprintf(line, sizeof(line), "get %s %s", URL("2"), prep);
    assert_true(logged(f, line));
    snprintf(line, sizeof(line), "submit %s %s", URL("2"), prep);
    assert_false(logged(f, line));
    assert_int_equal(log_count(f, "submit"), 1);
    assert_phase(f, "m1", "Running");
    assert_vmi_on(f, "vm1", "hv01");
    free(prep);
}

/*
 * Restarts and lost outcomes (issue 10).
 */

/* The OutcomeUnknown condition of VMIM NAME: its reason, or NULL. */
static char *outcome_reason(struct fixture *f, const char *name)
{
    json_t *o = get(f, STORE_KIND_MIGRATION, name);
    const json_t *cs =
        json_object_get(json_object_get(o, "status"), "conditions");
    char *r = NULL;

    for (size_t i = 0; i < json_array_size(cs); i++) {
        const json_t *c = json_array_get(cs, i);
        if (strcmp(jstr(c, "type"), "OutcomeUnknown") == 0) {
            assert_string_equal(jstr(c, "status"), "True");
            r = strdup(jstr(c, "reason"));
        }
    }
    json_decref(o);
    return r;
}

static void assert_outcome_unknown(struct fixture *f, const char *name,
                                   const char *reason)
{
    char *r = outcome_reason(f, name);
    if (!reason) {
        if (r)
            fail_msg("condition OutcomeUnknown %s still there", r);
        return;
    }
    if (!r)
        fail_msg("no condition OutcomeUnknown");
    assert_string_equal(r, reason);
    free(r);
}

static void assert_failure_starts(struct fixture *f, const char *name,
                                  const char *prefix)
{
    json_t *o = get(f, STORE_KIND_MIGRATION, name);
    const char *why = jstr(o, "status.migrationState.failureReason");
    if (strncmp(why, prefix, strlen(prefix)) != 0)
        fail_msg("failureReason '%s' does not start with '%s'", why, prefix);
    json_decref(o);
}

/* A report of NODE (agent at URL) as received now: vm1 in STATE (NULL:
 * not there), arriving by migration when MIGRATING. */
static void node_report(struct fixture *f, const char *node, const char *url,
                        const char *state, bool migrating)
{
    json_t *doms = json_array(), *rep;
    if (state)
        json_array_append_new(doms,
                              json_pack("{s:s, s:s, s:s, s:b}", "name", "vm1",
                                        "state", state, "stateReason",
                                        migrating ? "migration" : "booted",
                                        "migrating", migrating));
    rep = json_pack("{s:s, s:{s:s, s:s}, s:o}", "name", node, "agent", "url",
                    url, "bootId", node, "domains", doms);
    assert_true(orch_hosts_report(&f->srv, node, rep, fake_agent_now) >= 0);
    json_decref(rep);
    orch_feed_run(&f->srv);
}

/* The migrator of the source lost the migrate job while orchestratord was
 * down: nothing is decided until reports after the 404 show the domain on
 * the target only; then Succeeded, the VMI on the target. */
static void test_restart_job_lost_target_runs(void **state)
{
    struct fixture *f = *state;
    char *mig;

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    restart(f);
    json_object_del(f->fk.jobs, mig);
    /* Reports from before the 404 prove nothing. */
    node_report(f, "hv01", URL("1"), NULL, false);
    node_report(f, "hv02", URL("2"), "running", false);
    settle(f, 5);
    assert_phase(f, "m1", "Running");
    assert_outcome_unknown(f, "m1", "JobUnknown");
    /* Still asked for now and then: no submit, ever, once Running. */
    fake_agent_now += 3000;
    settle(f, 3);
    assert_true(log_count(f, "get") >= 2);
    assert_int_equal(log_count(f, "submit"), 0);
    assert_phase(f, "m1", "Running");
    node_report(f, "hv01", URL("1"), NULL, false);
    settle(f, 2);
    assert_phase(f, "m1", "Running"); /* the target has not said yet */
    node_report(f, "hv02", URL("2"), "running", false);
    settle(f, 3);
    assert_phase(f, "m1", "Succeeded");
    assert_outcome_unknown(f, "m1", NULL);
    assert_vmi_on(f, "vm1", "hv02");
    free(mig);
}

/* ... and on the source only: Failed, the VMI stays. */
static void test_restart_job_lost_source_runs(void **state)
{
    struct fixture *f = *state;
    char *mig;

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    restart(f);
    json_object_del(f->fk.jobs, mig);
    settle(f, 3);
    assert_outcome_unknown(f, "m1", "JobUnknown");
    node_report(f, "hv01", URL("1"), "running", false);
    node_report(f, "hv02", URL("2"), NULL, false);
    settle(f, 3);
    assert_phase(f, "m1", "Failed");
    assert_failure_starts(f, "m1", "source node 'hv01' lost the migrate job");
    assert_vmi_on(f, "vm1", "hv01");
    free(mig);
}

/* On both (libvirt still migrating it without the migrator): unknown
 * until the bound, then Failed OutcomeUnknown. */
static void test_job_lost_both_run_until_bound(void **state)
{
    struct fixture *f = *state;
    char *mig;

    f->srv.settings.migrations.outcome_timeout_s = 60;
    to_running(f);
    mig = job_of(f, "m1", "migrate");
    json_object_del(f->fk.jobs, mig);
    settle(f, 3);
    node_report(f, "hv01", URL("1"), "running", true);
    node_report(f, "hv02", URL("2"), "paused", true);
    settle(f, 3);
    assert_phase(f, "m1", "Running");
    assert_outcome_unknown(f, "m1", "JobUnknown");
    fake_agent_now += 50000;
    settle(f, 3);
    assert_phase(f, "m1", "Running");
    fake_agent_now += 11000;
    settle(f, 3);
    assert_phase(f, "m1", "Failed");
    assert_failure_starts(f, "m1", "OutcomeUnknown: not known within 60 s");
    assert_outcome_unknown(f, "m1", "JobUnknown");
    assert_vmi_on(f, "vm1", "hv01");
    free(mig);
}

/* The source's agent unreachable, then back: the condition comes and goes,
 * and the job's own outcome ends the migration. */
static void test_source_unreachable_then_back(void **state)
{
    struct fixture *f = *state;
    char *mig;

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    snprintf(f->fk.down, sizeof(f->fk.down), "%s", URL("1"));
    settle(f, 5);
    assert_phase(f, "m1", "Running");
    assert_outcome_unknown(f, "m1", "SourceUnreachable");
    /* Meanwhile libvirt finished the migration without us. */
    fake_agent_set(&f->fk, mig, "Succeeded", NULL);
    fake_agent_now += 20000;
    settle(f, 3);
    assert_phase(f, "m1", "Running");
    f->fk.down[0] = '\0';
    fake_agent_now += 10000;
    settle(f, 5);
    assert_phase(f, "m1", "Succeeded");
    assert_outcome_unknown(f, "m1", NULL);
    assert_vmi_on(f, "vm1", "hv02");
    free(mig);
}

/* Unreachable for longer than the bound: Failed OutcomeUnknown, saying
 * what was not known. */
static void test_source_unreachable_bound(void **state)
{
    struct fixture *f = *state;

    f->srv.settings.migrations.outcome_timeout_s = 30;
    to_running(f);
    restart(f);
    f->srv.settings.migrations.outcome_timeout_s = 30;
    snprintf(f->fk.down, sizeof(f->fk.down), "%s", URL("1"));
    settle(f, 5);
    assert_outcome_unknown(f, "m1", "SourceUnreachable");
    fake_agent_now += 31000;
    settle(f, 3);
    assert_phase(f, "m1", "Failed");
    assert_failure_starts(f, "m1",
                          "OutcomeUnknown: not known within 30 s how the "
                          "migration ended: source node 'hv01' does not "
                          "answer");
    assert_vmi_on(f, "vm1", "hv01");
}

/* The job ended Failed while orchestratord was down: that is the outcome. */
static void test_restart_job_final(void **state)
{
    struct fixture *f = *state;
    char *mig;

    to_running(f);
    mig = job_of(f, "m1", "migrate");
    server_close(f);
    fake_agent_set(&f->fk, mig, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason",
                             "MigrationFailed", "message", "connection reset"));
    json_array_clear(f->fk.log);
    server_open(f);
    settle(f, 3);
    assert_phase(f, "m1", "Failed");
    assert_failure_starts(f, "m1",
                          "source node 'hv01': MigrationFailed: connection "
                          "reset");
    /* Nothing is submitted again but the release of the target's prepare
     * (a failed migration's end, see test_cancel_while_running). */
    {
        char *rel = job_of(f, "m1", "release"), line[256];
        snprintf(line, sizeof(line), "submit %s %s", URL("2"), rel);
        assert_int_equal(log_count(f, line), 1);
        assert_int_equal(log_count(f, "submit"), 1);
        free(rel);
    }
    assert_vmi_on(f, "vm1", "hv01");
    free(mig);
}

/* Pass by pass until VMIM m1 is in PHASE, the fake agents finishing what
 * they get (prepare Succeeded, migrate Running). */
static void drive_to(struct fixture *f, const char *phase)
{
    for (int i = 0; i < 60; i++) {
        json_t *o;
        bool there;
        const char *k;
        json_t *job;
        void *it;

        orch_feed_run(&f->srv);
        o = get(f, STORE_KIND_MIGRATION, "m1");
        there = strcmp(jstr(o, "status.phase"), phase) == 0;
        json_decref(o);
        if (there)
            return;
        assert_true(orch_controller_run(f->srv.controller) >= 0);
        fake_agent_flush(&f->fk);
        json_object_foreach_safe(f->fk.jobs, it, k, job)
        {
            const char *st = jstr(job, "state");
            if (strcmp(st, "Pending") != 0)
                continue;
            if (strstr(k, "-prepare"))
                fake_agent_set(&f->fk, k, "Succeeded", prepared());
            else if (strstr(k, "-migrate"))
                fake_agent_set(&f->fk, k, "Running", progress(1000, 400, 600));
        }
        fake_agent_now += 100;
    }
    fail_msg("m1 never reached %s", phase);
}

/* orchestratord restarted in each phase: the migration goes on from there
 * to Succeeded, and the agents got each job once. */
static void test_restart_in_each_phase(void **state)
{
    static const char *const phases[] = {
        "Pending",         "Scheduling",  "Scheduled",
        "PreparingTarget", "TargetReady", "Running",
    };
    struct fixture *f = *state;

    two_hosts(f);
    for (size_t i = 0; i < sizeof(phases) / sizeof(*phases); i++) {
        char name[16], *mig;

        /* One migration per phase, each back and forth: hv01 -> hv02,
         * then hv02 -> hv01 and so on. */
        assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/m1", NULL),
                         i ? 200 : 404);
        orch_feed_run(&f->srv);
        json_object_clear(f->fk.jobs);
        post_vmim(f, "m1", "vm1", NULL);
        drive_to(f, phases[i]);
        restart(f);
        drive_to(f, "Running");
        mig = job_of(f, "m1", "migrate");
        fake_agent_set(&f->fk, mig, "Succeeded", NULL);
        settle(f, 3);
        snprintf(name, sizeof(name), "%s", phases[i]);
        print_message("# restarted in %s\n", name);
        assert_phase(f, "m1", "Succeeded");
        assert_vmi_on(f, "vm1", i % 2 ? "hv01" : "hv02");
        /* A prepare and a migrate job, each submitted once. */
        assert_int_equal(json_object_size(f->fk.jobs), 2);
        assert_int_equal(log_count(f, "submit"), json_object_size(f->fk.jobs) -
                                                     (i >= 4 ? 1 : 0) -
                                                     (i >= 5 ? 1 : 0));
        free(mig);
    }
}

/* Restarted in TargetReady, the target having lost the prepare job and
 * the source never having got the migrate job: the prepare goes again,
 * then the migrate job, once each. */
static void test_restart_target_ready_prepare_lost(void **state)
{
    struct fixture *f = *state;
    char *prep, line[256];

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    drive_to(f, "TargetReady");
    prep = job_of(f, "m1", "prepare");
    restart(f);
    json_object_del(f->fk.jobs, prep);
    drive_to(f, "Running");
    snprintf(line, sizeof(line), "submit %s %s", URL("2"), prep);
    assert_true(logged(f, line));
    assert_int_equal(log_count(f, "submit"), 2);
    assert_vmi_on(f, "vm1", "hv01");
    free(prep);
}

/* An answer about another job than the one asked for is counted and
 * ignored: no answer for ours. */
static void test_unknown_job_answer(void **state)
{
    struct fixture *f = *state;

    to_running(f);
    f->fk.wrong_id = true;
    settle(f, 5);
    assert_phase(f, "m1", "Running");
    assert_outcome_unknown(f, "m1", "SourceUnreachable");
    assert_metric(f, "orchestrator_agent_messages_rejected_total{reason="
                     "\"unknown_job\"} ");
    {
        size_t len = 0;
        char *text = orch_metrics_render(&f->srv, &len);
        assert_null(strstr(text, "{reason=\"unknown_job\"} 0\n"));
        free(text);
    }
    f->fk.wrong_id = false;
    settle(f, 30);
    assert_outcome_unknown(f, "m1", NULL);
}

/* A controller stopped with calls in flight frees what they point to;
 * none comes back (the sanitizer build checks the memory). */
static void test_stop_with_calls_in_flight(void **state)
{
    struct fixture *f = *state;

    two_hosts(f);
    post_vmim(f, "m1", "vm1", NULL);
    orch_feed_run(&f->srv);
    for (int i = 0; i < 6 && !f->fk.calls; i++) {
        assert_true(orch_controller_run(f->srv.controller) >= 0);
        orch_feed_run(&f->srv);
    }
    assert_non_null(f->fk.calls);
    orch_controller_stop(f->srv.controller);
    assert_null(f->srv.controller);
    assert_null(f->fk.calls);
    controller_start(f);
}

/*
 * A VM made from a manifest (contract A.1 "vmi", A.3 copyStorage).
 */

/* VMI vm1 on hv01 with VOLUMES (a JSON array); owned by VirtualMachine vm1
 * when `owned`, else annotated as a domain discovered on the host. */
static void add_vmi_with(struct fixture *f, bool owned, const char *volumes)
{
    json_t *vols = json_loads(volumes, 0, NULL);
    json_t *v = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s, s:s}}, s:{s:{s:{s:{s:s}}},"
        " s:o},"
        " s:{s:s, s:s}}",
        "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
        "metadata", "name", "vm1", "namespace", "default", "uid",
        "4c1f8e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "resourceVersion", "17",
        "labels", "app", "web", "kubevirt.io/nodeName", "hv01", "spec",
        "domain", "resources", "requests", "memory", "1Gi", "volumes", vols,
        "status", "phase", "Running", "nodeName", "hv01");
    json_t *md = json_object_get(v, "metadata");

    assert_non_null(v);
    if (owned)
        json_object_set_new(md, "ownerReferences",
                            json_pack("[{s:s, s:s, s:s, s:s, s:b}]",
                                      "apiVersion", "kubevirt.io/v1", "kind",
                                      "VirtualMachine", "name", "vm1", "uid",
                                      "0b9e2d7c-3f4a-4b5c-9d6e-7f8091a2b3c4",
                                      "controller", 1));
    else
        json_object_set_new(
            md, "annotations",
            json_pack("{s:s}", "orchestrator.io/discovered", "true"));
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, v), 0);
    json_decref(v);
}

/* Migrates vm1 (m1) to the point where the migrate job is sent, the
 * target's prepare answering with a disksPort and an SR-IOV VF (its
 * "sriov" list, issue 12) when `disks`; returns the
 * prepare and migrate requests (borrowed from the fake). */
static void manifest_requests(struct fixture *f, bool disks,
                              const json_t **prep_req, const json_t **mig_req)
{
    char *prep, *mig;
    json_t *res = prepared();

    add_node(f, "hv01", URL("1"), "True", false, "16Gi", NULL);
    add_node(f, "hv02", URL("2"), "True", false, "16Gi", NULL);
    post_vmim(f, "m1", "vm1", NULL);
    settle(f, 5);
    assert_phase(f, "m1", "PreparingTarget");
    prep = job_of(f, "m1", "prepare");
    mig = job_of(f, "m1", "migrate");
    *prep_req = json_object_get(f->fk.requests, prep);
    assert_non_null(*prep_req);
    if (disks)
        json_object_set_new(json_object_get(res, "result"), "disksPort",
                            json_integer(49153));
    if (disks)
        json_object_set_new(json_object_get(res, "result"), "sriov",
                            json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "iface",
                                      "sriov-net1", "pf", "ens1f0", "pci",
                                      "0000:3b:02.1", "netdev", "ens1f0v1",
                                      "mac", "02:00:00:00:00:01"));
    fake_agent_set(&f->fk, prep, "Succeeded", res);
    settle(f, 5);
    assert_phase(f, "m1", "Running");
    *mig_req = json_object_get(f->fk.requests, mig);
    assert_non_null(*mig_req);
    free(prep);
    free(mig);
}

/* The target's prepare gets the VMI (metadata and spec, not the status)
 * and the source copies the containerDisk's local overlay. */
static void test_manifest_vm_container_disk(void **state)
{
    struct fixture *f = *state;
    const json_t *prep, *mig, *vmi;

    add_vmi_with(f, true,
                 "[{\"name\":\"containerdisk\",\"containerDisk\":{"
                 "\"image\":\"quay.io/containerdisks/fedora:39\"}},"
                 "{\"name\":\"cloudinit\",\"cloudInitNoCloud\":{"
                 "\"userData\":\"#cloud-config\\n\"}}]");
    manifest_requests(f, true, &prep, &mig);
    vmi = json_object_get(json_object_get(prep, "prepare"), "vmi");
    assert_non_null(vmi);
    assert_string_equal(jstr(vmi, "kind"), "VirtualMachineInstance");
    assert_string_equal(jstr(vmi, "metadata.name"), "vm1");
    assert_string_equal(jstr(vmi, "metadata.uid"),
                        "4c1f8e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6");
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(vmi, "metadata"), "ownerReferences")),
                     1);
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(vmi, "spec"), "volumes")),
                     2);
    assert_null(json_object_get(vmi, "status"));
    /* Nothing that changes as it migrates: the same body if sent again. */
    assert_null(
        json_object_get(json_object_get(vmi, "metadata"), "resourceVersion"));
    assert_string_equal(jstr(vmi, "metadata.labels.app"), "web");
    assert_null(json_object_get(
        json_object_get(json_object_get(vmi, "metadata"), "labels"),
        "kubevirt.io/nodeName"));
    assert_string_equal(jstr(prep, "domain"), "default_vm1");
    /* The source's libvirt is still named for the checks. */
    assert_string_equal(jstr(prep, "prepare.sourceLibvirtURI"),
                        "qemu+tcp://hv01/system");
    assert_string_equal(jstr(mig, "migrate.copyStorage"), "incremental");
    /* The copy goes to the NBD port the target gave. */
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(mig, "migrate"), "disksPort")),
                     49153);
    /* And the record's port map says so, as KubeVirt's does. */
    {
        json_t *o = get(f, STORE_KIND_MIGRATION, "m1");
        const json_t *ports = json_object_get(
            json_object_get(json_object_get(o, "status"), "migrationState"),
            "targetDirectMigrationNodePorts");
        assert_int_equal(json_object_size(ports), 2);
        assert_int_equal(json_integer_value(json_object_get(ports, "49153")),
                         49153);
        json_decref(o);
    }
    /* The target's VF reaches the source, for the destination XML. */
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(
                json_object_get(json_object_get(mig, "migrate"), "sriov"), 0),
            "netdev")),
        "ens1f0v1");
}

/* The source unplugged an SR-IOV NIC for the migration (its result's
 * "unplugged"): the migration stays Running until the target's plug job
 * ends, which gets the VMI; Succeeded after it.  A failed plug does not
 * fail the migration - the guest runs on the target. */
static void test_sriov_plug_after_migrate(void **state)
{
    struct fixture *f = *state;
    const json_t *prep, *mig, *req;
    char *mid, *pid;
    char want[256];

    add_vmi_with(f, true,
                 "[{\"name\":\"containerdisk\",\"containerDisk\":{"
                 "\"image\":\"quay.io/containerdisks/fedora:39\"}}]");
    manifest_requests(f, true, &prep, &mig);
    mid = job_of(f, "m1", "migrate");
    pid = job_of(f, "m1", "plug");
    fake_agent_set(&f->fk, mid, "Succeeded",
                   json_pack("{s:{s:s, s:[s]}}", "result", "mode", "PreCopy",
                             "unplugged", "sriov-net1"));
    settle(f, 5);
    /* Not Succeeded before the NIC is back. */
    assert_phase(f, "m1", "Running");
    snprintf(want, sizeof(want), "submit %s %s", URL("2"), pid);
    req = json_object_get(f->fk.requests, pid);
    assert_non_null(req);
    assert_string_equal(jstr(req, "type"), "plug");
    assert_string_equal(jstr(req, "domain"), "default_vm1");
    assert_string_equal(jstr(req, "plug.vmi.metadata.name"), "vm1");
    assert_true(logged(f, want)); /* to the target */
    fake_agent_set(&f->fk, pid, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason", "PlugFailed",
                             "message", "interface \"sriov-net1\": no"));
    settle(f, 5);
    assert_phase(f, "m1", "Succeeded");
    assert_vmi_on(f, "vm1", "hv02");
    free(mid);
    free(pid);
}

/* A VM from a manifest whose disks every host sees (a PVC on shared
 * storage): the target makes its seed, nothing is copied. */
static void test_manifest_vm_shared_disk(void **state)
{
    struct fixture *f = *state;
    const json_t *prep, *mig;

    add_vmi_with(f, true,
                 "[{\"name\":\"root\",\"persistentVolumeClaim\":{"
                 "\"claimName\":\"root\"}}]");
    manifest_requests(f, false, &prep, &mig);
    assert_non_null(json_object_get(json_object_get(prep, "prepare"), "vmi"));
    assert_string_equal(jstr(mig, "migrate.copyStorage"), "none");
    assert_null(json_object_get(json_object_get(mig, "migrate"), "disksPort"));
    assert_null(json_object_get(json_object_get(mig, "migrate"), "sriov"));
}

/* A domain started by hand (discovered), even one whose VMI names a
 * containerDisk: no files on the target, no disk copied. */
static void test_discovered_vm_no_files(void **state)
{
    struct fixture *f = *state;
    const json_t *prep, *mig;

    add_vmi_with(f, false,
                 "[{\"name\":\"containerdisk\",\"containerDisk\":{"
                 "\"image\":\"quay.io/containerdisks/fedora:39\"}}]");
    manifest_requests(f, false, &prep, &mig);
    assert_null(json_object_get(json_object_get(prep, "prepare"), "vmi"));
    /* (its domain's name is the discovered one, without the namespace) */
    assert_string_equal(jstr(prep, "domain"), "vm1");
    assert_string_equal(jstr(mig, "migrate.copyStorage"), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_phases_to_succeeded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limit_per_cluster, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_limit_per_source, setup, teardown),
        cmocka_unit_test(test_pick_target),
        cmocka_unit_test_setup_teardown(test_sriov_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_held_in_one_pass, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sriov_vfs_held_in_one_pass, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_sriov_vfs_held_by_migration_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_vfs_held_by_vm_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_target_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_down_fails_after_bound,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_unknown_fails_preparing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_target_libvirt_down_fails_preparing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_unknown_while_running,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_check_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migrate_job_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_running, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_running, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_with_submit_in_flight,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_too_late, setup, teardown),
        cmocka_unit_test(test_policy_precedence),
        cmocka_unit_test(test_policy_resolve),
        cmocka_unit_test_setup_teardown(test_policy_in_migration, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes_running, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes_preparing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_job_lost_target_runs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_job_lost_source_runs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_lost_both_run_until_bound,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_unreachable_then_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_unreachable_bound, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_job_final, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_in_each_phase, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_job_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_target_ready_prepare_lost,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_calls_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_manifest_vm_container_disk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_manifest_vm_shared_disk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sriov_plug_after_migrate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_discovered_vm_no_files, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
