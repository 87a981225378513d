/*
 * Unit tests for migrator/sriov: the VF inventory read from a fixture sysfs
 * tree that each test builds in its own temporary directory (the layout of a
 * real host: class/net/PF -> devices/..., device/virtfnN -> ../VF, VF
 * driver links into bus/pci/drivers), the netlink seam faked for VF state
 * and programming, the reservation table, and the real libnl path on
 * interfaces that exist without SR-IOV hardware (lo, a veth in a private
 * network namespace).
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrator/sriov.h"
#include "tests/unit/support/sysfs_fixture.h"

/* ---------------------------------------------------------------------- */
/* A fixture sysfs tree                                                    */

static int fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    if (fx_make(fx, "test_migrator_sriov") < 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;

    fx_remove(fx);
    free(fx);
    return 0;
}

/* The standard fixture: ens1f0 with 4 of 8 VFs (VF2 on vfio-pci without a
 * netdev, VF3 unbound), ens2f0 with 11 VFs, eth9 without SR-IOV. */
static const struct fx_vf ens1f0_vfs[] = {
    {"iavf", "ens1f0v0"},
    {"iavf", "ens1f0v1"},
    {"vfio-pci", ""},
    {"", "ens1f0v3"},
};

static void fx_standard(struct fx *fx)
{
    struct fx_vf many[11];

    fx_pf(fx, "ens1f0", 0x3b, 8, ens1f0_vfs, 4);
    for (int i = 0; i < 11; i++)
        many[i] = (struct fx_vf){"iavf", ""};
    fx_pf(fx, "ens2f0", 0x5e, 64, many, 11);
    fx_pf(fx, "eth9", 0x7a, -1, NULL, 0);
}

/* ---------------------------------------------------------------------- */
/* A fake netlink                                                          */

struct fake_set {
    char pf[IF_NAMESIZE];
    unsigned index;
    char mac[MIGR_MAC_LEN];
    int vlan;
    int trust;
    int spoofchk;
};

struct fake_nl {
    struct migr_vf_link links[8];
    int n_links;
    int list_error; /* returned by vf_list when < 0 */
    int set_error;  /* returned by vf_set when < 0 */
    struct fake_set sets[64];
    int n_sets;
};

static int fake_vf_list(void *ctx, const char *pf,
                        struct migr_vf_link **ret_vfs)
{
    struct fake_nl *f = ctx;

    (void)pf;
    if (f->list_error < 0)
        return f->list_error;
    *ret_vfs = NULL;
    if (f->n_links == 0)
        return 0;
    *ret_vfs = malloc(sizeof(f->links));
    assert_non_null(*ret_vfs);
    memcpy(*ret_vfs, f->links, sizeof(f->links));
    return f->n_links;
}

static int fake_vf_set(void *ctx, const char *pf, unsigned index,
                       const struct migr_vf_config *cfg)
{
    struct fake_nl *f = ctx;
    struct fake_set *s;

    if (f->set_error < 0)
        return f->set_error;
    assert_true(f->n_sets < 64);
    s = &f->sets[f->n_sets++];
    snprintf(s->pf, sizeof(s->pf), "%s", pf);
    s->index = index;
    snprintf(s->mac, sizeof(s->mac), "%s", cfg->mac);
    s->vlan = cfg->vlan;
    s->trust = cfg->trust;
    s->spoofchk = cfg->spoofchk;
    return 0;
}

/* migr_sriov_reserve with MAC and VLAN, trust and spoofchk left alone. */
static int reserve(struct migr_sriov *s, const char *pf, const char *mac,
                   int vlan, enum migr_vf_need need, const char *owner,
                   const char *const *in_use, struct migr_vf_reservation *ret)
{
    struct migr_vf_config cfg = {mac, vlan, -1, -1};

    return migr_sriov_reserve(s, pf, &cfg, need, owner, in_use, ret);
}

static struct migr_netlink_ops fake_ops(struct fake_nl *f)
{
    return (struct migr_netlink_ops){fake_vf_list, fake_vf_set, f};
}

/* ---------------------------------------------------------------------- */
/* Inventory                                                               */

static void test_pf_read_sysfs(void **state)
{
    struct fx *fx = *state;
    struct migr_pf pf = {0};

    fx_standard(fx);
    assert_int_equal(migr_pf_read(fx->root, "ens1f0", NULL, &pf), 0);
    assert_string_equal(pf.name, "ens1f0");
    assert_int_equal(pf.total_vfs, 8);
    assert_int_equal(pf.num_vfs, 4);
    assert_int_equal(pf.vf_count, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pf.vfs[i].index, i);
    assert_string_equal(pf.vfs[0].pci, "0000:3b:02.0");
    assert_string_equal(pf.vfs[3].pci, "0000:3b:02.3");
    assert_string_equal(pf.vfs[0].netdev, "ens1f0v0");
    assert_string_equal(pf.vfs[1].netdev, "ens1f0v1");
    assert_string_equal(pf.vfs[0].driver, "iavf");
    assert_false(pf.vfs[0].vfio);
    assert_string_equal(pf.vfs[2].netdev, "");
    assert_string_equal(pf.vfs[2].driver, "vfio-pci");
    assert_true(pf.vfs[2].vfio);
    assert_string_equal(pf.vfs[3].driver, "");
    assert_string_equal(pf.vfs[3].netdev, "ens1f0v3");
    assert_false(pf.vfs[0].has_link);
    assert_ptr_equal(migr_pf_vf(&pf, 2), &pf.vfs[2]);
    assert_null(migr_pf_vf(&pf, 4));
    migr_pf_clear(&pf);
    assert_null(pf.vfs);
    assert_int_equal(pf.vf_count, 0);
    migr_pf_clear(NULL);

    /* Numeric, not lexical, order: virtfn10 comes after virtfn9. */
    assert_int_equal(migr_pf_read(fx->root, "ens2f0", NULL, &pf), 0);
    assert_int_equal(pf.total_vfs, 64);
    assert_int_equal(pf.vf_count, 11);
    for (unsigned i = 0; i < 11; i++)
        assert_int_equal(pf.vfs[i].index, i);
    assert_string_equal(pf.vfs[9].pci, "0000:5e:03.1");
    assert_string_equal(pf.vfs[10].pci, "0000:5e:03.2");
    migr_pf_clear(&pf);
}

static void test_pf_read_errors(void **state)
{
    struct fx *fx = *state;
    struct migr_pf pf = {0};
    char path[PATH_MAX];

    fx_standard(fx);
    assert_int_equal(migr_pf_read(fx->root, "ens9f9", NULL, &pf), -ENODEV);
    assert_int_equal(migr_pf_read(fx->root, "eth9", NULL, &pf), -EOPNOTSUPP);
    assert_int_equal(migr_pf_read(fx->root, "../x", NULL, &pf), -EINVAL);
    assert_int_equal(migr_pf_read(fx->root, "..", NULL, &pf), -EINVAL);
    assert_int_equal(migr_pf_read(fx->root, "", NULL, &pf), -EINVAL);
    assert_int_equal(migr_pf_read(fx->root, "a-name-far-too-long", NULL, &pf),
                     -EINVAL);
    assert_int_equal(migr_pf_read(fx->root, NULL, NULL, &pf), -EINVAL);
    assert_null(pf.vfs);

    /* A garbled sriov_totalvfs is an I/O error, not "no SR-IOV". */
    snprintf(path, sizeof(path),
             "%s/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/sriov_totalvfs",
             fx->root);
    fx_put_file(path, "eight\n");
    assert_int_equal(migr_pf_read(fx->root, "ens1f0", NULL, &pf), -EIO);
}

static void test_pf_read_netlink(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_pf pf = {0};

    fx_standard(fx);
    f.links[0] = (struct migr_vf_link){1, "02:00:00:00:00:01", 100, 0, 1,
                                       0, MIGR_VF_LINK_AUTO};
    f.links[1] = (struct migr_vf_link){3, "", 0, 0, 0, 1, MIGR_VF_LINK_ENABLE};
    /* A VF netlink knows but sysfs does not is ignored. */
    f.links[2] = (struct migr_vf_link){7, "02:00:00:00:00:07", 0, 0, 1, 0, 0};
    f.n_links = 3;
    assert_int_equal(migr_pf_read(fx->root, "ens1f0", &ops, &pf), 0);
    assert_int_equal(pf.vf_count, 4);
    assert_false(pf.vfs[0].has_link);
    assert_true(pf.vfs[1].has_link);
    assert_string_equal(pf.vfs[1].link.mac, "02:00:00:00:00:01");
    assert_int_equal(pf.vfs[1].link.vlan, 100);
    assert_int_equal(pf.vfs[1].link.spoofchk, 1);
    assert_int_equal(pf.vfs[1].link.trust, 0);
    assert_false(pf.vfs[2].has_link);
    assert_true(pf.vfs[3].has_link);
    assert_int_equal(pf.vfs[3].link.trust, 1);
    assert_int_equal(pf.vfs[3].link.link_state, MIGR_VF_LINK_ENABLE);
    migr_pf_clear(&pf);

    f.list_error = -EPERM;
    assert_int_equal(migr_pf_read(fx->root, "ens1f0", &ops, &pf), -EPERM);
    assert_null(pf.vfs);
}

static void test_mac_parse(void **state)
{
    unsigned char mac[6] = {0};

    (void)state;
    assert_int_equal(migr_mac_parse("02:00:0A:bb:cC:ff", mac), 0);
    assert_memory_equal(mac, "\x02\x00\x0a\xbb\xcc\xff", 6);
    assert_int_equal(migr_mac_parse("02:00:0a:bb:cc", mac), -EINVAL);
    assert_int_equal(migr_mac_parse("02:00:0a:bb:cc:fg", mac), -EINVAL);
    assert_int_equal(migr_mac_parse("02-00-0a-bb-cc-ff", mac), -EINVAL);
    assert_int_equal(migr_mac_parse("02:00:0a:bb:cc:ff:", mac), -EINVAL);
    assert_int_equal(migr_mac_parse(NULL, mac), -EINVAL);
}

/* ---------------------------------------------------------------------- */
/* Reservations                                                            */

static void test_reserve_choice(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r, again, list[8];
    const char *in_use[] = {"0000:3b:02.0", NULL};

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);

    /* VF0 is held by a running domain (its PCI address), so VF1. */
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:AA", 100, MIGR_VF_ANY,
                             "ns/a", in_use, &r),
                     0);
    assert_string_equal(r.pf, "ens1f0");
    assert_int_equal(r.index, 1);
    assert_string_equal(r.pci, "0000:3b:02.1");
    assert_string_equal(r.netdev, "ens1f0v1");
    assert_string_equal(r.mac, "02:00:00:00:00:aa");
    assert_int_equal(r.vlan, 100);
    assert_int_equal(f.n_sets, 1);
    assert_string_equal(f.sets[0].pf, "ens1f0");
    assert_int_equal(f.sets[0].index, 1);
    assert_string_equal(f.sets[0].mac, "02:00:00:00:00:aa");
    assert_int_equal(f.sets[0].vlan, 100);

    /* The same owner and MAC again: the same VF, programmed again. */
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:aa", 100, MIGR_VF_ANY,
                             "ns/a", in_use, &again),
                     0);
    assert_int_equal(again.index, 1);
    assert_int_equal(f.n_sets, 2);
    assert_int_equal(migr_sriov_list(s, list, 8), 1);

    /* Without a netdev need, the vfio-pci VF2 is fine for hostdev... */
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:bb", 0, MIGR_VF_ANY,
                             "ns/b", in_use, &r),
                     0);
    assert_int_equal(r.index, 2);
    assert_string_equal(r.netdev, "");
    /* ...but macvtap needs a netdev: VF3 (VF0 is in use by netdev name
     * this time). */
    in_use[0] = "ens1f0v0";
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:cc", 0,
                             MIGR_VF_NETDEV, "ns/c", in_use, &r),
                     0);
    assert_int_equal(r.index, 3);
    assert_string_equal(r.netdev, "ens1f0v3");
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:dd", 0,
                             MIGR_VF_NETDEV, "ns/d", in_use, &r),
                     -ENOSPC);
    /* VF0 once its domain is gone. */
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:dd", 0,
                             MIGR_VF_NETDEV, "ns/d", NULL, &r),
                     0);
    assert_int_equal(r.index, 0);
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:ee", 0, MIGR_VF_ANY,
                             "ns/e", NULL, &r),
                     -ENOSPC);
    assert_int_equal(migr_sriov_list(s, list, 8), 4);
    assert_int_equal(list[0].index, 1);
    assert_int_equal(list[3].index, 0);

    /* Release frees the VF; the lowest free index is chosen again. */
    assert_int_equal(migr_sriov_release(s, "ns/b", "02:00:00:00:00:99"), 0);
    assert_int_equal(migr_sriov_release(s, "ns/b", NULL), 1);
    assert_int_equal(migr_sriov_release(s, "ns/b", NULL), 0);
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:ee", 0, MIGR_VF_ANY,
                             "ns/e", NULL, &r),
                     0);
    assert_int_equal(r.index, 2);
    assert_int_equal(migr_sriov_release(s, "ns/a", "02:00:00:00:00:AA"), 1);
    assert_int_equal(migr_sriov_list(s, list, 8), 3);

    /* Another PF is independent. */
    assert_int_equal(reserve(s, "ens2f0", "02:00:00:00:00:aa", 5, MIGR_VF_ANY,
                             "ns/a", NULL, &r),
                     0);
    assert_string_equal(r.pf, "ens2f0");
    assert_int_equal(r.index, 0);
    assert_string_equal(r.pci, "0000:5e:02.0");
    migr_sriov_free(s);
    migr_sriov_free(NULL);
}

static void test_reserve_errors(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r = {.index = 77};

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(
        reserve(s, "ens1f0", "02:00:00:00:00", 0, MIGR_VF_ANY, "o", NULL, &r),
        -EINVAL);
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:01", 4095,
                             MIGR_VF_ANY, "o", NULL, &r),
                     -EINVAL);
    assert_int_equal(
        reserve(s, "ens1f0", "02:00:00:00:00:01", 0, MIGR_VF_ANY, "", NULL, &r),
        -EINVAL);
    assert_int_equal(
        reserve(s, "nope0", "02:00:00:00:00:01", 0, MIGR_VF_ANY, "o", NULL, &r),
        -ENODEV);
    assert_int_equal(
        reserve(s, "eth9", "02:00:00:00:00:01", 0, MIGR_VF_ANY, "o", NULL, &r),
        -EOPNOTSUPP);
    /* Programming fails: nothing is reserved, *ret untouched. */
    f.set_error = -EOPNOTSUPP;
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:01", 0, MIGR_VF_ANY,
                             "o", NULL, &r),
                     -EOPNOTSUPP);
    assert_int_equal(r.index, 77);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 0);
    f.set_error = 0;
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:01", 0, MIGR_VF_ANY,
                             "o", NULL, &r),
                     0);
    assert_int_equal(r.index, 0);
    migr_sriov_free(s);

    /* Without netlink the table only chooses. */
    assert_int_equal(migr_sriov_new(fx->root, NULL, &s), 0);
    assert_int_equal(reserve(s, "ens1f0", "02:00:00:00:00:01", 0, MIGR_VF_ANY,
                             "o", NULL, NULL),
                     0);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 1);
    migr_sriov_free(s);
    assert_int_equal(migr_sriov_new(NULL, NULL, &s), -EINVAL);
}

/* A config network: the VF programmed with its VLAN, trust and spoof
 * check; macvtap mode needs a VF netdev; release clears the MAC and VLAN
 * on the PF and puts the VF back in the pool. */
static void test_reserve_net_and_release(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r, list[8];
    struct conf_network hostdev = {.name = "sriov-net1",
                                   .pf = "ens1f0",
                                   .vlan = 100,
                                   .mode = CONF_NET_MODE_HOSTDEV,
                                   .trust = 1,
                                   .spoofchk = 0};
    struct conf_network macvtap = {.name = "sriov-net2",
                                   .pf = "ens1f0",
                                   .vlan = 0,
                                   .mode = CONF_NET_MODE_MACVTAP,
                                   .trust = -1,
                                   .spoofchk = 1};
    const char *in_use[] = {"ens1f0v0", "ens1f0v1", NULL};
    char longowner[MIGR_OWNER_LEN + 1];

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(migr_sriov_reserve_net(s, &hostdev, "02:AA:00:00:00:01",
                                            "ns_a", NULL, &r),
                     0);
    assert_int_equal(r.index, 0);
    assert_string_equal(r.owner, "ns_a");
    assert_int_equal(r.trust, 1);
    assert_int_equal(r.spoofchk, 0);
    assert_int_equal(f.n_sets, 1);
    assert_string_equal(f.sets[0].pf, "ens1f0");
    assert_int_equal(f.sets[0].index, 0);
    assert_string_equal(f.sets[0].mac, "02:aa:00:00:00:01");
    assert_int_equal(f.sets[0].vlan, 100);
    assert_int_equal(f.sets[0].trust, 1);
    assert_int_equal(f.sets[0].spoofchk, 0);

    /* macvtap skips the vfio-pci VF2 without a netdev: VF3. */
    assert_int_equal(migr_sriov_reserve_net(s, &macvtap, "02:aa:00:00:00:02",
                                            "ns_b", in_use, &r),
                     0);
    assert_int_equal(r.index, 3);
    assert_string_equal(r.netdev, "ens1f0v3");
    assert_int_equal(f.sets[1].index, 3);
    assert_int_equal(f.sets[1].vlan, 0);
    assert_int_equal(f.sets[1].trust, -1);
    assert_int_equal(f.sets[1].spoofchk, 1);
    /* No other VF with a netdev is free. */
    assert_int_equal(migr_sriov_reserve_net(s, &macvtap, "02:aa:00:00:00:03",
                                            "ns_c", in_use, &r),
                     -ENOSPC);
    assert_int_equal(f.n_sets, 2);

    /* Release: MAC and VLAN cleared on the PF's VF, trust and spoof check
     * left alone, and the VF free again. */
    assert_int_equal(migr_sriov_release(s, "ns_a", "02:aa:00:00:00:01"), 1);
    assert_int_equal(f.n_sets, 3);
    assert_string_equal(f.sets[2].pf, "ens1f0");
    assert_int_equal(f.sets[2].index, 0);
    assert_string_equal(f.sets[2].mac, "00:00:00:00:00:00");
    assert_int_equal(f.sets[2].vlan, 0);
    assert_int_equal(f.sets[2].trust, -1);
    assert_int_equal(f.sets[2].spoofchk, -1);
    assert_int_equal(migr_sriov_list(s, list, 8), 1);
    assert_string_equal(list[0].owner, "ns_b");
    assert_int_equal(migr_sriov_reserve_net(s, &hostdev, "02:aa:00:00:00:04",
                                            "ns_d", NULL, &r),
                     0);
    assert_int_equal(r.index, 0);

    /* A clearing that fails still returns the VF to the pool. */
    f.set_error = -EBUSY;
    assert_int_equal(migr_sriov_release(s, "ns_d", NULL), -EBUSY);
    assert_int_equal(migr_sriov_list(s, list, 8), 1);
    f.set_error = 0;

    /* The MAC is required and may not be the cleared one; owners fit. */
    assert_int_equal(
        migr_sriov_reserve_net(s, &hostdev, NULL, "ns_e", NULL, &r), -EINVAL);
    assert_int_equal(migr_sriov_reserve_net(s, &hostdev, "00:00:00:00:00:00",
                                            "ns_e", NULL, &r),
                     -EINVAL);
    memset(longowner, 'o', MIGR_OWNER_LEN);
    longowner[MIGR_OWNER_LEN] = '\0';
    assert_int_equal(migr_sriov_reserve_net(s, &hostdev, "02:aa:00:00:00:05",
                                            longowner, NULL, &r),
                     -EINVAL);
    assert_int_equal(
        migr_sriov_reserve_net(s, NULL, "02:aa:00:00:00:05", "ns_e", NULL, &r),
        -EINVAL);
    {
        struct migr_vf_config bad = {"02:aa:00:00:00:05", 0, 2, -1};
        assert_int_equal(migr_sriov_reserve(s, "ens1f0", &bad, MIGR_VF_ANY,
                                            "ns_e", NULL, &r),
                         -EINVAL);
    }
    migr_sriov_free(s);
}

/* A running domain's VF adopted after a restart: held without being
 * programmed, skipped by the next reservation, cleared on release. */
static void test_adopt(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r, list[4];
    struct conf_network net = {.name = "sriov-net1",
                               .pf = "ens1f0",
                               .vlan = 100,
                               .mode = CONF_NET_MODE_MACVTAP,
                               .trust = -1,
                               .spoofchk = -1};

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(
        migr_sriov_adopt(s, &net, "ens1f0v0", "ns_a", "02:aa:00:00:00:01"), 0);
    /* By PCI address as a hostdev interface names it. */
    assert_int_equal(
        migr_sriov_adopt(s, &net, "0000:3b:02.1", "ns_b", "02:aa:00:00:00:02"),
        0);
    assert_int_equal(f.n_sets, 0);
    /* Again for the same owner: nothing new; another owner: busy. */
    assert_int_equal(
        migr_sriov_adopt(s, &net, "ens1f0v0", "ns_a", "02:aa:00:00:00:01"), 0);
    assert_int_equal(
        migr_sriov_adopt(s, &net, "ens1f0v0", "ns_c", "02:aa:00:00:00:03"),
        -EBUSY);
    assert_int_equal(
        migr_sriov_adopt(s, &net, "ens9f0v0", "ns_c", "02:aa:00:00:00:03"),
        -ENOENT);
    assert_int_equal(migr_sriov_adopt(s, &net, "ens1f0v0", "ns_c", "bad"),
                     -EINVAL);
    assert_int_equal(migr_sriov_list(s, list, 4), 2);
    assert_string_equal(list[0].owner, "ns_a");
    assert_int_equal(list[0].index, 0);
    assert_string_equal(list[0].mac, "02:aa:00:00:00:01");
    assert_int_equal(list[1].index, 1);
    /* The next macvtap reservation skips VF0, VF1 and the netdev-less VF2. */
    assert_int_equal(
        migr_sriov_reserve_net(s, &net, "02:aa:00:00:00:04", "ns_d", NULL, &r),
        0);
    assert_int_equal(r.index, 3);
    assert_int_equal(migr_sriov_release(s, "ns_a", NULL), 1);
    assert_int_equal(f.sets[f.n_sets - 1].index, 0);
    assert_string_equal(f.sets[f.n_sets - 1].mac, "00:00:00:00:00:00");
    migr_sriov_free(s);
}

/* The networks of the adopt_iface tests: a bridge network (no PF), one
 * on a PF this host lacks, hostdev and macvtap networks sharing ens1f0 (the
 * macvtap one with another VLAN), and eth9 without SR-IOV. */
static struct conf_network adopt_nets[] = {
    {.name = "lab-net", .bridge = "br0", .mode = CONF_NET_MODE_BRIDGE},
    {.name = "gone",
     .pf = "ens3f0",
     .mode = CONF_NET_MODE_MACVTAP,
     .trust = -1,
     .spoofchk = -1},
    {.name = "sriov-hd",
     .pf = "ens1f0",
     .vlan = 100,
     .mode = CONF_NET_MODE_HOSTDEV,
     .trust = 1,
     .spoofchk = 0},
    {.name = "sriov-mv",
     .pf = "ens1f0",
     .vlan = 200,
     .mode = CONF_NET_MODE_MACVTAP,
     .trust = -1,
     .spoofchk = -1},
    {.name = "plain",
     .pf = "eth9",
     .mode = CONF_NET_MODE_HOSTDEV,
     .trust = -1,
     .spoofchk = -1},
};

static const struct conf_migrator adopt_cfg = {
    .networks = adopt_nets,
    .n_networks = sizeof(adopt_nets) / sizeof(adopt_nets[0]),
};

/* A restarted migrator's domain on a direct interface: its VF netdev
 * names the VF, on the macvtap network of that PF (the hostdev one shares
 * it and comes first in the config); nothing is programmed; a reservation
 * for another owner skips it; releasing it clears its MAC and VLAN
 * through netlink. */
static void test_adopt_iface_netdev(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r, other, list[4];
    const struct conf_network *net = NULL;

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "direct",
                                            "ens1f0v0", "02:AA:00:00:00:01", &r,
                                            &net),
                     0);
    assert_non_null(net);
    assert_string_equal(net->name, "sriov-mv");
    assert_string_equal(r.pf, "ens1f0");
    assert_int_equal(r.index, 0);
    assert_string_equal(r.pci, "0000:3b:02.0");
    assert_string_equal(r.netdev, "ens1f0v0");
    assert_string_equal(r.mac, "02:aa:00:00:00:01");
    assert_int_equal(r.vlan, 200);
    assert_string_equal(r.owner, "ns_a");
    assert_int_equal(f.n_sets, 0); /* the guest has it: left as it is */
    assert_int_equal(migr_sriov_list(s, list, 4), 1);
    assert_string_equal(list[0].owner, "ns_a");

    /* Again (a second pass, the same domain): the same reservation. */
    memset(&r, 0, sizeof(r));
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "direct",
                                            "ens1f0v0", "02:aa:00:00:00:01", &r,
                                            NULL),
                     0);
    assert_int_equal(r.index, 0);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 1);

    /* VF0 is the lowest free one but for the adoption: another owner gets
     * VF1, on either network of the PF. */
    assert_int_equal(migr_sriov_reserve_net(s, &adopt_nets[3],
                                            "02:aa:00:00:00:02", "ns_b", NULL,
                                            &other),
                     0);
    assert_int_equal(other.index, 1);
    assert_int_equal(migr_sriov_reserve_net(s, &adopt_nets[2],
                                            "02:aa:00:00:00:03", "ns_c", NULL,
                                            &other),
                     0);
    assert_int_equal(other.index, 2);
    /* And it cannot adopt the VF either. */
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_b", "direct",
                                            "ens1f0v0", "02:aa:00:00:00:02",
                                            NULL, NULL),
                     -EBUSY);

    /* The domain stops: its VF is cleared and free again. */
    f.n_sets = 0;
    assert_int_equal(migr_sriov_release(s, "ns_a", NULL), 1);
    assert_int_equal(f.n_sets, 1);
    assert_string_equal(f.sets[0].pf, "ens1f0");
    assert_int_equal(f.sets[0].index, 0);
    assert_string_equal(f.sets[0].mac, "00:00:00:00:00:00");
    assert_int_equal(f.sets[0].vlan, 0);
    assert_int_equal(f.sets[0].trust, -1);
    assert_int_equal(f.sets[0].spoofchk, -1);
    assert_int_equal(migr_sriov_reserve_net(s, &adopt_nets[3],
                                            "02:aa:00:00:00:04", "ns_d", NULL,
                                            &other),
                     0);
    assert_int_equal(other.index, 0);
    migr_sriov_free(s);
}

/* A hostdev interface names its VF by PCI address (a VF on vfio-pci has no
 * netdev), on the hostdev network; a direct interface is not matched by a
 * PCI address nor a hostdev one by a netdev. */
static void test_adopt_iface_pci(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r, other;
    const struct conf_network *net = NULL;

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "direct",
                                            "0000:3b:02.1", "02:aa:00:00:00:01",
                                            &r, &net),
                     -ENOENT);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "hostdev",
                                            "ens1f0v1", "02:aa:00:00:00:01", &r,
                                            &net),
                     -ENOENT);
    assert_null(net);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 0);

    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "hostdev",
                                            "0000:3b:02.2", "02:aa:00:00:00:01",
                                            &r, &net),
                     0);
    assert_non_null(net);
    assert_string_equal(net->name, "sriov-hd");
    assert_int_equal(r.index, 2);
    assert_string_equal(r.netdev, "");
    assert_int_equal(r.vlan, 100);
    assert_int_equal(r.trust, 1);
    assert_int_equal(r.spoofchk, 0);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "hostdev",
                                            "0000:3b:02.1", "02:aa:00:00:00:05",
                                            &r, &net),
                     0);
    assert_int_equal(r.index, 1);
    assert_int_equal(f.n_sets, 0);
    /* Hostdev reservations skip both: VF0, then VF3. */
    assert_int_equal(migr_sriov_reserve_net(s, &adopt_nets[2],
                                            "02:aa:00:00:00:02", "ns_b", NULL,
                                            &other),
                     0);
    assert_int_equal(other.index, 0);
    assert_int_equal(migr_sriov_reserve_net(s, &adopt_nets[2],
                                            "02:aa:00:00:00:03", "ns_c", NULL,
                                            &other),
                     0);
    assert_int_equal(other.index, 3);
    /* Released by its MAC: that VF alone. */
    f.n_sets = 0;
    assert_int_equal(migr_sriov_release(s, "ns_a", "02:aa:00:00:00:01"), 1);
    assert_int_equal(f.n_sets, 1);
    assert_int_equal(f.sets[0].index, 2);
    assert_string_equal(f.sets[0].mac, "00:00:00:00:00:00");
    assert_int_equal(f.sets[0].vlan, 0);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 3);
    migr_sriov_free(s);
}

/* An interface whose VF is on no configured PF (ens2f0 is on this host but
 * in no network; ens9f0 is nowhere) is not adopted, and said so; a type
 * that holds no VF, no source or a bad MAC is refused. */
static void test_adopt_iface_unmatched(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r;
    const struct conf_network *net = NULL;

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "hostdev",
                                            "0000:5e:02.0", "02:aa:00:00:00:01",
                                            &r, &net),
                     -ENOENT);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "direct",
                                            "ens9f0v0", "02:aa:00:00:00:01", &r,
                                            &net),
                     -ENOENT);
    assert_null(net);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "bridge",
                                            "br0", "02:aa:00:00:00:01", &r,
                                            &net),
                     -EINVAL);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "direct", "",
                                            "02:aa:00:00:00:01", &r, &net),
                     -EINVAL);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_a", "direct",
                                            "ens1f0v0", "", &r, &net),
                     -EINVAL);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "", "direct",
                                            "ens1f0v0", "02:aa:00:00:00:01", &r,
                                            &net),
                     -EINVAL);
    assert_int_equal(migr_sriov_adopt_iface(NULL, &adopt_cfg, "ns_a", "direct",
                                            "ens1f0v0", "02:aa:00:00:00:01", &r,
                                            &net),
                     -EINVAL);
    assert_null(net);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 0);
    assert_int_equal(f.n_sets, 0);
    /* Nothing adopted: a release of that owner has nothing to clear. */
    assert_int_equal(migr_sriov_release(s, "ns_a", NULL), 0);
    assert_int_equal(f.n_sets, 0);
    migr_sriov_free(s);
}

/* A prepare re-run from the journal after a restart reserves again for the
 * same owner and MAC in a new, empty table: with the running domain's VF
 * adopted it gets the VF it had (the lowest free one then and now), not
 * the domain's, and programs it again. */
static void test_adopt_then_prepare_rerun(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation before, after;
    const struct conf_network *mv = &adopt_nets[3];

    fx_standard(fx);
    /* Before: the running domain's VF0, then the prepare's. */
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(migr_sriov_reserve_net(s, mv, "02:aa:00:00:00:01",
                                            "ns_run", NULL, NULL),
                     0);
    assert_int_equal(migr_sriov_reserve_net(s, mv, "02:aa:00:00:00:02",
                                            "ns_prep", NULL, &before),
                     0);
    assert_int_equal(before.index, 1);
    migr_sriov_free(s);

    /* The restart: the domain's VF adopted, then the prepare again. */
    s = NULL;
    f.n_sets = 0;
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    assert_int_equal(migr_sriov_adopt_iface(s, &adopt_cfg, "ns_run", "direct",
                                            "ens1f0v0", "02:aa:00:00:00:01",
                                            NULL, NULL),
                     0);
    assert_int_equal(migr_sriov_reserve_net(s, mv, "02:aa:00:00:00:02",
                                            "ns_prep", NULL, &after),
                     0);
    assert_int_equal(after.index, before.index);
    assert_string_equal(after.netdev, before.netdev);
    assert_int_equal(f.n_sets, 1);
    assert_int_equal(f.sets[0].index, 1);
    assert_string_equal(f.sets[0].mac, "02:aa:00:00:00:02");
    migr_sriov_free(s);
}

/* A missing PF: no VF to reserve, said as such. */
static void test_reserve_missing_pf(void **state)
{
    struct fx *fx = *state;
    struct migr_sriov *s = NULL;
    struct migr_vf_reservation r;
    struct conf_network net = {.name = "sriov-net1",
                               .pf = "ens3f0",
                               .vlan = 0,
                               .mode = CONF_NET_MODE_HOSTDEV,
                               .trust = -1,
                               .spoofchk = -1};

    fx_standard(fx);
    assert_int_equal(migr_sriov_new(fx->root, NULL, &s), 0);
    assert_int_equal(
        migr_sriov_reserve_net(s, &net, "02:aa:00:00:00:01", "ns_a", NULL, &r),
        -ENODEV);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 0);
    migr_sriov_free(s);
}

/* Many threads reserving at once never get the same VF, and exactly as
 * many succeed as there are VFs. */
#define RACE_THREADS 8

struct race {
    struct migr_sriov *s;
    int id;
    int result;
    struct migr_vf_reservation r;
};

static void *race_main(void *arg)
{
    struct race *x = arg;
    struct migr_vf_config cfg = {NULL, 7, -1, -1};
    char mac[MIGR_MAC_LEN], owner[32];

    snprintf(mac, sizeof(mac), "02:bb:00:00:00:%02x", x->id);
    snprintf(owner, sizeof(owner), "ns_vm%d", x->id);
    cfg.mac = mac;
    x->result = migr_sriov_reserve(x->s, "ens2f0", &cfg, MIGR_VF_ANY, owner,
                                   NULL, &x->r);
    return NULL;
}

static void test_reserve_threads(void **state)
{
    struct fx *fx = *state;
    struct fake_nl f = {0};
    struct migr_netlink_ops ops = fake_ops(&f);
    struct migr_sriov *s = NULL;
    struct race races[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    struct fx_vf vfs[5];
    int ok = 0, nospc = 0;
    bool seen[5] = {false};

    for (int i = 0; i < 5; i++)
        vfs[i] = (struct fx_vf){"iavf", ""};
    fx_pf(fx, "ens2f0", 0x5e, 8, vfs, 5);
    assert_int_equal(migr_sriov_new(fx->root, &ops, &s), 0);
    for (int i = 0; i < RACE_THREADS; i++) {
        races[i] = (struct race){.s = s, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &races[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < RACE_THREADS; i++) {
        if (races[i].result == -ENOSPC) {
            nospc++;
            continue;
        }
        assert_int_equal(races[i].result, 0);
        assert_true(races[i].r.index < 5);
        assert_false(seen[races[i].r.index]);
        seen[races[i].r.index] = true;
        ok++;
    }
    assert_int_equal(ok, 5);
    assert_int_equal(nospc, RACE_THREADS - 5);
    assert_int_equal(f.n_sets, 5);
    assert_int_equal(migr_sriov_list(s, NULL, 0), 5);
    migr_sriov_free(s);
}

static void test_link_state_name(void **state)
{
    (void)state;
    assert_string_equal(migr_vf_link_state_name(MIGR_VF_LINK_AUTO), "auto");
    assert_string_equal(migr_vf_link_state_name(MIGR_VF_LINK_ENABLE), "enable");
    assert_string_equal(migr_vf_link_state_name(MIGR_VF_LINK_DISABLE),
                        "disable");
    assert_null(migr_vf_link_state_name(-1));
    assert_null(migr_vf_link_state_name(3));
}

/* ---------------------------------------------------------------------- */
/* The real netlink path                                                   */

static void test_libnl_no_vfs(void **state)
{
    struct migr_vf_link *vfs = (void *)1;
    const struct migr_netlink_ops *nl = &migr_netlink_libnl;
    struct migr_vf_config bad = {"bad", 0, -1, -1};
    struct migr_vf_config badtrust = {"02:00:00:00:00:01", 0, 2, -1};

    (void)state;
    /* lo exists in every network namespace and has no PCI parent. */
    assert_int_equal(nl->vf_list(nl->ctx, "lo", &vfs), 0);
    assert_null(vfs);
    assert_int_equal(nl->vf_list(nl->ctx, "nosuchif0", &vfs), -ENODEV);
    assert_int_equal(nl->vf_list(nl->ctx, "../lo", &vfs), -EINVAL);
    assert_int_equal(nl->vf_set(nl->ctx, "lo", 0, &bad), -EINVAL);
    assert_int_equal(nl->vf_set(nl->ctx, "lo", 0, &badtrust), -EINVAL);
    assert_int_equal(nl->vf_set(nl->ctx, "lo", 0, NULL), -EINVAL);
}

/* In a child with its own network namespace (so the host is never
 * touched): a veth reports no VFs, and programming a VF on it fails with
 * the kernel's "not supported". */
static void test_libnl_veth(void **state)
{
    pid_t pid;
    int status;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct migr_vf_link *vfs = (void *)1;
        const struct migr_netlink_ops *nl = &migr_netlink_libnl;
        struct migr_vf_config cfg = {"02:00:00:00:00:01", 10, 1, 0};
        int r;

        if (unshare(CLONE_NEWNET) < 0)
            _exit(77);
        if (system("ip link add mgtv0 type veth peer name mgtv1 "
                   ">/dev/null 2>&1") != 0)
            _exit(77);
        if (nl->vf_list(nl->ctx, "mgtv0", &vfs) != 0 || vfs != NULL)
            _exit(1);
        r = nl->vf_set(nl->ctx, "mgtv0", 0, &cfg);
        if (r != -EOPNOTSUPP) {
            fprintf(stderr, "vf_set on a veth: %d\n", r);
            _exit(2);
        }
        if (nl->vf_set(nl->ctx, "mgtv9", 0, &cfg) != -ENODEV)
            _exit(3);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* not root, or no ip(8) */
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pf_read_sysfs, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_pf_read_errors, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_pf_read_netlink, fx_setup,
                                        fx_teardown),
        cmocka_unit_test(test_mac_parse),
        cmocka_unit_test_setup_teardown(test_reserve_choice, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_reserve_errors, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_reserve_net_and_release, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_adopt, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_adopt_iface_netdev, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_adopt_iface_pci, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_adopt_iface_unmatched, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_adopt_then_prepare_rerun, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_reserve_missing_pf, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_reserve_threads, fx_setup,
                                        fx_teardown),
        cmocka_unit_test(test_link_state_name),
        cmocka_unit_test(test_libnl_no_vfs),
        cmocka_unit_test(test_libnl_veth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
