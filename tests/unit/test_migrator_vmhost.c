/*
 * Unit tests for migrator/vmhost: start, stop and a target's prepare of a
 * VMI in the seed's shape on libvirt's test driver (test:///default, whose
 * state is shared by every connection of the process while one stays
 * open), with real files under a temporary state_dir: the seed ISO, the
 * containerDisk overlay made by the real qemu-img (its backing file read
 * back with qemu-img info), and nothing left behind by a start that
 * fails.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <net/if.h>
#include <libvirt/libvirt.h>

#include "conf/conf.h"
#include "migrator/podnat.h"
#include "migrator/seed.h"
#include "migrator/sriov.h"
#include "migrator/vmhost.h"
#include "tests/unit/support/daemon.h"
#include "tests/unit/support/sysfs_fixture.h"

#define UID "5d1c8a3e-7b2f-4e61-9a0d-3c4b5e6f7a81"
#define DOM "default_vm-lab"

struct t {
    char dir[64];    /* the temporary root */
    char state[128]; /* state_dir */
    char images[128];
    char kernel[128];
    struct conf_migrator cfg;
    virConnectPtr keep; /* keeps the test driver's state alive */
    char ipt[128];      /* the fake iptables' rules (podnat.h) */
    char *old_path;
};

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs("x", f);
    fclose(f);
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* FILE's contents ("" when there is none); the caller frees. */
static char *slurp_or_empty(const char *path)
{
    char *s = test_read_file(path, NULL);
    return s ? s : strdup("");
}

/* The fake iptables' rules of TABLE. */
static char *slurp_rules(const struct t *t, const char *table)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/rules-%s", t->ipt, table);
    return slurp_or_empty(path);
}

static int rm_cb(const char *p, const struct stat *st, int fl, struct FTW *f)
{
    (void)st;
    (void)f;
    return fl == FTW_DP ? rmdir(p) : unlink(p);
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    char cmd[PATH_MAX * 2], conf[PATH_MAX * 3], err[256];

    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "/tmp/test_vmhost.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->state, sizeof(t->state), "%s/state", t->dir);
    snprintf(t->images, sizeof(t->images), "%s/images", t->dir);
    snprintf(t->kernel, sizeof(t->kernel), "%s/vmlinuz", t->dir);
    assert_int_equal(mkdir(t->images, 0755), 0);
    touch(t->kernel);
    /* Masquerade ports go to tests/data/fake-iptables, never to this
     * machine's firewall. */
    snprintf(t->ipt, sizeof(t->ipt), "%s/ipt", t->dir);
    assert_int_equal(mkdir(t->ipt, 0755), 0);
    {
        char cwd[PATH_MAX], path[PATH_MAX * 2];
        const char *old = getenv("PATH");
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        t->old_path = strdup(old ? old : "/usr/bin:/bin");
        assert_non_null(t->old_path);
        snprintf(path, sizeof(path), "%s/tests/data/fake-iptables:%s", cwd,
                 t->old_path);
        setenv("PATH", path, 1);
        setenv("FAKE_IPTABLES_DIR", t->ipt, 1);
    }
    snprintf(cmd, sizeof(cmd),
             "qemu-img create -q -f qcow2 "
             "%s/quay.io_containerdisks_fedora_39.qcow2 16M",
             t->images);
    assert_int_equal(system(cmd), 0);
    snprintf(conf, sizeof(conf),
             "libvirt_uri = \"test:///default\";\n"
             "state_dir = \"%s\";\nimage_dir = \"%s\";\n"
             "networks = ( { name = \"lab-net\"; bridge = \"br0\"; },\n"
             "  { name = \"sriov-net1\"; pf = \"ens1f0\"; } );\n",
             t->state, t->images);
    assert_int_equal(conf_migrator_init(&t->cfg), 0);
    if (conf_migrator_load_string(&t->cfg, conf, "t.conf", err, sizeof(err)) <
        0)
        fail_msg("%s", err);
    t->keep = virConnectOpen("test:///default");
    assert_non_null(t->keep);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;

    virConnectClose(t->keep);
    conf_migrator_clear(&t->cfg);
    setenv("PATH", t->old_path, 1);
    unsetenv("FAKE_IPTABLES_DIR");
    free(t->old_path);
    nftw(t->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

/* The VMI (tests/data/domxml/vmi-lab.yaml's shape) with this run's kernel,
 * then `patch` (a JSON object merged into spec, may be NULL). */
static json_t *vmi_new(const struct t *t, const char *patch)
{
    json_t *v = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:{s:{s:i}, s:{s:{s:s, s:{s:s}}}, "
        "s:{s:[{s:s, s:{s:s}}], s:[{s:s, s:{}, s:s}], s:{}}, "
        "s:{s:{s:s}}}, s:[{s:s, s:{s:s}}], s:[{s:s, s:{s:s}}, "
        "{s:s, s:{s:s}}]}}",
        "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
        "metadata", "name", "vm-lab", "namespace", "default", "uid", UID,
        "spec", "domain", "cpu", "cores", 1, "firmware", "kernelBoot",
        "kernelArgs", "console=ttyS0", "container", "kernelPath", t->kernel,
        "devices", "disks", "name", "containerdisk", "disk", "bus", "virtio",
        "interfaces", "name", "lab", "bridge", "macAddress",
        "02:00:00:00:00:01", "rng", "resources", "requests", "memory", "192Mi",
        "networks", "name", "lab", "multus", "networkName", "lab-net",
        "volumes", "name", "containerdisk", "containerDisk", "image",
        "quay.io/containerdisks/fedora:39", "name", "cloudinitdisk",
        "cloudInitNoCloud", "networkData",
        "version: 2\nethernets:\n  lab:\n    match:\n      macAddress: "
        "\"02:00:00:00:00:01\"\n    addresses: [198.18.0.70/15]\n");

    assert_non_null(v);
    if (patch) {
        json_t *p = json_loads(patch, 0, NULL);
        assert_non_null(p);
        assert_int_equal(json_object_update(json_object_get(v, "spec"), p), 0);
        json_decref(p);
    }
    return v;
}

static char *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        fail_msg("cannot open '%s'", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *ret_len = (size_t)n;
    return buf;
}

/* The backing file qemu-img reads in `overlay`'s header. */
static char *backing_of(const char *overlay)
{
    char cmd[PATH_MAX + 64], line[PATH_MAX + 64];
    FILE *p;
    char *ret = NULL;

    snprintf(cmd, sizeof(cmd), "qemu-img info --output=json '%s'", overlay);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p)) {
        char *k = strstr(line, "\"backing-filename\": \"");
        if (k && !ret) {
            k += strlen("\"backing-filename\": \"");
            k[strcspn(k, "\"")] = '\0';
            ret = strdup(k);
        }
    }
    pclose(p);
    return ret;
}

static void test_image_file(void **state)
{
    char buf[256];

    (void)state;
    assert_int_equal(migr_vmhost_image_file("/img",
                                            "quay.io/containerdisks/fedora:39",
                                            buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "/img/quay.io_containerdisks_fedora_39.qcow2");
    assert_int_equal(
        migr_vmhost_image_file("/img", "busybox@sha256:ab12", buf, sizeof(buf)),
        0);
    assert_string_equal(buf, "/img/busybox_sha256_ab12.qcow2");
    assert_int_equal(
        migr_vmhost_image_file("/img", "../etc/x", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(migr_vmhost_image_file("/img", "a b", buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(migr_vmhost_image_file("/img", "", buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(migr_vmhost_image_file("/img", "fedora", buf, 8),
                     -ENAMETOOLONG);
}

/* A target's prepare, the start on the source, again, and the stop. */
static void test_start_prepare_stop(void **state)
{
    struct t *t = *state;
    struct migr_vmhost_error e = {"", ""};
    struct conf_migrator target = t->cfg;
    json_t *vmi = vmi_new(t, NULL), *res = NULL, *res2 = NULL;
    char path[PATH_MAX], tpath[PATH_MAX], tstate[128], img[PATH_MAX];
    char *a, *b, *back, *xml;
    size_t la, lb;
    virDomainPtr d;
    int st, reason;

    /* The target first (it has no such domain yet): its own state_dir. */
    snprintf(tstate, sizeof(tstate), "%s/target", t->dir);
    target.state_dir = tstate;
    if (migr_vmhost_prepare(&target, NULL, DOM, vmi, NULL, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);

    if (migr_vmhost_start(&t->cfg, NULL, DOM, vmi, &res, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_string_equal(json_string_value(json_object_get(res, "domain")), DOM);
    assert_string_equal(json_string_value(json_object_get(res, "uuid")), UID);

    /* Running, defined from the manifest, with the VMI in its metadata. */
    d = virDomainLookupByName(t->keep, DOM);
    assert_non_null(d);
    assert_int_equal(virDomainGetState(d, &st, &reason, 0), 0);
    assert_int_equal(st, VIR_DOMAIN_RUNNING);
    xml = virDomainGetXMLDesc(d, 0);
    assert_non_null(strstr(xml, "uid=\"" UID "\""));
    assert_non_null(strstr(xml, "<source bridge='br0'/>"));
    snprintf(path, sizeof(path), "<source file='%s/vms/" DOM "/seed.iso'/>",
             t->state);
    assert_non_null(strstr(xml, path));
    free(xml);
    virDomainFree(d);

    /* The seed, byte for byte the target's. */
    snprintf(path, sizeof(path), "%s/vms/" DOM "/seed.iso", t->state);
    snprintf(tpath, sizeof(tpath), "%s/vms/" DOM "/seed.iso", tstate);
    a = slurp(path, &la);
    b = slurp(tpath, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_non_null(memmem(a, la, "198.18.0.70/15", 14));
    free(a);
    free(b);
    /* The overlays on both, on the image. */
    snprintf(img, sizeof(img), "%s/quay.io_containerdisks_fedora_39.qcow2",
             t->images);
    snprintf(path, sizeof(path), "%s/vms/" DOM "/containerdisk.qcow2",
             t->state);
    back = backing_of(path);
    assert_non_null(back);
    assert_string_equal(back, img);
    free(back);
    snprintf(tpath, sizeof(tpath), "%s/vms/" DOM "/containerdisk.qcow2",
             tstate);
    back = backing_of(tpath);
    assert_non_null(back);
    assert_string_equal(back, img);
    free(back);

    /* Again: the same domain, nothing made twice. */
    if (migr_vmhost_start(&t->cfg, NULL, DOM, vmi, &res2, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_true(json_equal(res, res2));

    /* Another VMI by the same name is refused, and nothing is touched. */
    json_object_set_new(json_object_get(vmi, "metadata"), "uid",
                        json_string("11111111-2222-3333-4444-555555555555"));
    json_decref(res2);
    res2 = NULL;
    assert_int_equal(migr_vmhost_start(&t->cfg, NULL, DOM, vmi, &res2, &e),
                     -EEXIST);
    assert_string_equal(e.reason, "DefineFailed");
    assert_non_null(strstr(e.message, "is not VMI"));
    assert_true(exists(path));

    /* A prepare where the domain is defined is refused. */
    assert_int_equal(migr_vmhost_prepare(&target, NULL, DOM, vmi, NULL, &e),
                     -EEXIST);
    assert_string_equal(e.reason, "PrepareFailed");

    /* Stop: gone, undefined, its directory removed; again: still fine. */
    if (migr_vmhost_stop(&t->cfg, NULL, DOM, 2, 10, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_null(virDomainLookupByName(t->keep, DOM));
    snprintf(path, sizeof(path), "%s/vms/" DOM, t->state);
    assert_false(exists(path));
    assert_int_equal(migr_vmhost_stop(&t->cfg, NULL, DOM, 2, 10, &e), 0);

    /* The target's release removes what its prepare made. */
    assert_int_equal(migr_vmhost_release(&target, NULL, DOM, &e), 0);
    snprintf(tpath, sizeof(tpath), "%s/vms/" DOM, tstate);
    assert_false(exists(tpath));
    json_decref(res);
    json_decref(vmi);
}

/* What only the host can know, refused with the field path; nothing is
 * left behind. */
static void test_invalid(void **state)
{
    struct t *t = *state;
    static const struct {
        const char *patch;
        const char *message;
    } cases[] = {
        {"{\"networks\":[{\"name\":\"lab\",\"multus\":{\"networkName\":"
         "\"nope\"}}]}",
         "spec.networks[0].multus.networkName: \"nope\" is not a network of "
         "this host"},
        {"{\"networks\":[{\"name\":\"lab\",\"multus\":{\"networkName\":"
         "\"sriov-net1\"}}]}",
         "spec.domain.devices.interfaces[0].bridge: network \"sriov-net1\" is "
         "an SR-IOV network of this host (bind it with sriov)"},
        {"{\"networks\":[{\"name\":\"lab\",\"pod\":{}}]}",
         "spec.domain.devices.interfaces[0].bridge: this host has no "
         "pod_bridge for a bridge binding on the pod network"},
        {"{\"volumes\":[{\"name\":\"containerdisk\",\"containerDisk\":"
         "{\"image\":\"quay.io/containerdisks/fedora:40\"}}]}",
         "spec.volumes[0].containerDisk.image: \"quay.io/containerdisks/"
         "fedora:40\" is not an image of this host (no file "},
        {"{\"volumes\":[{\"name\":\"containerdisk\",\"hostDisk\":"
         "{\"path\":\"/nonexistent/disk.img\",\"type\":\"Disk\"}}]}",
         "spec.volumes[0].hostDisk.path: \"/nonexistent/disk.img\" does not "
         "exist on this host"},
        {"{\"volumes\":[{\"name\":\"containerdisk\",\"persistentVolumeClaim\":"
         "{\"claimName\":\"data\"}}]}",
         "spec.volumes[0].persistentVolumeClaim.claimName: \"data\" is not a "
         "file NAMESPACE/CLAIM under this host's shared_storage"},
        {"{\"volumes\":[{\"name\":\"containerdisk\",\"containerDisk\":"
         "{\"image\":\"quay.io/containerdisks/fedora:39\"}},"
         "{\"name\":\"c\",\"cloudInitNoCloud\":{\"networkData\":"
         "\"ethernets: {}\"}}]}",
         "spec.volumes[1].cloudInitNoCloud.networkData: network-config "
         "version must be 1 or 2"},
        {"{\"volumes\":[{\"name\":\"containerdisk\",\"containerDisk\":"
         "{\"image\":\"quay.io/containerdisks/fedora:39\"}},"
         "{\"name\":\"c\",\"cloudInitNoCloud\":{\"networkData\":"
         "\"version: 2\\nethernets: [a]\"}}]}",
         "spec.volumes[1].cloudInitNoCloud.networkData: version 2's "
         "'ethernets' must be a map"},
        {"{\"domain\":{\"firmware\":{\"kernelBoot\":{\"container\":"
         "{\"kernelPath\":\"/nonexistent/vmlinuz\"}}},\"resources\":"
         "{\"requests\":{\"memory\":\"64Mi\"}}}}",
         "spec.domain.firmware.kernelBoot.container.kernelPath: "
         "\"/nonexistent/vmlinuz\" is not a file on this host"},
    };
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/vms/" DOM, t->state);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct migr_vmhost_error e = {"", ""};
        json_t *vmi = vmi_new(t, cases[i].patch), *res = NULL;

        assert_int_equal(migr_vmhost_start(&t->cfg, NULL, DOM, vmi, &res, &e),
                         -EINVAL);
        assert_string_equal(e.reason, "InvalidSpec");
        if (strncmp(e.message, cases[i].message, strlen(cases[i].message)))
            fail_msg("case %zu: got '%s'", i, e.message);
        assert_null(res);
        assert_false(exists(dir));
        assert_null(virDomainLookupByName(t->keep, DOM));
        json_decref(vmi);
    }

    /* The domain must be the VMI's NAMESPACE_NAME. */
    {
        struct migr_vmhost_error e = {"", ""};
        json_t *vmi = vmi_new(t, NULL), *res = NULL;

        assert_int_equal(
            migr_vmhost_start(&t->cfg, NULL, "default_other", vmi, &res, &e),
            -EINVAL);
        assert_string_equal(e.message, "domain: \"default_other\" is not the "
                                       "VMI's NAMESPACE_NAME "
                                       "(\"default_vm-lab\")");
        json_decref(vmi);
    }
}

/* Masquerade on the pod network: the host's NAT network is made (once)
 * and the interface is on it. */
static void test_masquerade(void **state)
{
    struct t *t = *state;
    struct migr_vmhost_error e = {"", ""};
    json_t *vmi = vmi_new(t, "{\"networks\":[{\"name\":\"lab\",\"pod\":{}}]}");
    json_t *res = NULL;
    virNetworkPtr net;
    virDomainPtr d;
    char *xml;

    json_array_set_new(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(vmi, "spec"), "domain"),
                "devices"),
            "interfaces"),
        0, json_pack("{s:s, s:{}}", "name", "lab", "masquerade"));
    if (migr_vmhost_start(&t->cfg, NULL, DOM, vmi, &res, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    net = virNetworkLookupByName(t->keep, MIGR_VMHOST_NAT_NETWORK);
    assert_non_null(net);
    assert_int_equal(virNetworkIsActive(net), 1);
    d = virDomainLookupByName(t->keep, DOM);
    assert_non_null(d);
    xml = virDomainGetXMLDesc(d, 0);
    assert_non_null(
        strstr(xml, "<source network='" MIGR_VMHOST_NAT_NETWORK "'/>"));
    free(xml);
    virDomainFree(d);
    assert_int_equal(migr_vmhost_stop(&t->cfg, NULL, DOM, 1, 10, &e), 0);
    /* The network stays for the next VM. */
    assert_int_equal(virNetworkIsActive(net), 1);
    /* Without ports nothing is forwarded. */
    {
        char *nat = slurp_rules(t, "nat");
        assert_null(strstr(nat, "orch-pod:"));
        free(nat);
    }
    assert_int_equal(virNetworkDestroy(net), 0);
    assert_int_equal(virNetworkUndefine(net), 0);
    virNetworkFree(net);
    json_decref(res);
    json_decref(vmi);
}

/* Masquerade `ports`: the guest's address reserved for its MAC on the NAT
 * network, the ports forwarded to it (the fake iptables' rules), both
 * undone by the stop; a migration target's prepare makes the same, its
 * release takes them back. */
static void test_masquerade_ports(void **state)
{
    struct t *t = *state;
    struct migr_vmhost_error e = {"", ""};
    json_t *vmi = vmi_new(t, "{\"networks\":[{\"name\":\"lab\",\"pod\":{}}]}");
    json_t *res = NULL;
    char addr[16], host[96], dnat[64], rec[64], path[PATH_MAX];
    virNetworkPtr net;

    json_array_set_new(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(vmi, "spec"), "domain"),
                "devices"),
            "interfaces"),
        0,
        json_pack("{s:s, s:{}, s:s, s:[{s:i}, {s:s, s:i, s:s}, {s:i}]}", "name",
                  "lab", "masquerade", "macAddress", "02:00:00:00:00:09",
                  "ports", "port", 80, "name", "dns", "port", 53, "protocol",
                  "UDP", "port", 49153));
    assert_int_equal(migr_podnat_addr(UID, addr, sizeof(addr)), 0);
    snprintf(host, sizeof(host), "<host mac='02:00:00:00:00:09' ip='%s'/>",
             addr);
    snprintf(dnat, sizeof(dnat), "-j DNAT --to-destination %s:80\n", addr);
    snprintf(rec, sizeof(rec), "02:00:00:00:00:09 %s\n", addr);
    snprintf(path, sizeof(path), "%s/vms/" DOM "/podnat", t->state);

    for (int round = 0; round < 2; round++) {
        char *xml, *nat, *filter, *got;

        /* Round 0 starts the VM, round 1 prepares a migration target. */
        if (round == 0 &&
            migr_vmhost_start(&t->cfg, NULL, DOM, vmi, &res, &e) < 0)
            fail_msg("%s: %s", e.reason, e.message);
        if (round == 1 &&
            migr_vmhost_prepare(&t->cfg, NULL, DOM, vmi, NULL, &e) < 0)
            fail_msg("%s: %s", e.reason, e.message);
        net = virNetworkLookupByName(t->keep, MIGR_VMHOST_NAT_NETWORK);
        assert_non_null(net);
        xml = virNetworkGetXMLDesc(net, 0);
        assert_non_null(xml);
        if (!strstr(xml, host))
            fail_msg("no %s in %s", host, xml);
        /* The gateway's MAC, the same on every host. */
        assert_non_null(strstr(xml, "<mac address='02:00:0a:00:02:01'/>"));
        free(xml);
        nat = slurp_rules(t, "nat");
        filter = slurp_rules(t, "filter");
        assert_int_equal(test_count(nat, "--comment orch-pod:" DOM " "), 4);
        assert_int_equal(test_count(nat, dnat), 2);
        assert_int_equal(test_count(nat, "-p udp -m udp --dport 53"), 2);
        /* Where libvirt receives migrations: left alone. */
        assert_int_equal(test_count(nat, "--dport 49153"), 0);
        assert_int_equal(test_count(filter, "--comment orch-pod:" DOM " "), 2);
        free(nat);
        free(filter);
        got = slurp_or_empty(path);
        assert_string_equal(got, rec);
        free(got);

        if (round == 0)
            assert_int_equal(migr_vmhost_stop(&t->cfg, NULL, DOM, 1, 10, &e),
                             0);
        else
            assert_int_equal(migr_vmhost_release(&t->cfg, NULL, DOM, &e), 0);
        xml = virNetworkGetXMLDesc(net, 0);
        assert_null(strstr(xml, "02:00:00:00:00:09"));
        free(xml);
        nat = slurp_rules(t, "nat");
        filter = slurp_rules(t, "filter");
        assert_null(strstr(nat, "orch-pod:"));
        assert_null(strstr(filter, "orch-pod:"));
        free(nat);
        free(filter);
        assert_false(exists(path));
        virNetworkFree(net);
    }
    net = virNetworkLookupByName(t->keep, MIGR_VMHOST_NAT_NETWORK);
    assert_int_equal(virNetworkDestroy(net), 0);
    assert_int_equal(virNetworkUndefine(net), 0);
    virNetworkFree(net);
    json_decref(res);
    json_decref(vmi);
}

/* A failure after the files were made takes them back: libvirt refuses
 * the definition (here: a domain of another name has the VMI's uuid). */
static void test_define_fails_cleans_up(void **state)
{
    struct t *t = *state;
    struct migr_vmhost_error e = {"", ""};
    json_t *vmi = vmi_new(t, NULL), *res = NULL;
    char dir[PATH_MAX];
    virDomainPtr other;

    other = virDomainDefineXML(
        t->keep, "<domain type='test'><name>squatter</name><uuid>" UID
                 "</uuid><memory>65536</memory><os><type>hvm</type></os>"
                 "</domain>");
    assert_non_null(other);
    assert_true(migr_vmhost_start(&t->cfg, NULL, DOM, vmi, &res, &e) < 0);
    assert_string_equal(e.reason, "DefineFailed");
    snprintf(dir, sizeof(dir), "%s/vms/" DOM, t->state);
    assert_false(exists(dir));
    assert_null(virDomainLookupByName(t->keep, DOM));
    assert_int_equal(virDomainUndefine(other), 0);
    virDomainFree(other);
    json_decref(vmi);
}

/* ---------------------------------------------------------------------- */
/* SR-IOV: VFs of a fixture sysfs tree, netlink faked at its seam           */

struct fake_nl {
    struct {
        char pf[IF_NAMESIZE];
        unsigned index;
        char mac[MIGR_MAC_LEN];
        int vlan;
    } sets[32];
    int n_sets;
};

static int fake_vf_list(void *ctx, const char *pf,
                        struct migr_vf_link **ret_vfs)
{
    (void)ctx;
    (void)pf;
    *ret_vfs = NULL;
    return 0;
}

static int fake_vf_set(void *ctx, const char *pf, unsigned index,
                       const struct migr_vf_config *cfg)
{
    struct fake_nl *f = ctx;

    assert_true(f->n_sets < 32);
    snprintf(f->sets[f->n_sets].pf, IF_NAMESIZE, "%s", pf);
    f->sets[f->n_sets].index = index;
    snprintf(f->sets[f->n_sets].mac, MIGR_MAC_LEN, "%s", cfg->mac);
    f->sets[f->n_sets].vlan = cfg->vlan;
    f->n_sets++;
    return 0;
}

static void assert_set(const struct fake_nl *f, int i, unsigned index,
                       const char *mac, int vlan)
{
    assert_true(i < f->n_sets);
    assert_string_equal(f->sets[i].pf, "ens1f0");
    assert_int_equal(f->sets[i].index, index);
    assert_string_equal(f->sets[i].mac, mac);
    assert_int_equal(f->sets[i].vlan, vlan);
}

/* This host as "host-b" with PF ens1f0 of 2 VFs (netdevs ens1f0v0 and
 * ens1f0v1) in a fixture sysfs tree, networks sriov-net1 (macvtap, VLAN 5)
 * and sriov-hd (hostdev, VLAN 7) on it. */
static void sriov_host(struct t *t, struct fx *fx, struct conf_migrator *cfg,
                       const char *state_dir)
{
    static const struct fx_vf vfs[] = {{"iavf", "ens1f0v0"},
                                       {"iavf", "ens1f0v1"}};
    char conf[PATH_MAX * 4], err[256];

    fx_pf(fx, "ens1f0", 0x3b, 8, vfs, 2);
    snprintf(conf, sizeof(conf),
             "name = \"host-b\";\nlibvirt_uri = \"test:///default\";\n"
             "state_dir = \"%s\";\nimage_dir = \"%s\";\nsysfs_root = \"%s\";\n"
             "networks = ( { name = \"sriov-net1\"; pf = \"ens1f0\"; "
             "mode = \"macvtap\"; vlan = 5; },\n"
             "  { name = \"sriov-hd\"; pf = \"ens1f0\"; mode = \"hostdev\"; "
             "vlan = 7; } );\n",
             state_dir, t->images, fx->root);
    assert_int_equal(conf_migrator_init(cfg), 0);
    if (conf_migrator_load_string(cfg, conf, "t.conf", err, sizeof(err)) < 0)
        fail_msg("%s", err);
}

/* The VMI with its interface "lab" bound with sriov on network `net`,
 * named `name` with uid `uid`. */
static json_t *vmi_sriov(const struct t *t, const char *net, const char *name,
                         const char *uid)
{
    json_t *v = vmi_new(t, NULL);
    json_t *spec = json_object_get(v, "spec");
    json_t *f = json_array_get(
        json_object_get(
            json_object_get(json_object_get(spec, "domain"), "devices"),
            "interfaces"),
        0);
    json_t *n = json_array_get(json_object_get(spec, "networks"), 0);

    json_object_del(f, "bridge");
    json_object_set_new(f, "sriov", json_object());
    json_object_set_new(json_object_get(n, "multus"), "networkName",
                        json_string(net));
    json_object_set_new(json_object_get(v, "metadata"), "name",
                        json_string(name));
    json_object_set_new(json_object_get(v, "metadata"), "uid",
                        json_string(uid));
    return v;
}

static char *dom_xml(const struct t *t, const char *name)
{
    virDomainPtr d = virDomainLookupByName(t->keep, name);
    char *xml;

    assert_non_null(d);
    xml = virDomainGetXMLDesc(d, 0);
    assert_non_null(xml);
    virDomainFree(d);
    return xml;
}

#define UID2 "7e2d9b4f-8c3a-4f72-8b1e-4d5c6f7a8b92"
#define UID3 "9a3e0c5d-1b2c-4d83-9c2f-5e6d7f8a9ba3"

/* macvtap mode: a target's prepare reserves, programs and reports the VF
 * and its release gives it back; with none free it is NoFreeVF naming the
 * PF and the host; a start attaches a direct passthrough interface on the
 * VF netdev; a VF a running domain holds is skipped by a table that does
 * not know it (a restarted migrator); stop gives the VF back, MAC
 * cleared. */
static void test_sriov_macvtap(void **state)
{
    struct t *t = *state;
    struct migr_vmhost_error e = {"", ""};
    struct conf_migrator cfg;
    struct fake_nl nl = {0};
    struct migr_netlink_ops ops = {fake_vf_list, fake_vf_set, &nl};
    struct migr_sriov *s = NULL, *s2 = NULL;
    struct migr_vf_reservation res[4];
    struct fx fx;
    json_t *vmi = vmi_sriov(t, "sriov-net1", "vm-lab", UID);
    json_t *vmi2 = vmi_sriov(t, "sriov-net1", "vm-two", UID2);
    json_t *vfs = NULL, *it, *out = NULL, *out2 = NULL;
    char *xml;

    assert_int_equal(fx_make(&fx, "test_vmhost_sriov"), 0);
    sriov_host(t, &fx, &cfg, t->state);
    assert_int_equal(migr_sriov_new(fx.root, &ops, &s), 0);

    /* A target's prepare: VF 0 reserved, programmed, in the result. */
    if (migr_vmhost_prepare(&cfg, s, DOM, vmi, &vfs, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_int_equal(json_array_size(vfs), 1);
    it = json_array_get(vfs, 0);
    assert_string_equal(json_string_value(json_object_get(it, "iface")), "lab");
    assert_string_equal(json_string_value(json_object_get(it, "netdev")),
                        "ens1f0v0");
    assert_string_equal(json_string_value(json_object_get(it, "pci")),
                        "0000:3b:02.0");
    assert_string_equal(json_string_value(json_object_get(it, "pf")), "ens1f0");
    assert_string_equal(json_string_value(json_object_get(it, "mac")),
                        "02:00:00:00:00:01");
    json_decref(vfs);
    vfs = NULL;
    assert_int_equal(nl.n_sets, 1);
    assert_set(&nl, 0, 0, "02:00:00:00:00:01", 5);
    assert_int_equal(migr_sriov_list(s, res, 4), 1);
    assert_string_equal(res[0].owner, DOM);

    /* Again (a prepare run again after a restart): the same VF. */
    if (migr_vmhost_prepare(&cfg, s, DOM, vmi, &vfs, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(vfs, 0), "netdev")),
        "ens1f0v0");
    json_decref(vfs);
    vfs = NULL;
    assert_int_equal(migr_sriov_list(s, res, 4), 1);

    /* Another VM takes the last VF; a third finds none. */
    {
        json_t *vmi3 = vmi_sriov(t, "sriov-net1", "vm-three", UID3);

        if (migr_vmhost_prepare(&cfg, s, "default_vm-two", vmi2, NULL, &e) < 0)
            fail_msg("%s: %s", e.reason, e.message);
        assert_int_equal(
            migr_vmhost_prepare(&cfg, s, "default_vm-three", vmi3, &vfs, &e),
            -ENOSPC);
        assert_null(vfs);
        assert_string_equal(e.reason, "NoFreeVF");
        assert_string_equal(e.message,
                            "spec.networks[0].multus.networkName: no free VF "
                            "on PF \"ens1f0\" on host-b");
        json_decref(vmi3);
    }
    assert_int_equal(migr_sriov_list(s, res, 4), 2);

    /* The releases (migrations that never came): both back, MACs cleared,
     * the directories gone. */
    nl.n_sets = 0;
    assert_int_equal(migr_vmhost_release(&cfg, s, DOM, &e), 0);
    assert_int_equal(migr_vmhost_release(&cfg, s, "default_vm-two", &e), 0);
    assert_int_equal(migr_sriov_list(s, res, 4), 0);
    assert_int_equal(nl.n_sets, 2);
    assert_set(&nl, 0, 0, "00:00:00:00:00:00", 0);
    assert_set(&nl, 1, 1, "00:00:00:00:00:00", 0);

    /* The start: a direct passthrough interface on VF 0's netdev. */
    nl.n_sets = 0;
    if (migr_vmhost_start(&cfg, s, DOM, vmi, &out, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_set(&nl, 0, 0, "02:00:00:00:00:01", 5);
    xml = dom_xml(t, DOM);
    assert_non_null(strstr(xml, "<interface type='direct'>"));
    assert_non_null(strstr(xml, "<mac address='02:00:00:00:00:01'/>"));
    assert_non_null(strstr(xml, "<source dev='ens1f0v0' mode='passthrough'/>"));
    assert_non_null(strstr(xml, "<alias name='ua-sriov-lab'/>"));
    free(xml);

    /* A table that does not know it (the migrator restarted) skips the VF
     * the running domain holds. */
    assert_int_equal(migr_sriov_new(fx.root, &ops, &s2), 0);
    if (migr_vmhost_start(&cfg, s2, "default_vm-two", vmi2, &out2, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    xml = dom_xml(t, "default_vm-two");
    assert_non_null(strstr(xml, "<source dev='ens1f0v1' mode='passthrough'/>"));
    free(xml);

    /* Stop: the VF is free again, its MAC cleared. */
    nl.n_sets = 0;
    assert_int_equal(migr_vmhost_stop(&cfg, s, DOM, 1, 10, &e), 0);
    assert_int_equal(migr_sriov_list(s, res, 4), 0);
    assert_int_equal(nl.n_sets, 1);
    assert_set(&nl, 0, 0, "00:00:00:00:00:00", 0);
    assert_int_equal(migr_vmhost_stop(&cfg, s2, "default_vm-two", 1, 10, &e),
                     0);
    assert_int_equal(migr_sriov_list(s2, res, 4), 0);

    json_decref(out);
    json_decref(out2);
    json_decref(vmi);
    json_decref(vmi2);
    migr_sriov_free(s);
    migr_sriov_free(s2);
    conf_migrator_clear(&cfg);
    fx_remove(&fx);
}

/* hostdev mode: <interface type='hostdev' managed='yes'> on the VF's PCI
 * address with the VLAN; no MAC or no SR-IOV network is InvalidSpec and
 * nothing is reserved; a start that fails gives the VF back. */
static void test_sriov_hostdev_and_invalid(void **state)
{
    struct t *t = *state;
    struct migr_vmhost_error e = {"", ""};
    struct conf_migrator cfg;
    struct fake_nl nl = {0};
    struct migr_netlink_ops ops = {fake_vf_list, fake_vf_set, &nl};
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation res[4];
    struct fx fx;
    json_t *vmi = vmi_sriov(t, "sriov-hd", "vm-lab", UID), *out = NULL;
    char *xml;

    assert_int_equal(fx_make(&fx, "test_vmhost_sriov"), 0);
    sriov_host(t, &fx, &cfg, t->state);
    assert_int_equal(migr_sriov_new(fx.root, &ops, &s), 0);

    /* The domain's XML only (the test driver starts nothing): libvirt's
     * own writing of what was defined. */
    if (migr_vmhost_start(&cfg, s, DOM, vmi, &out, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_set(&nl, 0, 0, "02:00:00:00:00:01", 7);
    xml = dom_xml(t, DOM);
    assert_non_null(strstr(xml, "<interface type='hostdev' managed='yes'>"));
    assert_non_null(strstr(xml, "<mac address='02:00:00:00:00:01'/>"));
    assert_non_null(strstr(xml, "<address type='pci' domain='0x0000' "
                                "bus='0x3b' slot='0x02' function='0x0'/>"));
    assert_non_null(strstr(xml, "<tag id='7'/>"));
    free(xml);
    assert_int_equal(migr_vmhost_stop(&cfg, s, DOM, 1, 10, &e), 0);
    assert_int_equal(migr_sriov_list(s, res, 4), 0);
    json_decref(out);
    out = NULL;

    /* No macAddress. */
    json_object_del(
        json_array_get(
            json_object_get(
                json_object_get(
                    json_object_get(json_object_get(vmi, "spec"), "domain"),
                    "devices"),
                "interfaces"),
            0),
        "macAddress");
    assert_int_equal(migr_vmhost_start(&cfg, s, DOM, vmi, &out, &e), -EINVAL);
    assert_string_equal(e.reason, "InvalidSpec");
    assert_string_equal(e.message, "spec.domain.devices.interfaces[0]."
                                   "macAddress: required for an SR-IOV "
                                   "interface");
    json_decref(vmi);

    /* sriov on a network that is not SR-IOV here: the setup's config has
     * lab-net as a bridge. */
    vmi = vmi_sriov(t, "lab-net", "vm-lab", UID);
    assert_int_equal(migr_vmhost_start(&t->cfg, s, DOM, vmi, &out, &e),
                     -EINVAL);
    assert_string_equal(e.message, "spec.domain.devices.interfaces[0].sriov: "
                                   "network \"lab-net\" is not an SR-IOV "
                                   "network of this host");
    json_decref(vmi);

    /* A start that fails after the reservation (a domain by another name
     * holds the VMI's UUID): the VF goes back. */
    {
        virDomainPtr other = virDomainDefineXML(
            t->keep, "<domain type='test'><name>squatter</name><uuid>" UID
                     "</uuid><memory>65536</memory><os><type>hvm</type></os>"
                     "</domain>");

        assert_non_null(other);
        vmi = vmi_sriov(t, "sriov-net1", "vm-lab", UID);
        assert_true(migr_vmhost_start(&cfg, s, DOM, vmi, &out, &e) < 0);
        assert_string_equal(e.reason, "DefineFailed");
        assert_int_equal(migr_sriov_list(s, res, 4), 0);
        assert_int_equal(virDomainUndefine(other), 0);
        virDomainFree(other);
        json_decref(vmi);
    }
    assert_null(out);
    migr_sriov_free(s);
    conf_migrator_clear(&cfg);
    fx_remove(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_file),
        cmocka_unit_test_setup_teardown(test_start_prepare_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_masquerade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_masquerade_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_define_fails_cleans_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sriov_macvtap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_hostdev_and_invalid, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
