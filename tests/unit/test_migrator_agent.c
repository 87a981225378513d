/*
 * Unit tests for migrator/agent: the inventory JSON built from libvirt's
 * test:///default driver, a fixture sysfs tree and a fake netlink; the
 * libvirt-unreachable case; the start-up auth rule; the HTTP handler as a
 * plain function (auth, 503 before the first refresh, 404/405); and the
 * worker refreshing on libvirt lifecycle events, not only on its timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/thread.h>
#include <sys/utsname.h>

#include "conf/conf.h"
#include "migrator/agent.h"
#include "tests/unit/support/capture.h"
#include "tests/unit/support/fake_orchd.h"
#include "tests/unit/support/sysfs_fixture.h"

#define TEST_URI   "test:///default"
#define TOKEN      "agent-unit-token-0123456789"
#define NODE_TOKEN "node-unit-token-0123456789"

/* ---------------------------------------------------------------------- */
/* Fixtures                                                                */

struct t {
    struct fx fx;
    struct conf_migrator cfg;
};

/* The fake netlink: VF0 and VF1 of ens1f0 have a MAC (VF0 a VLAN too),
 * VF2 and VF3 were not reported; or every call fails with fake_fail. */
static int fake_fail;

static int fake_vf_list(void *ctx, const char *pf,
                        struct migr_vf_link **ret_vfs)
{
    struct migr_vf_link *l;
    (void)ctx;

    if (fake_fail)
        return fake_fail;
    if (strcmp(pf, "ens1f0") != 0)
        return 0;
    l = calloc(2, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (unsigned i = 0; i < 2; i++) {
        l[i].index = i;
        l[i].qos = l[i].spoofchk = l[i].trust = l[i].link_state = -1;
    }
    strcpy(l[0].mac, "02:00:00:00:00:10");
    l[0].vlan = 100;
    l[0].trust = 0;
    l[0].spoofchk = 1;
    l[0].link_state = MIGR_VF_LINK_AUTO;
    strcpy(l[1].mac, "02:00:00:00:00:11");
    l[1].vlan = 0;
    *ret_vfs = l;
    return 2;
}

static int fake_vf_set(void *ctx, const char *pf, unsigned index,
                       const struct migr_vf_config *cfg)
{
    (void)ctx;
    (void)pf;
    (void)index;
    (void)cfg;
    return 0;
}

/* A reservation of PF ens1f0 with MAC and VLAN. */
static int reserve(struct migr_sriov *s, const char *mac, int vlan,
                   const char *owner, const char *const *in_use,
                   struct migr_vf_reservation *ret)
{
    struct migr_vf_config cfg = {mac, vlan, -1, -1};

    return migr_sriov_reserve(s, "ens1f0", &cfg, MIGR_VF_ANY, owner, in_use,
                              ret);
}

static const struct migr_netlink_ops fake_nl = {
    .vf_list = fake_vf_list,
    .vf_set = fake_vf_set,
};

static const struct fx_vf ens1f0_vfs[] = {
    {"iavf", "ens1f0v0"},
    {"iavf", "ens1f0v1"},
    {"vfio-pci", ""},
    {"", "ens1f0v3"},
};

/* Load the agent's configuration from text, sysfs_root the fixture. */
static void load_cfg(struct t *t, const char *extra)
{
    char text[2048], err[512];

    /* Reports go nowhere unless a test says where: port 1 refuses. */
    snprintf(text, sizeof(text),
             "name = \"unit-host\";\n"
             "%s%s"
             "libvirt_uri = \"" TEST_URI "\";\n"
             "sysfs_root = \"%s\";\n"
             "labels = [\"topology.kubernetes.io/zone=rack1\", "
             "\"maintenance=false\"];\n"
             "networks = (\n"
             "  { name = \"sriov-net1\"; pf = \"ens1f0\"; vlan = 100; },\n"
             "  { name = \"macnet\"; pf = \"ens9f9\"; mode = \"macvtap\"; },\n"
             "  { name = \"plain\"; pf = \"eth9\"; },\n"
             "  { name = \"lab-net\"; bridge = \"br0\"; }\n"
             ");\n%s",
             strstr(extra, "listen") ? "" : "listen = \"127.0.0.1:0\";\n",
             strstr(extra, "orchestrator =")
                 ? ""
                 : "orchestrator = \"http://127.0.0.1:1\";\n",
             t->fx.root, extra);
    conf_migrator_clear(&t->cfg);
    assert_int_equal(conf_migrator_init(&t->cfg), 0);
    if (conf_migrator_load_string(&t->cfg, text, "unit.conf", err,
                                  sizeof(err)) < 0)
        fail_msg("config: %s", err);
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));

    if (!t || fx_make(&t->fx, "test_migrator_agent") < 0)
        return -1;
    fx_pf(&t->fx, "ens1f0", 0x3b, 8, ens1f0_vfs, 4);
    fx_pf(&t->fx, "eth9", 0x7a, -1, NULL, 0);
    fake_fail = 0;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;

    fx_remove(&t->fx);
    conf_migrator_clear(&t->cfg);
    free(t);
    return 0;
}

static json_t *find_named(json_t *array, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(array, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return v;
    }
    return NULL;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* --wrap=migr_sriov_list: a pass-through that counts the calls and, when
 * reserve_between is set, reserves one more VF right after the first call
 * returns, as another thread could between the agent's sizing call and its
 * filling call. */
size_t __real_migr_sriov_list(struct migr_sriov *s,
                              struct migr_vf_reservation *out, size_t max);
size_t __wrap_migr_sriov_list(struct migr_sriov *s,
                              struct migr_vf_reservation *out, size_t max);

static int list_calls;
static bool reserve_between;

size_t __wrap_migr_sriov_list(struct migr_sriov *s,
                              struct migr_vf_reservation *out, size_t max)
{
    size_t n = __real_migr_sriov_list(s, out, max);

    if (list_calls++ == 0 && reserve_between) {
        reserve_between = false;
        assert_int_equal(
            reserve(s, "02:aa:00:00:00:02", 100, "default/vmi-b", NULL, NULL),
            0);
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* The inventory                                                           */

static void test_inventory(void **state)
{
    struct t *t = *state;
    struct migr_virt *v = NULL;
    struct migr_sriov *sriov = NULL;
    struct migr_agent_sources src;
    struct migr_vf_reservation r;
    json_t *inv = NULL, *a, *d, *n, *vfs, *vf, *x;
    char err[512], os_release[300];
    struct utsname u;
    int virt_err = 99;
    size_t i;

    load_cfg(t, "shared_storage = [ \"/guest/\" ];\n");
    snprintf(os_release, sizeof(os_release), "%s/os-release", t->fx.root);
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_sriov_new(t->fx.root, &fake_nl, &sriov), 0);
    /* VF0 is taken by a domain elsewhere: the reservation gets VF1. */
    {
        const char *in_use[] = {"0000:3b:02.0", NULL};
        assert_int_equal(reserve(sriov, "02:aa:00:00:00:01", 100,
                                 "default/vmi-a", in_use, &r),
                         0);
        assert_int_equal(r.index, 1);
    }
    fx_put_file(os_release,
                "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 "
                "(\\\"bookworm\\\")\"\nID=debian\n");
    src = (struct migr_agent_sources){.cfg = &t->cfg,
                                      .virt = v,
                                      .nl = &fake_nl,
                                      .sriov = sriov,
                                      .agent_url = "https://198.18.0.2:8081",
                                      .boot_id = "b00t",
                                      .os_release = os_release};
    assert_int_equal(migr_agent_inventory(&src, &inv, &virt_err), 0);
    assert_int_equal(virt_err, 0);

    d = json_object_get(inv, "agent");
    assert_string_equal(str(d, "url"), "https://198.18.0.2:8081");
    assert_string_equal(str(d, "version"), MIGR_AGENT_VERSION);
    assert_string_equal(str(d, "bootId"), "b00t");
    d = json_object_get(inv, "nodeInfo");
    assert_int_equal(uname(&u), 0);
    assert_string_equal(str(d, "kernelVersion"), u.release);
    assert_string_equal(str(d, "osImage"),
                        "Debian GNU/Linux 12 (\"bookworm\")");
    /* The test driver: an i686 host CPU with no model, hypervisor 0.0.2,
     * no host UUID. */
    assert_string_equal(str(d, "arch"), "i686");
    assert_string_equal(str(d, "cpuModel"), "i686");
    assert_string_equal(str(d, "hypervisorVersion"), "0.0.2");
    assert_string_equal(str(d, "libvirtVersion"),
                        str(json_object_get(inv, "libvirt"), "version"));
    assert_null(json_object_get(d, "hostUUID"));

    assert_string_equal(str(inv, "name"), "unit-host");
    a = json_object_get(inv, "addresses");
    assert_true(json_array_size(a) >= 1);
    assert_string_equal(str(json_array_get(a, 0), "type"), "Hostname");
    assert_string_equal(str(json_array_get(a, 0), "address"), "unit-host");
    json_array_foreach(a, i, d)
    {
        unsigned char buf[16];
        const char *ip = str(d, "address");
        if (i == 0)
            continue;
        assert_string_equal(str(d, "type"), "InternalIP");
        assert_true(inet_pton(AF_INET, ip, buf) == 1 ||
                    inet_pton(AF_INET6, ip, buf) == 1);
        assert_true(strncmp(ip, "127.", 4) != 0 && strcmp(ip, "::1") != 0 &&
                    strncmp(ip, "fe80:", 5) != 0);
    }

    d = json_object_get(inv, "libvirt");
    assert_string_equal(str(d, "uri"), TEST_URI);
    assert_non_null(str(d, "version"));
    assert_null(json_object_get(d, "error"));
    assert_null(json_object_get(d, "hostUUID")); /* the test driver has none */
    d = json_object_get(inv, "capacity");
    assert_int_equal(num(d, "cpus"), 16);
    assert_int_equal(num(d, "memoryKiB"), 3145728);

    d = json_object_get(inv, "labels");
    assert_int_equal(json_object_size(d), 2);
    assert_string_equal(str(d, "topology.kubernetes.io/zone"), "rack1");
    assert_string_equal(str(d, "maintenance"), "false");

    d = find_named(json_object_get(inv, "domains"), "test");
    assert_non_null(d);
    assert_string_equal(str(d, "uuid"), "6695eb01-f6a4-8304-79aa-97f2502e193f");
    assert_string_equal(str(d, "state"), "running");
    assert_true(json_is_true(json_object_get(d, "persistent")));
    assert_int_equal(num(d, "memoryKiB"), 8388608);
    assert_int_equal(num(d, "vcpus"), 2);
    assert_string_equal(str(d, "stateReason"), "unknown");
    assert_int_equal(num(d, "id"), 1);
    assert_true(json_is_false(json_object_get(d, "migrating")));
    assert_int_equal(num(d, "hostdevs"), 0);
    assert_true(json_is_false(json_object_get(d, "acpi")));
    assert_int_equal(json_array_size(json_object_get(d, "interfaces")), 1);
    x = json_array_get(json_object_get(d, "interfaces"), 0);
    assert_string_equal(str(x, "name"), "testnet0");
    assert_string_equal(str(x, "mac"), "aa:bb:cc:dd:ee:ff");
    assert_string_equal(str(x, "type"), "network");
    assert_string_equal(str(x, "source"), "default");
    assert_int_equal(json_array_size(json_object_get(x, "ipAddresses")), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(x, "ipAddresses"), 0)),
        "192.168.122.3");
    assert_int_equal(json_array_size(json_object_get(d, "disks")), 1);
    x = json_array_get(json_object_get(d, "disks"), 0);
    assert_string_equal(str(x, "target"), "vda");
    assert_string_equal(str(x, "device"), "disk");
    assert_string_equal(str(x, "type"), "file");
    assert_string_equal(str(x, "source"), "/guest/diskimage1");
    /* Under shared_storage's "/guest/". */
    assert_true(json_is_true(json_object_get(x, "shared")));
    assert_true(json_is_false(json_object_get(x, "readonly")));

    n = json_object_get(inv, "networks");
    assert_int_equal(json_array_size(n), 4);
    /* A bridge network: its name and bridge, no VFs. */
    d = json_array_get(n, 3);
    assert_string_equal(str(d, "name"), "lab-net");
    assert_string_equal(str(d, "mode"), "bridge");
    assert_string_equal(str(d, "bridge"), "br0");
    assert_null(json_object_get(d, "vfs"));
    assert_int_equal(json_array_size(json_object_get(inv, "sharedStorage")), 1);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(inv, "sharedStorage"), 0)),
                        "/guest/");
    d = json_array_get(n, 0);
    assert_string_equal(str(d, "name"), "sriov-net1");
    assert_string_equal(str(d, "pf"), "ens1f0");
    assert_string_equal(str(d, "mode"), "hostdev");
    assert_int_equal(num(d, "vlan"), 100);
    assert_true(json_is_null(json_object_get(d, "trust")));
    assert_true(json_is_null(json_object_get(d, "spoofchk")));
    assert_int_equal(num(d, "totalVFs"), 8);
    assert_int_equal(num(d, "numVFs"), 4);
    assert_null(json_object_get(d, "error"));
    assert_null(json_object_get(d, "linkError"));
    vfs = json_object_get(d, "vfs");
    assert_int_equal(json_array_size(vfs), 4);
    vf = json_array_get(vfs, 0);
    assert_int_equal(num(vf, "index"), 0);
    assert_string_equal(str(vf, "pci"), "0000:3b:02.0");
    assert_string_equal(str(vf, "netdev"), "ens1f0v0");
    assert_string_equal(str(vf, "driver"), "iavf");
    assert_string_equal(str(vf, "mac"), "02:00:00:00:00:10");
    assert_int_equal(num(vf, "vlan"), 100);
    assert_true(json_is_false(json_object_get(vf, "trust")));
    assert_true(json_is_true(json_object_get(vf, "spoofchk")));
    assert_string_equal(str(vf, "linkState"), "auto");
    assert_true(json_is_false(json_object_get(vf, "reserved")));
    assert_true(json_is_false(json_object_get(vf, "inUse")));
    assert_true(json_is_null(json_object_get(vf, "usedBy")));
    vf = json_array_get(vfs, 1);
    assert_int_equal(num(vf, "index"), 1);
    assert_true(json_is_true(json_object_get(vf, "reserved")));
    assert_true(json_is_true(json_object_get(vf, "inUse")));
    assert_string_equal(str(vf, "usedBy"), "default/vmi-a");
    assert_int_equal(num(vf, "vlan"), 0);
    /* Netlink said nothing of these. */
    assert_true(json_is_null(json_object_get(vf, "trust")));
    assert_true(json_is_null(json_object_get(vf, "linkState")));
    vf = json_array_get(vfs, 2);
    assert_string_equal(str(vf, "pci"), "0000:3b:02.2");
    assert_true(json_is_null(json_object_get(vf, "netdev")));
    assert_string_equal(str(vf, "driver"), "vfio-pci");
    assert_true(json_is_null(json_object_get(vf, "mac")));
    assert_true(json_is_null(json_object_get(vf, "vlan")));
    assert_true(json_is_false(json_object_get(vf, "reserved")));
    vf = json_array_get(vfs, 3);
    assert_true(json_is_null(json_object_get(vf, "driver")));

    d = json_array_get(n, 1);
    assert_string_equal(str(d, "name"), "macnet");
    assert_string_equal(str(d, "mode"), "macvtap");
    assert_string_equal(str(d, "error"), "no such interface");
    assert_null(json_object_get(d, "vfs"));
    d = json_array_get(n, 2);
    assert_string_equal(str(d, "error"), "not an SR-IOV physical function");

    json_decref(inv);
    migr_sriov_free(sriov);
    migr_virt_close(v);
}

/* A reservation made while the inventory is built (between the call that
 * sizes the copy and the one that fills it) is in the inventory, and the
 * copy is not read past its end (the sanitizer build would say so). */
static void test_inventory_reservations_grow(void **state)
{
    struct t *t = *state;
    struct migr_sriov *sriov = NULL;
    struct migr_agent_sources src;
    json_t *inv = NULL, *vfs;

    load_cfg(t, "");
    assert_int_equal(migr_sriov_new(t->fx.root, &fake_nl, &sriov), 0);
    assert_int_equal(
        reserve(sriov, "02:aa:00:00:00:01", 100, "default/vmi-a", NULL, NULL),
        0);
    src = (struct migr_agent_sources){
        .cfg = &t->cfg, .virt_error = "x", .nl = &fake_nl, .sriov = sriov};
    list_calls = 0;
    reserve_between = true;
    assert_int_equal(migr_agent_inventory(&src, &inv, NULL), 0);
    assert_false(reserve_between);
    /* Sized for one, found two, sized again. */
    assert_int_equal(list_calls, 3);
    vfs = json_object_get(json_array_get(json_object_get(inv, "networks"), 0),
                          "vfs");
    assert_true(
        json_is_true(json_object_get(json_array_get(vfs, 0), "reserved")));
    assert_true(
        json_is_true(json_object_get(json_array_get(vfs, 1), "reserved")));
    assert_true(
        json_is_false(json_object_get(json_array_get(vfs, 2), "reserved")));
    json_decref(inv);
    migr_sriov_free(sriov);
}

/* Netlink cannot list the VFs (no such link in this namespace): the VFs
 * from sysfs are still there, without MAC and VLAN, and the reason says
 * so. */
static void test_inventory_netlink_fails(void **state)
{
    struct t *t = *state;
    struct migr_agent_sources src;
    json_t *inv = NULL, *d, *vf;

    load_cfg(t, "");
    fake_fail = -ENODEV;
    src = (struct migr_agent_sources){
        .cfg = &t->cfg, .virt_error = "x", .nl = &fake_nl};
    assert_int_equal(migr_agent_inventory(&src, &inv, NULL), 0);
    d = json_array_get(json_object_get(inv, "networks"), 0);
    assert_string_equal(str(d, "linkError"), "netlink: No such device");
    assert_int_equal(json_array_size(json_object_get(d, "vfs")), 4);
    vf = json_array_get(json_object_get(d, "vfs"), 0);
    assert_string_equal(str(vf, "netdev"), "ens1f0v0");
    assert_true(json_is_null(json_object_get(vf, "mac")));
    /* The missing PF is still "no such interface", not a netlink error. */
    d = json_array_get(json_object_get(inv, "networks"), 1);
    assert_string_equal(str(d, "error"), "no such interface");
    json_decref(inv);
}

/* libvirt cannot be reached: the domains are unknown (null), not none. */
static void test_inventory_no_libvirt(void **state)
{
    struct t *t = *state;
    struct migr_virt *v = NULL;
    struct migr_agent_sources src;
    json_t *inv = NULL, *d;
    char err[512];
    int virt_err = 0;

    load_cfg(t, "");
    assert_int_equal(migr_virt_open("test:///nonexistent/agent-test.xml", &v,
                                    err, sizeof(err)),
                     -ECONNREFUSED);
    src = (struct migr_agent_sources){
        .cfg = &t->cfg, .virt_error = err, .nl = &fake_nl};
    assert_int_equal(migr_agent_inventory(&src, &inv, &virt_err), 0);
    assert_int_equal(virt_err, -ECONNREFUSED);
    d = json_object_get(inv, "libvirt");
    assert_string_equal(str(d, "uri"), TEST_URI);
    assert_string_equal(str(d, "error"), err);
    assert_non_null(strstr(str(d, "error"), "cannot connect to"));
    assert_null(json_object_get(d, "version"));
    assert_true(json_is_null(json_object_get(inv, "domains")));
    assert_null(json_object_get(inv, "capacity"));
    /* The rest of the inventory does not depend on libvirt. */
    assert_int_equal(json_array_size(json_object_get(inv, "networks")), 4);
    assert_string_equal(str(json_object_get(inv, "labels"), "maintenance"),
                        "false");
    json_decref(inv);

    assert_int_equal(migr_agent_inventory(NULL, &inv, NULL), -EINVAL);
}

/* Which disks count as shared: below a shared_storage prefix at a '/'
 * boundary, the prefix itself, a network disk; not a sibling with the
 * same leading characters, nor a path that climbs out with "..". */
static void test_inventory_shared_disks(void **state)
{
    struct t *t = *state;
    struct migr_virt *v = NULL;
    struct migr_agent_sources src;
    const char *xml =
        "<domain type='test'><name>agent-disks</name>"
        "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        "<features><acpi/></features><devices>"
        "<disk type='file'><source file='/mnt/nfs/a.img'/>"
        "<target dev='vda'/></disk>"
        "<disk type='file'><source file='/mnt/nfsx/b.img'/>"
        "<target dev='vdb'/></disk>"
        "<disk type='file'><source file='/mnt/nfs/../local/c.img'/>"
        "<target dev='vdc'/></disk>"
        "<disk type='network'><source protocol='nbd' name='e'>"
        "<host name='198.18.0.9' port='10809'/></source>"
        "<target dev='vdd'/></disk>"
        "<disk type='file' device='cdrom'><source file='/srv/iso/x.iso'/>"
        "<target dev='hdc'/><readonly/></disk>"
        "<disk type='file'><source file='/var/lib/one.img'/>"
        "<target dev='vde'/></disk>"
        "</devices></domain>";
    /* By target: libvirt orders disks by bus and target, not as given. */
    static const struct {
        const char *target;
        bool shared;
    } want[] = {{"vda", true}, {"vdb", false}, {"vdc", false},
                {"vdd", true}, {"hdc", true},  {"vde", false}};
    json_t *inv = NULL, *d, *disks;
    char err[512];

    load_cfg(t, "shared_storage = [ \"/mnt/nfs\", \"/srv/iso/x.iso\" ];\n");
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, xml, NULL, err, sizeof(err)), 0);
    src = (struct migr_agent_sources){.cfg = &t->cfg, .virt = v};
    assert_int_equal(migr_agent_inventory(&src, &inv, NULL), 0);
    d = find_named(json_object_get(inv, "domains"), "agent-disks");
    assert_non_null(d);
    assert_true(json_is_true(json_object_get(d, "acpi")));
    assert_int_equal(num(d, "id"), -1);
    assert_string_equal(str(d, "state"), "shut off");
    disks = json_object_get(d, "disks");
    assert_int_equal(json_array_size(disks), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *k = NULL, *x;
        size_t j;

        json_array_foreach(disks, j, x)
        {
            if (strcmp(str(x, "target"), want[i].target) == 0)
                k = x;
        }
        assert_non_null(k);
        if (json_is_true(json_object_get(k, "shared")) != want[i].shared)
            fail_msg("disk '%s' ('%s'): shared should be %d", want[i].target,
                     str(k, "source"), want[i].shared);
        if (strcmp(want[i].target, "vdd") == 0)
            assert_string_equal(str(k, "source"), "nbd:e");
        assert_int_equal(json_is_true(json_object_get(k, "readonly")),
                         strcmp(want[i].target, "hdc") == 0);
    }
    /* An inactive domain has no addresses to ask for. */
    json_decref(inv);
    assert_int_equal(migr_virt_undefine(v, "agent-disks", err, sizeof(err)), 0);

    /* "/" declares everything shared. */
    load_cfg(t, "shared_storage = [ \"/\" ];\n");
    src.cfg = &t->cfg;
    assert_int_equal(migr_agent_inventory(&src, &inv, NULL), 0);
    d = find_named(json_object_get(inv, "domains"), "test");
    assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(d, "disks"), 0), "shared")));
    json_decref(inv);
    migr_virt_close(v);
}

/* A VF that an active domain's interface names is in use, by that domain:
 * a direct interface on the VF netdev, a hostdev interface by its PCI
 * address; an inactive domain holds none. */
static void test_inventory_vf_in_use_by_domain(void **state)
{
    struct t *t = *state;
    struct migr_virt *v = NULL;
    struct migr_agent_sources src;
    const char *running =
        "<domain type='test'><name>ns_vf-user</name>"
        "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        "<devices>"
        "<interface type='direct'><mac address='02:aa:00:00:00:03'/>"
        "<source dev='ens1f0v3' mode='passthrough'/></interface>"
        "<interface type='hostdev' managed='yes'>"
        "<mac address='02:aa:00:00:00:02'/><source>"
        "<address type='pci' domain='0x0000' bus='0x3b' slot='0x02' "
        "function='0x2'/></source></interface>"
        "</devices></domain>";
    const char *stopped =
        "<domain type='test'><name>ns_vf-idle</name>"
        "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        "<devices>"
        "<interface type='direct'><mac address='02:aa:00:00:00:04'/>"
        "<source dev='ens1f0v0' mode='passthrough'/></interface>"
        "</devices></domain>";
    json_t *inv = NULL, *vfs;
    char err[512];

    load_cfg(t, "");
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, running, NULL, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_start(v, "ns_vf-user", err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, stopped, NULL, err, sizeof(err)), 0);
    src = (struct migr_agent_sources){.cfg = &t->cfg, .virt = v};
    assert_int_equal(migr_agent_inventory(&src, &inv, NULL), 0);
    vfs = json_object_get(json_array_get(json_object_get(inv, "networks"), 0),
                          "vfs");
    assert_int_equal(json_array_size(vfs), 4);
    assert_true(
        json_is_false(json_object_get(json_array_get(vfs, 0), "inUse")));
    assert_true(
        json_is_false(json_object_get(json_array_get(vfs, 1), "inUse")));
    assert_true(json_is_true(json_object_get(json_array_get(vfs, 2), "inUse")));
    assert_string_equal(str(json_array_get(vfs, 2), "usedBy"), "ns_vf-user");
    assert_true(
        json_is_false(json_object_get(json_array_get(vfs, 2), "reserved")));
    assert_true(json_is_true(json_object_get(json_array_get(vfs, 3), "inUse")));
    assert_string_equal(str(json_array_get(vfs, 3), "usedBy"), "ns_vf-user");
    json_decref(inv);
    assert_int_equal(migr_virt_destroy(v, "ns_vf-user", err, sizeof(err)), 0);
    assert_int_equal(migr_virt_undefine(v, "ns_vf-user", err, sizeof(err)), 0);
    assert_int_equal(migr_virt_undefine(v, "ns_vf-idle", err, sizeof(err)), 0);
    migr_virt_close(v);
}

/* The URL the agent reports for its API. */
static void test_agent_url(void **state)
{
    struct t *t = *state;
    struct migr_agent *a = NULL;
    char err[512] = "";

    load_cfg(t, "listen = \"127.0.0.1:8081\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    assert_string_equal(migr_agent_url(a), "http://127.0.0.1:8081");
    migr_agent_bound(a, 9999); /* a fixed port stays */
    assert_string_equal(migr_agent_url(a), "http://127.0.0.1:8081");
    migr_agent_free(a);
    a = NULL;

    /* Port 0 takes the bound one. */
    load_cfg(t, "listen = \"[::1]:0\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    migr_agent_bound(a, 40123);
    assert_string_equal(migr_agent_url(a), "http://[::1]:40123");
    migr_agent_free(a);
    a = NULL;

    /* A wildcard needs an address to give. */
    load_cfg(t, "listen = \"0.0.0.0:8081\";\nagent_token = \"" TOKEN "\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     -EINVAL);
    assert_null(a);
    assert_string_equal(err, "'listen': 0.0.0.0:8081 is a wildcard address: "
                             "set 'advertise_url' or 'migration_address' so "
                             "orchestratord knows where to call the agent");
    load_cfg(t, "listen = \"[::]:8081\";\nagent_token = \"" TOKEN "\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     -EINVAL);
    load_cfg(t, "listen = \"0.0.0.0:8081\";\nagent_token = \"" TOKEN
                "\";\nmigration_address = \"198.18.0.2\";\n"
                "tls_certificate = \"/x/c.pem\";\ntls_key = \"/x/k.pem\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    assert_string_equal(migr_agent_url(a), "https://198.18.0.2:8081");
    migr_agent_free(a);
    load_cfg(t, "listen = \"[::]:8081\";\nagent_token = \"" TOKEN
                "\";\nmigration_address = \"fd00::2\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    assert_string_equal(migr_agent_url(a), "http://[fd00::2]:8081");
    migr_agent_free(a);
    /* advertise_url wins, as written but for a trailing '/'. */
    load_cfg(t, "listen = \"0.0.0.0:8081\";\nagent_token = \"" TOKEN
                "\";\nadvertise_url = \"https://host-a.lab:443/\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    assert_string_equal(migr_agent_url(a), "https://host-a.lab:443");
    migr_agent_free(a);
}

/* ---------------------------------------------------------------------- */
/* Start-up rule                                                           */

static void test_new_auth_rule(void **state)
{
    struct t *t = *state;
    struct migr_agent *a = NULL;
    char err[512] = "";

    load_cfg(t, "listen = \"198.18.0.11:8081\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     -EINVAL);
    assert_null(a);
    assert_string_equal(err,
                        "'listen': 198.18.0.11:8081 is not a loopback "
                        "address and no 'agent_token' is set: the agent API "
                        "would be open to anyone");
    load_cfg(t, "listen = \"0.0.0.0:8081\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "0.0.0.0:8081 is not a loopback"));

    load_cfg(t,
             "listen = \"198.18.0.11:8081\";\nagent_token = \"" TOKEN "\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    migr_agent_free(a);
    a = NULL;
    load_cfg(t, "listen = \"[::1]:0\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    migr_agent_free(a);
    migr_agent_free(NULL);
}

/* ---------------------------------------------------------------------- */
/* The handler                                                             */

struct call {
    struct http_request req;
    struct http_response resp;
    char buf[512];
    const char *peer; /* the client's "ADDR:PORT"; NULL: 127.0.0.1:5555 */
};

static int call(struct migr_agent *a, struct call *c, enum http_method m,
                const char *target, const char *auth)
{
    http_response_clear(&c->resp);
    memset(&c->req, 0, sizeof(c->req));
    c->req.method = m;
    c->req.path = target;
    c->req.authorization = auth;
    c->req.body = "";
    c->req.peer = c->peer ? c->peer : "127.0.0.1:5555";
    assert_int_equal(
        http_request_parse_target(&c->req, target, c->buf, sizeof(c->buf)), 0);
    migr_agent_handle(&c->req, &c->resp, a);
    return c->resp.status;
}

static const char *header(const struct http_response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->header_names[i], name) == 0)
            return r->header_values[i];
    return NULL;
}

static json_t *body_json(const struct http_response *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    if (!j)
        fail_msg("body is not JSON: %s", e.text);
    return j;
}

static void assert_status(const struct http_response *r, int code,
                          const char *reason)
{
    json_t *j = body_json(r);
    assert_string_equal(r->content_type, "application/json");
    assert_string_equal(str(j, "kind"), "Status");
    assert_string_equal(str(j, "reason"), reason);
    assert_int_equal(num(j, "code"), code);
    json_decref(j);
}

static void test_handler(void **state)
{
    struct t *t = *state;
    struct migr_agent *a = NULL;
    struct call c = {0};
    const char *good = "Bearer " TOKEN;
    char err[512];
    json_t *j;

    load_cfg(t, "agent_token = \"" TOKEN "\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);

    /* /healthz needs no token. */
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/healthz", NULL), 200);
    assert_string_equal(c.resp.content_type, "text/plain");
    assert_string_equal(c.resp.body, "ok");
    assert_int_equal(call(a, &c, HTTP_METHOD_POST, "/healthz", NULL), 405);

    /* Nothing published yet. */
    assert_int_equal(migr_agent_generation(a), 0);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/inventory", good), 503);
    assert_status(&c.resp, 503, "ServiceUnavailable");
    assert_string_equal(header(&c.resp, "Retry-After"), "1");

    /* Auth before anything else under /v1. */
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/inventory", NULL), 401);
    assert_status(&c.resp, 401, "Unauthorized");
    assert_string_equal(header(&c.resp, "WWW-Authenticate"), "Bearer");
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/inventory",
                          "Bearer agent-unit-token-012345678X"),
                     401);
    assert_int_equal(
        call(a, &c, HTTP_METHOD_GET, "/v1/inventory", "Bearer " TOKEN "X"),
        401);
    assert_int_equal(
        call(a, &c, HTTP_METHOD_GET, "/v1/inventory", "Basic " TOKEN), 401);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/nothing", NULL), 401);

    assert_int_equal(migr_agent_refresh(a), 0);
    assert_int_equal(migr_agent_generation(a), 1);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/inventory", good), 200);
    assert_string_equal(c.resp.content_type, "application/json");
    j = body_json(&c.resp);
    assert_string_equal(str(j, "name"), "unit-host");
    assert_int_equal(num(j, "generation"), 1);
    assert_non_null(str(j, "refreshedAt"));
    assert_string_equal(
        str(find_named(json_object_get(j, "domains"), "test"), "state"),
        "running");
    json_decref(j);
    assert_int_equal(migr_agent_refresh(a), 0);
    assert_int_equal(
        call(a, &c, HTTP_METHOD_HEAD, "/v1/inventory", "bearer  " TOKEN " "),
        200);
    j = body_json(&c.resp);
    assert_int_equal(num(j, "generation"), 2);
    json_decref(j);

    assert_int_equal(call(a, &c, HTTP_METHOD_POST, "/v1/inventory", good), 405);
    assert_status(&c.resp, 405, "MethodNotAllowed");
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/nothing", good), 404);
    assert_status(&c.resp, 404, "NotFound");
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/", NULL), 404);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/metrics", NULL), 404);

    http_response_clear(&c.resp);
    migr_agent_free(a);
}

/* The job API is served under /v1 behind the same token: a prepare job
 * posted through the agent's handler is accepted (202) and readable. */
static void test_handler_jobs(void **state)
{
    struct t *t = *state;
    struct migr_agent *a = NULL;
    struct call c = {0};
    const char *good = "Bearer " TOKEN;
    char err[512];
    json_t *j;

    load_cfg(t, "agent_token = \"" TOKEN "\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/jobs", NULL), 401);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/jobs/x", NULL), 401);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/jobs", good), 200);
    j = body_json(&c.resp);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/jobs/x", good), 404);
    assert_status(&c.resp, 404, "NotFound");
    /* A POST with a body: the call helper sends none, so build it here. */
    http_response_clear(&c.resp);
    memset(&c.req, 0, sizeof(c.req));
    c.req.method = HTTP_METHOD_POST;
    c.req.authorization = good;
    c.req.peer = "127.0.0.1:5555";
    c.req.body = "{\"id\":\"u-prepare\",\"type\":\"prepare\","
                 "\"domain\":\"ns_vm\"}";
    c.req.body_len = strlen(c.req.body);
    assert_int_equal(
        http_request_parse_target(&c.req, "/v1/jobs", c.buf, sizeof(c.buf)), 0);
    migr_agent_handle(&c.req, &c.resp, a);
    assert_int_equal(c.resp.status, 202);
    j = body_json(&c.resp);
    assert_string_equal(str(j, "id"), "u-prepare");
    assert_string_equal(str(j, "state"), "Pending"); /* no workers here */
    json_decref(j);
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/jobs/u-prepare", good),
                     200);
    http_response_clear(&c.resp);
    migr_agent_free(a);
}

/* A client sending wrong tokens gets one warning in full; the rest are
 * counted and summarised (at most once a minute, and at exit), with where
 * they came from. */
static void test_handler_authfail_log(void **state)
{
    struct t *t = *state;
    struct migr_agent *a = NULL;
    struct call c = {0};
    char err[512], *out, *line2;

    load_cfg(t, "agent_token = \"" TOKEN "\";\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    test_stderr_begin();
    c.peer = "192.0.2.7:40000";
    for (int i = 0; i < 50; i++)
        assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/inventory",
                              "Bearer guess-0123456789"),
                         401);
    out = test_stderr_end(NULL);
    assert_string_equal(out, "orch: warn: GET /v1/inventory from "
                             "192.0.2.7:40000: missing or wrong bearer token "
                             "(more are counted, and reported at most once "
                             "a minute)\n");
    free(out);

    /* The right token is not counted; another client is. */
    assert_int_equal(
        call(a, &c, HTTP_METHOD_GET, "/v1/inventory", "Bearer " TOKEN), 503);
    c.peer = "[2001:db8::9]:40001";
    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/inventory", NULL), 401);
    test_stderr_begin();
    http_response_clear(&c.resp);
    migr_agent_free(a);
    out = test_stderr_end(NULL);
    assert_string_equal(out, "orch: warn: 50 more requests with a missing or "
                             "wrong bearer token in the last 1 s, from "
                             "several clients, the last from "
                             "[2001:db8::9]\n");
    line2 = strchr(out, '\n');
    assert_string_equal(line2, "\n");
    free(out);

    /* One client only: named as the one. */
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    c.peer = "192.0.2.7:40002";
    test_stderr_begin();
    for (int i = 0; i < 3; i++)
        assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/x", "Bearer x"),
                         401);
    http_response_clear(&c.resp);
    migr_agent_free(a);
    out = test_stderr_end(NULL);
    assert_non_null(strstr(out, "\norch: warn: 2 more requests with a "
                                "missing or wrong bearer token in the last "
                                "1 s, from 192.0.2.7\n"));
    free(out);
}

/* ---------------------------------------------------------------------- */
/* The worker                                                              */

#define EV_DOMAIN "agent-event-guest"

/* The state of EV_DOMAIN in the agent's published inventory ("" when it
 * is not there), and the generation. */
static void published(struct migr_agent *a, char *state, size_t len,
                      json_int_t *gen)
{
    struct call c = {0};
    json_t *j, *d;

    assert_int_equal(call(a, &c, HTTP_METHOD_GET, "/v1/inventory", NULL), 200);
    j = body_json(&c.resp);
    d = find_named(json_object_get(j, "domains"), EV_DOMAIN);
    snprintf(state, len, "%s", d ? str(d, "state") : "");
    *gen = num(j, "generation");
    json_decref(j);
    http_response_clear(&c.resp);
}

/* Wait up to 5 s for EV_DOMAIN's published state to become `want`. */
static bool wait_state(struct migr_agent *a, const char *want)
{
    char state[32];
    json_int_t gen;

    for (int i = 0; i < 100; i++) {
        if (migr_agent_generation(a) > 0) {
            published(a, state, sizeof(state), &gen);
            if (strcmp(state, want) == 0)
                return true;
        }
        usleep(50 * 1000);
    }
    return false;
}

static void test_refresh_on_events(void **state)
{
    struct t *t = *state;
    struct migr_agent *a = NULL;
    struct migr_virt *v = NULL;
    const char *xml = "<domain type='test'><name>" EV_DOMAIN "</name>"
                      "<memory>65536</memory><vcpu>1</vcpu>"
                      "<os><type>hvm</type></os></domain>";
    char err[512];
    json_int_t gen_before, gen_after;
    char st[32];

    /* A timer that never fires during the test: only events can refresh. */
    load_cfg(t, "report_interval_s = 3600;\n");
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    assert_int_equal(migr_agent_start(a), 0);
    assert_true(wait_state(a, ""));
    published(a, st, sizeof(st), &gen_before);

    /* Another connection to the same test driver changes the domains. */
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, xml, NULL, err, sizeof(err)), 0);
    assert_true(wait_state(a, "shut off"));
    assert_int_equal(migr_virt_start(v, EV_DOMAIN, err, sizeof(err)), 0);
    assert_true(wait_state(a, "running"));
    assert_int_equal(migr_virt_destroy(v, EV_DOMAIN, err, sizeof(err)), 0);
    assert_true(wait_state(a, "shut off"));
    assert_int_equal(migr_virt_undefine(v, EV_DOMAIN, err, sizeof(err)), 0);
    assert_true(wait_state(a, ""));
    published(a, st, sizeof(st), &gen_after);
    assert_true(gen_after >= gen_before + 4);

    /* A domain defined while the agent is stopped (its event callback
     * gone with the worker) is seen by the first refresh after a restart:
     * waiting for that state proves the restart, with no fixed sleep. */
    migr_agent_stop(a);
    gen_after = (json_int_t)migr_agent_generation(a);
    assert_int_equal(migr_virt_define(v, xml, NULL, err, sizeof(err)), 0);
    assert_int_equal(migr_agent_start(a), 0);
    assert_true(wait_state(a, "shut off"));
    assert_true(migr_agent_generation(a) > (uint64_t)gen_after);
    assert_int_equal(migr_virt_undefine(v, EV_DOMAIN, err, sizeof(err)), 0);
    assert_true(wait_state(a, ""));
    migr_agent_free(a);
    migr_virt_close(v);
}

/* The agent reports to orchestratord: at start, with its token, its URL
 * and a boot id; and again within a moment of a lifecycle event, whose
 * effect the report shows, with no timer to help (interval 3600 s). */
static bool report_has(struct fake_orchd *f, size_t i, const char *state,
                       json_t **ret)
{
    struct fake_req q = {0};
    json_t *j, *d;
    bool ok;

    fake_orchd_get(f, i, &q);
    j = json_loads(q.body, 0, NULL);
    fake_req_clear(&q);
    assert_non_null(j);
    d = find_named(json_object_get(j, "domains"), EV_DOMAIN);
    ok = state ? d && strcmp(str(d, "state"), state) == 0 : !d;
    if (ret)
        *ret = j;
    else
        json_decref(j);
    return ok;
}

/* Wait up to 1 s for a report (after the first `from`) that shows
 * EV_DOMAIN in `state`; its index, or -1. */
static long wait_report(struct fake_orchd *f, size_t from, const char *state)
{
    for (int ms = 0; ms <= 1000; ms += 10) {
        size_t n = fake_orchd_count(f);

        for (size_t i = from; i < n; i++)
            if (report_has(f, i, state, NULL))
                return (long)i;
        usleep(10 * 1000);
    }
    return -1;
}

static void test_reports_on_events(void **state)
{
    struct t *t = *state;
    struct migr_agent *a = NULL;
    struct migr_virt *v = NULL;
    struct fake_orchd *f;
    struct fake_req q = {0};
    const char *xml = "<domain type='test'><name>" EV_DOMAIN "</name>"
                      "<memory>65536</memory><vcpu>1</vcpu>"
                      "<os><type>hvm</type></os></domain>";
    char err[512], extra[256];
    json_t *j;
    long i;
    uint16_t port;

    f = fake_orchd_start(0, NULL, NULL, &port);
    snprintf(extra, sizeof(extra),
             "report_interval_s = 3600;\n"
             "orchestrator = \"http://127.0.0.1:%u\";\n"
             "orchestrator_token = \"" NODE_TOKEN "\";\n",
             (unsigned)port);
    load_cfg(t, extra);
    assert_int_equal(migr_agent_new(&t->cfg, &fake_nl, &a, err, sizeof(err)),
                     0);
    migr_agent_bound(a, 8081);
    assert_int_equal(migr_agent_start(a), 0);

    /* The first report, at start. */
    assert_true(fake_orchd_wait(f, 1, 5000));
    fake_orchd_get(f, 0, &q);
    assert_string_equal(q.method, "PUT");
    assert_string_equal(q.path,
                        "/apis/agent.orchestrator.io/v1/nodereports/unit-host");
    assert_string_equal(q.authorization, "Bearer " NODE_TOKEN);
    fake_req_clear(&q);
    assert_true(report_has(f, 0, NULL, &j));
    assert_string_equal(str(j, "name"), "unit-host");
    /* 'listen' has port 0: the URL takes the port bound. */
    assert_string_equal(str(json_object_get(j, "agent"), "url"),
                        "http://127.0.0.1:8081");
    assert_int_equal(strlen(str(json_object_get(j, "agent"), "bootId")), 36);
    /* Where a migration target finds this host's libvirt: the migration
     * address (listen's) as prepare results give it. */
    assert_string_equal(str(json_object_get(j, "agent"), "libvirtPeerURI"),
                        "qemu+tcp://127.0.0.1/system");
    assert_non_null(find_named(json_object_get(j, "domains"), "test"));
    json_decref(j);

    /* Lifecycle events, from another connection to the same driver. */
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, xml, NULL, err, sizeof(err)), 0);
    i = wait_report(f, 1, "shut off");
    assert_true(i > 0);
    assert_int_equal(migr_virt_start(v, EV_DOMAIN, err, sizeof(err)), 0);
    i = wait_report(f, (size_t)i + 1, "running");
    assert_true(i > 0);
    assert_true(report_has(f, (size_t)i, "running", &j));
    assert_string_equal(
        str(find_named(json_object_get(j, "domains"), EV_DOMAIN),
            "stateReason"),
        "booted");
    json_decref(j);
    assert_int_equal(migr_virt_destroy(v, EV_DOMAIN, err, sizeof(err)), 0);
    i = wait_report(f, (size_t)i + 1, "shut off");
    assert_true(i > 0);
    assert_true(report_has(f, (size_t)i, "shut off", &j));
    assert_string_equal(
        str(find_named(json_object_get(j, "domains"), EV_DOMAIN),
            "stateReason"),
        "destroyed");
    json_decref(j);
    assert_int_equal(migr_virt_undefine(v, EV_DOMAIN, err, sizeof(err)), 0);
    assert_true(wait_report(f, (size_t)i + 1, NULL) > i);

    migr_agent_free(a);
    migr_virt_close(v);
    fake_orchd_stop(f);
}

/* After a restart: the VFs of the domains' SR-IOV interfaces (alias
 * "ua-sriov-") are taken back into the table, a running domain's before a
 * defined one's naming the same VF; other interfaces are left alone, and
 * one whose VF is on no configured PF, or held already, is a warning. */
static void test_sriov_adopt_domains(void **state)
{
    struct t *t = *state;
    struct migr_virt *v = NULL;
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation list[8];
    const char *running =
        "<domain type='test'><name>ns_vf-user</name>"
        "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        "<devices>"
        "<interface type='direct'><mac address='02:aa:00:00:00:03'/>"
        "<source dev='ens1f0v3' mode='passthrough'/>"
        "<alias name='ua-sriov-net1'/></interface>"
        "<interface type='hostdev' managed='yes'>"
        "<mac address='02:aa:00:00:00:02'/><source>"
        "<address type='pci' domain='0x0000' bus='0x3b' slot='0x02' "
        "function='0x2'/></source><alias name='ua-sriov-net2'/></interface>"
        /* Not one of ours: in_use keeps it out, it is not adopted. */
        "<interface type='direct'><mac address='02:aa:00:00:00:09'/>"
        "<source dev='ens1f0v1' mode='passthrough'/></interface>"
        "<interface type='hostdev' managed='yes'>"
        "<mac address='02:aa:00:00:00:08'/><source>"
        "<address type='pci' domain='0x0000' bus='0x5e' slot='0x02' "
        "function='0x0'/></source><alias name='ua-sriov-net3'/></interface>"
        "</devices></domain>";
    /* Sorts first, defined only: its VF0 is adopted, its ens1f0v3 is the
     * running domain's. */
    const char *defined =
        "<domain type='test'><name>ns_vf-a-idle</name>"
        "<memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
        "<devices>"
        "<interface type='direct'><mac address='02:aa:00:00:00:04'/>"
        "<source dev='ens1f0v0' mode='passthrough'/>"
        "<alias name='ua-sriov-a'/></interface>"
        "<interface type='direct'><mac address='02:aa:00:00:00:05'/>"
        "<source dev='ens1f0v3' mode='passthrough'/>"
        "<alias name='ua-sriov-b'/></interface>"
        "</devices></domain>";
    char err[512], *log;

    load_cfg(t, "");
    assert_int_equal(migr_virt_open(TEST_URI, &v, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, running, NULL, err, sizeof(err)), 0);
    assert_int_equal(migr_virt_start(v, "ns_vf-user", err, sizeof(err)), 0);
    assert_int_equal(migr_virt_define(v, defined, NULL, err, sizeof(err)), 0);
    assert_int_equal(migr_sriov_new(t->fx.root, &fake_nl, &s), 0);

    test_stderr_begin();
    assert_int_equal(migr_agent_sriov_adopt(&t->cfg, v, s), 3);
    log = test_stderr_end(NULL);
    assert_int_equal(migr_sriov_list(s, list, 8), 3);
    assert_string_equal(list[0].owner, "ns_vf-user");
    assert_int_equal(list[0].index, 3);
    assert_string_equal(list[0].mac, "02:aa:00:00:00:03");
    assert_string_equal(list[1].owner, "ns_vf-user");
    assert_int_equal(list[1].index, 2);
    assert_string_equal(list[1].mac, "02:aa:00:00:00:02");
    assert_string_equal(list[2].owner, "ns_vf-a-idle");
    assert_int_equal(list[2].index, 0);
    assert_non_null(strstr(log, "domain 'ns_vf-user' interface "
                                "'ua-sriov-net1': adopted VF 3 of PF "
                                "'ens1f0' (0000:3b:02.3, ens1f0v3) with MAC "
                                "02:aa:00:00:00:03, network 'sriov-net1'"));
    assert_non_null(strstr(log, "domain 'ns_vf-user' interface "
                                "'ua-sriov-net3' (hostdev '0000:5e:02.0', MAC "
                                "02:aa:00:00:00:08): VF not adopted: no PF of "
                                "a configured network on this host has that "
                                "VF"));
    assert_non_null(strstr(log, "domain 'ns_vf-a-idle' interface "
                                "'ua-sriov-b' (direct 'ens1f0v3', MAC "
                                "02:aa:00:00:00:05): VF not adopted: another "
                                "domain holds that VF"));
    assert_null(strstr(log, "ens1f0v1"));
    free(log);

    /* Again (nothing new): the same three. */
    test_stderr_begin();
    assert_int_equal(migr_agent_sriov_adopt(&t->cfg, v, s), 3);
    free(test_stderr_end(NULL));
    assert_int_equal(migr_sriov_list(s, NULL, 0), 3);
    assert_int_equal(migr_agent_sriov_adopt(&t->cfg, NULL, s), -EINVAL);

    migr_sriov_free(s);
    assert_int_equal(migr_virt_destroy(v, "ns_vf-user", err, sizeof(err)), 0);
    assert_int_equal(migr_virt_undefine(v, "ns_vf-user", err, sizeof(err)), 0);
    assert_int_equal(migr_virt_undefine(v, "ns_vf-a-idle", err, sizeof(err)),
                     0);
    migr_virt_close(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory_reservations_grow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inventory_netlink_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inventory_no_libvirt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_new_auth_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_authfail_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refresh_on_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inventory_shared_disks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inventory_vf_in_use_by_domain,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_adopt_domains, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports_on_events, setup,
                                        teardown),
    };

    evthread_use_pthreads();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
