/*
 * SR-IOV inventory (sysfs + netlink) and VF reservations.  See sriov.h.
 */
#include "migrator/sriov.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/sriov.h>
#include <netlink/route/rtnl.h>

int migr_mac_parse(const char *text, unsigned char ret_mac[6])
{
    unsigned char mac[6];
    int i;

    if (!text || strlen(text) != 17)
        return -EINVAL;
    for (i = 0; i < 6; i++) {
        const char *p = text + 3 * i;
        int hi, lo;

        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
            return -EINVAL;
        if (i < 5 && p[2] != ':')
            return -EINVAL;
        hi = isdigit((unsigned char)p[0])
                 ? p[0] - '0'
                 : tolower((unsigned char)p[0]) - 'a' + 10;
        lo = isdigit((unsigned char)p[1])
                 ? p[1] - '0'
                 : tolower((unsigned char)p[1]) - 'a' + 10;
        mac[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(ret_mac, mac, 6);
    return 0;
}

const char *migr_vf_link_state_name(int link_state)
{
    switch (link_state) {
    case MIGR_VF_LINK_AUTO:
        return "auto";
    case MIGR_VF_LINK_ENABLE:
        return "enable";
    case MIGR_VF_LINK_DISABLE:
        return "disable";
    default:
        return NULL;
    }
}

static void mac_format(const unsigned char mac[6], char out[MIGR_MAC_LEN])
{
    snprintf(out, MIGR_MAC_LEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5]);
}

/* An interface name we are willing to put into a path. */
static bool ifname_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n >= IF_NAMESIZE || strchr(name, '/') ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)name[i]) || !isprint((unsigned char)name[i]))
            return false;
    return true;
}

/* ---------------------------------------------------------------------- */
/* sysfs                                                                   */

/* snprintf into a path buffer; -ENAMETOOLONG instead of a cut path. */
static int pathf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Read a small decimal file; -ENOENT when absent. */
static int read_int_file(const char *path, int *ret)
{
    char buf[32];
    ssize_t n;
    char *end;
    long v;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return -EIO;
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    if (end == buf || errno || v < 0 || v > INT_MAX || (*end && *end != '\n'))
        return -EIO;
    *ret = (int)v;
    return 0;
}

/* Basename of a symlink's target into out; -ENOENT when absent. */
static int link_basename(const char *path, char *out, size_t outlen)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    const char *base;

    if (n < 0)
        return -errno;
    target[n] = '\0';
    base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (strlen(base) >= outlen || !*base)
        return -EIO;
    strcpy(out, base);
    return 0;
}

/* The first entry of dir (not . or ..) into out; "" when empty or absent. */
static void first_entry(const char *dir, char *out, size_t outlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    out[0] = '\0';
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (strlen(e->d_name) < outlen)
            strcpy(out, e->d_name);
        break;
    }
    closedir(d);
}

static int vf_cmp(const void *a, const void *b)
{
    const struct migr_vf *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

static int vf_link_cmp(const void *a, const void *b)
{
    const struct migr_vf_link *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

/* Fill VF `vf` (index set) from <dev>/virtfnN. */
static int vf_read(const char *dev, struct migr_vf *vf)
{
    char path[PATH_MAX];
    int r;

    if (pathf(path, sizeof(path), "%s/virtfn%u", dev, vf->index) < 0)
        return -ENAMETOOLONG;
    r = link_basename(path, vf->pci, sizeof(vf->pci));
    if (r < 0)
        return r == -ENOENT ? -EIO : r;
    if (pathf(path, sizeof(path), "%s/virtfn%u/net", dev, vf->index) < 0)
        return -ENAMETOOLONG;
    first_entry(path, vf->netdev, sizeof(vf->netdev));
    if (pathf(path, sizeof(path), "%s/virtfn%u/driver", dev, vf->index) < 0)
        return -ENAMETOOLONG;
    if (link_basename(path, vf->driver, sizeof(vf->driver)) < 0)
        vf->driver[0] = '\0';
    vf->vfio = strcmp(vf->driver, "vfio-pci") == 0;
    return 0;
}

static int pf_read_sysfs(const char *root, const char *pf, struct migr_pf *p)
{
    char dev[PATH_MAX], path[PATH_MAX];
    struct stat st;
    struct dirent *e;
    DIR *d = NULL;
    size_t alloc = 0;
    int r;

    if (pathf(path, sizeof(path), "%s/class/net/%s", root, pf) < 0 ||
        pathf(dev, sizeof(dev), "%s/device", path) < 0)
        return -EINVAL;
    if (stat(path, &st) < 0)
        return errno == ENOENT ? -ENODEV : -EIO;
    if (pathf(path, sizeof(path), "%s/sriov_totalvfs", dev) < 0)
        return -EINVAL;
    r = read_int_file(path, &p->total_vfs);
    if (r == -ENOENT)
        return -EOPNOTSUPP;
    if (r < 0)
        return -EIO;
    if (pathf(path, sizeof(path), "%s/sriov_numvfs", dev) < 0 ||
        read_int_file(path, &p->num_vfs) < 0)
        p->num_vfs = 0;

    d = opendir(dev);
    if (!d)
        return -EIO;
    while ((e = readdir(d))) {
        unsigned idx;
        char tail;

        if (sscanf(e->d_name, "virtfn%u%c", &idx, &tail) != 1 ||
            strncmp(e->d_name, "virtfn", 6) != 0 ||
            !isdigit((unsigned char)e->d_name[6]))
            continue;
        if (p->vf_count == alloc) {
            size_t n = alloc ? alloc * 2 : 8;
            struct migr_vf *v = realloc(p->vfs, n * sizeof(*v));
            if (!v) {
                r = -ENOMEM;
                goto out;
            }
            p->vfs = v;
            alloc = n;
        }
        memset(&p->vfs[p->vf_count], 0, sizeof(p->vfs[0]));
        p->vfs[p->vf_count].index = idx;
        r = vf_read(dev, &p->vfs[p->vf_count]);
        if (r < 0)
            goto out;
        p->vf_count++;
    }
    if (p->vf_count)
        qsort(p->vfs, p->vf_count, sizeof(p->vfs[0]), vf_cmp);
    r = 0;
out:
    closedir(d);
    return r;
}

int migr_pf_read(const char *sysfs_root, const char *pf,
                 const struct migr_netlink_ops *nl, struct migr_pf *ret)
{
    struct migr_pf p = {0};
    struct migr_vf_link *links = NULL;
    int n, r;

    if (!sysfs_root || !ret || !ifname_valid(pf))
        return -EINVAL;
    strcpy(p.name, pf);
    r = pf_read_sysfs(sysfs_root, pf, &p);
    if (r < 0)
        goto out;
    if (nl) {
        n = nl->vf_list(nl->ctx, pf, &links);
        if (n < 0) {
            r = n;
            goto out;
        }
        for (int i = 0; i < n; i++) {
            for (size_t j = 0; j < p.vf_count; j++) {
                if (p.vfs[j].index == links[i].index) {
                    p.vfs[j].link = links[i];
                    p.vfs[j].has_link = true;
                }
            }
        }
    }
    *ret = p;
    memset(&p, 0, sizeof(p));
    r = 0;
out:
    free(links);
    migr_pf_clear(&p);
    return r;
}

void migr_pf_clear(struct migr_pf *pf)
{
    if (!pf)
        return;
    free(pf->vfs);
    memset(pf, 0, sizeof(*pf));
}

const struct migr_vf *migr_pf_vf(const struct migr_pf *pf, unsigned index)
{
    for (size_t i = 0; pf && i < pf->vf_count; i++)
        if (pf->vfs[i].index == index)
            return &pf->vfs[i];
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* netlink through libnl-route-3                                           */

static int nl_errno(int nlerr)
{
    switch (nlerr < 0 ? -nlerr : nlerr) {
    case NLE_OBJ_NOTFOUND:
    case NLE_NODEV:
        return -ENODEV;
    case NLE_OPNOTSUPP:
        return -EOPNOTSUPP;
    case NLE_PERM:
        return -EPERM;
    case NLE_NOMEM:
        return -ENOMEM;
    case NLE_INVAL:
    case NLE_RANGE:
        return -EINVAL;
    case NLE_BUSY:
        return -EBUSY;
    default:
        return -EIO;
    }
}

static int nl_open(struct nl_sock **ret)
{
    struct nl_sock *sk = nl_socket_alloc();
    int r;

    if (!sk)
        return -ENOMEM;
    r = nl_connect(sk, NETLINK_ROUTE);
    if (r < 0) {
        nl_socket_free(sk);
        return nl_errno(r);
    }
    *ret = sk;
    return 0;
}

static int libnl_vf_list(void *ctx, const char *pf,
                         struct migr_vf_link **ret_vfs)
{
    struct nl_sock *sk = NULL;
    struct rtnl_link *link = NULL;
    struct migr_vf_link *vfs = NULL;
    uint32_t num = 0;
    int count = 0, r;

    (void)ctx;
    if (!ifname_valid(pf))
        return -EINVAL;
    r = nl_open(&sk);
    if (r < 0)
        return r;
    r = rtnl_link_get_kernel(sk, 0, pf, &link);
    if (r < 0) {
        r = nl_errno(r);
        goto out;
    }
    /* The kernel sends IFLA_NUM_VF only for a PCI device; libnl has no VF
     * list object at all without it (and rtnl_link_vf_get would crash). */
    if (rtnl_link_get_num_vf(link, &num) < 0 || num == 0 ||
        !rtnl_link_has_vf_list(link)) {
        r = 0;
        goto out;
    }
    vfs = calloc(num, sizeof(*vfs));
    if (!vfs) {
        r = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < num; i++) {
        struct rtnl_link_vf *vf = rtnl_link_vf_get(link, i);
        struct migr_vf_link *o = &vfs[count];
        struct nl_addr *addr = NULL;
        nl_vf_vlans_t *vlans = NULL;
        uint32_t v;

        if (!vf)
            continue;
        o->index = i;
        o->vlan = o->qos = o->spoofchk = o->trust = o->link_state = -1;
        if (rtnl_link_vf_get_addr(vf, &addr) == 0 && addr &&
            nl_addr_get_len(addr) == 6)
            mac_format(nl_addr_get_binary_addr(addr), o->mac);
        if (rtnl_link_vf_get_vlans(vf, &vlans) == 0 && vlans) {
            if (vlans->size > 0) {
                o->vlan = (int)vlans->vlans[0].vf_vlan;
                o->qos = (int)vlans->vlans[0].vf_vlan_qos;
            }
            rtnl_link_vf_vlan_put(vlans);
        }
        if (rtnl_link_vf_get_spoofchk(vf, &v) == 0)
            o->spoofchk = (int)v;
        if (rtnl_link_vf_get_trust(vf, &v) == 0)
            o->trust = (int)v;
        if (rtnl_link_vf_get_linkstate(vf, &v) == 0)
            o->link_state = (int)v;
        rtnl_link_vf_put(vf);
        count++;
    }
    qsort(vfs, (size_t)count, sizeof(*vfs), vf_link_cmp);
    r = count;
out:
    if (r > 0)
        *ret_vfs = vfs;
    else {
        free(vfs);
        if (r == 0)
            *ret_vfs = NULL;
    }
    rtnl_link_put(link);
    nl_socket_free(sk);
    return r;
}

static int libnl_vf_set(void *ctx, const char *pf, unsigned index,
                        const struct migr_vf_config *cfg)
{
    struct nl_sock *sk = NULL;
    struct rtnl_link *link = NULL, *change = NULL;
    struct rtnl_link_vf *vf = NULL;
    struct nl_addr *addr = NULL;
    nl_vf_vlans_t *vlans = NULL;
    unsigned char bytes[6];
    int r;

    (void)ctx;
    if (!ifname_valid(pf) || !cfg || migr_mac_parse(cfg->mac, bytes) < 0 ||
        cfg->vlan < 0 || cfg->vlan > 4094 || cfg->trust < -1 ||
        cfg->trust > 1 || cfg->spoofchk < -1 || cfg->spoofchk > 1)
        return -EINVAL;
    r = nl_open(&sk);
    if (r < 0)
        return r;
    r = rtnl_link_get_kernel(sk, 0, pf, &link);
    if (r < 0) {
        r = nl_errno(r);
        goto out;
    }
    change = rtnl_link_alloc();
    vf = rtnl_link_vf_alloc();
    addr = nl_addr_build(AF_LLC, bytes, 6);
    if (!change || !vf || !addr || rtnl_link_vf_vlan_alloc(&vlans, 1) < 0) {
        r = -ENOMEM;
        goto out;
    }
    rtnl_link_vf_set_index(vf, index);
    rtnl_link_vf_set_addr(vf, addr);
    vlans->vlans[0].vf_vlan = (uint32_t)cfg->vlan;
    vlans->vlans[0].vf_vlan_qos = 0;
    vlans->vlans[0].vf_vlan_proto = 0; /* 802.1Q */
    rtnl_link_vf_set_vlans(vf, vlans);
    /* -1: not sent at all, so the kernel leaves the setting alone. */
    if (cfg->trust >= 0)
        rtnl_link_vf_set_trust(vf, (uint32_t)cfg->trust);
    if (cfg->spoofchk >= 0)
        rtnl_link_vf_set_spoofchk(vf, (uint32_t)cfg->spoofchk);
    r = rtnl_link_vf_add(change, vf);
    if (r < 0) {
        r = nl_errno(r);
        goto out;
    }
    r = rtnl_link_change(sk, link, change, 0);
    r = r < 0 ? nl_errno(r) : 0;
out:
    rtnl_link_vf_vlan_put(vlans);
    nl_addr_put(addr);
    rtnl_link_vf_put(vf);
    rtnl_link_put(change);
    rtnl_link_put(link);
    nl_socket_free(sk);
    return r;
}

const struct migr_netlink_ops migr_netlink_libnl = {
    .vf_list = libnl_vf_list,
    .vf_set = libnl_vf_set,
    .ctx = NULL,
};

/* ---------------------------------------------------------------------- */
/* Reservations                                                            */

struct reservation {
    struct migr_vf_reservation r;
};

struct migr_sriov {
    pthread_mutex_t lock;
    char *sysfs_root;
    const struct migr_netlink_ops *nl;
    struct reservation *items;
    size_t count;
    size_t alloc;
};

int migr_sriov_new(const char *sysfs_root, const struct migr_netlink_ops *nl,
                   struct migr_sriov **ret)
{
    struct migr_sriov *s;

    if (!sysfs_root || !ret)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->sysfs_root = strdup(sysfs_root);
    if (!s->sysfs_root) {
        free(s);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->nl = nl;
    *ret = s;
    return 0;
}

void migr_sriov_free(struct migr_sriov *s)
{
    if (!s)
        return;
    free(s->items);
    free(s->sysfs_root);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool listed(const char *const *list, const char *what)
{
    if (!*what)
        return false;
    for (; list && *list; list++)
        if (strcmp(*list, what) == 0)
            return true;
    return false;
}

static bool reserved(const struct migr_sriov *s, const char *pf, unsigned index)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->items[i].r.index == index && strcmp(s->items[i].r.pf, pf) == 0)
            return true;
    return false;
}

static struct reservation *find_own(struct migr_sriov *s, const char *pf,
                                    const char *owner, const char *mac)
{
    for (size_t i = 0; i < s->count; i++) {
        struct reservation *it = &s->items[i];
        if (strcmp(it->r.owner, owner) == 0 && strcmp(it->r.mac, mac) == 0 &&
            strcmp(it->r.pf, pf) == 0)
            return it;
    }
    return NULL;
}

static bool tristate_ok(int v)
{
    return v >= -1 && v <= 1;
}

/* Program VF `index` of `pf` with `cfg`, its MAC as `mac` (normalized),
 * when the table has netlink. */
static int vf_program(const struct migr_sriov *s, const char *pf,
                      unsigned index, const struct migr_vf_config *cfg,
                      const char *mac)
{
    struct migr_vf_config c = *cfg;

    if (!s->nl)
        return 0;
    c.mac = mac;
    return s->nl->vf_set(s->nl->ctx, pf, index, &c);
}

int migr_sriov_reserve(struct migr_sriov *s, const char *pf,
                       const struct migr_vf_config *cfg, enum migr_vf_need need,
                       const char *owner, const char *const *in_use,
                       struct migr_vf_reservation *ret)
{
    static const unsigned char zero[6];
    struct migr_pf p = {0};
    struct migr_vf_reservation res = {0};
    struct reservation *own;
    const struct migr_vf *vf = NULL;
    unsigned char bytes[6];
    char norm[MIGR_MAC_LEN];
    int r;

    if (!s || !ifname_valid(pf) || !owner || !*owner ||
        strlen(owner) >= MIGR_OWNER_LEN || !cfg ||
        migr_mac_parse(cfg->mac, bytes) < 0 || memcmp(bytes, zero, 6) == 0 ||
        cfg->vlan < 0 || cfg->vlan > 4094 || !tristate_ok(cfg->trust) ||
        !tristate_ok(cfg->spoofchk))
        return -EINVAL;
    mac_format(bytes, norm);
    pthread_mutex_lock(&s->lock);
    own = find_own(s, pf, owner, norm);
    if (own) {
        /* A retry: program again what was reserved before. */
        res = own->r;
        r = vf_program(s, pf, res.index, cfg, norm);
        if (r < 0)
            goto out;
        own->r.vlan = res.vlan = cfg->vlan;
        own->r.trust = res.trust = cfg->trust;
        own->r.spoofchk = res.spoofchk = cfg->spoofchk;
        r = 0;
        goto done;
    }
    r = migr_pf_read(s->sysfs_root, pf, NULL, &p);
    if (r < 0)
        goto out;
    for (size_t i = 0; i < p.vf_count; i++) {
        const struct migr_vf *c = &p.vfs[i];
        if (reserved(s, pf, c->index) || listed(in_use, c->pci) ||
            listed(in_use, c->netdev))
            continue;
        if (need == MIGR_VF_NETDEV && !c->netdev[0])
            continue;
        vf = c;
        break;
    }
    if (!vf) {
        r = -ENOSPC;
        goto out;
    }
    if (s->count == s->alloc) {
        size_t n = s->alloc ? s->alloc * 2 : 8;
        struct reservation *v = realloc(s->items, n * sizeof(*v));
        if (!v) {
            r = -ENOMEM;
            goto out;
        }
        s->items = v;
        s->alloc = n;
    }
    strcpy(res.pf, pf);
    res.index = vf->index;
    strcpy(res.pci, vf->pci);
    strcpy(res.netdev, vf->netdev);
    strcpy(res.mac, norm);
    res.vlan = cfg->vlan;
    res.trust = cfg->trust;
    res.spoofchk = cfg->spoofchk;
    strcpy(res.owner, owner);
    /* Programmed under the lock: no other reservation can take this VF
     * between the choice and the record. */
    r = vf_program(s, pf, res.index, cfg, norm);
    if (r < 0)
        goto out;
    s->items[s->count].r = res;
    s->count++;
    r = 0;
done:
    if (ret)
        *ret = res;
out:
    pthread_mutex_unlock(&s->lock);
    migr_pf_clear(&p);
    return r;
}

int migr_sriov_reserve_net(struct migr_sriov *s, const struct conf_network *net,
                           const char *mac, const char *owner,
                           const char *const *in_use,
                           struct migr_vf_reservation *ret)
{
    struct migr_vf_config cfg;

    if (!net)
        return -EINVAL;
    cfg = (struct migr_vf_config){.mac = mac,
                                  .vlan = net->vlan,
                                  .trust = net->trust,
                                  .spoofchk = net->spoofchk};
    return migr_sriov_reserve(
        s, net->pf, &cfg,
        net->mode == CONF_NET_MODE_MACVTAP ? MIGR_VF_NETDEV : MIGR_VF_ANY,
        owner, in_use, ret);
}

/* How adopt_vf matches a domain's interface source with a VF. */
enum adopt_match {
    ADOPT_BY_ANY,    /* its PCI address or its netdev */
    ADOPT_BY_PCI,    /* a hostdev interface: the PCI address */
    ADOPT_BY_NETDEV, /* a direct interface: the netdev */
};

/* migr_sriov_adopt with the match made explicit, and the reservation (new
 * or the owner's existing one) copied into *ret when ret is not NULL. */
static int adopt_vf(struct migr_sriov *s, const struct conf_network *net,
                    const char *source, enum adopt_match by, const char *owner,
                    const char *mac, struct migr_vf_reservation *ret)
{
    struct migr_pf p = {0};
    struct migr_vf_reservation res = {0};
    const struct migr_vf *vf = NULL;
    unsigned char bytes[6];
    int r;

    if (!s || !net || !ifname_valid(net->pf) || !source || !*source || !owner ||
        !*owner || strlen(owner) >= MIGR_OWNER_LEN ||
        migr_mac_parse(mac, bytes) < 0)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    r = migr_pf_read(s->sysfs_root, net->pf, NULL, &p);
    if (r < 0)
        goto out;
    for (size_t i = 0; !vf && i < p.vf_count; i++) {
        const struct migr_vf *c = &p.vfs[i];

        if ((by != ADOPT_BY_NETDEV && strcmp(c->pci, source) == 0) ||
            (by != ADOPT_BY_PCI && c->netdev[0] &&
             strcmp(c->netdev, source) == 0))
            vf = c;
    }
    if (!vf) {
        r = -ENOENT;
        goto out;
    }
    for (size_t i = 0; i < s->count; i++) {
        const struct migr_vf_reservation *it = &s->items[i].r;
        if (it->index != vf->index || strcmp(it->pf, net->pf) != 0)
            continue;
        if (strcmp(it->owner, owner) != 0) {
            r = -EBUSY;
            goto out;
        }
        res = *it;
        r = 0;
        goto done;
    }
    if (s->count == s->alloc) {
        size_t n = s->alloc ? s->alloc * 2 : 8;
        struct reservation *v = realloc(s->items, n * sizeof(*v));
        if (!v) {
            r = -ENOMEM;
            goto out;
        }
        s->items = v;
        s->alloc = n;
    }
    strcpy(res.pf, net->pf);
    res.index = vf->index;
    strcpy(res.pci, vf->pci);
    strcpy(res.netdev, vf->netdev);
    mac_format(bytes, res.mac);
    res.vlan = net->vlan;
    res.trust = net->trust;
    res.spoofchk = net->spoofchk;
    strcpy(res.owner, owner);
    s->items[s->count++].r = res;
    r = 0;
done:
    if (ret)
        *ret = res;
out:
    pthread_mutex_unlock(&s->lock);
    migr_pf_clear(&p);
    return r;
}

int migr_sriov_adopt(struct migr_sriov *s, const struct conf_network *net,
                     const char *source, const char *owner, const char *mac)
{
    return adopt_vf(s, net, source, ADOPT_BY_ANY, owner, mac, NULL);
}

int migr_sriov_adopt_iface(struct migr_sriov *s,
                           const struct conf_migrator *cfg, const char *owner,
                           const char *type, const char *source,
                           const char *mac, struct migr_vf_reservation *ret,
                           const struct conf_network **ret_net)
{
    enum conf_net_mode mode;
    enum adopt_match by;
    int r;

    if (!s || !cfg || !type || !source || !*source)
        return -EINVAL;
    if (strcmp(type, "direct") == 0) {
        by = ADOPT_BY_NETDEV;
        mode = CONF_NET_MODE_MACVTAP;
    } else if (strcmp(type, "hostdev") == 0) {
        by = ADOPT_BY_PCI;
        mode = CONF_NET_MODE_HOSTDEV;
    } else {
        return -EINVAL;
    }
    /* Networks may share a PF (e.g. one per VLAN): the VF says which PF,
     * not which network, so those of the interface's own mode go first,
     * and the first that has the VF is taken.  The network only fills in
     * the VLAN, trust and spoof check the record shows; release clears
     * the VF whatever they are. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < cfg->n_networks; i++) {
            const struct conf_network *net = &cfg->networks[i];

            if (!net->pf || (net->mode == mode) != (pass == 0))
                continue;
            r = adopt_vf(s, net, source, by, owner, mac, ret);
            /* Not this PF's VF, or a PF this host lacks: try the next. */
            if (r == -ENOENT || r == -ENODEV || r == -EOPNOTSUPP)
                continue;
            if (r == 0 && ret_net)
                *ret_net = net;
            return r;
        }
    }
    return -ENOENT;
}

const char *migr_sriov_adopt_why(int r)
{
    switch (r) {
    case -ENOENT:
        return "no PF of a configured network on this host has that VF";
    case -EBUSY:
        return "another domain holds that VF";
    case -EINVAL:
        return "not a VF source (or no valid MAC)";
    default:
        return strerror(-r);
    }
}

void migr_sriov_vmi_clear(struct migr_sriov_vmi *v)
{
    if (!v)
        return;
    free(v->res);
    free(v->vfs);
    free(v->ifaces);
    free(v->nets);
    memset(v, 0, sizeof(*v));
}

/* The config network named `name`, or NULL. */
static const struct conf_network *conf_net(const struct conf_migrator *cfg,
                                           const char *name)
{
    for (size_t i = 0; name && i < cfg->n_networks; i++)
        if (strcmp(cfg->networks[i].name, name) == 0)
            return &cfg->networks[i];
    return NULL;
}

int migr_sriov_reserve_vmi(struct migr_sriov *s,
                           const struct conf_migrator *cfg,
                           const struct api_vmi_spec *spec, const char *owner,
                           const char *const *in_use,
                           struct migr_sriov_vmi *ret, char *err, size_t errlen)
{
    struct migr_sriov_vmi v = {0};
    int r = 0;

    if (errlen)
        err[0] = '\0';
    if (!s || !cfg || !spec || !owner || !ret)
        return -EINVAL;
    if (spec->interface_count) {
        v.res = calloc(spec->interface_count, sizeof(*v.res));
        v.vfs = calloc(spec->interface_count, sizeof(*v.vfs));
        v.ifaces = calloc(spec->interface_count, sizeof(*v.ifaces));
        v.nets = calloc(spec->interface_count, sizeof(*v.nets));
        if (!v.res || !v.vfs || !v.ifaces || !v.nets) {
            r = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < spec->interface_count; i++) {
        const struct api_interface *f = &spec->interfaces[i];
        const struct conf_network *net;
        size_t k;

        if (f->binding != API_BINDING_SRIOV)
            continue;
        for (k = 0; k < spec->network_count; k++)
            if (f->name && spec->networks[k].name &&
                strcmp(spec->networks[k].name, f->name) == 0)
                break;
        if (k == spec->network_count ||
            spec->networks[k].type != API_NETWORK_MULTUS) {
            snprintf(err, errlen,
                     "spec.domain.devices.interfaces[%zu]: SR-IOV interface "
                     "\"%s\" has no multus network",
                     i, f->name ? f->name : "");
            r = -EINVAL;
            goto out;
        }
        net = conf_net(cfg, spec->networks[k].network_name);
        if (!net) {
            snprintf(err, errlen,
                     "spec.networks[%zu].multus.networkName: \"%s\" is not a "
                     "network of this host",
                     k,
                     spec->networks[k].network_name
                         ? spec->networks[k].network_name
                         : "");
            r = -EINVAL;
            goto out;
        }
        if (!f->mac_address || !*f->mac_address) {
            snprintf(err, errlen,
                     "spec.domain.devices.interfaces[%zu].macAddress: "
                     "required for an SR-IOV interface",
                     i);
            r = -EINVAL;
            goto out;
        }
        r = migr_sriov_reserve_net(s, net, f->mac_address, owner, in_use,
                                   &v.res[v.count]);
        if (r < 0) {
            snprintf(err, errlen, "spec.networks[%zu].multus.networkName: %s",
                     k,
                     r == -ENOSPC   ? "no free VF on PF"
                     : r == -ENODEV ? "this host lacks PF"
                     : r == -EINVAL ? "invalid macAddress or owner for PF"
                                    : strerror(-r));
            if (r == -ENOSPC || r == -ENODEV || r == -EINVAL) {
                size_t n = strlen(err);
                snprintf(err + n, errlen > n ? errlen - n : 0, " \"%s\"",
                         net->pf);
            }
            goto out;
        }
        migr_sriov_domxml_vf(&v.res[v.count], net, f->name, &v.vfs[v.count]);
        v.ifaces[v.count] = f;
        v.nets[v.count] = net;
        v.count++;
    }
    *ret = v;
    memset(&v, 0, sizeof(v));
out:
    /* All or nothing: give back what this call took. */
    for (size_t i = 0; i < v.count; i++)
        migr_sriov_release(s, owner, v.res[i].mac);
    migr_sriov_vmi_clear(&v);
    return r;
}

void migr_sriov_domxml_vf(const struct migr_vf_reservation *res,
                          const struct conf_network *net, const char *iface,
                          struct migr_domxml_vf *ret)
{
    bool macvtap = net->mode == CONF_NET_MODE_MACVTAP;

    *ret = (struct migr_domxml_vf){
        .iface = iface,
        .mode = macvtap ? MIGR_VF_MODE_MACVTAP : MIGR_VF_MODE_HOSTDEV,
        .pci = res->pci,
        .netdev = res->netdev[0] ? res->netdev : NULL,
        /* macvtap: the VLAN is on the VF (programmed here), not in the
         * XML; hostdev: libvirt programs it again from the XML. */
        .vlan = macvtap ? 0 : res->vlan,
    };
}

int migr_sriov_release(struct migr_sriov *s, const char *owner, const char *mac)
{
    static const struct migr_vf_config clear = {
        .mac = "00:00:00:00:00:00", .vlan = 0, .trust = -1, .spoofchk = -1};
    unsigned char bytes[6];
    char norm[MIGR_MAC_LEN] = "";
    size_t i = 0;
    int n = 0, err = 0;

    if (!s || !owner)
        return 0;
    if (mac) {
        if (migr_mac_parse(mac, bytes) < 0)
            return 0;
        mac_format(bytes, norm);
    }
    pthread_mutex_lock(&s->lock);
    while (i < s->count) {
        struct reservation *it = &s->items[i];
        if (strcmp(it->r.owner, owner) == 0 &&
            (!mac || strcmp(it->r.mac, norm) == 0)) {
            /* Cleared before it leaves the table (under the lock), so a
             * new reservation of this VF is never cleared afterwards. */
            int r = vf_program(s, it->r.pf, it->r.index, &clear, clear.mac);
            if (r < 0 && !err)
                err = r;
            memmove(it, it + 1, (s->count - i - 1) * sizeof(*it));
            s->count--;
            n++;
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return err ? err : n;
}

size_t migr_sriov_list(struct migr_sriov *s, struct migr_vf_reservation *out,
                       size_t max)
{
    size_t n;

    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    n = s->count;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = s->items[i].r;
    pthread_mutex_unlock(&s->lock);
    return n;
}
