/*
 * Unit tests for orchestratord/hosts: node reports through orch_handle()
 * against a store in a temporary file (so a second server can open it as
 * a restarted orchestratord would), the domain -> VMI rules, the node
 * state machine and the node credential's 403 matrix.
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
#include "orchestratord/hosts.h"
#include "orchestratord/orchd.h"
#include "tests/unit/support/orchd_call.h"

#define REPORTS   "/apis/agent.orchestrator.io/v1/nodereports/"
#define NODES     "/api/v1/nodes"
#define VMIS      "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"
#define TOK_ADMIN "Bearer admin-0123456789abcdef"
#define TOK_VIEW  "Bearer viewer-0123456789abcdef"
#define TOK_A     "Bearer host-a-0123456789abcdef"

struct fixture {
    char dir[64];
    char db[128];
    struct store *st;
    struct orch_server srv;
    struct http_response resp;
    json_t *body;
    char target[4096];
};

static void server_open(struct fixture *f)
{
    char err[256];
    assert_int_equal(store_open(f->db, NULL, &f->st, err, sizeof(err)), 0);
    orch_server_init(&f->srv, f->st);
}

static void server_close(struct fixture *f)
{
    orch_server_release(&f->srv);
    store_close(f->st);
    f->st = NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    log_init("test_orchestratord_hosts", LOG_LEVEL_ERROR);
    strcpy(f->dir, "/tmp/orch-hosts-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/orch.db", f->dir);
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
                const char *body, const char *ctype, const char *auth)
{
    struct orchd_call c = {.method = m,
                           .target = target,
                           .body = body,
                           .content_type = ctype,
                           .authorization = auth};
    return orchd_call(&f->srv, &c, &f->resp, &f->body, f->target,
                      sizeof(f->target));
}

static const char *jstr(const json_t *doc, const char *path)
{
    const char *s = api_doc_get_string(doc, path);
    return s ? s : "(null)";
}

static int64_t rv_now(struct fixture *f)
{
    int64_t rv = -1;
    assert_int_equal(store_resource_version(f->st, &rv), 0);
    return rv;
}

/* A domain as the migrator reports it.  Disks shared unless said. */
static json_t *dom(const char *name, const char *state, const char *reason)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:b, s:I, s:I, s:b, s:b, s:i,"
        " s:[{s:s, s:s, s:s, s:s, s:[s]}],"
        " s:[{s:s, s:s, s:s, s:s, s:b, s:b}, {s:s, s:s, s:s, s:s, s:b, s:b}]}",
        "name", name, "uuid", "0b5c2b52-47d6-4a76-8a55-3a3e0bd2b0d1", "state",
        state, "stateReason", reason, "id", 1, "persistent", 1, "memoryKiB",
        (json_int_t)2097152, "vcpus", (json_int_t)2, "migrating", 0, "acpi", 1,
        "hostdevs", 0, "interfaces", "name", "vnet0", "mac",
        "52:54:00:aa:bb:01", "type", "bridge", "source", "br0", "ipAddresses",
        "198.18.1.10", "disks", "target", "vda", "device", "disk", "source",
        "/srv/shared/a.qcow2", "type", "file", "shared", 1, "readonly", 0,
        "target", "sda", "device", "cdrom", "source", "/var/lib/seed.iso",
        "type", "file", "shared", 0, "readonly", 1);
}

/* A whole report of NODE with DOMAINS (stolen; NULL: libvirt down).
 * Like the migrator's, each has a new generation and refreshedAt. */
static char *report(const char *node, json_t *domains)
{
    static int generation;
    char when[API_TIME_LEN];
    json_t *r = json_pack(
        "{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:s, s:s}, s:{s:i, s:I},"
        " s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s},"
        " s:[{s:s, s:s, s:s, s:i, s:i, s:i, s:[{s:i, s:s, s:s, s:s, s:s,"
        " s:n, s:b}, {s:i, s:s, s:s, s:s, s:s, s:n, s:b}]}],"
        " s:i, s:s}",
        "name", node, "addresses", "type", "Hostname", "address", node, "type",
        "InternalIP", "address", "198.18.0.11", "libvirt", "uri",
        "qemu:///system", "version", "9.0.0", "hostUUID",
        "4c4c4544-0042-3010-8052-b4c04f4e4432", "capacity", "cpus", 8,
        "memoryKiB", (json_int_t)16777216, "labels", "rack", "r1", "agent",
        "url", "http://198.18.0.11:8081", "version", "v0.1.0", "bootId",
        "b00700000000", "nodeInfo", "libvirtVersion", "9.0.0",
        "hypervisorVersion", "7.2.0", "cpuModel", "Skylake-Client-IBRS", "arch",
        "x86_64", "kernelVersion", "6.1.0-13-amd64", "networks", "name",
        "sriov-net1", "pf", "ens1f0", "mode", "hostdev", "vlan", 0, "totalVFs",
        2, "numVFs", 2, "vfs", "index", 0, "pci", "0000:3b:02.0", "netdev",
        "ens1f0v0", "driver", "iavf", "mac", "52:54:00:00:00:01", "vlan",
        "reserved", 0, "index", 1, "pci", "0000:3b:02.1", "netdev", "ens1f0v1",
        "driver", "vfio-pci", "mac", "52:54:00:00:00:02", "vlan", "reserved", 0,
        "generation", ++generation, "refreshedAt", "");
    char *text;
    assert_non_null(r);
    api_time_format(1796205600 + generation, when);
    json_object_set_new(r, "refreshedAt", json_string(when));
    json_object_set_new(json_object_get(r, "agent"), "libvirtPeerURI",
                        json_string("qemu+tcp://198.18.0.11/system"));
    if (domains) {
        json_object_set_new(r, "domains", domains);
    } else {
        json_object_set_new(r, "domains", json_null());
        json_object_set_new(json_object_get(r, "libvirt"), "error",
                            json_string("cannot connect: no such socket"));
        json_object_del(r, "capacity");
    }
    text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return text;
}

static int put_report(struct fixture *f, const char *node, json_t *domains,
                      const char *auth)
{
    char path[256];
    char *text = report(node, domains);
    int code;
    snprintf(path, sizeof(path), REPORTS "%s", node);
    code = call(f, HTTP_METHOD_PUT, path, text, "application/json", auth);
    free(text);
    return code;
}

/* GET a record; returns the document (borrowed from the fixture). */
static json_t *get(struct fixture *f, const char *path)
{
    if (call(f, HTTP_METHOD_GET, path, NULL, NULL, NULL) != 200)
        fail_msg("GET %s: %d %s", path, f->resp.status,
                 f->resp.body ? f->resp.body : "");
    return f->body;
}

static json_t *cond(json_t *doc, const char *type)
{
    json_t *cs = json_object_get(json_object_get(doc, "status"), "conditions");
    for (size_t i = 0; i < json_array_size(cs); i++)
        if (strcmp(jstr(json_array_get(cs, i), "type"), type) == 0)
            return json_array_get(cs, i);
    return NULL;
}

static void assert_cond(json_t *doc, const char *type, const char *status,
                        const char *reason)
{
    json_t *c = cond(doc, type);
    if (!c)
        fail_msg("no condition %s", type);
    assert_string_equal(jstr(c, "status"), status);
    if (reason)
        assert_string_equal(jstr(c, "reason"), reason);
}

static json_t *doms(json_t *first, ...)
{
    json_t *a = json_array();
    va_list ap;
    va_start(ap, first);
    for (json_t *d = first; d; d = va_arg(ap, json_t *))
        json_array_append_new(a, d);
    va_end(ap);
    return a;
}

/*
 * Pure rules.
 */

static void test_domain_phase(void **state)
{
    (void)state;
    assert_string_equal(orch_domain_phase("running", "booted", true, NULL),
                        "Running");
    assert_string_equal(orch_domain_phase("paused", "user", true, "Running"),
                        "Running");
    assert_string_equal(orch_domain_phase("idle", "unknown", true, NULL),
                        "Running");
    assert_string_equal(
        orch_domain_phase("pmsuspended", "unknown", false, NULL), "Running");
    assert_string_equal(
        orch_domain_phase("shut off", "destroyed", true, "Running"), "Failed");
    assert_string_equal(
        orch_domain_phase("shut off", "destroyed", false, "Running"),
        "Succeeded");
    assert_string_equal(
        orch_domain_phase("shut off", "shutdown", true, "Running"),
        "Succeeded");
    assert_string_equal(orch_domain_phase("shut off", "saved", true, "Running"),
                        "Succeeded");
    assert_string_equal(
        orch_domain_phase("shut off", "from snapshot", true, "Running"),
        "Succeeded");
    assert_string_equal(
        orch_domain_phase("crashed", "panicked", false, "Running"), "Failed");
    assert_string_equal(
        orch_domain_phase("shut off", "crashed", false, "Running"), "Failed");
    /* The domain left: the phase is the previous one. */
    assert_string_equal(
        orch_domain_phase("shut off", "migrated", true, "Running"), "Running");
    assert_string_equal(
        orch_domain_phase("shut off", "unknown", true, "Succeeded"),
        "Succeeded");
    /* New records whose state says nothing more. */
    assert_string_equal(orch_domain_phase("shut off", "unknown", true, NULL),
                        "Succeeded");
    assert_string_equal(orch_domain_phase("shut off", "failed", true, ""),
                        "Failed");
    assert_string_equal(orch_domain_phase("no state", NULL, true, NULL),
                        "Pending");
}

static void test_domain_vmi_name(void **state)
{
    char ns[64], name[254];
    const char *why = NULL;
    char long_name[300];
    (void)state;

    assert_int_equal(orch_domain_vmi_name("web-1", ns, name, &why), 0);
    assert_string_equal(ns, "default");
    assert_string_equal(name, "web-1");
    assert_int_equal(orch_domain_vmi_name("prod_db.a", ns, name, &why), 0);
    assert_string_equal(ns, "prod");
    assert_string_equal(name, "db.a");
    /* Split at the first '_': the rest must be a valid name. */
    assert_int_equal(orch_domain_vmi_name("prod_db_a", ns, name, &why),
                     -EINVAL);
    assert_non_null(strstr(why, "after '_'"));
    assert_int_equal(orch_domain_vmi_name("Prod_db", ns, name, &why), -EINVAL);
    assert_non_null(strstr(why, "namespace"));
    assert_int_equal(orch_domain_vmi_name("_db", ns, name, &why), -EINVAL);
    assert_int_equal(orch_domain_vmi_name("a.b_db", ns, name, &why), -EINVAL);
    assert_int_equal(orch_domain_vmi_name("Win10", ns, name, &why), -EINVAL);
    assert_non_null(strstr(why, "not a valid name"));
    assert_int_equal(orch_domain_vmi_name("", ns, name, &why), -EINVAL);
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(orch_domain_vmi_name(long_name, ns, name, &why), -EINVAL);
}

static void test_node_ready_eval(void **state)
{
    struct orch_node_obs o = {.last_seen_ms = 1000,
                              .reported = ORCH_NODE_READY_TRUE};
    (void)state;

    /* Within the grace period: what was reported. */
    assert_int_equal(orch_node_ready_eval(&o, 1000, 40000),
                     ORCH_NODE_READY_TRUE);
    assert_int_equal(orch_node_ready_eval(&o, 41000, 40000),
                     ORCH_NODE_READY_TRUE);
    /* Past it: Unknown. */
    assert_int_equal(orch_node_ready_eval(&o, 41001, 40000),
                     ORCH_NODE_READY_UNKNOWN);
    /* A new report: back to Ready. */
    o.last_seen_ms = 50000;
    assert_int_equal(orch_node_ready_eval(&o, 50001, 40000),
                     ORCH_NODE_READY_TRUE);
    /* libvirt down: False while reports come, Unknown when they stop. */
    o.reported = ORCH_NODE_READY_FALSE;
    assert_int_equal(orch_node_ready_eval(&o, 60000, 40000),
                     ORCH_NODE_READY_FALSE);
    assert_int_equal(orch_node_ready_eval(&o, 90001, 40000),
                     ORCH_NODE_READY_UNKNOWN);
    /* Unknown before a restart stays Unknown until a report. */
    o.reported = ORCH_NODE_READY_UNKNOWN;
    assert_int_equal(orch_node_ready_eval(&o, 50001, 40000),
                     ORCH_NODE_READY_UNKNOWN);
    assert_string_equal(orch_node_ready_name(ORCH_NODE_READY_FALSE), "False");
}

/*
 * Reports.
 */

static void test_report_makes_node_and_vmis(void **state)
{
    struct fixture *f = *state;
    json_t *d3 = dom("prod_db", "running", "booted"), *n, *v, *ifs;

    /* prod/db: a disk not shared; a host device on "gpu". */
    json_object_set_new(json_array_get(json_object_get(d3, "disks"), 0),
                        "shared", json_false());
    assert_int_equal(
        put_report(f, "host-a",
                   doms(dom("web-1", "running", "booted"), d3,
                        json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "name",
                                  "gpu", "state", "paused", "stateReason",
                                  "user", "memoryKiB", (json_int_t)1000,
                                  "vcpus", (json_int_t)1, "hostdevs", 1),
                        dom("Win10", "running", "booted"),
                        dom("off-1", "shut off", "destroyed"), NULL),
                   NULL),
        200);
    assert_string_equal(jstr(f->body, "kind"), "NodeReportResult");
    assert_int_equal(json_integer_value(
                         json_object_get(f->body, "heartbeatIntervalSeconds")),
                     ORCH_HOSTS_REPORT_INTERVAL_S);

    n = get(f, NODES "/host-a");
    assert_string_equal(jstr(n, "metadata.labels.rack"), "r1");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(n, "metadata"), "labels"),
            "kubernetes.io/hostname")),
        "host-a");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(n, "metadata"), "annotations"),
            "orchestrator.io/agent-url")),
        "http://198.18.0.11:8081");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(n, "metadata"), "annotations"),
            "orchestrator.io/libvirt-peer-uri")),
        "qemu+tcp://198.18.0.11/system");
    assert_string_equal(jstr(n, "status.capacity.cpu"), "8");
    assert_string_equal(jstr(n, "status.capacity.memory"), "16Gi");
    assert_string_equal(jstr(n, "status.allocatable.memory"), "16Gi");
    assert_string_equal(jstr(n, "status.nodeInfo.kubeletVersion"), "v0.1.0");
    assert_string_equal(jstr(n, "status.nodeInfo.systemUUID"),
                        "4c4c4544-0042-3010-8052-b4c04f4e4432");
    assert_string_equal(jstr(n, "status.nodeInfo.cpuModel"),
                        "Skylake-Client-IBRS");
    assert_string_equal(jstr(n, "status.nodeInfo.architecture"), "x86_64");
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(n, "status"), "addresses")),
                     2);
    {
        json_t *net = json_array_get(
            json_object_get(json_object_get(n, "status"), "sriovNetworks"), 0);
        assert_string_equal(jstr(net, "pf"), "ens1f0");
        assert_int_equal(json_integer_value(json_object_get(net, "vfsFree")),
                         1);
        assert_int_equal(json_integer_value(json_object_get(net, "vfsInUse")),
                         1);
        /* The VFs are under status.sriov, by PF. */
        assert_null(json_object_get(net, "vfs"));
        net = json_array_get(
            json_object_get(
                json_object_get(json_object_get(n, "status"), "sriov"), "pfs"),
            0);
        assert_string_equal(jstr(net, "name"), "ens1f0");
        assert_string_equal(json_string_value(json_array_get(
                                json_object_get(net, "networks"), 0)),
                            "sriov-net1");
        assert_int_equal(json_integer_value(json_object_get(net, "totalVFs")),
                         2);
        assert_int_equal(json_integer_value(json_object_get(net, "vfsFree")),
                         1);
        /* This report is an older migrator's, without "inUse": a VF on
         * vfio-pci counts as in use. */
        assert_true(json_is_false(json_object_get(
            json_array_get(json_object_get(net, "vfs"), 0), "inUse")));
        assert_true(json_is_true(json_object_get(
            json_array_get(json_object_get(net, "vfs"), 1), "inUse")));
    }
    {
        json_t *sk =
            json_object_get(json_object_get(n, "status"), "skippedDomains");
        assert_int_equal(json_array_size(sk), 1);
        assert_string_equal(jstr(json_array_get(sk, 0), "name"), "Win10");
        assert_non_null(
            strstr(jstr(json_array_get(sk, 0), "reason"), "not a valid name"));
    }
    assert_cond(n, "Ready", "True", "KubeletReady");
    assert_non_null(json_string_value(
        json_object_get(cond(n, "Ready"), "lastHeartbeatTime")));
    assert_non_null(json_string_value(
        json_object_get(cond(n, "Ready"), "lastTransitionTime")));

    v = get(f, VMIS "/web-1");
    assert_string_equal(jstr(v, "status.phase"), "Running");
    assert_string_equal(jstr(v, "status.nodeName"), "host-a");
    assert_string_equal(jstr(v, "spec.domain.resources.requests.memory"),
                        "2Gi");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(
                json_object_get(json_object_get(v, "spec"), "domain"), "cpu"),
            "cores")),
        2);
    ifs = json_object_get(json_object_get(v, "status"), "interfaces");
    assert_int_equal(json_array_size(ifs), 1);
    assert_string_equal(jstr(json_array_get(ifs, 0), "mac"),
                        "52:54:00:aa:bb:01");
    assert_string_equal(jstr(json_array_get(ifs, 0), "ipAddress"),
                        "198.18.1.10");
    assert_cond(v, "Ready", "True", NULL);
    /* A read-only cdrom seed does not make it unmigratable. */
    assert_cond(v, "LiveMigratable", "True", NULL);
    assert_null(cond(v, "Paused"));

    v = get(f, "/apis/kubevirt.io/v1/namespaces/prod/"
               "virtualmachineinstances/db");
    assert_string_equal(jstr(v, "status.nodeName"), "host-a");
    assert_cond(v, "LiveMigratable", "False", "DisksNotLiveMigratable");

    v = get(f, VMIS "/gpu");
    assert_string_equal(jstr(v, "status.phase"), "Running");
    assert_cond(v, "Paused", "True", "PausedByUser");
    assert_cond(v, "LiveMigratable", "False", "HostDeviceNotLiveMigratable");

    v = get(f, VMIS "/off-1");
    assert_string_equal(jstr(v, "status.phase"), "Failed"); /* acpi */
    assert_cond(v, "Ready", "False", "DomainNotRunning");

    assert_int_equal(call(f, HTTP_METHOD_GET, VMIS "/win10", NULL, NULL, NULL),
                     404);
}

static void test_identical_report_writes_nothing(void **state)
{
    struct fixture *f = *state;
    int64_t rv;
    char *nodes1, *nodes2;

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("web-1", "running", "booted"),
                                     dom("web-2", "running", "booted"), NULL),
                                NULL),
                     200);
    rv = rv_now(f);
    assert_int_equal(call(f, HTTP_METHOD_GET, NODES, NULL, NULL, NULL), 200);
    nodes1 = strdup(f->resp.body);
    /* The same picture (its generation and refreshedAt differ in real
     * reports; here the whole body is the same). */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("web-1", "running", "booted"),
                                     dom("web-2", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(rv_now(f), rv);
    /* A second server on the same file (no cache): the stored records are
     * compared and still nothing is written. */
    server_close(f);
    server_open(f);
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("web-1", "running", "booted"),
                                     dom("web-2", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(rv_now(f), rv);
    assert_int_equal(call(f, HTTP_METHOD_GET, NODES, NULL, NULL, NULL), 200);
    nodes2 = strdup(f->resp.body);
    assert_string_equal(nodes1, nodes2);
    free(nodes1);
    free(nodes2);

    /* A change in one domain writes that VMI only. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("web-1", "paused", "user"),
                                     dom("web-2", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(rv_now(f), rv + 1);
    assert_cond(get(f, VMIS "/web-1"), "Paused", "True", "PausedByUser");
}

static void test_domain_vanishes_and_stops(void **state)
{
    struct fixture *f = *state;
    json_t *noacpi = dom("c", "shut off", "destroyed");
    json_object_set_new(noacpi, "acpi", json_false());

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("a", "running", "booted"),
                                     dom("b", "running", "booted"),
                                     dom("c", "running", "booted"),
                                     dom("d", "running", "booted"), NULL),
                                NULL),
                     200);
    /* a vanished, b destroyed with ACPI, c destroyed without, d shut
     * down by its guest. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("b", "shut off", "destroyed"), noacpi,
                                     dom("d", "shut off", "shutdown"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/a"), "status.phase"), "Failed");
    assert_string_equal(jstr(f->body, "status.nodeName"), "host-a");
    assert_cond(f->body, "Ready", "False", "DomainNotFound");
    assert_string_equal(jstr(get(f, VMIS "/b"), "status.phase"), "Failed");
    assert_string_equal(jstr(get(f, VMIS "/c"), "status.phase"), "Succeeded");
    assert_string_equal(jstr(get(f, VMIS "/d"), "status.phase"), "Succeeded");
    /* Started again: Running. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("d", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/d"), "status.phase"), "Running");
    /* The vanished one stays, final. */
    assert_string_equal(jstr(get(f, VMIS "/a"), "status.phase"), "Failed");
}

static json_t *incoming(const char *name)
{
    json_t *d = dom(name, "paused", "incoming migration");
    json_object_set_new(d, "migrating", json_true());
    return d;
}

static json_t *outgoing(const char *name)
{
    json_t *d = dom(name, "running", "booted");
    json_object_set_new(d, "migrating", json_true());
    return d;
}

static void test_migration_keeps_source(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(put_report(f, "host-b", doms(NULL, NULL), NULL), 200);
    /* The migration runs: the target has it paused, incoming. */
    assert_int_equal(put_report(f, "host-a", doms(outgoing("vm"), NULL), NULL),
                     200);
    assert_int_equal(put_report(f, "host-b", doms(incoming("vm"), NULL), NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-a");
    /* Switch-over: both run it for a moment; the source still owns it. */
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm", "running", "migrated"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-a");
    /* The source reports it gone: it moves to the node that runs it. */
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), NULL), 200);
    get(f, VMIS "/vm");
    assert_string_equal(jstr(f->body, "status.nodeName"), "host-b");
    assert_string_equal(jstr(f->body, "status.phase"), "Running");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(f->body, "metadata"), "labels"),
            "kubevirt.io/nodeName")),
        "host-b");
    /* The old source's next report does not take it back. */
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), NULL), 200);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-b");
}

static void test_migration_source_reports_first(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(put_report(f, "host-b", doms(NULL, NULL), NULL), 200);
    assert_int_equal(put_report(f, "host-a", doms(outgoing("vm"), NULL), NULL),
                     200);
    /* Gone from the source while it was migrating, before the target
     * reported: not Failed, still on the source... */
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), NULL), 200);
    get(f, VMIS "/vm");
    assert_string_equal(jstr(f->body, "status.phase"), "Running");
    assert_string_equal(jstr(f->body, "status.nodeName"), "host-a");
    /* ... until the target reports it running. */
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm", "running", "migrated"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-b");

    /* Shut off with reason "migrated" on the source (kept defined), the
     * target running it: it moves too. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm2", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm", "running", "booted"),
                                     dom("vm2", "running", "migrated"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/vm2"), "status.nodeName"), "host-a");
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm2", "shut off", "migrated"), NULL),
                                NULL),
                     200);
    get(f, VMIS "/vm2");
    assert_string_equal(jstr(f->body, "status.nodeName"), "host-b");
    assert_string_equal(jstr(f->body, "status.phase"), "Running");
}

static void test_grace_unknown_ready(void **state)
{
    struct fixture *f = *state;
    int64_t now = orch_hosts_clock_ms();
    int64_t rv;

    f->srv.settings.node_grace_s = 40;
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"),
                                     dom("off", "shut off", "shutdown"), NULL),
                                NULL),
                     200);
    rv = rv_now(f);
    assert_int_equal(orch_hosts_tick(&f->srv, now + 39000), 0);
    assert_int_equal(rv_now(f), rv);
    assert_int_equal(orch_hosts_tick(&f->srv, now + 45000), 1);
    assert_cond(get(f, NODES "/host-a"), "Ready", "Unknown",
                "NodeStatusUnknown");
    assert_string_equal(jstr(cond(f->body, "Ready"), "message"),
                        "migrator stopped posting node status");
    get(f, VMIS "/vm");
    assert_string_equal(jstr(f->body, "status.phase"), "Running");
    assert_string_equal(jstr(f->body, "status.nodeName"), "host-a");
    assert_cond(f->body, "Ready", "Unknown", "NodeUnreachable");
    /* A final VMI is left alone. */
    assert_cond(get(f, VMIS "/off"), "Ready", "False", NULL);
    /* Once is enough. */
    rv = rv_now(f);
    assert_int_equal(orch_hosts_tick(&f->srv, now + 50000), 0);
    assert_int_equal(rv_now(f), rv);
    /* It reports again: Ready, and so are its VMIs. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"),
                                     dom("off", "shut off", "shutdown"), NULL),
                                NULL),
                     200);
    assert_cond(get(f, NODES "/host-a"), "Ready", "True", "KubeletReady");
    assert_cond(get(f, VMIS "/vm"), "Ready", "True", NULL);
}

static void test_libvirt_unreachable(void **state)
{
    struct fixture *f = *state;
    int64_t rv;

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    rv = rv_now(f);
    assert_int_equal(put_report(f, "host-a", NULL, NULL), 200);
    assert_int_equal(rv_now(f), rv + 1); /* the node, not the VMI */
    assert_cond(get(f, NODES "/host-a"), "Ready", "False",
                "LibvirtUnreachable");
    assert_non_null(
        strstr(jstr(cond(f->body, "Ready"), "message"), "no such socket"));
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.phase"), "Running");
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_cond(get(f, NODES "/host-a"), "Ready", "True", "KubeletReady");
}

static void test_restart_keeps_picture(void **state)
{
    struct fixture *f = *state;
    int64_t now, rv;
    char *before, *text;
    json_t *rep;

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm2", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIS, NULL, NULL, NULL), 200);
    before = strdup(f->resp.body);
    rv = rv_now(f);

    /* orchestratord restarts, say 60 s later: the stored heartbeats are
     * old, but each node gets a fresh grace period from start-up. */
    server_close(f);
    server_open(f);
    now = orch_hosts_clock_ms();
    assert_int_equal(orch_hosts_load(&f->srv, now), 0);
    assert_int_equal(orch_hosts_tick(&f->srv, now + 5000), 0);
    assert_int_equal(rv_now(f), rv);
    assert_cond(get(f, NODES "/host-a"), "Ready", "True", NULL);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIS, NULL, NULL, NULL), 200);
    assert_string_equal(f->resp.body, before);
    free(before);
    /* host-a keeps reporting (30 s after start-up); host-b fell silent
     * meanwhile. */
    text = report("host-a", doms(dom("vm", "running", "booted"), NULL));
    rep = json_loads(text, 0, NULL);
    assert_non_null(rep);
    assert_int_equal(orch_hosts_report(&f->srv, "host-a", rep, now + 30000), 0);
    json_decref(rep);
    free(text);
    assert_int_equal(orch_hosts_tick(&f->srv, now + 41000), 1);
    assert_cond(get(f, NODES "/host-b"), "Ready", "Unknown", NULL);
    assert_cond(get(f, NODES "/host-a"), "Ready", "True", NULL);
    /* An owner not heard from since the restart keeps its VMI: host-a
     * reporting vm2 does not take it. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"),
                                     dom("vm2", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/vm2"), "status.nodeName"), "host-b");
}

static void test_unschedulable_kept(void **state)
{
    struct fixture *f = *state;
    json_t *n;
    char *text;

    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), NULL), 200);
    assert_int_equal(call(f, HTTP_METHOD_PATCH, NODES "/host-a",
                          "{\"spec\":{\"unschedulable\":true},"
                          "\"status\":{\"phase\":\"x\"}}",
                          "application/merge-patch+json", NULL),
                     200);
    assert_true(json_is_true(
        json_object_get(json_object_get(f->body, "spec"), "unschedulable")));
    /* The status stays the report's. */
    assert_string_equal(jstr(f->body, "status.phase"), "(null)");
    /* A report that changes the node keeps the cordon. */
    assert_int_equal(
        put_report(f, "host-a",
                   doms(dom("vm", "running", "booted"),
                        dom("Bad_Name", "running", "booted"), NULL),
                   NULL),
        200);
    n = get(f, NODES "/host-a");
    assert_true(json_is_true(
        json_object_get(json_object_get(n, "spec"), "unschedulable")));
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(n, "status"), "skippedDomains")),
                     1);
    /* PUT (update) works too, and the status is kept. */
    json_object_set_new(json_object_get(n, "spec"), "unschedulable",
                        json_false());
    json_object_del(n, "status");
    text = json_dumps(n, JSON_COMPACT);
    assert_int_equal(call(f, HTTP_METHOD_PUT, NODES "/host-a", text,
                          "application/json", NULL),
                     200);
    free(text);
    assert_cond(get(f, NODES "/host-a"), "Ready", "True", NULL);
    assert_false(json_is_true(
        json_object_get(json_object_get(f->body, "spec"), "unschedulable")));
    /* A patch that is not an object, and an unknown spec field. */
    assert_int_equal(call(f, HTTP_METHOD_PATCH, NODES "/host-a", "[1]",
                          "application/merge-patch+json", NULL),
                     400);
    assert_int_equal(call(f, HTTP_METHOD_PATCH, NODES "/host-a",
                          "{\"spec\":{\"nope\":1}}",
                          "application/merge-patch+json", NULL),
                     422);
    assert_int_equal(call(f, HTTP_METHOD_PATCH, NODES "/nope",
                          "{\"spec\":{\"unschedulable\":true}}",
                          "application/merge-patch+json", NULL),
                     404);
}

static void set_tokens(struct fixture *f)
{
    static const struct {
        const char *name, *token;
        enum orch_role role;
    } t[] = {
        {"admin", "admin-0123456789abcdef", ORCH_ROLE_ADMIN},
        {"viewer", "viewer-0123456789abcdef", ORCH_ROLE_VIEWER},
        {"host-a", "host-a-0123456789abcdef", ORCH_ROLE_NODE},
    };
    f->srv.settings.tokens = calloc(3, sizeof(*f->srv.settings.tokens));
    assert_non_null(f->srv.settings.tokens);
    for (size_t i = 0; i < 3; i++) {
        f->srv.settings.tokens[i].name = strdup(t[i].name);
        f->srv.settings.tokens[i].token = strdup(t[i].token);
        f->srv.settings.tokens[i].role = t[i].role;
    }
    f->srv.settings.n_tokens = 3;
}

static void test_node_role_matrix(void **state)
{
    struct fixture *f = *state;
    static const char vmim[] =
        "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
        "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":\"m\"},"
        "\"spec\":{\"vmiName\":\"vm\"}}";
    static const struct {
        enum http_method m;
        const char *path;
        const char *body;
        int code;
    } cases[] = {
        {HTTP_METHOD_GET, NODES, NULL, 200},
        {HTTP_METHOD_GET, NODES "/host-a", NULL, 200},
        {HTTP_METHOD_GET, NODES "?watch=true&timeoutSeconds=1", NULL, 200},
        {HTTP_METHOD_GET, VMIS, NULL, 200},
        {HTTP_METHOD_GET, VMIS "/vm", NULL, 200},
        {HTTP_METHOD_GET, "/apis/kubevirt.io/v1/virtualmachineinstances", NULL,
         200},
        {HTTP_METHOD_GET, "/version", NULL, 200},
        {HTTP_METHOD_GET,
         "/apis/kubevirt.io/v1/namespaces/default/"
         "virtualmachineinstancemigrations",
         NULL, 403},
        {HTTP_METHOD_POST,
         "/apis/kubevirt.io/v1/namespaces/default/"
         "virtualmachineinstancemigrations",
         vmim, 403},
        {HTTP_METHOD_GET,
         "/apis/kubevirt.io/v1/namespaces/default/virtualmachines", NULL, 403},
        {HTTP_METHOD_PUT,
         "/apis/subresources.kubevirt.io/v1/namespaces/default/"
         "virtualmachines/vm/stop",
         NULL, 403},
        {HTTP_METHOD_GET,
         "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies", NULL, 403},
        {HTTP_METHOD_PATCH, NODES "/host-a", "{\"spec\":{}}", 403},
        {HTTP_METHOD_PUT, NODES "/host-a", "{}", 403},
        {HTTP_METHOD_DELETE, VMIS "/vm", NULL, 403},
    };
    char *text;

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    set_tokens(f);
    /* Its own report; another node's; no token; the viewer; the admin. */
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), TOK_A), 200);
    assert_int_equal(put_report(f, "host-b", doms(NULL, NULL), TOK_A), 403);
    assert_string_equal(jstr(f->body, "reason"), "Forbidden");
    assert_non_null(strstr(jstr(f->body, "message"),
                           "node \"host-a\" may only report for itself"));
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), NULL), 401);
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), TOK_VIEW), 403);
    assert_int_equal(put_report(f, "host-b", doms(NULL, NULL), TOK_ADMIN), 200);
    text = report("host-a", doms(NULL, NULL));
    assert_int_equal(call(f, HTTP_METHOD_POST, REPORTS "host-a", text,
                          "application/json", TOK_A),
                     405);
    free(text);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/agent.orchestrator.io/v1/x", NULL, NULL,
                          TOK_A),
                     404);

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int code = call(f, cases[i].m, cases[i].path, cases[i].body,
                        "application/json", TOK_A);
        if (code != cases[i].code)
            fail_msg("%s %s: %d, expected %d", http_method_name(cases[i].m),
                     cases[i].path, code, cases[i].code);
        if (code == 403)
            assert_non_null(
                strstr(jstr(f->body, "message"), "node \"host-a\" cannot"));
        /* A watch's stream is started by the glue; free it here. */
        if (f->resp.stream_start)
            orch_watch_free(f->resp.stream_arg);
        f->resp.stream_start = NULL;
    }
    /* The admin may cordon. */
    assert_int_equal(call(f, HTTP_METHOD_PATCH, NODES "/host-a",
                          "{\"spec\":{\"unschedulable\":true}}",
                          "application/merge-patch+json", TOK_ADMIN),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_PATCH, NODES "/host-a",
                          "{\"spec\":{\"unschedulable\":true}}",
                          "application/merge-patch+json", TOK_VIEW),
                     403);
}

static void test_hostile_bodies(void **state)
{
    struct fixture *f = *state;
    char *deep, *huge, *p;
    int64_t rv;
    size_t n;
    static const struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"[]", "report must be an object"},
        {"\"x\"", "report must be an object"},
        {"{\"domains\":{}}", "domains"},
        {"{\"domains\":[1]}", "domains[0]"},
        {"{\"domains\":[{\"name\":\"a\"}]}", "domains[0].state"},
        {"{\"domains\":[{\"name\":7,\"state\":\"running\"}]}",
         "domains[0].name"},
        {"{\"domains\":[{\"name\":\"a\",\"state\":\"running\","
         "\"memoryKiB\":-1}]}",
         "domains[0].memoryKiB"},
        {"{\"domains\":[{\"name\":\"a\",\"state\":\"running\","
         "\"interfaces\":[{\"ipAddresses\":[1]}]}]}",
         "domains[0].interfaces[0].ipAddresses[0]"},
        {"{\"domains\":[{\"name\":\"a\",\"state\":\"running\","
         "\"disks\":[{\"shared\":\"yes\"}]}]}",
         "domains[0].disks[0].shared"},
        {"{\"labels\":{\"a\":1}}", "labels.a"},
        {"{\"capacity\":{\"cpus\":\"8\"}}", "capacity.cpus"},
        {"{\"networks\":[{\"name\":\"n\",\"vfs\":[{\"index\":\"0\"}]}]}",
         "networks[0].vfs[0].index"},
        {"{\"name\":\"host-b\"}", "not the node of the URL"},
        {"{\"addresses\":[{\"type\":\"InternalIP\"}]}", "addresses[0].address"},
        {"{\"domains\":", NULL},
        {"", NULL},
    };

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    rv = rv_now(f);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        int code = call(f, HTTP_METHOD_PUT, REPORTS "host-a", bad[i].body,
                        "application/json", NULL);
        if (code != 400)
            fail_msg("body %s: %d", bad[i].body, code);
        if (bad[i].field && !strstr(jstr(f->body, "message"), bad[i].field))
            fail_msg("body %s: message '%s' lacks '%s'", bad[i].body,
                     jstr(f->body, "message"), bad[i].field);
    }
    /* Deeper than the limit. */
    n = f->srv.settings.api_limits.max_depth + 5;
    deep = calloc(1, 2 * n + 64);
    assert_non_null(deep);
    p = deep + sprintf(deep, "{\"labels\":");
    for (size_t i = 0; i < n; i++)
        *p++ = '[';
    for (size_t i = 0; i < n; i++)
        *p++ = ']';
    strcpy(p, "}");
    assert_int_equal(call(f, HTTP_METHOD_PUT, REPORTS "host-a", deep,
                          "application/json", NULL) /
                         100,
                     4);
    free(deep);
    /* More items than the limit in one array. */
    n = f->srv.settings.api_limits.max_items + 1;
    huge = calloc(1, 2 * n + 64);
    assert_non_null(huge);
    p = huge + sprintf(huge, "{\"domains\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s1", i ? "," : "");
    strcpy(p, "]}");
    assert_int_equal(call(f, HTTP_METHOD_PUT, REPORTS "host-a", huge,
                          "application/json", NULL),
                     413);
    free(huge);
    /* The last good report with bytes after it: not taken for a repeat. */
    {
        char *text =
            report("host-a", doms(dom("vm", "running", "booted"), NULL));
        size_t len = strlen(text);
        char *bad_tail = malloc(len + 8);
        assert_non_null(bad_tail);
        assert_int_equal(call(f, HTTP_METHOD_PUT, REPORTS "host-a", text,
                              "application/json", NULL),
                         200);
        memcpy(bad_tail, text, len);
        strcpy(bad_tail + len, " {}");
        assert_int_equal(call(f, HTTP_METHOD_PUT, REPORTS "host-a", bad_tail,
                              "application/json", NULL),
                         400);
        free(bad_tail);
        free(text);
    }
    /* A body over the size limit. */
    f->srv.settings.api_limits.max_body_bytes = 64;
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), NULL), 413);
    /* A bad node name in the URL. */
    assert_int_equal(call(f, HTTP_METHOD_PUT, REPORTS "Host_A", "{}",
                          "application/json", NULL),
                     400);
    assert_int_equal(rv_now(f), rv);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.phase"), "Running");
}

/*
 * Report order and conflicting claims (issue 10).
 */

/* PUT a report of NODE with DOMAINS (stolen) from migrator run BOOT, push
 * SEQ, as JSON (or YAML when YAML: the decoded path). */
static int put_seq(struct fixture *f, const char *node, const char *boot,
                   long seq, json_t *domains, bool yaml)
{
    char path[256], *text = report(node, domains), *out;
    json_t *r = json_loads(text, 0, NULL);
    int code;

    assert_non_null(r);
    json_object_set_new(r, "bootId", json_string(boot));
    json_object_set_new(r, "sequence", json_integer(seq));
    out = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    free(text);
    if (yaml) {
        /* JSON is YAML, but a leading comment keeps orch_jscan out. */
        char *y = NULL;
        assert_true(asprintf(&y, "# yaml\n%s", out) > 0);
        free(out);
        out = y;
    }
    snprintf(path, sizeof(path), REPORTS "%s", node);
    code = call(f, HTTP_METHOD_PUT, path, out,
                yaml ? "application/yaml" : "application/json", NULL);
    free(out);
    return code;
}

static bool ignored(struct fixture *f)
{
    return json_is_true(json_object_get(f->body, "ignored"));
}

static void assert_rejected(struct fixture *f, const char *reason, int n)
{
    size_t len = 0;
    char *text = orch_metrics_render(&f->srv, &len), line[160];
    assert_non_null(text);
    snprintf(line, sizeof(line),
             "orchestrator_agent_messages_rejected_total{reason=\"%s\"} %d\n",
             reason, n);
    if (!strstr(text, line))
        fail_msg("no '%s' in:\n%s", line, text);
    free(text);
}

/* Duplicated, reordered and stale reports are counted and ignored: the
 * VMIs stay as the newest report left them. */
static void test_report_order(void **state)
{
    struct fixture *f = *state;

    for (int yaml = 0; yaml < 2; yaml++) {
        const char *vm = yaml ? "vmy" : "vm";
        const char *node = yaml ? "host-y" : "host-a";

        assert_int_equal(put_seq(f, node, "run-1", 5,
                                 doms(dom(vm, "running", "booted"), NULL),
                                 yaml),
                         200);
        assert_false(ignored(f));
        /* The same push again (a proxy's retry): ignored. */
        assert_int_equal(put_seq(f, node, "run-1", 5, doms(NULL, NULL), yaml),
                         200);
        assert_true(ignored(f));
        /* An older one overtaken by push 5: ignored. */
        assert_int_equal(put_seq(f, node, "run-1", 4, doms(NULL, NULL), yaml),
                         200);
        assert_true(ignored(f));
        assert_string_equal(
            jstr(get(f, yaml ? VMIS "/vmy" : VMIS "/vm"), "status.phase"),
            "Running");
        /* The next one is taken, the same text as push 5 too (the raw
         * hash path). */
        assert_int_equal(put_seq(f, node, "run-1", 6,
                                 doms(dom(vm, "running", "booted"), NULL),
                                 yaml),
                         200);
        assert_false(ignored(f));
        /* The migrator restarted: a new run starts its own count. */
        assert_int_equal(put_seq(f, node, "run-2", 1,
                                 doms(dom(vm, "running", "booted"), NULL),
                                 yaml),
                         200);
        assert_false(ignored(f));
        /* A late push of the run before: stale, whatever its number. */
        assert_int_equal(put_seq(f, node, "run-1", 99, doms(NULL, NULL), yaml),
                         200);
        assert_true(ignored(f));
        assert_string_equal(
            jstr(get(f, yaml ? VMIS "/vmy" : VMIS "/vm"), "status.nodeName"),
            node);
        assert_string_equal(
            jstr(get(f, yaml ? VMIS "/vmy" : VMIS "/vm"), "status.phase"),
            "Running");
    }
    assert_rejected(f, "duplicate_report", 2);
    assert_rejected(f, "stale_report", 4);
    assert_rejected(f, "domain_elsewhere", 0);
    /* A report without bootId (an older migrator) is not checked. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_false(ignored(f));
}

/* The function itself: the order rules without HTTP. */
static void test_report_order_rules(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(orch_hosts_report_order(&f->srv, "n", NULL, 3), 0);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "", 3), 0);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "a", 3), 0);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "a", 3), -EALREADY);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "a", 2), -ESTALE);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "a", -1), 0);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "a", 4), 0);
    /* Runs b, c, d, e replace a in turn; a stays known as replaced among
     * the last four. */
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "b", 1), 0);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "a", 5), -ESTALE);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "c", 1), 0);
    assert_int_equal(orch_hosts_report_order(&f->srv, "n", "b", 9), -ESTALE);
    /* Another node has its own order. */
    assert_int_equal(orch_hosts_report_order(&f->srv, "m", "a", 1), 0);
    assert_int_equal(f->srv.metrics.agent_rejected[ORCH_REJECT_STALE_REPORT],
                     3);
    assert_int_equal(
        f->srv.metrics.agent_rejected[ORCH_REJECT_DUPLICATE_REPORT], 1);
}

/* Two hosts report the same VMI running, neither migrating it: the owner
 * the records name keeps it (the last writer does not take it), and the
 * claim is counted; once the owner's reports let go, the other takes it. */
static void test_domain_elsewhere(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-a");
    assert_rejected(f, "domain_elsewhere", 1);
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm", "running", "unpaused"), NULL),
                                NULL),
                     200);
    assert_rejected(f, "domain_elsewhere", 2);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-a");
    /* The owner's copy paused, as a migration's source is at the
     * switch-over: not counted. */
    assert_int_equal(put_report(f, "host-a",
                                doms(dom("vm", "paused", "migration"), NULL),
                                NULL),
                     200);
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm", "running", "migrated"), NULL),
                                NULL),
                     200);
    assert_rejected(f, "domain_elsewhere", 2);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-a");
    /* host-a's libvirt no longer runs it: host-b's claim is the truth. */
    assert_int_equal(put_report(f, "host-a", doms(NULL, NULL), NULL), 200);
    assert_int_equal(put_report(f, "host-b",
                                doms(dom("vm", "running", "booted"), NULL),
                                NULL),
                     200);
    assert_string_equal(jstr(get(f, VMIS "/vm"), "status.nodeName"), "host-b");
    assert_rejected(f, "domain_elsewhere", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_phase),
        cmocka_unit_test(test_domain_vmi_name),
        cmocka_unit_test(test_node_ready_eval),
        cmocka_unit_test_setup_teardown(test_report_makes_node_and_vmis, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_identical_report_writes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_vanishes_and_stops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migration_keeps_source, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migration_source_reports_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_grace_unknown_ready, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_libvirt_unreachable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_picture, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unschedulable_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_node_role_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_order_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_domain_elsewhere, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
