/*
 * Test helper: a fixture sysfs tree.  See sysfs_fixture.h.
 */
#include "tests/unit/support/sysfs_fixture.h"

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

void fx_mkdir_p(const char *path)
{
    char buf[PATH_MAX];

    assert_true(strlen(path) < sizeof(buf));
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0)
            assert_int_equal(errno, EEXIST);
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0)
        assert_int_equal(errno, EEXIST);
}

void fx_put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void fx_symlink(const char *target, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fx_symlink(const char *target, const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    assert_int_equal(symlink(target, path), 0);
}

/* Add PF `pf` at PCI 0000:BUS:00.0 with `n` VFs at 0000:BUS:02.x (x =
 * index % 8, device 02 + index / 8), sriov_totalvfs `total`.  total < 0
 * makes a plain NIC without SR-IOV files.  VFs are created in reverse
 * order so readdir order is not index order. */
void fx_pf(struct fx *fx, const char *pf, int bus, int total,
           const struct fx_vf *vfs, int n)
{
    char dev[512], path[PATH_MAX], pci[32], num[16];
    const char *base = "devices/pci0000:3a/0000:3a:00.0";

    snprintf(pci, sizeof(pci), "0000:%02x:00.0", bus);
    snprintf(dev, sizeof(dev), "%s/%s/%s", fx->root, base, pci);
    snprintf(path, sizeof(path), "%s/net/%s", dev, pf);
    fx_mkdir_p(path);
    fx_mkdir_p(strcat(strcpy(path, fx->root), "/class/net"));
    fx_mkdir_p(strcat(strcpy(path, fx->root), "/bus/pci/drivers/iavf"));
    fx_mkdir_p(strcat(strcpy(path, fx->root), "/bus/pci/drivers/vfio-pci"));
    snprintf(path, sizeof(path), "../../%s/%s/net/%s", base, pci, pf);
    fx_symlink(path, "%s/class/net/%s", fx->root, pf);
    /* net/PF/device -> ../../../0000:BUS:00.0, the PCI device dir. */
    snprintf(path, sizeof(path), "../../../%s", pci);
    fx_symlink(path, "%s/net/%s/device", dev, pf);
    if (total < 0)
        return;
    snprintf(num, sizeof(num), "%d\n", total);
    snprintf(path, sizeof(path), "%s/sriov_totalvfs", dev);
    fx_put_file(path, num);
    snprintf(num, sizeof(num), "%d\n", n);
    snprintf(path, sizeof(path), "%s/sriov_numvfs", dev);
    fx_put_file(path, num);
    for (int i = n - 1; i >= 0; i--) {
        char vf[32];

        snprintf(vf, sizeof(vf), "0000:%02x:%02x.%d", bus, 2 + i / 8, i % 8);
        snprintf(path, sizeof(path), "%s/%s/%s", fx->root, base, vf);
        fx_mkdir_p(path);
        /* virtfnN -> ../0000:BUS:DD.F, as the kernel makes it. */
        snprintf(path, sizeof(path), "../%s", vf);
        fx_symlink(path, "%s/virtfn%d", dev, i);
        snprintf(path, sizeof(path), "../%s", pci);
        fx_symlink(path, "%s/%s/%s/physfn", fx->root, base, vf);
        if (vfs[i].netdev[0]) {
            snprintf(path, sizeof(path), "%s/%s/%s/net/%s", fx->root, base, vf,
                     vfs[i].netdev);
            fx_mkdir_p(path);
        }
        if (vfs[i].driver[0]) {
            snprintf(path, sizeof(path), "../../../../bus/pci/drivers/%s",
                     vfs[i].driver);
            fx_symlink(path, "%s/%s/%s/driver", fx->root, base, vf);
        }
    }
}

int fx_make(struct fx *fx, const char *tag)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(fx->root, sizeof(fx->root), "%s/%s.XXXXXX", tmp ? tmp : "/tmp",
             tag);
    return mkdtemp(fx->root) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fx_remove(struct fx *fx)
{
    if (fx->root[0])
        nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
