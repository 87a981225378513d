/*
 * A VMI made real on this host.  See vmhost.h.
 */
#include "migrator/vmhost.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "migrator/domxml.h"
#include "migrator/podnat.h"
#include "migrator/seed.h"
#include "migrator/sriov.h"
#include "migrator/virt.h"

extern char **environ;

#define SEED_FILE    "seed.iso"
#define CONSOLE_FILE "console.log"

static int errf(struct migr_vmhost_error *e, int r, const char *reason,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(struct migr_vmhost_error *e, int r, const char *reason,
                const char *fmt, ...)
{
    va_list ap;

    if (e) {
        snprintf(e->reason, sizeof(e->reason), "%s", reason);
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
    }
    return r;
}

/* snprintf for paths: -ENAMETOOLONG instead of a cut path. */
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

int migr_vmhost_image_file(const char *image_dir, const char *image, char *buf,
                           size_t len)
{
    char name[NAME_MAX + 1];
    size_t n;
    int w;

    if (!image_dir || !image || !*image || image[0] == '.' || image[0] == '/' ||
        strstr(image, ".."))
        return -EINVAL;
    n = strlen(image);
    if (n + sizeof(".qcow2") > sizeof(name))
        return -ENAMETOOLONG;
    for (size_t i = 0; i < n; i++) {
        char c = image[i];

        if (c == '/' || c == ':' || c == '@')
            name[i] = '_';
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
            name[i] = c;
        else
            return -EINVAL;
    }
    memcpy(name + n, ".qcow2", sizeof(".qcow2"));
    w = snprintf(buf, len, "%s/%s", image_dir, name);
    return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int migr_vmhost_dir(const struct conf_migrator *cfg, const char *domain,
                    char *buf, size_t len)
{
    int w;

    if (!cfg || !cfg->state_dir || !domain || !*domain || strchr(domain, '/') ||
        strcmp(domain, ".") == 0 || strcmp(domain, "..") == 0)
        return -EINVAL;
    w = snprintf(buf, len, "%s/vms/%s", cfg->state_dir, domain);
    return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

/* ---------------------------------------------------------------------- */
/* What the host has for a VMI: checked first, made afterwards.           */

struct vol_file {
    const char *volume;
    char path[PATH_MAX];
    const char *format;
    char backing[PATH_MAX]; /* containerDisk: the image */
    int64_t size;           /* emptyDisk, hostDisk DiskOrCreate */
    bool create;            /* hostDisk DiskOrCreate that does not exist */
    bool empty_disk;
};

struct plan {
    struct api_vmi vmi;
    char dir[PATH_MAX];
    char seed[PATH_MAX];
    char console[PATH_MAX];
    struct vol_file *files;
    size_t n_files;
    struct migr_domxml_disk *disks;
    struct migr_domxml_bridge *bridges;
    size_t n_bridges;
    bool has_seed;
    bool nat;                           /* masquerade on the pod network */
    const struct api_interface *nat_if; /* that interface (in vmi) */
    bool sriov; /* an SR-IOV interface: VFs to reserve */
};

static void plan_clear(struct plan *p)
{
    api_vmi_clear(&p->vmi);
    free(p->files);
    free(p->disks);
    free(p->bridges);
    memset(p, 0, sizeof(*p));
}

static bool is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const struct conf_network *conf_net(const struct conf_migrator *cfg,
                                           const char *name)
{
    for (size_t i = 0; name && i < cfg->n_networks; i++)
        if (strcmp(cfg->networks[i].name, name) == 0)
            return &cfg->networks[i];
    return NULL;
}

static const struct api_network *spec_net(const struct api_vmi_spec *s,
                                          const char *name, size_t *ret_i)
{
    for (size_t i = 0; name && i < s->network_count; i++)
        if (s->networks[i].name && strcmp(s->networks[i].name, name) == 0) {
            *ret_i = i;
            return &s->networks[i];
        }
    return NULL;
}

/* networkData as cloud-init reads it: network-config version 1 (a
 * "config" list) or 2 ("ethernets" and friends as maps), optionally under
 * a top-level "network" key.  The shape only; the guest applies what it
 * knows of it. */
static int network_data_check(const char *text, const char *path,
                              struct migr_vmhost_error *e)
{
    struct api_errors errs;
    json_t *doc = NULL, *root, *v;
    json_int_t version;
    int r;

    api_errors_init(&errs);
    r = api_doc_decode(text, strlen(text), NULL, &doc, &errs);
    if (r < 0) {
        r = errf(e, -EINVAL, "InvalidSpec", "%s: not YAML: %s", path,
                 errs.count ? errs.items[0].message : strerror(-r));
        api_errors_clear(&errs);
        return r;
    }
    api_errors_clear(&errs);
    root = json_object_get(doc, "network");
    if (!json_is_object(root))
        root = doc;
    if (!json_is_object(root)) {
        r = errf(e, -EINVAL, "InvalidSpec",
                 "%s: not network-config (a map with a version)", path);
        goto out;
    }
    v = json_object_get(root, "version");
    version = json_is_integer(v) ? json_integer_value(v) : 0;
    if (version != 1 && version != 2) {
        r = errf(e, -EINVAL, "InvalidSpec",
                 "%s: network-config version must be 1 or 2", path);
        goto out;
    }
    if (version == 1 && (v = json_object_get(root, "config")) &&
        !json_is_array(v)) {
        r = errf(e, -EINVAL, "InvalidSpec",
                 "%s: version 1's 'config' must be a list", path);
        goto out;
    }
    if (version == 2) {
        static const char *const maps[] = {"ethernets", "bonds", "bridges",
                                           "vlans"};
        for (size_t i = 0; i < sizeof(maps) / sizeof(*maps); i++)
            if ((v = json_object_get(root, maps[i])) && !json_is_object(v)) {
                r = errf(e, -EINVAL, "InvalidSpec",
                         "%s: version 2's '%s' must be a map", path, maps[i]);
                goto out;
            }
    }
    r = 0;
out:
    json_decref(doc);
    return r;
}

/* Check what only this host can know and fill the plan.  No side effect. */
static int plan_make(const struct conf_migrator *cfg, const char *domain,
                     const json_t *vmi_doc, struct plan *p,
                     struct migr_vmhost_error *e)
{
    struct api_errors errs;
    struct api_vmi_spec *s;
    char name[300], fp[160];
    int r;

    memset(p, 0, sizeof(*p));
    api_errors_init(&errs);
    r = api_vmi_from_json(vmi_doc, &p->vmi, &errs);
    if (r < 0) {
        r = errf(e, r == -ENOMEM ? -ENOMEM : -EINVAL, "InvalidSpec", "%s",
                 errs.count ? errs.items[0].message : "vmi: not a VMI");
        api_errors_clear(&errs);
        return r;
    }
    api_errors_clear(&errs);
    s = &p->vmi.spec;
    if (!p->vmi.meta.name || !*p->vmi.meta.name)
        return errf(e, -EINVAL, "InvalidSpec", "metadata.name: Required value");
    if (!p->vmi.meta.uid || !*p->vmi.meta.uid)
        return errf(e, -EINVAL, "InvalidSpec", "metadata.uid: Required value");
    if (migr_domxml_name(&p->vmi.meta, name, sizeof(name)) < 0 ||
        strcmp(name, domain) != 0)
        return errf(e, -EINVAL, "InvalidSpec",
                    "domain: \"%s\" is not the VMI's NAMESPACE_NAME (\"%s\")",
                    domain, name);
    if (migr_vmhost_dir(cfg, domain, p->dir, sizeof(p->dir)) < 0)
        return errf(e, -EINVAL, "InvalidSpec", "domain: \"%s\" is not usable",
                    domain);
    if (pathf(p->seed, sizeof(p->seed), "%s/" SEED_FILE, p->dir) < 0 ||
        pathf(p->console, sizeof(p->console), "%s/" CONSOLE_FILE, p->dir) < 0)
        return errf(e, -EINVAL, "InvalidSpec", "domain: \"%s\" is too long",
                    domain);

    /* Kernel boot files are the host's. */
    if (s->kernel_boot) {
        const struct api_kernel_boot *k = s->kernel_boot;
        const char *kp = "spec.domain.firmware.kernelBoot.container";

        if (k->kernel_path && !is_file(k->kernel_path))
            return errf(e, -EINVAL, "InvalidSpec",
                        "%s.kernelPath: \"%s\" is not a file on this host", kp,
                        k->kernel_path);
        if (k->initrd_path && *k->initrd_path && !is_file(k->initrd_path))
            return errf(e, -EINVAL, "InvalidSpec",
                        "%s.initrdPath: \"%s\" is not a file on this host", kp,
                        k->initrd_path);
    }

    /* Networks and the bindings on them. */
    if (s->network_count &&
        !(p->bridges = calloc(s->network_count, sizeof(*p->bridges))))
        return errf(e, -ENOMEM, "InvalidSpec", "out of memory");
    for (size_t i = 0; i < s->network_count; i++) {
        const struct api_network *n = &s->networks[i];
        const struct conf_network *c;

        if (n->type != API_NETWORK_MULTUS)
            continue;
        c = conf_net(cfg, n->network_name);
        if (!c)
            return errf(e, -EINVAL, "InvalidSpec",
                        "spec.networks[%zu].multus.networkName: \"%s\" is not "
                        "a network of this host",
                        i, n->network_name ? n->network_name : "");
        if (c->mode == CONF_NET_MODE_BRIDGE)
            p->bridges[p->n_bridges++] =
                (struct migr_domxml_bridge){n->network_name, c->bridge};
    }
    for (size_t i = 0; i < s->interface_count; i++) {
        const struct api_interface *f = &s->interfaces[i];
        const struct api_network *n;
        const struct conf_network *c;
        size_t ni = 0;

        snprintf(fp, sizeof(fp), "spec.domain.devices.interfaces[%zu]", i);
        n = spec_net(s, f->name, &ni);
        if (!n)
            return errf(e, -EINVAL, "InvalidSpec",
                        "%s.name: \"%s\" is not a network of the VMI", fp,
                        f->name ? f->name : "");
        c = n->type == API_NETWORK_MULTUS ? conf_net(cfg, n->network_name)
                                          : NULL;
        switch (f->binding) {
        case API_BINDING_BRIDGE:
            if (n->type == API_NETWORK_POD && !cfg->pod_bridge)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.bridge: this host has no pod_bridge for a "
                            "bridge binding on the pod network",
                            fp);
            if (c && c->mode != CONF_NET_MODE_BRIDGE)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.bridge: network \"%s\" is an SR-IOV network "
                            "of this host (bind it with sriov)",
                            fp, c->name);
            break;
        case API_BINDING_MASQUERADE:
            if (n->type != API_NETWORK_POD)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.masquerade: only the pod network can be "
                            "masqueraded",
                            fp);
            p->nat = true;
            p->nat_if = f;
            break;
        case API_BINDING_SRIOV:
            if (!c || c->mode == CONF_NET_MODE_BRIDGE)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.sriov: network \"%s\" is not an SR-IOV "
                            "network of this host",
                            fp, c ? c->name : f->name);
            /* The VF is programmed with it and the guest's static address
             * is matched by it (DESIGN.md): no MAC, no VF. */
            if (!f->mac_address || !*f->mac_address)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.macAddress: required for an SR-IOV interface",
                            fp);
            p->sriov = true;
            break;
        default:
            return errf(e, -EINVAL, "InvalidSpec",
                        "%s: binding \"%s\" is not supported", fp,
                        api_iface_binding_name(f->binding));
        }
    }

    /* Volumes: the files behind them. */
    if (s->volume_count &&
        (!(p->files = calloc(s->volume_count, sizeof(*p->files))) ||
         !(p->disks = calloc(s->volume_count, sizeof(*p->disks)))))
        return errf(e, -ENOMEM, "InvalidSpec", "out of memory");
    for (size_t i = 0; i < s->volume_count; i++) {
        const struct api_volume *v = &s->volumes[i];
        struct vol_file *f = &p->files[p->n_files];
        bool found = false;

        snprintf(fp, sizeof(fp), "spec.volumes[%zu]", i);
        f->volume = v->name;
        f->format = "raw";
        switch (v->type) {
        case API_VOLUME_CLOUD_INIT_NOCLOUD:
            if (p->has_seed)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.cloudInitNoCloud: a VMI has one NoCloud seed",
                            fp);
            p->has_seed = true;
            if (v->network_data) {
                char dp[200];

                snprintf(dp, sizeof(dp), "%s.cloudInitNoCloud.networkData", fp);
                r = network_data_check(v->network_data, dp, e);
                if (r < 0)
                    return r;
            }
            continue;
        case API_VOLUME_CONTAINER_DISK:
            r = migr_vmhost_image_file(cfg->image_dir, v->image, f->backing,
                                       sizeof(f->backing));
            if (r < 0)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.containerDisk.image: \"%s\" cannot name a file "
                            "of image_dir",
                            fp, v->image ? v->image : "");
            if (!is_file(f->backing))
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.containerDisk.image: \"%s\" is not an image "
                            "of this host (no file %s)",
                            fp, v->image, f->backing);
            if (pathf(f->path, sizeof(f->path), "%s/%s.qcow2", p->dir,
                      v->name) < 0)
                return errf(e, -EINVAL, "InvalidSpec", "%s.name: too long", fp);
            f->format = "qcow2";
            break;
        case API_VOLUME_EMPTY_DISK:
            if (v->capacity_bytes <= 0)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.emptyDisk.capacity: Required value", fp);
            if (pathf(f->path, sizeof(f->path), "%s/%s.img", p->dir, v->name) <
                0)
                return errf(e, -EINVAL, "InvalidSpec", "%s.name: too long", fp);
            f->size = v->capacity_bytes;
            f->empty_disk = true;
            break;
        case API_VOLUME_HOST_DISK:
            if (!v->path || v->path[0] != '/')
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.hostDisk.path: must be an absolute path", fp);
            snprintf(f->path, sizeof(f->path), "%s", v->path);
            if (!is_file(v->path)) {
                if (!v->host_disk_type ||
                    strcmp(v->host_disk_type, "DiskOrCreate") != 0)
                    return errf(e, -EINVAL, "InvalidSpec",
                                "%s.hostDisk.path: \"%s\" does not exist on "
                                "this host",
                                fp, v->path);
                if (v->capacity_bytes <= 0)
                    return errf(e, -EINVAL, "InvalidSpec",
                                "%s.hostDisk.capacity: Required value for "
                                "DiskOrCreate",
                                fp);
                f->create = true;
                f->size = v->capacity_bytes;
            }
            break;
        case API_VOLUME_PVC:
            for (size_t k = 0; !found && k < cfg->n_shared_storage; k++) {
                snprintf(f->path, sizeof(f->path), "%s/%s/%s",
                         cfg->shared_storage[k],
                         p->vmi.meta.namespace ? p->vmi.meta.namespace
                                               : "default",
                         v->claim_name ? v->claim_name : "");
                found = v->claim_name && !strchr(v->claim_name, '/') &&
                        is_file(f->path);
            }
            if (!found)
                return errf(e, -EINVAL, "InvalidSpec",
                            "%s.persistentVolumeClaim.claimName: \"%s\" is "
                            "not a file NAMESPACE/CLAIM under this host's "
                            "shared_storage",
                            fp, v->claim_name ? v->claim_name : "");
            break;
        default:
            return errf(e, -EINVAL, "InvalidSpec",
                        "%s: this volume source is not supported", fp);
        }
        p->disks[p->n_files] = (struct migr_domxml_disk){
            .volume = v->name, .path = f->path, .format = f->format};
        p->n_files++;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Making and removing the files                                           */

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* rm -rf DIR (no symlink followed).  0 also when it does not exist. */
static int dir_remove(const char *dir)
{
    int r = nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

    if (r < 0 && errno == ENOENT)
        return 0;
    return r < 0 ? -errno : r;
}

/* mkdir -p of state_dir/vms, then a fresh DIR. */
static int dir_fresh(const struct conf_migrator *cfg, const char *dir)
{
    char vms[PATH_MAX];
    int r;

    snprintf(vms, sizeof(vms), "%s/vms", cfg->state_dir);
    if (mkdir(cfg->state_dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    if (mkdir(vms, 0755) < 0 && errno != EEXIST)
        return -errno;
    r = dir_remove(dir);
    if (r < 0)
        return r;
    /* QEMU (which may run as another user) opens the files in it. */
    return mkdir(dir, 0755) < 0 ? -errno : 0;
}

/* qemu-img create -f qcow2 -F qcow2 -b BACKING OVERLAY, its complaint in
 * msg.  A program, not libvirt's storage API: see the commit that brought
 * it (no storage pool to define and take down with each VM). */
static int overlay_create(const char *backing, const char *overlay, char *msg,
                          size_t len)
{
    char *argv[] = {"qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-F",
                    "qcow2",
                    "-b",
                    (char *)backing,
                    (char *)overlay,
                    NULL};
    posix_spawn_file_actions_t fa;
    int fds[2], status = 0, r;
    pid_t pid;
    size_t got = 0;

    msg[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    r = posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (r != 0) {
        close(fds[0]);
        snprintf(msg, len, "cannot run qemu-img: %s", strerror(r));
        return -r;
    }
    /* Read to the end (qemu-img must never block on a full pipe), keeping
     * what fits. */
    for (;;) {
        char chunk[256];
        ssize_t n = read(fds[0], chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t k = 0; k < n && got + 1 < len; k++)
            msg[got++] = chunk[k];
    }
    msg[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    /* One line is enough for a job's message. */
    char *nl = strchr(msg, '\n');
    if (nl)
        *nl = '\0';
    if (!msg[0])
        snprintf(msg, len, "qemu-img failed (status %d)", status);
    return -EIO;
}

static int sparse_create(const char *path, int64_t size, bool exclusive)
{
    int fd = open(
        path, O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0644);
    int r = 0;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0)
        r = -errno;
    close(fd);
    if (r < 0)
        unlink(path);
    return r;
}

/* Undo what files_make made outside the VM's directory. */
static void files_unmake(const struct plan *p)
{
    for (size_t i = 0; i < p->n_files; i++)
        if (p->files[i].create)
            unlink(p->files[i].path);
}

/* The seed and the disks' files, in p->dir (which exists). */
static int files_make(const struct plan *p, struct migr_vmhost_error *e,
                      const char *reason)
{
    char msg[512];
    int r;

    if (p->has_seed) {
        struct migr_seed seed;
        char id[300];

        r = migr_seed_from_vmi(&p->vmi.meta, &p->vmi.spec, id, sizeof(id),
                               &seed);
        if (r == 0)
            r = migr_seed_write(&seed, p->seed);
        if (r < 0)
            return errf(e, r, reason, "cannot write the NoCloud seed '%s': %s",
                        p->seed, strerror(-r));
    }
    for (size_t i = 0; i < p->n_files; i++) {
        struct vol_file *f = &p->files[i];

        if (f->backing[0]) {
            r = overlay_create(f->backing, f->path, msg, sizeof(msg));
            if (r < 0)
                return errf(e, r, reason,
                            "volume \"%s\": cannot make the overlay '%s' on "
                            "'%s': %s",
                            f->volume, f->path, f->backing, msg);
        } else if (f->empty_disk || f->create) {
            r = sparse_create(f->path, f->size, f->create);
            if (r < 0) {
                f->create = false; /* not ours to remove */
                return errf(e, r, reason,
                            "volume \"%s\": cannot create '%s': %s", f->volume,
                            f->path, strerror(-r));
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* SR-IOV VFs                                                              */

static bool active(enum migr_dom_state s);

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* The VF PCI addresses and netdevs that running domains other than
 * `domain` hold (their hostdev and direct interfaces' sources), NULL-
 * terminated, for migr_sriov_reserve's `in_use`: after a migrator restart
 * the reservation table is empty, and a VF a guest uses must not be handed
 * out again.  A domain that vanishes meanwhile is skipped. */
static int in_use_list(struct migr_virt *v, const char *domain, char ***ret,
                       char *err, size_t errlen)
{
    struct migr_dom_info *doms = NULL;
    char **out = NULL;
    size_t n = 0, cap = 0;
    int count, r = 0;

    count = migr_virt_list(v, &doms, err, errlen);
    if (count < 0)
        return count;
    for (int i = 0; i < count && r == 0; i++) {
        struct migr_dom_devices dv = {0};

        if (!active(doms[i].state) || strcmp(doms[i].name, domain) == 0 ||
            migr_virt_devices(v, doms[i].name, false, &dv, NULL, 0) < 0)
            continue;
        for (size_t k = 0; k < dv.n_ifaces && r == 0; k++) {
            const struct migr_dom_iface *f = &dv.ifaces[k];

            if ((strcmp(f->type, "direct") != 0 &&
                 strcmp(f->type, "hostdev") != 0) ||
                !f->source[0])
                continue;
            if (n + 2 > cap) {
                char **nv = realloc(out, (cap = cap * 2 + 8) * sizeof(*out));

                if (!nv) {
                    r = -ENOMEM;
                    break;
                }
                out = nv;
            }
            if (!(out[n] = strdup(f->source)))
                r = -ENOMEM;
            else
                out[++n] = NULL;
        }
        migr_dom_devices_clear(&dv);
    }
    free(doms);
    if (r < 0) {
        strv_free(out);
        snprintf(err, errlen, "out of memory");
        return r;
    }
    *ret = out;
    return 0;
}

/* Reserve (and program) a VF for each SR-IOV interface of the plan's VMI,
 * owned by `domain`.  The reason of a failure: InvalidSpec for what the
 * spec got wrong, NoFreeVF when a PF has none left (the message names the
 * PF and this host), else `reason`. */
static int vfs_reserve(struct migr_virt *v, const struct conf_migrator *cfg,
                       struct migr_sriov *s, const struct plan *p,
                       const char *domain, struct migr_sriov_vmi *ret,
                       struct migr_vmhost_error *e, const char *reason)
{
    char err[768] = "", **in_use = NULL;
    const char *host = cfg->name ? cfg->name : "this host";
    int r;

    if (!s)
        return errf(e, -EINVAL, "InvalidSpec",
                    "spec.domain.devices.interfaces: SR-IOV interfaces need "
                    "the agent's VF table, and this migrator has none");
    r = in_use_list(v, domain, &in_use, err, sizeof(err));
    if (r < 0)
        return errf(e, r, reason, "%s: cannot list the VFs in use: %s", host,
                    err);
    r = migr_sriov_reserve_vmi(s, cfg, &p->vmi.spec, domain,
                               (const char *const *)in_use, ret, err,
                               sizeof(err));
    strv_free(in_use);
    if (r == -EINVAL)
        return errf(e, r, "InvalidSpec", "%s", err);
    if (r == -ENOSPC)
        return errf(e, r, "NoFreeVF", "%s on %s", err, host);
    if (r < 0)
        return errf(e, r, reason, "%s (on %s)", err, host);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Jobs                                                                    */

static int nat_ensure(struct migr_virt *v, char *err, size_t len)
{
    /* KubeVirt's masquerade addresses: the gateway is .1 of 10.0.2.0/24;
     * one network per host, so guests get their address by DHCP.  The
     * gateway has the same MAC on every host: a migrated guest's ARP
     * entry for it stays right (libvirt would pick a random one per host,
     * and the guest's packets would go nowhere until the entry expired). */
    static const char xml[] =
        "<network>\n"
        "  <name>" MIGR_VMHOST_NAT_NETWORK "</name>\n"
        "  <forward mode='nat'/>\n"
        "  <bridge name='" MIGR_PODNAT_BRIDGE "' stp='off'/>\n"
        "  <mac address='02:00:0a:00:02:01'/>\n"
        "  <ip address='10.0.2.1' netmask='255.255.255.0'>\n"
        "    <dhcp><range start='10.0.2.2' end='10.0.2.254'/></dhcp>\n"
        "  </ip>\n"
        "</network>\n";

    return migr_virt_network_ensure(v, xml, err, len);
}

/* The masquerade interface's MAC: the manifest's, else the one libvirt
 * gave the defined domain's interface on the NAT network ("" none). */
static void nat_mac(struct migr_virt *v, const char *domain,
                    const struct plan *p, char *mac, size_t len)
{
    struct migr_dom_devices dv = {0};

    mac[0] = '\0';
    if (p->nat_if->mac_address) {
        snprintf(mac, len, "%s", p->nat_if->mac_address);
        return;
    }
    if (!domain || migr_virt_devices(v, domain, false, &dv, NULL, 0) < 0)
        return;
    for (size_t i = 0; i < dv.n_ifaces; i++)
        if (strcmp(dv.ifaces[i].type, "network") == 0 &&
            strcmp(dv.ifaces[i].source, MIGR_VMHOST_NAT_NETWORK) == 0) {
            snprintf(mac, len, "%s", dv.ifaces[i].mac);
            break;
        }
    migr_dom_devices_clear(&dv);
}

/* The masquerade interface's share of the host (podnat.h): its address
 * reserved for its MAC on the NAT network, its `ports` forwarded, and
 * both written to DIR/podnat ("MAC ADDRESS", MAC "-" when unknown) so a
 * stop or release undoes them.  DOMAIN_DEFINED: the domain is defined
 * here (a start), so a MAC libvirt generated can be read back; a
 * migration target without the manifest's MAC reserves nothing (the
 * guest renews its lease from the source's reservation's address,
 * which no other VM of this host then gets either). */
static int nat_setup(struct migr_virt *v, const char *domain,
                     bool domain_defined, const struct plan *p, char *err,
                     size_t len)
{
    struct migr_podnat_port ports[64];
    char mac[18], addr[16], path[PATH_MAX + 8];
    size_t n = p->nat_if->port_count;
    FILE *f;
    int r;

    if (n > sizeof(ports) / sizeof(*ports)) {
        snprintf(err, len, "more than %zu ports",
                 sizeof(ports) / sizeof(*ports));
        return -EINVAL;
    }
    n = 0;
    for (size_t i = 0; i < p->nat_if->port_count; i++) {
        const struct api_port *ap = &p->nat_if->ports[i];
        /* KubeVirt's masquerade leaves the migration ports alone (its
         * "legacy" migration transport): on this host they are where
         * libvirt receives migrations. */
        if (ap->port == 49152 || ap->port == 49153)
            continue;
        ports[n++] = (struct migr_podnat_port){
            .port = ap->port >= 1 && ap->port <= 65535 ? (int)ap->port : 0,
            .udp = ap->protocol && strcasecmp(ap->protocol, "UDP") == 0};
    }
    r = migr_podnat_addr(p->vmi.meta.uid, addr, sizeof(addr));
    if (r < 0) {
        snprintf(err, len, "no address for uid '%s'", p->vmi.meta.uid);
        return r;
    }
    nat_mac(v, domain_defined ? domain : NULL, p, mac, sizeof(mac));
    /* The record first: whatever is made next is found again. */
    snprintf(path, sizeof(path), "%s/podnat", p->dir);
    f = fopen(path, "w");
    r = f ? 0 : -errno;
    if (f && fprintf(f, "%s %s\n", mac[0] ? mac : "-", addr) < 0)
        r = -EIO;
    if (f && fclose(f) != 0 && r == 0)
        r = -errno;
    if (r < 0) {
        snprintf(err, len, "cannot write '%.900s': %s", path, strerror(-r));
        return r;
    }
    if (mac[0]) {
        r = migr_virt_network_dhcp_host(v, MIGR_VMHOST_NAT_NETWORK, mac, addr,
                                        true, err, len);
        if (r < 0)
            return r;
    }
    return migr_podnat_forward(domain, addr, ports, n, err, len);
}

/* Undo nat_setup for DOMAIN from the record in DIR (none: nothing was
 * made).  Best effort: what cannot be undone is reported in err. */
static int nat_teardown(struct migr_virt *v, const char *domain,
                        const char *dir, char *err, size_t len)
{
    char path[PATH_MAX + 8], mac[18] = "", addr[16] = "";
    FILE *f;
    int r, r2 = 0;

    snprintf(path, sizeof(path), "%s/podnat", dir);
    f = fopen(path, "r");
    if (!f)
        return 0;
    r = fscanf(f, "%17s %15s", mac, addr) == 2 ? 0 : -EINVAL;
    fclose(f);
    if (r == 0 && strcmp(mac, "-") != 0 && v)
        r2 = migr_virt_network_dhcp_host(v, MIGR_VMHOST_NAT_NETWORK, mac, NULL,
                                         false, err, len);
    r = migr_podnat_unforward(domain, err, len);
    return r < 0 ? r : r2;
}

/* The uid in domain `name`'s metadata into uid ("" none).  -ENOENT when
 * there is no such domain. */
static int domain_vmi_uid(struct migr_virt *v, const char *name, char *uid,
                          size_t len, char *err, size_t errlen)
{
    struct migr_dom_devices dv = {0};
    int r = migr_virt_devices(v, name, false, &dv, err, errlen);

    if (r == 0)
        snprintf(uid, len, "%s", dv.vmi_uid);
    migr_dom_devices_clear(&dv);
    return r;
}

static json_t *start_result(struct migr_virt *v, const char *domain)
{
    struct migr_dom_info info;

    if (migr_virt_info(v, domain, &info, NULL, 0) < 0)
        return json_pack("{s:s, s:n}", "domain", domain, "uuid");
    return json_pack("{s:s, s:s}", "domain", domain, "uuid", info.uuid);
}

int migr_vmhost_start(const struct conf_migrator *cfg, struct migr_sriov *sriov,
                      const char *domain, const json_t *vmi,
                      json_t **ret_result, struct migr_vmhost_error *e)
{
    struct migr_domxml_opts o = {0};
    struct migr_sriov_vmi sv = {0};
    bool reserved = false;
    struct migr_virt *v = NULL;
    struct migr_dom_info info;
    struct plan p;
    char err[1024] = "", uid[64], *xml = NULL;
    bool made_dir = false, defined = false;
    int r;

    if (!cfg || !domain || !vmi || !ret_result)
        return errf(e, -EINVAL, "InvalidSpec", "vmi: Required value");
    r = plan_make(cfg, domain, vmi, &p, e);
    if (r < 0)
        goto out;
    r = migr_virt_open(cfg->libvirt_uri, &v, err, sizeof(err));
    if (r < 0) {
        r = errf(e, r, "DefineFailed", "libvirt: %s", err);
        goto out;
    }

    /* Idempotence: the same VMI's domain is this job's, done before. */
    r = migr_virt_info(v, domain, &info, err, sizeof(err));
    if (r == 0) {
        r = domain_vmi_uid(v, domain, uid, sizeof(uid), err, sizeof(err));
        if (r == 0 && strcmp(uid, p.vmi.meta.uid) != 0) {
            r = errf(e, -EEXIST, "DefineFailed",
                     "a domain '%s' exists on this host and is not VMI %s "
                     "(uid %s)",
                     domain, p.vmi.meta.uid, uid[0] ? uid : "none");
            goto out;
        }
        if (r == 0 &&
            (info.state == MIGR_DOM_SHUTOFF || info.state == MIGR_DOM_CRASHED))
            r = migr_virt_start(v, domain, err, sizeof(err));
        if (r < 0) {
            r = errf(e, r, "StartFailed", "%s", err);
            goto out;
        }
        *ret_result = start_result(v, domain);
        r = *ret_result ? 0 : errf(e, -ENOMEM, "StartFailed", "out of memory");
        goto out;
    }
    if (r != -ENOENT) {
        r = errf(e, r, "DefineFailed", "libvirt: %s", err);
        goto out;
    }

    r = dir_fresh(cfg, p.dir);
    if (r < 0) {
        r = errf(e, r, "DefineFailed", "cannot make '%s': %s", p.dir,
                 strerror(-r));
        goto out;
    }
    made_dir = true;
    r = files_make(&p, e, "DefineFailed");
    if (r < 0)
        goto out;
    if (p.nat && (r = nat_ensure(v, err, sizeof(err))) < 0) {
        r = errf(e, r, "DefineFailed", "the NAT network '%s': %s",
                 MIGR_VMHOST_NAT_NETWORK, err);
        goto out;
    }
    if (p.sriov) {
        r = vfs_reserve(v, cfg, sriov, &p, domain, &sv, e, "DefineFailed");
        if (r < 0)
            goto out;
        reserved = true;
    }
    o = (struct migr_domxml_opts){
        .domain_type = cfg->domain_type,
        .seed_path = p.has_seed ? p.seed : NULL,
        .console_path = p.console,
        .bridge = cfg->pod_bridge,
        .nat_network = MIGR_VMHOST_NAT_NETWORK,
        .bridges = p.bridges,
        .bridge_count = p.n_bridges,
        .disks = p.disks,
        .disk_count = p.n_files,
        .vfs = sv.vfs,
        .vf_count = sv.count,
    };
    r = migr_domxml_build(&p.vmi.meta, &p.vmi.spec, &o, &xml, err, sizeof(err));
    if (r < 0) {
        r = errf(e, r == -ENOMEM ? -ENOMEM : -EINVAL, "InvalidSpec", "spec: %s",
                 err);
        goto out;
    }
    r = migr_virt_define(v, xml, NULL, err, sizeof(err));
    if (r < 0) {
        r = errf(e, r, "DefineFailed", "%s", err);
        goto out;
    }
    defined = true;
    if (p.nat && (r = nat_setup(v, domain, true, &p, err, sizeof(err))) < 0) {
        r = errf(e, r, "DefineFailed",
                 "spec.domain.devices.interfaces[%zu].masquerade: %s",
                 (size_t)(p.nat_if - p.vmi.spec.interfaces), err);
        goto out;
    }
    r = migr_virt_start(v, domain, err, sizeof(err));
    if (r < 0) {
        r = errf(e, r, "StartFailed", "%s", err);
        goto out;
    }
    *ret_result = start_result(v, domain);
    r = *ret_result ? 0 : errf(e, -ENOMEM, "StartFailed", "out of memory");
out:
    if (r < 0 && defined) {
        /* Nothing half-made stays: a start that failed may have left QEMU
         * up for a moment. */
        (void)migr_virt_destroy(v, domain, NULL, 0);
        (void)migr_virt_undefine(v, domain, NULL, 0);
    }
    if (r < 0 && made_dir) {
        (void)nat_teardown(v, domain, p.dir, NULL, 0);
        files_unmake(&p);
        (void)dir_remove(p.dir);
    }
    if (r < 0 && reserved)
        (void)migr_sriov_release(sriov, domain, NULL);
    migr_sriov_vmi_clear(&sv);
    free(xml);
    migr_virt_close(v);
    plan_clear(&p);
    return r;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool active(enum migr_dom_state s)
{
    return s != MIGR_DOM_SHUTOFF && s != MIGR_DOM_NOSTATE;
}

int migr_vmhost_stop(const struct conf_migrator *cfg, struct migr_sriov *sriov,
                     const char *domain, int grace_s, int poll_ms,
                     struct migr_vmhost_error *e)
{
    struct migr_virt *v = NULL;
    struct migr_dom_info info;
    char dir[PATH_MAX], err[1024] = "";
    int64_t until;
    int r;

    if (migr_vmhost_dir(cfg, domain, dir, sizeof(dir)) < 0)
        return errf(e, -EINVAL, "InvalidSpec", "domain: \"%s\" is not usable",
                    domain ? domain : "");
    if (poll_ms <= 0)
        poll_ms = 250;
    r = migr_virt_open(cfg->libvirt_uri, &v, err, sizeof(err));
    if (r < 0)
        return errf(e, r, "StopFailed", "libvirt: %s", err);
    r = migr_virt_info(v, domain, &info, err, sizeof(err));
    if (r == -ENOENT)
        goto files;
    if (r < 0)
        goto fail;
    if (active(info.state)) {
        /* A guest without ACPI handling ignores the button: the grace
         * period ends it. */
        (void)migr_virt_shutdown(v, domain, NULL, 0);
        until = now_ms() + (int64_t)grace_s * 1000;
        while (now_ms() < until &&
               migr_virt_info(v, domain, &info, NULL, 0) == 0 &&
               active(info.state))
            sleep_ms(poll_ms);
        r = migr_virt_info(v, domain, &info, err, sizeof(err));
        if (r == 0 && active(info.state))
            r = migr_virt_destroy(v, domain, err, sizeof(err));
        if (r < 0 && r != -ENOENT)
            goto fail;
    }
    r = migr_virt_undefine(v, domain, err, sizeof(err));
    if (r < 0 && r != -ENOENT)
        goto fail;
files:
    r = nat_teardown(v, domain, dir, err, sizeof(err));
    migr_virt_close(v);
    /* The domain is gone: its VFs go back to the pool, MAC cleared. */
    (void)migr_sriov_release(sriov, domain, NULL);
    if (r < 0)
        return errf(e, r, "StopFailed", "the masquerade ports: %s", err);
    r = dir_remove(dir);
    if (r < 0)
        return errf(e, r, "StopFailed", "cannot remove '%s': %s", dir,
                    strerror(-r));
    return 0;
fail:
    migr_virt_close(v);
    return errf(e, r, "StopFailed", "%s", err);
}

/* The prepare's VFs as its result gives them ("mode" lets a restarted
 * migrator take them back from the journal: migrator/jobs.c). */
static json_t *vfs_json(const struct migr_sriov_vmi *sv)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < sv->count; i++) {
        const struct migr_vf_reservation *r = &sv->res[i];

        if (json_array_append_new(
                a, json_pack(
                       "{s:s, s:s, s:s, s:s*, s:s, s:s, s:b}", "iface",
                       sv->vfs[i].iface, "pf", r->pf, "pci", r->pci, "netdev",
                       r->netdev[0] ? r->netdev : NULL, "mac", r->mac, "mode",
                       sv->nets[i]->mode == CONF_NET_MODE_MACVTAP ? "macvtap"
                                                                  : "hostdev",
                       "unplug", sv->nets[i]->unplug)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int migr_vmhost_prepare(const struct conf_migrator *cfg,
                        struct migr_sriov *sriov, const char *domain,
                        const json_t *vmi, json_t **ret_vfs,
                        struct migr_vmhost_error *e)
{
    struct migr_sriov_vmi sv = {0};
    bool reserved = false;
    struct migr_virt *v = NULL;
    struct migr_dom_info info;
    struct plan p;
    char err[1024] = "";
    bool made_dir = false;
    int r;

    if (!cfg || !domain || !vmi)
        return errf(e, -EINVAL, "InvalidSpec", "vmi: Required value");
    r = plan_make(cfg, domain, vmi, &p, e);
    if (r < 0)
        goto out;
    r = migr_virt_open(cfg->libvirt_uri, &v, err, sizeof(err));
    if (r == 0 &&
        (r = migr_virt_info(v, domain, &info, err, sizeof(err))) == 0) {
        /* Its files are in use: a migration to where it is makes no
         * sense, and they must not be replaced under it. */
        r = errf(e, -EEXIST, "PrepareFailed",
                 "domain '%s' is defined on this host already", domain);
        goto out;
    }
    if (r != -ENOENT) {
        r = errf(e, r, "PrepareFailed", "libvirt: %s", err);
        goto out;
    }
    r = dir_fresh(cfg, p.dir);
    if (r < 0) {
        r = errf(e, r, "PrepareFailed", "cannot make '%s': %s", p.dir,
                 strerror(-r));
        goto out;
    }
    made_dir = true;
    r = files_make(&p, e, "PrepareFailed");
    /* The guest keeps its address: the same network, reservation and
     * forwarded ports wait for it here. */
    if (r == 0 && p.nat &&
        ((r = nat_ensure(v, err, sizeof(err))) < 0 ||
         (r = nat_setup(v, domain, false, &p, err, sizeof(err))) < 0))
        r = errf(e, r, "PrepareFailed",
                 "spec.domain.devices.interfaces[%zu].masquerade: %s",
                 (size_t)(p.nat_if - p.vmi.spec.interfaces), err);
    if (r == 0 && p.sriov) {
        /* The target's VFs, programmed with the guest's MACs before the
         * migration comes: the destination XML names their netdevs. */
        r = vfs_reserve(v, cfg, sriov, &p, domain, &sv, e, "PrepareFailed");
        reserved = r == 0;
    }
    if (r == 0 && ret_vfs && !(*ret_vfs = vfs_json(&sv)))
        r = errf(e, -ENOMEM, "PrepareFailed", "out of memory");
out:
    if (r < 0 && made_dir) {
        (void)nat_teardown(v, domain, p.dir, NULL, 0);
        files_unmake(&p);
        (void)dir_remove(p.dir);
    }
    if (r < 0 && reserved)
        (void)migr_sriov_release(sriov, domain, NULL);
    migr_sriov_vmi_clear(&sv);
    migr_virt_close(v);
    plan_clear(&p);
    return r;
}

int migr_vmhost_plug(const struct conf_migrator *cfg, struct migr_sriov *sriov,
                     const char *domain, const json_t *vmi, json_t **ret_result,
                     struct migr_vmhost_error *e)
{
    struct migr_sriov_vmi sv = {0};
    struct migr_dom_devices dv = {0};
    struct migr_virt *v = NULL;
    json_t *plugged = NULL;
    struct plan p;
    char err[1024] = "";
    int r;

    *ret_result = NULL;
    if (!cfg || !domain || !vmi)
        return errf(e, -EINVAL, "InvalidSpec", "vmi: Required value");
    r = plan_make(cfg, domain, vmi, &p, e);
    if (r < 0)
        return r;
    r = migr_virt_open(cfg->libvirt_uri, &v, err, sizeof(err));
    if (r == 0)
        r = migr_virt_devices(v, domain, false, &dv, err, sizeof(err));
    if (r < 0) {
        r = errf(e, r, r == -ENOENT ? "DomainNotFound" : "PlugFailed", "%s",
                 err);
        goto out;
    }
    /* The VFs the prepare reserved here: the same owner and MACs again
     * give the same VFs (a new one only when this migrator restarted in
     * between and forgot them). */
    if (p.sriov)
        r = vfs_reserve(v, cfg, sriov, &p, domain, &sv, e, "PlugFailed");
    if (r == 0 && !(plugged = json_array()))
        r = errf(e, -ENOMEM, "PlugFailed", "out of memory");
    for (size_t i = 0; r == 0 && i < sv.count; i++) {
        char alias[80], *xml = NULL;
        bool here = false;

        if (!sv.nets[i]->unplug)
            continue; /* migrated in place */
        snprintf(alias, sizeof(alias), MIGR_ALIAS_SRIOV "%s", sv.vfs[i].iface);
        for (size_t k = 0; k < dv.n_ifaces; k++)
            here = here || strcmp(dv.ifaces[k].alias, alias) == 0;
        if (here)
            continue; /* a retried job: plugged already */
        r = migr_domxml_sriov_interface(sv.ifaces[i], &sv.vfs[i], &xml, err,
                                        sizeof(err));
        if (r == 0)
            r = migr_virt_attach(v, domain, xml, MIGR_VIRT_LIVE_CONFIG, err,
                                 sizeof(err));
        free(xml);
        if (r < 0)
            r = errf(e, r, "PlugFailed", "interface \"%s\" on VF %s (%s): %s",
                     sv.vfs[i].iface, sv.res[i].pci,
                     sv.res[i].netdev[0] ? sv.res[i].netdev : sv.res[i].pf,
                     err);
        else if (json_array_append_new(
                     plugged,
                     json_pack("{s:s, s:s, s:s, s:s*, s:s}", "iface",
                               sv.vfs[i].iface, "pf", sv.res[i].pf, "pci",
                               sv.res[i].pci, "netdev",
                               sv.res[i].netdev[0] ? sv.res[i].netdev : NULL,
                               "mac", sv.res[i].mac)) < 0)
            r = errf(e, -ENOMEM, "PlugFailed", "out of memory");
    }
    if (r == 0 && !(*ret_result = json_pack("{s:O}", "plugged", plugged)))
        r = errf(e, -ENOMEM, "PlugFailed", "out of memory");
out:
    json_decref(plugged);
    migr_sriov_vmi_clear(&sv);
    migr_dom_devices_clear(&dv);
    migr_virt_close(v);
    plan_clear(&p);
    return r;
}

int migr_vmhost_release(const struct conf_migrator *cfg,
                        struct migr_sriov *sriov, const char *domain,
                        struct migr_vmhost_error *e)
{
    struct migr_virt *v = NULL;
    struct migr_dom_info info;
    char dir[PATH_MAX], err[1024] = "";
    int r;

    if (migr_vmhost_dir(cfg, domain, dir, sizeof(dir)) < 0)
        return errf(e, -EINVAL, "InvalidSpec", "domain: \"%s\" is not usable",
                    domain ? domain : "");
    r = migr_virt_open(cfg->libvirt_uri, &v, err, sizeof(err));
    if (r == 0)
        r = migr_virt_info(v, domain, &info, err, sizeof(err));
    if (r == -ENOENT) /* the ports and the address go with the VM */
        r = nat_teardown(v, domain, dir, err, sizeof(err)) < 0 ? -EIO : -ENOENT;
    migr_virt_close(v);
    if (r == 0)
        return -EBUSY; /* the migration came after all: its files */
    if (r != -ENOENT)
        return errf(e, r, "ReleaseFailed", "%s", err);
    /* Not here (a target whose migration never came, a source the domain
     * left): the VFs held for it go back, MAC cleared. */
    (void)migr_sriov_release(sriov, domain, NULL);
    r = dir_remove(dir);
    if (r < 0)
        return errf(e, r, "ReleaseFailed", "cannot remove '%s': %s", dir,
                    strerror(-r));
    return 0;
}
