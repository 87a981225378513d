/*
 * Unit tests for migrator/domxml: the domain XML of the lab guest and of
 * the seed's SR-IOV VM (macvtap and hostdev networks) against reviewed
 * files in tests/data/domxml/, and libvirt's own parser as the judge of
 * validity: every generated domain is defined on the test driver
 * (test:///default) and read back.  The macvtap retarget runs on the XML
 * libvirt itself writes.
 *
 * ORCH_DOMXML_REGEN=1 rewrites the expected files instead of comparing
 * (review the diff before committing it).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "api/api.h"
#include "migrator/domxml.h"

#define UUID_LAB   "6a1f0c52-3b7e-4d4a-9c1e-2f6d8b0a7c11"
#define UUID_SRIOV "0c9e2b4d-5f61-4a8e-b7d3-1e2f3a4b5c6d"

static const char *top_dir(void)
{
    const char *top = getenv("ORCH_TOP");
    return top ? top : ".";
}

static char *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        fail_msg("cannot open '%s'", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (ret_len)
        *ret_len = (size_t)n;
    return buf;
}

static void load_vm(const char *rel, struct api_vm *vm)
{
    char path[PATH_MAX];
    struct api_errors errs;
    json_t *doc = NULL;
    char *text;
    size_t len;

    snprintf(path, sizeof(path), "%s/%s", top_dir(), rel);
    text = slurp(path, &len);
    api_errors_init(&errs);
    if (api_object_parse(text, len, NULL, API_KIND_VM, &doc, NULL, &errs) < 0)
        fail_msg("%s: %s", rel, errs.count ? errs.items[0].message : "?");
    assert_int_equal(api_vm_from_json(doc, vm, &errs), 0);
    api_errors_clear(&errs);
    json_decref(doc);
    free(text);
}

/* Compare with tests/data/domxml/NAME, or rewrite it when asked. */
static void expect_file(const char *name, const char *xml)
{
    char path[PATH_MAX];
    char *want;

    snprintf(path, sizeof(path), "%s/tests/data/domxml/%s", top_dir(), name);
    if (getenv("ORCH_DOMXML_REGEN")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(xml, f);
        fclose(f);
        return;
    }
    want = slurp(path, NULL);
    assert_string_equal(xml, want);
    free(want);
}

/* libvirt's verdict: define on the test driver, read it back, undefine.
 * Returns libvirt's XML (caller frees). */
static char *libvirt_roundtrip(const char *xml, unsigned flags)
{
    virConnectPtr conn = virConnectOpen("test:///default");
    virDomainPtr dom;
    char *back;

    assert_non_null(conn);
    dom = virDomainDefineXML(conn, xml);
    if (!dom)
        fail_msg("libvirt refused the XML: %s\n%s", virGetLastErrorMessage(),
                 xml);
    back = virDomainGetXMLDesc(dom, flags);
    assert_non_null(back);
    assert_int_equal(virDomainUndefine(dom), 0);
    virDomainFree(dom);
    virConnectClose(conn);
    return back;
}

/* A second, stricter judge: libvirt's RelaxNG schema for domains
 * (virt-xml-validate, which needs xmllint; scripts/install-deps.sh installs
 * both, so their absence is a failure, not a reason to skip). */
static void schema_check(const char *xml)
{
    char path[] = "/tmp/test_migrator_domxml.XXXXXX";
    char cmd[256];
    int fd, r;

    if (system("command -v virt-xml-validate >/dev/null 2>&1 && "
               "command -v xmllint >/dev/null 2>&1") != 0)
        fail_msg("virt-xml-validate or xmllint is missing; "
                 "run scripts/install-deps.sh");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
    close(fd);
    snprintf(cmd, sizeof(cmd), "virt-xml-validate %s domain >/dev/null 2>&1",
             path);
    r = system(cmd);
    unlink(path);
    if (r != 0)
        fail_msg("the domain schema refused:\n%s", xml);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' not found in:\n%s", needle, hay);
}

/* The options a host would pass for the SR-IOV VM. */
static const struct migr_domxml_disk sriov_disks[] = {
    {"containerdisk", "/var/lib/orch/images/fedora-cloud.qcow2", "qcow2", NULL},
};

static struct migr_domxml_opts sriov_opts(const struct migr_domxml_vf *vf)
{
    return (struct migr_domxml_opts){
        .domain_type = "kvm",
        .uuid = UUID_SRIOV,
        .seed_path = "/var/lib/orch/seed/default_vmi-sriov-test-vm.iso",
        .console_path = "/var/log/orch/console/default_vmi-sriov-test-vm.log",
        .disks = sriov_disks,
        .disk_count = 1,
        .vfs = vf,
        .vf_count = 1,
    };
}

static const struct migr_domxml_vf vf_macvtap = {
    "sriov-net1", MIGR_VF_MODE_MACVTAP, "0000:3b:02.1", "ens1f0v1", 100};
static const struct migr_domxml_vf vf_hostdev = {
    "sriov-net1", MIGR_VF_MODE_HOSTDEV, "0000:3b:02.1", NULL, 100};

/* ---------------------------------------------------------------------- */

static void test_lab_guest(void **state)
{
    struct api_vm vm = {0};
    struct migr_domxml_opts o = {
        .domain_type = "qemu",
        .uuid = UUID_LAB,
        .console_path = "/var/lib/orch-lab/console/guest1.log",
        .bridge = "br0",
    };
    char err[256], *xml = NULL, *back;

    (void)state;
    load_vm("tests/data/domxml/lab-guest.yaml", &vm);
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)), 0);
    expect_file("lab-guest.xml", xml);
    schema_check(xml);
    back = libvirt_roundtrip(xml, 0);
    assert_contains(back, "<name>lab_guest1</name>");
    assert_contains(back, "<memory unit='KiB'>196608</memory>");
    assert_contains(back, "<kernel>/var/lib/orch-lab/guest/vmlinuz</kernel>");
    assert_contains(back, "<cmdline>console=ttyS0 panic=-1 loglevel=4 "
                          "orch.ip=198.18.0.10/15 "
                          "orch.mac=02:00:c6:12:00:0a</cmdline>");
    assert_contains(back, "<mac address='02:00:c6:12:00:0a'/>");
    assert_contains(back, "<source bridge='br0'/>");
    assert_contains(back, "<alias name='ua-default'/>");
    free(back);
    free(xml);
    api_vm_clear(&vm);
}

static void test_sriov_macvtap(void **state)
{
    struct api_vm vm = {0};
    struct migr_domxml_opts o = sriov_opts(&vf_macvtap);
    char err[256], *xml = NULL, *back;

    (void)state;
    load_vm("tests/data/vm-sriov.yaml", &vm);
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)), 0);
    expect_file("vm-sriov-macvtap.xml", xml);
    schema_check(xml);
    back = libvirt_roundtrip(xml, 0);
    assert_contains(back, "<name>default_vmi-sriov-test-vm</name>");
    assert_contains(back, "<uuid>" UUID_SRIOV "</uuid>");
    /* 1024M = 1024000000 bytes = 1000000 KiB. */
    assert_contains(back, "<memory unit='KiB'>1000000</memory>");
    assert_contains(back, "<vcpu placement='static'>4</vcpu>");
    assert_contains(back, "<topology sockets='1'");
    assert_contains(back, "cores='4' threads='1'/>");
    assert_contains(back, "<interface type='direct'>");
    assert_contains(back, "<mac address='02:00:00:00:00:01'/>");
    assert_contains(back, "<source dev='ens1f0v1' mode='passthrough'/>");
    assert_contains(back, "<alias name='ua-sriov-sriov-net1'/>");
    assert_contains(back, "<source file='/var/lib/orch/seed/"
                          "default_vmi-sriov-test-vm.iso'/>");
    assert_contains(back, "<target dev='vdb' bus='virtio'/>");
    assert_contains(back, "<rng model='virtio'>");
    free(back);
    free(xml);
    api_vm_clear(&vm);
}

static void test_sriov_hostdev(void **state)
{
    struct api_vm vm = {0};
    struct migr_domxml_opts o = sriov_opts(&vf_hostdev);
    char err[256], *xml = NULL, *back;

    (void)state;
    load_vm("tests/data/vm-sriov.yaml", &vm);
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)), 0);
    expect_file("vm-sriov-hostdev.xml", xml);
    schema_check(xml);
    back = libvirt_roundtrip(xml, 0);
    assert_contains(back, "<interface type='hostdev' managed='yes'>");
    assert_contains(back, "<address type='pci' domain='0x0000' bus='0x3b' "
                          "slot='0x02' function='0x1'/>");
    assert_contains(back, "<tag id='100'/>");
    assert_contains(back, "<alias name='ua-sriov-sriov-net1'/>");
    free(back);
    free(xml);
    api_vm_clear(&vm);
}

static void test_sriov_interface_alone(void **state)
{
    struct api_interface iface = {
        .name = "sriov-net1",
        .binding = API_BINDING_SRIOV,
        .mac_address = "02:00:00:00:00:01",
    };
    struct migr_domxml_vf bad = vf_hostdev;
    char err[256], *xml = NULL;

    (void)state;
    assert_int_equal(migr_domxml_sriov_interface(&iface, &vf_hostdev, &xml, err,
                                                 sizeof(err)),
                     0);
    assert_string_equal(xml,
                        "<interface type='hostdev' managed='yes'>\n"
                        "  <mac address='02:00:00:00:00:01'/>\n"
                        "  <driver name='vfio'/>\n"
                        "  <source>\n"
                        "    <address type='pci' domain='0x0000' bus='0x3b' "
                        "slot='0x02' function='0x1'/>\n"
                        "  </source>\n"
                        "  <vlan>\n"
                        "    <tag id='100'/>\n"
                        "  </vlan>\n"
                        "  <alias name='ua-sriov-sriov-net1'/>\n"
                        "</interface>\n");
    free(xml);
    assert_int_equal(migr_domxml_sriov_interface(&iface, &vf_macvtap, &xml, err,
                                                 sizeof(err)),
                     0);
    assert_string_equal(xml, "<interface type='direct'>\n"
                             "  <mac address='02:00:00:00:00:01'/>\n"
                             "  <source dev='ens1f0v1' mode='passthrough'/>\n"
                             "  <model type='virtio'/>\n"
                             "  <alias name='ua-sriov-sriov-net1'/>\n"
                             "</interface>\n");
    free(xml);
    xml = NULL;
    bad.pci = "3b:02.1";
    assert_int_equal(
        migr_domxml_sriov_interface(&iface, &bad, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "interface \"sriov-net1\": bad VF PCI address "
                             "\"3b:02.1\"");
    assert_null(xml);
}

static void test_build_errors(void **state)
{
    struct api_vm vm = {0};
    struct migr_domxml_opts o = sriov_opts(&vf_macvtap);
    struct migr_domxml_vf other = vf_macvtap;
    char err[256], *xml = NULL;

    (void)state;
    load_vm("tests/data/vm-sriov.yaml", &vm);

    o.vf_count = 0;
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "interface \"sriov-net1\": no VF assigned");

    other.iface = "sriov-net2";
    o = sriov_opts(&other);
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "interface \"sriov-net1\": no VF assigned");

    o = sriov_opts(&vf_macvtap);
    o.seed_path = NULL;
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "volume \"cloudinitdisk\": no NoCloud seed path");

    o = sriov_opts(&vf_macvtap);
    o.disk_count = 0;
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "volume \"containerdisk\": no file for it");

    o = sriov_opts(&vf_macvtap);
    o.uuid = "not-a-uuid";
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "bad uuid \"not-a-uuid\"");

    /* Masquerade is KubeVirt's default binding; this project has no pod
     * network NAT to run it on. */
    o = sriov_opts(&vf_macvtap);
    vm.spec.interfaces[0].binding = API_BINDING_MASQUERADE;
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EOPNOTSUPP);
    assert_string_equal(
        err, "interface \"sriov-net1\": binding \"masquerade\" is not "
             "supported (only on the pod network of a host with a NAT "
             "network)");
    vm.spec.interfaces[0].binding = API_BINDING_SRIOV;

    free(vm.spec.requests_memory);
    vm.spec.requests_memory = NULL;
    vm.spec.requests_memory_bytes = 0;
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "the VMI has no memory size");
    assert_null(xml);
    api_vm_clear(&vm);
}

static void load_vmi(const char *rel, struct api_vmi *vmi)
{
    char path[PATH_MAX];
    struct api_errors errs;
    json_t *doc = NULL;
    char *text;
    size_t len;

    snprintf(path, sizeof(path), "%s/%s", top_dir(), rel);
    text = slurp(path, &len);
    api_errors_init(&errs);
    if (api_object_parse(text, len, NULL, API_KIND_VMI, &doc, NULL, &errs) < 0)
        fail_msg("%s: %s", rel, errs.count ? errs.items[0].message : "?");
    assert_int_equal(api_vmi_from_json(doc, vmi, &errs), 0);
    api_errors_clear(&errs);
    json_decref(doc);
    free(text);
}

/* Issue 11's mapping on a VMI in the seed's shape: the <metadata> naming
 * the VMI, kernel boot, the containerDisk's overlay (qcow2), the seed on a
 * CD-ROM when no disk names it, a multus network on the host's bridge for
 * it, masquerade on the host's NAT network, virtio-rng, the MAC kept. */
static void test_vmi_mapping(void **state)
{
    static const struct migr_domxml_disk disks[] = {
        {"containerdisk",
         "/var/lib/migrator/vms/default_vm-lab/containerdisk.qcow2", "qcow2",
         NULL},
    };
    static const struct migr_domxml_bridge bridges[] = {
        {"other-net", "br9"},
        {"lab-net", "br0"},
    };
    struct api_vmi vmi = {0};
    struct migr_domxml_opts o = {
        .domain_type = "qemu",
        .seed_path = "/var/lib/migrator/vms/default_vm-lab/seed.iso",
        .console_path = "/var/lib/migrator/vms/default_vm-lab/console.log",
        .nat_network = "orch-pod",
        .bridges = bridges,
        .bridge_count = 2,
        .disks = disks,
        .disk_count = 1,
    };
    char err[256], *xml = NULL, *back;

    (void)state;
    load_vmi("tests/data/domxml/vmi-lab.yaml", &vmi);
    assert_int_equal(
        migr_domxml_build(&vmi.meta, &vmi.spec, &o, &xml, err, sizeof(err)), 0);
    expect_file("vmi-lab.xml", xml);
    schema_check(xml);
    back = libvirt_roundtrip(xml, 0);
    /* libvirt keeps the metadata as given: how a report finds the VMI. */
    assert_contains(back, "<orch:vmi xmlns:orch=\"" MIGR_VMI_XMLNS
                          "\" namespace=\"default\" name=\"vm-lab\" "
                          "uid=\"5d1c8a3e-7b2f-4e61-9a0d-3c4b5e6f7a81\"/>");
    assert_contains(back, "<uuid>5d1c8a3e-7b2f-4e61-9a0d-3c4b5e6f7a81</uuid>");
    assert_contains(back, "<vcpu placement='static'>2</vcpu>");
    assert_contains(back, "<initrd>/var/lib/orch-lab/guest/initrd.gz</initrd>");
    assert_contains(back, "<driver name='qemu' type='qcow2' cache='none'/>");
    assert_contains(back, "<source file='/var/lib/migrator/vms/default_vm-lab/"
                          "containerdisk.qcow2'/>");
    assert_contains(back, "<disk type='file' device='cdrom'>");
    assert_contains(back, "<target dev='hda' bus='ide'/>");
    assert_contains(back, "<entry name='serial'>ds=nocloud</entry>");
    assert_contains(back, "<smbios mode='sysinfo'/>");
    assert_contains(back, "<source bridge='br0'/>");
    assert_contains(back, "<mac address='02:00:00:00:00:01'/>");
    assert_contains(back, "<source network='orch-pod'/>");
    assert_contains(back, "<rng model='virtio'>");
    free(back);
    free(xml);
    xml = NULL;

    /* Without a NAT network on the host, masquerade cannot be run. */
    o.nat_network = NULL;
    assert_int_equal(
        migr_domxml_build(&vmi.meta, &vmi.spec, &o, &xml, err, sizeof(err)),
        -EOPNOTSUPP);
    assert_string_equal(err, "interface \"default\": binding \"masquerade\" "
                             "is not supported (only on the pod network of "
                             "a host with a NAT network)");
    assert_null(xml);
    api_vmi_clear(&vmi);
}

/* Text with XML's special characters survives libvirt's parser intact;
 * text XML cannot hold is refused. */
static void test_escaping(void **state)
{
    struct api_vm vm = {0};
    struct migr_domxml_opts o = {.domain_type = "qemu", .bridge = "br0"};
    const char *args = "a&b <c> 'd' \"e\" x=1";
    char err[256], *xml = NULL, *back;

    (void)state;
    load_vm("tests/data/domxml/lab-guest.yaml", &vm);
    free(vm.spec.kernel_boot->kernel_args);
    vm.spec.kernel_boot->kernel_args = strdup(args);
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)), 0);
    assert_contains(xml, "<cmdline>a&amp;b &lt;c&gt; &apos;d&apos; "
                         "&quot;e&quot; x=1</cmdline>");
    /* No uuid given and the VM has none: libvirt makes one. */
    assert_null(strstr(xml, "<uuid>"));
    back = libvirt_roundtrip(xml, 0);
    /* libvirt parsed the original text and wrote it back escaped the same
     * way. */
    assert_contains(back, "<cmdline>a&amp;b &lt;c&gt; &apos;d&apos; "
                          "&quot;e&quot; x=1</cmdline>");
    free(back);
    free(xml);
    xml = NULL;

    free(vm.spec.kernel_boot->kernel_args);
    vm.spec.kernel_boot->kernel_args = strdup("bell\a");
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "text that XML cannot hold");
    assert_null(xml);
    api_vm_clear(&vm);
}

static void test_name(void **state)
{
    struct api_meta m = {.name = "web", .namespace = "prod"};
    char buf[16];

    (void)state;
    assert_int_equal(migr_domxml_name(&m, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "prod_web");
    m.namespace = NULL;
    assert_int_equal(migr_domxml_name(&m, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "default_web");
    assert_int_equal(migr_domxml_name(&m, buf, 11), -ENAMETOOLONG);
    assert_string_equal(buf, "default_web");
    m.name = NULL;
    assert_int_equal(migr_domxml_name(&m, buf, sizeof(buf)), -EINVAL);
}

/* The destination XML of a macvtap migration, made from what libvirt
 * itself writes for the running domain. */
static void test_retarget_macvtap(void **state)
{
    struct api_vm vm = {0};
    struct migr_domxml_opts o = sriov_opts(&vf_macvtap);
    struct migr_domxml_retarget map = {"sriov-net1", "ens1f0v7"};
    struct migr_domxml_retarget unknown = {"sriov-net9", "ens1f0v7"};
    char err[256], *xml = NULL, *src, *dst = NULL, *back;
    const char *old = "<source dev='ens1f0v1' mode='passthrough'/>";
    const char *new = "<source dev='ens1f0v7' mode='passthrough'/>";
    char *p;

    (void)state;
    load_vm("tests/data/vm-sriov.yaml", &vm);
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)), 0);
    src = libvirt_roundtrip(xml, VIR_DOMAIN_XML_MIGRATABLE);
    assert_contains(src, old);
    assert_int_equal(
        migr_domxml_retarget_macvtap(src, &map, 1, &dst, err, sizeof(err)), 0);
    /* Exactly the netdev changed, nothing else. */
    assert_null(strstr(dst, old));
    p = strstr(dst, new);
    assert_non_null(p);
    assert_int_equal(strlen(dst), strlen(src));
    assert_memory_equal(dst, src, (size_t)(p - dst));
    assert_string_equal(p + strlen(new), strstr(src, old) + strlen(old));
    back = libvirt_roundtrip(dst, 0);
    assert_contains(back, new);
    free(back);
    free(dst);
    dst = NULL;

    assert_int_equal(
        migr_domxml_retarget_macvtap(src, &unknown, 1, &dst, err, sizeof(err)),
        -ENOENT);
    assert_string_equal(err, "interface \"sriov-net9\" is not in the domain");
    assert_null(dst);
    free(src);
    free(xml);

    /* A hostdev interface cannot be retargeted this way. */
    o = sriov_opts(&vf_hostdev);
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)), 0);
    assert_int_equal(
        migr_domxml_retarget_macvtap(xml, &map, 1, &dst, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "interface \"sriov-net1\" is not type 'direct'");
    map.netdev = "x'y";
    assert_int_equal(
        migr_domxml_retarget_macvtap(xml, &map, 1, &dst, err, sizeof(err)),
        -EINVAL);
    assert_null(dst);
    free(xml);
    api_vm_clear(&vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lab_guest),
        cmocka_unit_test(test_sriov_macvtap),
        cmocka_unit_test(test_sriov_hostdev),
        cmocka_unit_test(test_sriov_interface_alone),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_vmi_mapping),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_retarget_macvtap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
