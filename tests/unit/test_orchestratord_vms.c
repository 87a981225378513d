/*
 * Unit tests for the VM controller (orchestratord/vms.c) and the VM
 * subresources and admission in the handlers, with the agents faked at the
 * client seam (struct orch_agent_ops): the fake keeps a job table as a
 * migrator would and answers calls only when the test flushes them.  Nodes
 * come from real node reports (orch_hosts_report), so the VMI the
 * controller creates meets the reports' code as it would in a lab.
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
#include "orchestratord/hosts.h"
#include "orchestratord/orchd.h"
#include "tests/unit/support/fake_agent.h"
#include "tests/unit/support/orchd_call.h"
#include "orchestratord/vms.h"

#define VMS "/apis/kubevirt.io/v1/namespaces/default/virtualmachines"
#define VMIMS                                                                  \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"
#define SUB                                                                    \
    "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/"
#define URL(n) "http://198.18.0.1" n ":8443"

/*
 * Fixture.
 */

struct fixture {
    struct store *st;
    struct orch_server srv;
    struct fake_agent fk;
    struct http_response resp;
    json_t *body;
    char target[4096];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct orch_vms_opts o = {.clock_ms = fake_agent_clock};
    char err[256];

    assert_non_null(f);
    log_init("test_orchestratord_vms", LOG_LEVEL_ERROR);
    fake_agent_init(&f->fk);
    fake_agent_now = 1000000;
    assert_int_equal(store_open(":memory:", NULL, &f->st, err, sizeof(err)), 0);
    orch_server_init(&f->srv, f->st);
    o.agent.ops = &fake_agent_ops;
    o.agent.ctx = &f->fk;
    assert_int_equal(orch_vms_start(&f->srv, &o), 0);
    assert_non_null(f->srv.vms);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    http_response_clear(&f->resp);
    json_decref(f->body);
    orch_server_release(&f->srv);
    assert_null(f->srv.vms);
    store_close(f->st);
    fake_agent_clear(&f->fk);
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

static void settle(struct fixture *f, int turns)
{
    for (int i = 0; i < turns; i++) {
        orch_feed_run(&f->srv);
        assert_true(orch_vms_run(f->srv.vms) >= 0);
        fake_agent_flush(&f->fk);
        fake_agent_now += 100;
    }
    orch_feed_run(&f->srv);
}

/* A node report of NODE (agent URL, memory in GiB, an SR-IOV network
 * NET on PF ens1f0 with VFS VFs or none, VF 0 reserved for USED_BY when
 * not NULL, DOMAINS stolen or NULL for none), applied as a migrator's PUT
 * would be. */
static void report_vfs(struct fixture *f, const char *node, const char *url,
                       int gib, const char *net, int vfs, const char *used_by,
                       json_t *domains)
{
    json_t *r = json_pack(
        "{s:s, s:{s:s, s:s}, s:{s:i, s:I}, s:{s:s}, s:{s:s, s:s, s:s},"
        " s:o, s:[], s:[s]}",
        "name", node, "libvirt", "uri", "qemu:///system", "version", "9.0.0",
        "capacity", "cpus", 4, "memoryKiB", (json_int_t)gib * 1024 * 1024,
        "labels", "rack", "r1", "agent", "url", url, "version", "v0.1.0",
        "bootId", "boot1", "domains", domains ? domains : json_array(),
        "networks", "sharedStorage", "/srv/shared");
    struct api_errors errs = API_ERRORS_INIT;

    assert_non_null(r);
    if (net) {
        json_t *v = json_array();
        for (int i = 0; i < vfs; i++) {
            bool held = i == 0 && used_by;
            char pci[32];
            snprintf(pci, sizeof(pci), "0000:3b:02.%d", i);
            json_array_append_new(
                v, json_pack("{s:i, s:s, s:s, s:b, s:b, s:s?}", "index", i,
                             "pci", pci, "netdev", "", "reserved", held,
                             "inUse", held, "usedBy", held ? used_by : NULL));
        }
        json_array_append_new(json_object_get(r, "networks"),
                              json_pack("{s:s, s:s, s:s, s:i, s:i, s:o}",
                                        "name", net, "pf", "ens1f0", "mode",
                                        "macvtap", "totalVFs", vfs, "numVFs",
                                        vfs, "vfs", v));
    }
    assert_int_equal(orch_report_check(r, node, &errs), 0);
    assert_true(orch_hosts_report(&f->srv, node, r, fake_agent_now) >= 0);
    api_errors_clear(&errs);
    json_decref(r);
}

static void report(struct fixture *f, const char *node, const char *url,
                   int gib, const char *net, json_t *domains)
{
    report_vfs(f, node, url, gib, net, 4, NULL, domains);
}

static json_t *dom_running(const char *name)
{
    return json_pack("[{s:s, s:s, s:I, s:i, s:b}]", "name", name, "state",
                     "running", "memoryKiB", (json_int_t)1048576, "vcpus", 2,
                     "acpi", 1);
}

static const char *vm_manifest(const char *name, const char *run,
                               const char *mem, const char *net)
{
    static char buf[2048];
    snprintf(
        buf, sizeof(buf),
        "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\","
        "\"metadata\":{\"name\":\"%s\"},\"spec\":{%s,"
        "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
        "\"spec\":{\"terminationGracePeriodSeconds\":7,"
        "\"domain\":{\"cpu\":{\"cores\":2},\"memory\":{\"guest\":\"%s\"},"
        "\"devices\":{\"interfaces\":[{\"name\":\"default\",\"masquerade\":{}}"
        "%s]}},"
        "\"networks\":[{\"name\":\"default\",\"pod\":{}}%s]%s}}}}",
        name, run, mem,
        net ? ",{\"name\":\"net1\",\"sriov\":{},"
              "\"macAddress\":\"02:00:00:00:00:01\"}"
            : "",
        net ? ",{\"name\":\"net1\",\"multus\":{\"networkName\":\"sriov-net1\"}}"
            : "",
        /* An SR-IOV interface needs its static address (issue 12). */
        net ? ",\"volumes\":[{\"name\":\"cloudinit\",\"cloudInitNoCloud\":"
              "{\"networkData\":\"version: 2\\nethernets:\\n  e:\\n    "
              "match:\\n      macAddress: '02:00:00:00:00:01'\\n    "
              "addresses: [198.18.0.50/15]\\n\"}}]"
            : "");
    return buf;
}

static json_t *get(struct fixture *f, enum store_kind k, const char *name)
{
    json_t *o = NULL;
    if (store_get(f->st, k, "default", name, &o) < 0)
        return NULL;
    return o;
}

static const char *jstr(const json_t *doc, const char *path)
{
    const char *s = api_doc_get_string(doc, path);
    return s ? s : "(null)";
}

/* The condition TYPE of OBJ's status, or NULL. */
static const json_t *cond(const json_t *obj, const char *type)
{
    const json_t *conds =
        json_object_get(json_object_get(obj, "status"), "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++)
        if (strcmp(jstr(json_array_get(conds, i), "type"), type) == 0)
            return json_array_get(conds, i);
    return NULL;
}

static void assert_vm_status(struct fixture *f, const char *name,
                             const char *printable)
{
    json_t *vm = get(f, STORE_KIND_VM, name);
    assert_non_null(vm);
    if (strcmp(jstr(vm, "status.printableStatus"), printable) != 0)
        fail_msg("VM %s: printableStatus %s, expected %s: %s", name,
                 jstr(vm, "status.printableStatus"), printable,
                 json_dumps(json_object_get(vm, "status"), 0));
    json_decref(vm);
}

static char *job_id(struct fixture *f, const char *vmi, const char *kind)
{
    json_t *o = get(f, STORE_KIND_VMI, vmi);
    char *id = NULL;
    assert_non_null(o);
    assert_true(asprintf(&id, "%s-%s", jstr(o, "metadata.uid"), kind) > 0);
    json_decref(o);
    return id;
}

static int log_count(struct fixture *f, const char *prefix)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(f->fk.log); i++)
        n += strncmp(json_string_value(json_array_get(f->fk.log, i)), prefix,
                     strlen(prefix)) == 0;
    return n;
}

static void two_nodes(struct fixture *f)
{
    report(f, "hv01", URL("1"), 16, "sriov-net1", NULL);
    report(f, "hv02", URL("2"), 4, NULL, NULL);
}

/* vm1 posted (running) and its domain running on hv01. */
static void vm_running(struct fixture *f)
{
    char *start;

    two_nodes(f);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("vm1", "\"running\":true", "1Gi", NULL)),
                     201);
    settle(f, 4);
    start = job_id(f, "vm1", "start");
    fake_agent_set(&f->fk, start, "Succeeded", NULL);
    settle(f, 3);
    report(f, "hv01", URL("1"), 16, "sriov-net1", dom_running("default_vm1"));
    settle(f, 2);
    assert_vm_status(f, "vm1", "Running");
    free(start);
}

/*
 * Placement, the start job, the VMI record the reports update.
 */

static void test_vm_placed_started_reported(void **state)
{
    struct fixture *f = *state;
    json_t *vm, *vmi, *req, *refs;
    char *start, line[256], *uid;

    two_nodes(f);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("vm1", "\"running\":true", "1Gi", NULL)),
                     201);
    settle(f, 4);
    vm = get(f, STORE_KIND_VM, "vm1");
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    /* The record's shape: owned by the VM, placed on the node with the
     * most free memory, the template's labels and spec. */
    refs = json_object_get(json_object_get(vmi, "metadata"), "ownerReferences");
    assert_int_equal(json_array_size(refs), 1);
    assert_string_equal(jstr(json_array_get(refs, 0), "kind"),
                        "VirtualMachine");
    assert_string_equal(jstr(json_array_get(refs, 0), "uid"),
                        jstr(vm, "metadata.uid"));
    assert_true(
        json_is_true(json_object_get(json_array_get(refs, 0), "controller")));
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");
    assert_string_equal(jstr(vmi, "status.nodeName"), "hv01");
    assert_string_equal(jstr(vmi, "metadata.labels.app"), "web");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(vmi, "metadata"), "labels"),
            "vm.kubevirt.io/name")),
        "vm1");
    assert_string_equal(jstr(vmi, "spec.domain.memory.guest"), "1Gi");
    uid = strdup(jstr(vmi, "metadata.uid"));

    /* The start job: its id, the host, the VMI object. */
    start = job_id(f, "vm1", "start");
    snprintf(line, sizeof(line), "submit " URL("1") " %s", start);
    assert_int_equal(log_count(f, line), 1);
    req = json_object_get(f->fk.requests, start);
    assert_string_equal(jstr(req, "type"), "start");
    assert_string_equal(jstr(req, "domain"), "default_vm1");
    assert_string_equal(jstr(req, "start.vmi.metadata.uid"), uid);
    assert_string_equal(jstr(req, "start.vmi.metadata.namespace"), "default");
    assert_string_equal(jstr(req, "start.vmi.kind"), "VirtualMachineInstance");
    assert_string_equal(jstr(req, "start.vmi.spec.domain.memory.guest"), "1Gi");
    assert_null(json_object_get(json_object_get(req, "start"), "status"));
    assert_vm_status(f, "vm1", "Starting");

    /* A report that does not have the domain yet leaves it Scheduled,
     * also when compared with the store in full (the hosts' cache empty,
     * as after a restart of orchestratord). */
    orch_hosts_release(&f->srv);
    report(f, "hv01", URL("1"), 16, "sriov-net1", NULL);
    settle(f, 2);
    json_decref(vmi);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");

    fake_agent_set(&f->fk, start, "Succeeded", NULL);
    settle(f, 3);
    /* The domain's report updates the same record (same uid), not a new
     * one. */
    report(f, "hv01", URL("1"), 16, "sriov-net1", dom_running("default_vm1"));
    settle(f, 2);
    json_decref(vmi);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "metadata.uid"), uid);
    assert_string_equal(jstr(vmi, "status.phase"), "Running");
    assert_string_equal(jstr(vmi, "spec.domain.memory.guest"), "1Gi");
    assert_null(json_object_get(
        json_object_get(json_object_get(vmi, "metadata"), "annotations"),
        "orchestrator.io/discovered"));
    json_decref(vm);
    vm = get(f, STORE_KIND_VM, "vm1");
    assert_string_equal(jstr(vm, "status.printableStatus"), "Running");
    assert_true(
        json_is_true(json_object_get(json_object_get(vm, "status"), "ready")));
    assert_true(json_is_true(
        json_object_get(json_object_get(vm, "status"), "created")));
    assert_string_equal(jstr(cond(vm, "Ready"), "status"), "True");
    /* Nothing more was submitted. */
    assert_int_equal(log_count(f, "submit"), 1);
    /* The VM's story in its events: Starting, then Running. */
    {
        struct store_event_filter ef = {
            .kind = STORE_KIND_VM, .ns = "default", .name = "vm1"};
        json_t *evs = NULL;
        int n = store_event_list(f->srv.store, &ef, &evs);

        assert_true(n >= 2);
        assert_string_equal(jstr(json_array_get(evs, 0), "reason"), "Starting");
        assert_string_equal(jstr(json_array_get(evs, n - 1), "reason"),
                            "Running");
        assert_string_equal(jstr(json_array_get(evs, n - 1), "message"),
                            "VirtualMachine status is now Running, was "
                            "Starting.");
        json_decref(evs);
    }
    free(start);
    free(uid);
    json_decref(vm);
    json_decref(vmi);
}

/* An SR-IOV interface without a static MAC: 422 naming the field, and no
 * VM recorded (issue 12). */
static void test_vm_sriov_needs_static_mac(void **state)
{
    struct fixture *f = *state;
    char body[2048], *at;
    const char *mac = ",\"macAddress\":\"02:00:00:00:00:01\"}";
    json_t *o = NULL;

    two_nodes(f);
    snprintf(body, sizeof(body), "%s",
             vm_manifest("vm4", "\"running\":true", "1Gi", "sriov-net1"));
    at = strstr(body, mac);
    assert_non_null(at);
    memmove(at + 1, at + strlen(mac), strlen(at + strlen(mac)) + 1);
    *at = '}';
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS, body), 422);
    assert_int_equal(store_get(f->st, STORE_KIND_VM, "default", "vm4", &o),
                     -ENOENT);
}

static void test_vm_placement_rules(void **state)
{
    struct fixture *f = *state;
    json_t *vmi;

    two_nodes(f);
    /* Only hv01 has sriov-net1, although hv02 ... does not matter: the
     * network decides. */
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMS,
             vm_manifest("vm2", "\"running\":true", "2Gi", "sriov-net1")),
        201);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm2");
    assert_string_equal(jstr(vmi, "status.nodeName"), "hv01");
    json_decref(vmi);
}

static void test_vm_unschedulable_names_what_is_missing(void **state)
{
    struct fixture *f = *state;
    json_t *vmi, *vm;
    const char *msg;

    report(f, "hv02", URL("2"), 4, NULL, NULL);
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMS,
             vm_manifest("vm3", "\"running\":true", "1Gi", "sriov-net1")),
        201);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm3");
    assert_non_null(vmi);
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduling");
    assert_string_equal(jstr(vmi, "status.nodeName"), "(null)");
    assert_string_equal(jstr(cond(vmi, "PodScheduled"), "reason"),
                        "Unschedulable");
    msg = jstr(cond(vmi, "PodScheduled"), "message");
    if (!strstr(msg, "hv02: lacks network 'sriov-net1'"))
        fail_msg("message: %s", msg);
    vm = get(f, STORE_KIND_VM, "vm3");
    assert_string_equal(jstr(vm, "status.printableStatus"),
                        "ErrorUnschedulable");
    assert_string_equal(jstr(cond(vm, "PodScheduled"), "reason"),
                        "Unschedulable");
    assert_int_equal(log_count(f, "submit"), 0);
    json_decref(vm);
    json_decref(vmi);

    /* A node with the network comes: placed there, started. */
    report(f, "hv01", URL("1"), 16, "sriov-net1", NULL);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm3");
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");
    assert_string_equal(jstr(vmi, "status.nodeName"), "hv01");
    assert_string_equal(jstr(cond(vmi, "PodScheduled"), "status"), "True");
    assert_int_equal(log_count(f, "submit " URL("1")), 1);
    json_decref(vmi);
    assert_vm_status(f, "vm3", "Starting");
}

/* Placement counts the VFs of VMIs placed but not yet running (issue 12
 * leftover): hv01 has one free VF and the most memory; vm1 is placed there
 * and its start is under way, so vm2 goes to hv02 and vm3 fits nowhere,
 * with the reason; once hv01 reports vm1's VF as vm1's, it is not counted
 * twice. */
static void test_vm_placement_counts_vfs_in_flight(void **state)
{
    struct fixture *f = *state;
    json_t *vmi;
    const char *msg;

    report_vfs(f, "hv01", URL("1"), 16, "sriov-net1", 1, NULL, NULL);
    report_vfs(f, "hv02", URL("2"), 8, "sriov-net1", 1, NULL, NULL);
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMS,
             vm_manifest("vm1", "\"running\":true", "1Gi", "sriov-net1")),
        201);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");
    assert_string_equal(jstr(vmi, "status.nodeName"), "hv01");
    json_decref(vmi);

    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMS,
             vm_manifest("vm2", "\"running\":true", "1Gi", "sriov-net1")),
        201);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm2");
    assert_string_equal(jstr(vmi, "status.nodeName"), "hv02");
    json_decref(vmi);

    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMS,
             vm_manifest("vm3", "\"running\":true", "1Gi", "sriov-net1")),
        201);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm3");
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduling");
    msg = jstr(cond(vmi, "PodScheduled"), "message");
    if (strcmp(msg, "0/2 nodes are available: hv01: PF 'ens1f0' (network "
                    "'sriov-net1') has no free VF (1 free, 1 held by work in "
                    "flight: default/vm1); hv02: PF 'ens1f0' (network "
                    "'sriov-net1') has no free VF (1 free, 1 held by work in "
                    "flight: default/vm2)") != 0)
        fail_msg("message: %s", msg);
    json_decref(vmi);

    /* A migration of another SR-IOV VMI toward hv02, preparing the
     * target: it holds one of hv02's VFs as well. */
    {
        json_t *vmx = get(f, STORE_KIND_VMI, "vm2"), *mig;
        json_object_set_new(json_object_get(vmx, "metadata"), "name",
                            json_string("vmx"));
        json_object_del(json_object_get(vmx, "metadata"), "uid");
        json_object_del(json_object_get(vmx, "metadata"), "resourceVersion");
        json_object_del(json_object_get(vmx, "metadata"), "ownerReferences");
        json_object_set_new(json_object_get(vmx, "status"), "phase",
                            json_string("Running"));
        json_object_set_new(json_object_get(vmx, "status"), "nodeName",
                            json_string("hv09"));
        assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmx), 0);
        json_decref(vmx);
        mig = json_pack(
            "{s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:{s:s, s:{s:s, s:s}}}",
            "apiVersion", "kubevirt.io/v1", "kind",
            "VirtualMachineInstanceMigration", "metadata", "name", "mx",
            "namespace", "default", "spec", "vmiName", "vmx", "status", "phase",
            "PreparingTarget", "migrationState", "sourceNode", "hv09",
            "targetNode", "hv02");
        assert_int_equal(store_create(f->st, STORE_KIND_MIGRATION, mig), 0);
        json_decref(mig);
    }
    report_vfs(f, "hv02", URL("2"), 8, "sriov-net1", 2, NULL, NULL);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm3");
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduling");
    msg = jstr(cond(vmi, "PodScheduled"), "message");
    if (!strstr(msg, "hv02: PF 'ens1f0' (network 'sriov-net1') has no free VF "
                     "(2 free, 2 held by work in flight: default/vmx, "
                     "default/vm2)"))
        fail_msg("message: %s", msg);
    json_decref(vmi);

    /* hv01's migrator reserved vm1's VF and a second VF showed up: the
     * report counts vm1's, placement does not count it again. */
    report_vfs(f, "hv01", URL("1"), 16, "sriov-net1", 2, "default_vm1", NULL);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");
    json_decref(vmi);
    vmi = get(f, STORE_KIND_VMI, "vm3");
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");
    assert_string_equal(jstr(vmi, "status.nodeName"), "hv01");
    json_decref(vmi);
}

/* Placement counts the memory of a migration heading to a node: hv01 has
 * the most memory (4 GiB) but a 2Gi guest is migrating to it, so the 2Gi
 * VM goes to hv02 (3 GiB free). */
static void test_vm_placement_counts_migration_memory(void **state)
{
    struct fixture *f = *state;
    json_t *o;

    report_vfs(f, "hv01", URL("1"), 4, NULL, 0, NULL, NULL);
    report_vfs(f, "hv02", URL("2"), 3, NULL, 0, NULL, NULL);
    o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}}, s:{s:s, s:s}}",
                  "apiVersion", "kubevirt.io/v1", "kind",
                  "VirtualMachineInstance", "metadata", "name", "vmx",
                  "namespace", "default", "spec", "domain", "memory", "guest",
                  "2Gi", "status", "phase", "Running", "nodeName", "hv09");
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, o), 0);
    json_decref(o);
    o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:{s:s, s:{s:s, s:s}}}",
                  "apiVersion", "kubevirt.io/v1", "kind",
                  "VirtualMachineInstanceMigration", "metadata", "name", "mx",
                  "namespace", "default", "spec", "vmiName", "vmx", "status",
                  "phase", "Running", "migrationState", "sourceNode", "hv09",
                  "targetNode", "hv01");
    assert_int_equal(store_create(f->st, STORE_KIND_MIGRATION, o), 0);
    json_decref(o);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("vm1", "\"running\":true", "2Gi", NULL)),
                     201);
    settle(f, 3);
    o = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(o, "status.nodeName"), "hv02");
    json_decref(o);
}

static void test_pick_node_reasons(void **state)
{
    json_t *nodes = json_array(), *vmi;
    const json_t *got = NULL;
    char msg[1024];
    (void)state;

    json_array_append_new(
        nodes, json_pack("{s:{s:s, s:{s:s}}, s:{s:[{s:s, s:s}], s:{s:s, s:s}}}",
                         "metadata", "name", "a", "annotations",
                         "orchestrator.io/agent-url", URL("1"), "status",
                         "conditions", "type", "Ready", "status", "Unknown",
                         "capacity", "memory", "8Gi", "cpu", "4"));
    json_array_append_new(
        nodes, json_pack("{s:{s:s, s:{s:s}}, s:{s:[{s:s, s:s}], s:{s:s, s:s}}}",
                         "metadata", "name", "b", "annotations",
                         "orchestrator.io/agent-url", URL("2"), "status",
                         "conditions", "type", "Ready", "status", "True",
                         "capacity", "memory", "1Gi", "cpu", "4"));
    json_array_append_new(
        nodes, json_pack("{s:{s:s, s:{s:s}}, s:{s:[{s:s, s:s}], s:{s:s, s:s}}}",
                         "metadata", "name", "c", "annotations",
                         "orchestrator.io/agent-url", URL("3"), "status",
                         "conditions", "type", "Ready", "status", "True",
                         "capacity", "memory", "8Gi", "cpu", "1"));
    vmi = json_pack("{s:{s:{s:{s:i}, s:{s:s}}}}", "spec", "domain", "cpu",
                    "cores", 2, "memory", "guest", "2Gi");
    assert_int_equal(orch_vm_pick_node(nodes, vmi, (int64_t)2 << 30, NULL, NULL,
                                       NULL, &got, msg, sizeof(msg)),
                     -ENOENT);
    assert_string_equal(msg, "0/3 nodes are available: a: not Ready; b: "
                             "insufficient memory: 1Gi free, the VM needs "
                             "2Gi; c: 1 CPUs, the VM needs 2");
    json_decref(vmi);
    json_decref(nodes);
}

static void test_vm_start_job_failed(void **state)
{
    struct fixture *f = *state;
    json_t *vm, *vmi;
    char *start;

    two_nodes(f);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("vm1", "\"running\":true", "1Gi", NULL)),
                     201);
    settle(f, 3);
    start = job_id(f, "vm1", "start");
    fake_agent_set(
        &f->fk, start, "Failed",
        json_pack("{s:{s:s, s:s}}", "error", "reason", "InvalidSpec", "message",
                  "spec.networks[1].multus.networkName: \"x\" is not a "
                  "network of this host"));
    settle(f, 4);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "status.phase"), "Failed");
    assert_string_equal(jstr(cond(vmi, "Synchronized"), "reason"),
                        "InvalidSpec");
    vm = get(f, STORE_KIND_VM, "vm1");
    assert_string_equal(jstr(cond(vm, "Failure"), "status"), "True");
    assert_string_equal(jstr(cond(vm, "Failure"), "reason"), "InvalidSpec");
    assert_non_null(strstr(jstr(cond(vm, "Failure"), "message"),
                           "spec.networks[1].multus.networkName"));
    assert_string_equal(jstr(vm, "status.printableStatus"), "Stopped");
    /* Not tried again by itself: the host said why. */
    fake_agent_now += 60000;
    settle(f, 5);
    assert_int_equal(log_count(f, "submit"), 1);
    json_decref(vm);
    json_decref(vmi);
    free(start);
}

static void test_vm_stop_then_start(void **state)
{
    struct fixture *f = *state;
    json_t *vmi, *vm, *req;
    char *stop, *uid1;

    vm_running(f);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    uid1 = strdup(jstr(vmi, "metadata.uid"));
    json_decref(vmi);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/stop", NULL), 202);
    settle(f, 3);
    stop = job_id(f, "vm1", "stop");
    req = json_object_get(f->fk.requests, stop);
    assert_non_null(req);
    assert_string_equal(jstr(req, "type"), "stop");
    assert_string_equal(jstr(req, "domain"), "default_vm1");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(req, "stop"), "gracePeriodS")),
                     7);
    /* Until the domain is gone the record stays. */
    assert_vm_status(f, "vm1", "Stopping");
    fake_agent_set(&f->fk, stop, "Succeeded", NULL);
    settle(f, 3);
    assert_null(get(f, STORE_KIND_VMI, "vm1"));
    vm = get(f, STORE_KIND_VM, "vm1");
    assert_string_equal(jstr(vm, "status.printableStatus"), "Stopped");
    assert_true(
        json_is_false(json_object_get(json_object_get(vm, "spec"), "running")));
    assert_true(json_is_false(
        json_object_get(json_object_get(vm, "status"), "created")));
    json_decref(vm);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/stop", NULL), 409);
    assert_string_equal(jstr(f->body, "message"), "VM is not running");

    /* start: a new VMI, a new uid, a new start job. */
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/start", NULL), 202);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    assert_string_not_equal(jstr(vmi, "metadata.uid"), uid1);
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");
    assert_int_equal(log_count(f, "submit"), 3);
    json_decref(vmi);
    free(uid1);
    free(stop);
}

static void test_vm_restart(void **state)
{
    struct fixture *f = *state;
    json_t *vmi, *vm;
    char *stop, *uid1;

    vm_running(f);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    uid1 = strdup(jstr(vmi, "metadata.uid"));
    json_decref(vmi);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/restart", NULL), 202);
    settle(f, 3);
    stop = job_id(f, "vm1", "stop");
    fake_agent_set(&f->fk, stop, "Succeeded", NULL);
    settle(f, 5);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    assert_string_not_equal(jstr(vmi, "metadata.uid"), uid1);
    vm = get(f, STORE_KIND_VM, "vm1");
    /* The requests were answered and are gone; the VM still runs. */
    assert_null(
        json_object_get(json_object_get(vm, "status"), "stateChangeRequests"));
    assert_true(
        json_is_true(json_object_get(json_object_get(vm, "spec"), "running")));
    assert_string_equal(jstr(vm, "status.printableStatus"), "Starting");
    json_decref(vm);
    json_decref(vmi);
    free(uid1);
    free(stop);
}

static void test_vm_manual(void **state)
{
    struct fixture *f = *state;
    json_t *vmi;
    char *stop;

    two_nodes(f);
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMS,
             vm_manifest("vm1", "\"runStrategy\":\"Manual\"", "1Gi", NULL)),
        201);
    settle(f, 3);
    assert_null(get(f, STORE_KIND_VMI, "vm1"));
    assert_vm_status(f, "vm1", "Stopped");
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/start", NULL), 202);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    json_decref(vmi);
    stop = job_id(f, "vm1", "start");
    fake_agent_set(&f->fk, stop, "Succeeded", NULL);
    free(stop);
    settle(f, 2);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/start", NULL), 409);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/stop", NULL), 202);
    settle(f, 3);
    stop = job_id(f, "vm1", "stop");
    fake_agent_set(&f->fk, stop, "Succeeded", NULL);
    settle(f, 3);
    assert_null(get(f, STORE_KIND_VMI, "vm1"));
    assert_vm_status(f, "vm1", "Stopped");
    free(stop);
}

static void test_vm_delete_stops_and_removes(void **state)
{
    struct fixture *f = *state;
    json_t *vmi;
    char *stop;

    vm_running(f);
    stop = job_id(f, "vm1", "stop");
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMS "/vm1", NULL), 200);
    settle(f, 3);
    assert_non_null(json_object_get(f->fk.requests, stop));
    /* The domain runs until the stop job ends: the record stays. */
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    json_decref(vmi);
    fake_agent_set(&f->fk, stop, "Succeeded", NULL);
    settle(f, 3);
    assert_null(get(f, STORE_KIND_VMI, "vm1"));
    free(stop);
}

static void test_vm_host_dies(void **state)
{
    struct fixture *f = *state;
    json_t *vmi;

    vm_running(f);
    /* hv01 falls silent past the grace period: NodeStatusUnknown. */
    fake_agent_now += (f->srv.settings.node_grace_s + 1) * 1000;
    report(f, "hv02", URL("2"), 4, NULL, NULL);
    assert_true(orch_hosts_tick(&f->srv, fake_agent_now) >= 1);
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi); /* not taken away */
    assert_string_equal(jstr(vmi, "status.phase"), "Unknown");
    assert_string_equal(jstr(cond(vmi, "Ready"), "status"), "Unknown");
    assert_string_equal(jstr(vmi, "status.nodeName"), "hv01");
    assert_vm_status(f, "vm1", "Unknown");
    json_decref(vmi);
    /* Nothing was started elsewhere: a VM runs on one host at most. */
    assert_int_equal(log_count(f, "submit " URL("2")), 0);
    /* The node comes back with the domain: Running again. */
    report(f, "hv01", URL("1"), 16, "sriov-net1", dom_running("default_vm1"));
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "status.phase"), "Running");
    json_decref(vmi);
    assert_vm_status(f, "vm1", "Running");
}

static void test_vm_repost_changes_nothing(void **state)
{
    struct fixture *f = *state;
    const char *m = vm_manifest("vm1", "\"running\":true", "1Gi", NULL);
    json_t *vmi;
    char *uid;

    vm_running(f);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    uid = strdup(jstr(vmi, "metadata.uid"));
    json_decref(vmi);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS, m), 409);
    assert_string_equal(jstr(f->body, "reason"), "AlreadyExists");
    settle(f, 5);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "metadata.uid"), uid);
    assert_int_equal(log_count(f, "submit"), 1);
    json_decref(vmi);
    free(uid);
}

/* Always: a domain that crashed is stopped (undefined) and started again
 * as a new VMI, after ORCH_VMS_RESTART_DELAY_S. */
static void test_vm_always_restarts_after_crash(void **state)
{
    struct fixture *f = *state;
    json_t *vmi, *dom;
    char *uid1, *stop;

    vm_running(f);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    uid1 = strdup(jstr(vmi, "metadata.uid"));
    json_decref(vmi);
    dom = json_pack("[{s:s, s:s, s:s, s:I, s:i}]", "name", "default_vm1",
                    "state", "crashed", "stateReason", "panicked", "memoryKiB",
                    (json_int_t)1048576, "vcpus", 2);
    report(f, "hv01", URL("1"), 16, "sriov-net1", dom);
    settle(f, 2);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_string_equal(jstr(vmi, "status.phase"), "Failed");
    json_decref(vmi);
    assert_int_equal(log_count(f, "submit"), 1); /* not yet */
    fake_agent_now += ORCH_VMS_RESTART_DELAY_S * 1000;
    settle(f, 2);
    stop = job_id(f, "vm1", "stop");
    fake_agent_set(&f->fk, stop, "Succeeded", NULL);
    settle(f, 4);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    assert_string_not_equal(jstr(vmi, "metadata.uid"), uid1);
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduled");
    assert_int_equal(log_count(f, "submit"), 3); /* start, stop, start */
    json_decref(vmi);
    free(stop);
    free(uid1);
}

/* A VMI never placed has nothing on a host: deleting its VM removes it
 * without a job. */
static void test_vm_delete_unplaced(void **state)
{
    struct fixture *f = *state;
    json_t *vmi;

    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("vm1", "\"running\":true", "1Gi", NULL)),
                     201);
    settle(f, 2);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    assert_string_equal(jstr(vmi, "status.phase"), "Scheduling");
    json_decref(vmi);
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMS "/vm1", NULL), 200);
    settle(f, 2);
    assert_null(get(f, STORE_KIND_VMI, "vm1"));
    assert_int_equal(json_array_size(f->fk.log), 0);
}

/* A stop job that fails: the VMI stays (the domain may run), the VM says
 * why. */
static void test_vm_stop_failed(void **state)
{
    struct fixture *f = *state;
    json_t *vm, *vmi;
    char *stop;

    vm_running(f);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/stop", NULL), 202);
    settle(f, 3);
    stop = job_id(f, "vm1", "stop");
    fake_agent_set(&f->fk, stop, "Failed",
                   json_pack("{s:{s:s, s:s}}", "error", "reason", "StopFailed",
                             "message", "virDomainDestroy: no"));
    settle(f, 3);
    vmi = get(f, STORE_KIND_VMI, "vm1");
    assert_non_null(vmi);
    vm = get(f, STORE_KIND_VM, "vm1");
    assert_string_equal(jstr(cond(vm, "Failure"), "reason"), "StopFailed");
    assert_string_equal(jstr(cond(vm, "Failure"), "message"),
                        "virDomainDestroy: no");
    assert_string_equal(jstr(vm, "status.printableStatus"), "Stopping");
    json_decref(vm);
    json_decref(vmi);
    free(stop);
}

/* The report shows the domain running before the start job's end was
 * seen: the job is still followed, and a stop is not held forever. */
static void test_vm_report_overtakes_start_job(void **state)
{
    struct fixture *f = *state;
    char *start, *stop;

    two_nodes(f);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("vm1", "\"running\":true", "1Gi", NULL)),
                     201);
    settle(f, 2);
    start = job_id(f, "vm1", "start");
    report(f, "hv01", URL("1"), 16, "sriov-net1", dom_running("default_vm1"));
    settle(f, 2);
    assert_vm_status(f, "vm1", "Running");
    /* The job ends only now. */
    fake_agent_set(&f->fk, start, "Succeeded", NULL);
    settle(f, 12);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB "vm1/stop", NULL), 202);
    settle(f, 3);
    stop = job_id(f, "vm1", "stop");
    assert_non_null(json_object_get(f->fk.requests, stop));
    fake_agent_set(&f->fk, stop, "Succeeded", NULL);
    settle(f, 3);
    assert_null(get(f, STORE_KIND_VMI, "vm1"));
    free(stop);
    free(start);
}

/* A restarted orchestratord asks for the start job before it submits. */
static void test_vm_controller_restart_asks_first(void **state)
{
    struct fixture *f = *state;
    struct orch_vms_opts o = {.clock_ms = fake_agent_clock};
    char *start, line[256];

    two_nodes(f);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("vm1", "\"running\":true", "1Gi", NULL)),
                     201);
    settle(f, 2);
    start = job_id(f, "vm1", "start");
    orch_vms_stop(f->srv.vms);
    o.agent.ops = &fake_agent_ops;
    o.agent.ctx = &f->fk;
    assert_int_equal(orch_vms_start(&f->srv, &o), 0);
    settle(f, 2);
    snprintf(line, sizeof(line), "get " URL("1") " %s", start);
    assert_true(log_count(f, line) >= 1);
    assert_int_equal(log_count(f, "submit"), 1);
    free(start);
}

/*
 * Admission.
 */

static void test_vm_memory_beyond_every_host(void **state)
{
    struct fixture *f = *state;
    const json_t *causes;

    /* No node yet: nothing to compare with. */
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMS,
             vm_manifest("big0", "\"running\":false", "64Gi", NULL)),
        201);
    two_nodes(f);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMS,
                          vm_manifest("big", "\"running\":true", "32Gi", NULL)),
                     422);
    causes = json_object_get(json_object_get(f->body, "details"), "causes");
    assert_string_equal(jstr(json_array_get(causes, 0), "field"),
                        "spec.template.spec.domain.memory.guest");
    assert_non_null(strstr(jstr(f->body, "message"),
                           "more memory than any node has (the largest has "
                           "16Gi)"));
    assert_null(get(f, STORE_KIND_VM, "big"));
}

static void test_vm_bad_network_data(void **state)
{
    struct fixture *f = *state;
    const char *m =
        "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\","
        "\"metadata\":{\"name\":\"nd\"},\"spec\":{\"running\":false,"
        "\"template\":{\"spec\":{\"domain\":{\"memory\":{\"guest\":\"1Gi\"},"
        "\"devices\":{\"disks\":[{\"name\":\"ci\",\"disk\":{}}]}},"
        "\"volumes\":[{\"name\":\"ci\",\"cloudInitNoCloud\":{\"networkData\":"
        "\"version: 3\\nethernets: {}\\n\"}}]}}}}";

    assert_int_equal(call(f, HTTP_METHOD_POST, VMS, m), 422);
    assert_non_null(
        strstr(jstr(f->body, "message"),
               "spec.template.spec.volumes[0].cloudInitNoCloud.networkData"));
    assert_non_null(strstr(jstr(f->body, "message"), "unsupported version 3"));
}

static void test_migration_refused_for_pod_bridge(void **state)
{
    struct fixture *f = *state;
    json_t *v;

    two_nodes(f);
    v = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:[{s:s, s:{}}]}}, s:[{s:s, s:{}}]},"
        " s:{s:s, s:s}}",
        "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
        "metadata", "name", "br", "namespace", "default", "spec", "domain",
        "devices", "interfaces", "name", "default", "bridge", "networks",
        "name", "default", "pod", "status", "phase", "Running", "nodeName",
        "hv01");
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, v), 0);
    json_decref(v);
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIMS,
             "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
             "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
             "\"m\"},\"spec\":{\"vmiName\":\"br\"}}"),
        422);
    assert_non_null(
        strstr(jstr(f->body, "message"), "Reason: InterfaceNotLiveMigratable"));
    assert_non_null(strstr(jstr(f->body, "message"),
                           "spec.domain.devices.interfaces[0].bridge"));
}

static void test_migration_refused_for_local_hostdisk(void **state)
{
    struct fixture *f = *state;
    json_t *v;

    two_nodes(f); /* they declare /srv/shared */
    v = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{}, s:[{s:s, s:{s:s, s:s}},"
                  " {s:s, s:{s:s, s:s}}]}, s:{s:s, s:s}}",
                  "apiVersion", "kubevirt.io/v1", "kind",
                  "VirtualMachineInstance", "metadata", "name", "hd",
                  "namespace", "default", "spec", "domain", "volumes", "name",
                  "shared", "hostDisk", "path", "/srv/shared/vm/a.img", "type",
                  "Disk", "name", "local", "hostDisk", "path",
                  "/var/lib/local.img", "type", "Disk", "status", "phase",
                  "Running", "nodeName", "hv01");
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, v), 0);
    json_decref(v);
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIMS,
             "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
             "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
             "\"m\"},\"spec\":{\"vmiName\":\"hd\"}}"),
        422);
    assert_non_null(
        strstr(jstr(f->body, "message"), "Reason: DisksNotLiveMigratable"));
    assert_non_null(
        strstr(jstr(f->body, "message"), "spec.volumes[1].hostDisk.path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vm_placed_started_reported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_sriov_needs_static_mac, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_placement_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_vm_unschedulable_names_what_is_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_placement_counts_vfs_in_flight,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_vm_placement_counts_migration_memory, setup, teardown),
        cmocka_unit_test(test_pick_node_reasons),
        cmocka_unit_test_setup_teardown(test_vm_start_job_failed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_stop_then_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_manual, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_delete_stops_and_removes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_host_dies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_always_restarts_after_crash,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_delete_unplaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_stop_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_report_overtakes_start_job,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_repost_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_controller_restart_asks_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_memory_beyond_every_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_bad_network_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migration_refused_for_pod_bridge,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_migration_refused_for_local_hostdisk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
