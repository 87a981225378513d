/*
 * Unit tests for the path from a VF reservation (migrator/sriov) to the
 * domain XML (migrator/domxml): two fixture hosts whose PF ens1f0 has its
 * VFs at different PCI addresses and netdevs (and host-a a second PF that
 * host-b lacks), netlink faked and asserted; the hostdev interface names
 * the reserved VF's PCI address, MAC and VLAN; the macvtap interface its
 * netdev, and a migration's destination XML the target host's VF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <limits.h>

#include "api/api.h"
#include "migrator/domxml.h"
#include "migrator/sriov.h"
#include "tests/unit/support/sysfs_fixture.h"

struct hosts {
    struct fx a, b;
};

/* host-a: ens1f0 (bus 3b) with 4 VFs, VF0 held by a running domain;
 * ens2f0 (bus 5e) with 2.  host-b: ens1f0 (bus 86) with 2 VFs whose
 * netdevs are named otherwise; no ens2f0. */
static int setup(void **state)
{
    static const struct fx_vf a_vfs[] = {{"iavf", "ens1f0v0"},
                                         {"iavf", "ens1f0v1"},
                                         {"vfio-pci", ""},
                                         {"iavf", "ens1f0v3"}};
    static const struct fx_vf a2_vfs[] = {{"iavf", "ens2f0v0"},
                                          {"iavf", "ens2f0v1"}};
    static const struct fx_vf b_vfs[] = {{"iavf", "enp134s0f0v0"},
                                         {"iavf", "enp134s0f0v1"}};
    struct hosts *h = calloc(1, sizeof(*h));

    if (!h || fx_make(&h->a, "sriov_xml_a") < 0 ||
        fx_make(&h->b, "sriov_xml_b") < 0) {
        free(h);
        return -1;
    }
    fx_pf(&h->a, "ens1f0", 0x3b, 8, a_vfs, 4);
    fx_pf(&h->a, "ens2f0", 0x5e, 8, a2_vfs, 2);
    fx_pf(&h->b, "ens1f0", 0x86, 8, b_vfs, 2);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct hosts *h = *state;

    fx_remove(&h->a);
    fx_remove(&h->b);
    free(h);
    return 0;
}

/* The fake netlink: records what is programmed. */
struct fake {
    char pf[IF_NAMESIZE];
    unsigned index;
    char mac[MIGR_MAC_LEN];
    int vlan, trust, spoofchk;
    int n;
};

static int fake_list(void *ctx, const char *pf, struct migr_vf_link **ret)
{
    (void)ctx;
    (void)pf;
    *ret = NULL;
    return 0;
}

static int fake_set(void *ctx, const char *pf, unsigned index,
                    const struct migr_vf_config *cfg)
{
    struct fake *f = ctx;

    snprintf(f->pf, sizeof(f->pf), "%s", pf);
    f->index = index;
    snprintf(f->mac, sizeof(f->mac), "%s", cfg->mac);
    f->vlan = cfg->vlan;
    f->trust = cfg->trust;
    f->spoofchk = cfg->spoofchk;
    f->n++;
    return 0;
}

static const struct api_interface iface = {
    .name = "sriov-net1",
    .binding = API_BINDING_SRIOV,
    .mac_address = "02:00:00:00:00:01",
};

static void test_hostdev_xml_names_reserved_vf(void **state)
{
    struct hosts *h = *state;
    struct fake fa = {0}, fb = {0};
    struct migr_netlink_ops na = {fake_list, fake_set, &fa};
    struct migr_netlink_ops nb = {fake_list, fake_set, &fb};
    struct conf_network net = {"sriov-net1",          "ens1f0", 100,
                               CONF_NET_MODE_HOSTDEV, -1,       1};
    struct migr_sriov *sa = NULL, *sb = NULL;
    struct migr_vf_reservation ra, rb;
    struct migr_domxml_vf vf;
    const char *in_use[] = {"0000:3b:02.0", NULL};
    char err[256], *xml = NULL;

    (void)state;
    assert_int_equal(migr_sriov_new(h->a.root, &na, &sa), 0);
    assert_int_equal(migr_sriov_new(h->b.root, &nb, &sb), 0);
    assert_int_equal(migr_sriov_reserve_net(sa, &net, iface.mac_address,
                                            "default_vmi-sriov-test-vm", in_use,
                                            &ra),
                     0);
    /* Programmed on host-a's PF: VF1, the MAC, VLAN 100, spoof check on,
     * trust left alone. */
    assert_int_equal(fa.n, 1);
    assert_string_equal(fa.pf, "ens1f0");
    assert_int_equal(fa.index, 1);
    assert_string_equal(fa.mac, "02:00:00:00:00:01");
    assert_int_equal(fa.vlan, 100);
    assert_int_equal(fa.trust, -1);
    assert_int_equal(fa.spoofchk, 1);

    migr_sriov_domxml_vf(&ra, &net, iface.name, &vf);
    assert_int_equal(vf.mode, MIGR_VF_MODE_HOSTDEV);
    assert_int_equal(
        migr_domxml_sriov_interface(&iface, &vf, &xml, err, sizeof(err)), 0);
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

    /* The same network on host-b: its own ens1f0's first VF, another PCI
     * address, the same MAC (plugged back after the migration). */
    assert_int_equal(migr_sriov_reserve_net(sb, &net, iface.mac_address,
                                            "default_vmi-sriov-test-vm", NULL,
                                            &rb),
                     0);
    assert_string_equal(fb.pf, "ens1f0");
    assert_int_equal(fb.index, 0);
    assert_string_equal(fb.mac, "02:00:00:00:00:01");
    migr_sriov_domxml_vf(&rb, &net, iface.name, &vf);
    assert_int_equal(
        migr_domxml_sriov_interface(&iface, &vf, &xml, err, sizeof(err)), 0);
    assert_non_null(strstr(xml, "<address type='pci' domain='0x0000' "
                                "bus='0x86' slot='0x02' function='0x0'/>"));
    assert_non_null(strstr(xml, "<mac address='02:00:00:00:00:01'/>"));
    free(xml);

    /* A network whose PF host-b lacks cannot be reserved there. */
    net.pf = "ens2f0";
    assert_int_equal(migr_sriov_reserve_net(sb, &net, "02:00:00:00:00:02",
                                            "default_other", NULL, &rb),
                     -ENODEV);
    /* Released on the source after the migration: MAC cleared. */
    assert_int_equal(migr_sriov_release(sa, "default_vmi-sriov-test-vm", NULL),
                     1);
    assert_string_equal(fa.mac, "00:00:00:00:00:00");
    assert_int_equal(fa.index, 1);
    migr_sriov_free(sa);
    migr_sriov_free(sb);
}

static void test_macvtap_xml_and_retarget(void **state)
{
    struct hosts *h = *state;
    struct conf_network net = {"sriov-net1",          "ens1f0", 100,
                               CONF_NET_MODE_MACVTAP, -1,       -1};
    struct migr_sriov *sa = NULL, *sb = NULL;
    struct migr_vf_reservation ra, rb;
    struct migr_domxml_vf vf;
    struct migr_domxml_retarget map;
    char err[256], *xml = NULL, *dom = NULL, *dest = NULL;

    (void)state;
    assert_int_equal(migr_sriov_new(h->a.root, NULL, &sa), 0);
    assert_int_equal(migr_sriov_new(h->b.root, NULL, &sb), 0);
    /* VF0 and VF1 taken: the vfio-pci VF2 has no netdev, so VF3. */
    assert_int_equal(migr_sriov_reserve_net(sa, &net, "02:00:00:00:00:0a",
                                            "default_x", NULL, NULL),
                     0);
    assert_int_equal(migr_sriov_reserve_net(sa, &net, "02:00:00:00:00:0b",
                                            "default_y", NULL, NULL),
                     0);
    assert_int_equal(migr_sriov_reserve_net(sa, &net, iface.mac_address,
                                            "default_vmi-sriov-test-vm", NULL,
                                            &ra),
                     0);
    assert_string_equal(ra.netdev, "ens1f0v3");
    migr_sriov_domxml_vf(&ra, &net, iface.name, &vf);
    assert_int_equal(vf.mode, MIGR_VF_MODE_MACVTAP);
    assert_int_equal(vf.vlan, 0); /* on the VF, not in the XML */
    assert_int_equal(
        migr_domxml_sriov_interface(&iface, &vf, &xml, err, sizeof(err)), 0);
    assert_string_equal(xml, "<interface type='direct'>\n"
                             "  <mac address='02:00:00:00:00:01'/>\n"
                             "  <source dev='ens1f0v3' mode='passthrough'/>\n"
                             "  <model type='virtio'/>\n"
                             "  <alias name='ua-sriov-sriov-net1'/>\n"
                             "</interface>\n");

    /* The target's VF has another netdev name: the destination XML says
     * it. */
    assert_int_equal(migr_sriov_reserve_net(sb, &net, iface.mac_address,
                                            "default_vmi-sriov-test-vm", NULL,
                                            &rb),
                     0);
    assert_string_equal(rb.netdev, "enp134s0f0v0");
    assert_true(asprintf(&dom,
                         "<domain type='qemu'><name>default_vmi</name>"
                         "<devices>%s</devices></domain>",
                         xml) > 0);
    map = (struct migr_domxml_retarget){iface.name, rb.netdev};
    assert_int_equal(
        migr_domxml_retarget_macvtap(dom, &map, 1, &dest, err, sizeof(err)), 0);
    assert_non_null(
        strstr(dest, "<source dev='enp134s0f0v0' mode='passthrough'/>"));
    assert_null(strstr(dest, "ens1f0v3"));
    free(dest);
    free(dom);
    free(xml);
    migr_sriov_free(sa);
    migr_sriov_free(sb);
}

/* The seed's VirtualMachine (tests/data/vm-sriov.yaml). */
static void load_seed(struct api_vm *vm)
{
    const char *top = getenv("ORCH_TOP");
    char path[PATH_MAX], *text;
    struct api_errors errs;
    json_t *doc = NULL;
    FILE *f;
    long n;

    snprintf(path, sizeof(path), "%s/tests/data/vm-sriov.yaml",
             top ? top : ".");
    f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    api_errors_init(&errs);
    if (api_object_parse(text, (size_t)n, NULL, API_KIND_VM, &doc, NULL,
                         &errs) < 0)
        fail_msg("vm-sriov.yaml: %s", errs.count ? errs.items[0].message : "?");
    assert_int_equal(api_vm_from_json(doc, vm, &errs), 0);
    api_errors_clear(&errs);
    json_decref(doc);
    free(text);
}

/* The seed's VM on host-a: its VF reserved and programmed, the whole
 * domain XML naming it; the errors a start job reports as InvalidSpec. */
static void test_reserve_vmi(void **state)
{
    struct hosts *h = *state;
    struct fake fa = {0};
    struct migr_netlink_ops na = {fake_list, fake_set, &fa};
    struct conf_network nets[] = {
        {"sriov-net1", "ens1f0", 0, CONF_NET_MODE_HOSTDEV, -1, 1}};
    struct conf_migrator cfg = {.networks = nets, .n_networks = 1};
    struct migr_sriov *s = NULL;
    struct migr_sriov_vmi v = {0};
    struct migr_domxml_disk disk = {"containerdisk", "/var/lib/x.qcow2",
                                    "qcow2", NULL};
    struct migr_domxml_opts o = {.domain_type = "qemu",
                                 .seed_path = "/run/seed.iso",
                                 .disks = &disk,
                                 .disk_count = 1};
    struct api_vm vm = {0};
    char err[256], *xml = NULL;
    const char *in_use[] = {"0000:3b:02.0", NULL};

    load_seed(&vm);
    assert_int_equal(migr_sriov_new(h->a.root, &na, &s), 0);
    assert_int_equal(migr_sriov_reserve_vmi(s, &cfg, &vm.spec,
                                            "default_vmi-sriov-test-vm", in_use,
                                            &v, err, sizeof(err)),
                     0);
    assert_int_equal(v.count, 1);
    assert_int_equal(v.res[0].index, 1);
    assert_string_equal(v.vfs[0].iface, "sriov-net1");
    assert_string_equal(v.vfs[0].pci, "0000:3b:02.1");
    assert_int_equal(fa.n, 1);
    assert_string_equal(fa.mac, "02:00:00:00:00:01");
    assert_int_equal(fa.spoofchk, 1);
    o.vfs = v.vfs;
    o.vf_count = v.count;
    assert_int_equal(
        migr_domxml_build(&vm.meta, &vm.spec, &o, &xml, err, sizeof(err)), 0);
    assert_non_null(strstr(xml, "<interface type='hostdev' managed='yes'>"));
    assert_non_null(strstr(xml, "<address type='pci' domain='0x0000' "
                                "bus='0x3b' slot='0x02' function='0x1'/>"));
    assert_non_null(strstr(xml, "<mac address='02:00:00:00:00:01'/>"));
    free(xml);
    migr_sriov_vmi_clear(&v);
    assert_int_equal(migr_sriov_release(s, "default_vmi-sriov-test-vm", NULL),
                     1);

    /* No free VF (all four held by running domains): nothing reserved. */
    {
        const char *all[] = {"0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2",
                             "ens1f0v3", NULL};
        assert_int_equal(migr_sriov_reserve_vmi(s, &cfg, &vm.spec, "ns_x", all,
                                                &v, err, sizeof(err)),
                         -ENOSPC);
        assert_string_equal(err, "spec.networks[0].multus.networkName: no "
                                 "free VF on PF \"ens1f0\"");
        assert_int_equal(migr_sriov_list(s, NULL, 0), 0);
    }
    /* Two SR-IOV interfaces and one free VF: the first one's reservation
     * is given back. */
    {
        const char *three[] = {"0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2",
                               NULL};
        struct api_interface *fs = realloc(vm.spec.interfaces, 2 * sizeof(*fs));
        struct api_network *ns = realloc(vm.spec.networks, 2 * sizeof(*ns));

        assert_non_null(fs);
        vm.spec.interfaces = fs;
        assert_non_null(ns);
        vm.spec.networks = ns;
        fs[1] =
            (struct api_interface){.name = strdup("second"),
                                   .binding = API_BINDING_SRIOV,
                                   .mac_address = strdup("02:00:00:00:00:02")};
        ns[1] = (struct api_network){.name = strdup("second"),
                                     .type = API_NETWORK_MULTUS,
                                     .network_name = strdup("sriov-net1")};
        vm.spec.interface_count = vm.spec.network_count = 2;
        fa.n = 0;
        assert_int_equal(migr_sriov_reserve_vmi(s, &cfg, &vm.spec, "ns_x",
                                                three, &v, err, sizeof(err)),
                         -ENOSPC);
        assert_string_equal(err, "spec.networks[1].multus.networkName: no "
                                 "free VF on PF \"ens1f0\"");
        assert_int_equal(migr_sriov_list(s, NULL, 0), 0);
        /* Programmed once, then cleared again. */
        assert_int_equal(fa.n, 2);
        assert_int_equal(fa.index, 3);
        assert_string_equal(fa.mac, "00:00:00:00:00:00");
    }
    /* A network the host's config lacks. */
    nets[0].name = "other-net";
    assert_int_equal(migr_sriov_reserve_vmi(s, &cfg, &vm.spec, "ns_x", NULL, &v,
                                            err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "spec.networks[0].multus.networkName: "
                             "\"sriov-net1\" is not a network of this host");
    nets[0].name = "sriov-net1";
    /* A PF the host lacks. */
    nets[0].pf = "ens7f0";
    assert_int_equal(migr_sriov_reserve_vmi(s, &cfg, &vm.spec, "ns_x", NULL, &v,
                                            err, sizeof(err)),
                     -ENODEV);
    assert_string_equal(err, "spec.networks[0].multus.networkName: this host "
                             "lacks PF \"ens7f0\"");
    nets[0].pf = "ens1f0";
    /* No MAC. */
    free(vm.spec.interfaces[0].mac_address);
    vm.spec.interfaces[0].mac_address = NULL;
    assert_int_equal(migr_sriov_reserve_vmi(s, &cfg, &vm.spec, "ns_x", NULL, &v,
                                            err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "spec.domain.devices.interfaces[0].macAddress: "
                             "required for an SR-IOV interface");
    assert_int_equal(v.count, 0);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 0);
    migr_sriov_free(s);
    api_vm_clear(&vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostdev_xml_names_reserved_vf,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_macvtap_xml_and_retarget, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reserve_vmi, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
