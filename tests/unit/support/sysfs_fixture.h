/*
 * Test helper: a fixture sysfs tree in a temporary directory, laid out as a
 * real host's (class/net/PF -> devices/..., device/virtfnN -> ../VF, VF
 * driver links into bus/pci/drivers), for the SR-IOV inventory.  Used by
 * test_migrator_sriov.c and test_migrator_agent*.c.  Failures fail the
 * running cmocka test.
 */
#ifndef ORCH_TEST_SYSFS_FIXTURE_H
#define ORCH_TEST_SYSFS_FIXTURE_H

struct fx {
    char root[256];
};

/* One VF of a fixture PF: its driver ("" unbound) and netdev ("" none). */
struct fx_vf {
    const char *driver;
    const char *netdev;
};

/* Make an empty tree under $TMPDIR (or /tmp) named after `tag`.
 * Returns 0 or -1. */
int fx_make(struct fx *fx, const char *tag);

/* Remove the whole tree. */
void fx_remove(struct fx *fx);

/* mkdir -p */
void fx_mkdir_p(const char *path);

/* Write `text` to the file at `path`. */
void fx_put_file(const char *path, const char *text);

/* Add PF `pf` at PCI 0000:BUS:00.0 with `n` VFs at 0000:BUS:02.x (x =
 * index % 8, device 02 + index / 8), sriov_totalvfs `total`.  total < 0
 * makes a plain NIC without SR-IOV files.  VFs are created in reverse
 * order so readdir order is not index order. */
void fx_pf(struct fx *fx, const char *pf, int bus, int total,
           const struct fx_vf *vfs, int n);

#endif
