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
#include <libvirt/libvirt.h>

#include "conf/conf.h"
#include "migrator/podnat.h"
#include "migrator/seed.h"
#include "migrator/vmhost.h"

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
    FILE *in = fopen(path, "r");
    char *s;
    long n;

    if (!in)
        return strdup("");
    fseek(in, 0, SEEK_END);
    n = ftell(in);
    rewind(in);
    s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, in), (size_t)n);
    fclose(in);
    return s;
}

/* The fake iptables' rules of TABLE. */
static char *slurp_rules(const struct t *t, const char *table)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/rules-%s", t->ipt, table);
    return slurp_or_empty(path);
}

static int count(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
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
    if (migr_vmhost_prepare(&target, DOM, vmi, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);

    if (migr_vmhost_start(&t->cfg, DOM, vmi, &res, &e) < 0)
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
    if (migr_vmhost_start(&t->cfg, DOM, vmi, &res2, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_true(json_equal(res, res2));

    /* Another VMI by the same name is refused, and nothing is touched. */
    json_object_set_new(json_object_get(vmi, "metadata"), "uid",
                        json_string("11111111-2222-3333-4444-555555555555"));
    json_decref(res2);
    res2 = NULL;
    assert_int_equal(migr_vmhost_start(&t->cfg, DOM, vmi, &res2, &e), -EEXIST);
    assert_string_equal(e.reason, "DefineFailed");
    assert_non_null(strstr(e.message, "is not VMI"));
    assert_true(exists(path));

    /* A prepare where the domain is defined is refused. */
    assert_int_equal(migr_vmhost_prepare(&target, DOM, vmi, &e), -EEXIST);
    assert_string_equal(e.reason, "PrepareFailed");

    /* Stop: gone, undefined, its directory removed; again: still fine. */
    if (migr_vmhost_stop(&t->cfg, DOM, 2, 10, &e) < 0)
        fail_msg("%s: %s", e.reason, e.message);
    assert_null(virDomainLookupByName(t->keep, DOM));
    snprintf(path, sizeof(path), "%s/vms/" DOM, t->state);
    assert_false(exists(path));
    assert_int_equal(migr_vmhost_stop(&t->cfg, DOM, 2, 10, &e), 0);

    /* The target's release removes what its prepare made. */
    assert_int_equal(migr_vmhost_release(&target, DOM, &e), 0);
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

        assert_int_equal(migr_vmhost_start(&t->cfg, DOM, vmi, &res, &e),
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
            migr_vmhost_start(&t->cfg, "default_other", vmi, &res, &e),
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
    if (migr_vmhost_start(&t->cfg, DOM, vmi, &res, &e) < 0)
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
    assert_int_equal(migr_vmhost_stop(&t->cfg, DOM, 1, 10, &e), 0);
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
        if (round == 0 && migr_vmhost_start(&t->cfg, DOM, vmi, &res, &e) < 0)
            fail_msg("%s: %s", e.reason, e.message);
        if (round == 1 && migr_vmhost_prepare(&t->cfg, DOM, vmi, &e) < 0)
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
        assert_int_equal(count(nat, "--comment orch-pod:" DOM " "), 4);
        assert_int_equal(count(nat, dnat), 2);
        assert_int_equal(count(nat, "-p udp -m udp --dport 53"), 2);
        /* Where libvirt receives migrations: left alone. */
        assert_int_equal(count(nat, "--dport 49153"), 0);
        assert_int_equal(count(filter, "--comment orch-pod:" DOM " "), 2);
        free(nat);
        free(filter);
        got = slurp_or_empty(path);
        assert_string_equal(got, rec);
        free(got);

        if (round == 0)
            assert_int_equal(migr_vmhost_stop(&t->cfg, DOM, 1, 10, &e), 0);
        else
            assert_int_equal(migr_vmhost_release(&t->cfg, DOM, &e), 0);
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
    assert_true(migr_vmhost_start(&t->cfg, DOM, vmi, &res, &e) < 0);
    assert_string_equal(e.reason, "DefineFailed");
    snprintf(dir, sizeof(dir), "%s/vms/" DOM, t->state);
    assert_false(exists(dir));
    assert_null(virDomainLookupByName(t->keep, DOM));
    assert_int_equal(virDomainUndefine(other), 0);
    virDomainFree(other);
    json_decref(vmi);
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
