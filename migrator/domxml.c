/*
 * libvirt domain XML for a VMI.  See domxml.h.
 */
#include "migrator/domxml.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* ---------------------------------------------------------------------- */
/* A small XML writer: elements nest, attributes and text are escaped,
 * element-only content is indented by two spaces as libvirt does.        */

#define XW_DEPTH 16

struct xw {
    FILE *f;
    char *buf;
    size_t len;
    int depth;
    const char *names[XW_DEPTH];
    bool open;      /* "<name ..." written, not yet closed by > or /> */
    bool has_text;  /* the current element holds text: close inline */
    bool has_child; /* the current element holds elements */
    int err;        /* first error */
};

static int xw_init(struct xw *w)
{
    memset(w, 0, sizeof(*w));
    w->f = open_memstream(&w->buf, &w->len);
    return w->f ? 0 : -ENOMEM;
}

static void xw_fail(struct xw *w, int err)
{
    if (!w->err)
        w->err = err;
}

static void xw_indent(struct xw *w)
{
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->f);
}

/* Text XML 1.0 can hold: no C0 controls but tab, newline, return. */
static bool xml_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

static void xw_escaped(struct xw *w, const char *s)
{
    if (!xml_ok(s)) {
        xw_fail(w, -EINVAL);
        return;
    }
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", w->f);
            break;
        case '<':
            fputs("&lt;", w->f);
            break;
        case '>':
            fputs("&gt;", w->f);
            break;
        case '\'':
            fputs("&apos;", w->f);
            break;
        case '"':
            fputs("&quot;", w->f);
            break;
        default:
            fputc(*s, w->f);
        }
    }
}

/* Finish a pending start tag before content. */
static void xw_close_start(struct xw *w, bool newline)
{
    if (w->open) {
        fputs(newline ? ">\n" : ">", w->f);
        w->open = false;
    }
}

static void xw_start(struct xw *w, const char *name)
{
    if (w->depth > 0) {
        if (!w->has_child && w->open)
            xw_close_start(w, true);
        w->has_child = true;
    }
    if (w->depth >= XW_DEPTH) {
        xw_fail(w, -EINVAL);
        return;
    }
    xw_indent(w);
    fprintf(w->f, "<%s", name);
    w->names[w->depth++] = name;
    w->open = true;
    w->has_text = false;
    w->has_child = false;
}

static void xw_attr(struct xw *w, const char *name, const char *value)
{
    if (!w->open) {
        xw_fail(w, -EINVAL);
        return;
    }
    fprintf(w->f, " %s='", name);
    xw_escaped(w, value);
    fputc('\'', w->f);
}

static void xw_attrf(struct xw *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xw_attrf(struct xw *w, const char *name, const char *fmt, ...)
{
    char buf[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    xw_attr(w, name, buf);
}

static void xw_text(struct xw *w, const char *text)
{
    xw_close_start(w, false);
    xw_escaped(w, text);
    w->has_text = true;
}

static void xw_end(struct xw *w)
{
    const char *name = w->names[--w->depth];

    if (w->open) {
        fputs("/>\n", w->f);
        w->open = false;
    } else if (w->has_text) {
        fprintf(w->f, "</%s>\n", name);
    } else {
        xw_indent(w);
        fprintf(w->f, "</%s>\n", name);
    }
    /* Back in the parent, which has at least this child. */
    w->has_text = false;
    w->has_child = true;
}

/* <name attr='v'>text</name> in one call; attrs is NULL-terminated pairs. */
static void xw_leaf(struct xw *w, const char *name, const char *text, ...)
{
    va_list ap;
    const char *k;

    xw_start(w, name);
    va_start(ap, text);
    while ((k = va_arg(ap, const char *)))
        xw_attr(w, k, va_arg(ap, const char *));
    va_end(ap);
    if (text)
        xw_text(w, text);
    xw_end(w);
}

/* Close the stream; on success *ret gets the text. */
static int xw_finish(struct xw *w, char **ret)
{
    if (fclose(w->f) != 0)
        xw_fail(w, -ENOMEM);
    w->f = NULL;
    if (w->err) {
        free(w->buf);
        return w->err;
    }
    *ret = w->buf;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Building                                                                */

struct ctx {
    const struct api_vmi_spec *spec;
    const struct migr_domxml_opts *opts;
    char *err;
    size_t errlen;
};

static int fail(struct ctx *c, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, int r, const char *fmt, ...)
{
    va_list ap;

    if (c->err && c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return r;
}

int migr_domxml_name(const struct api_meta *meta, char *buf, size_t len)
{
    const char *ns;
    int n;

    if (!meta || !meta->name || !*meta->name)
        return -EINVAL;
    ns = meta->namespace && *meta->namespace ? meta->namespace : "default";
    n = snprintf(NULL, 0, "%s_%s", ns, meta->name);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    snprintf(buf, len, "%s_%s", ns, meta->name);
    return 0;
}

static bool is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static const struct api_volume *find_volume(const struct api_vmi_spec *s,
                                            const char *name)
{
    for (size_t i = 0; i < s->volume_count; i++)
        if (s->volumes[i].name && strcmp(s->volumes[i].name, name) == 0)
            return &s->volumes[i];
    return NULL;
}

static const struct api_network *find_network(const struct api_vmi_spec *s,
                                              const char *name)
{
    for (size_t i = 0; i < s->network_count; i++)
        if (s->networks[i].name && strcmp(s->networks[i].name, name) == 0)
            return &s->networks[i];
    return NULL;
}

static const struct migr_domxml_disk *find_disk(const struct ctx *c,
                                                const char *volume)
{
    for (size_t i = 0; i < c->opts->disk_count; i++)
        if (c->opts->disks[i].volume &&
            strcmp(c->opts->disks[i].volume, volume) == 0)
            return &c->opts->disks[i];
    return NULL;
}

static const struct migr_domxml_vf *find_vf(const struct migr_domxml_opts *o,
                                            const char *iface)
{
    for (size_t i = 0; i < o->vf_count; i++)
        if (o->vfs[i].iface && strcmp(o->vfs[i].iface, iface) == 0)
            return &o->vfs[i];
    return NULL;
}

/* libvirt's target names: vda..vdz, vdaa, ... */
static void target_name(const char *prefix, unsigned idx, char *out, size_t len)
{
    char tail[8];
    int n = 0;

    do {
        tail[n++] = (char)('a' + idx % 26);
        idx = idx / 26;
    } while (idx-- > 0 && n < 7);
    out[0] = '\0';
    snprintf(out, len, "%s", prefix);
    for (int i = n - 1; i >= 0; i--)
        strncat(out, &tail[i], 1);
}

static int write_disk(struct ctx *c, struct xw *w, const struct api_disk *d,
                      unsigned counters[3])
{
    const struct api_volume *v = find_volume(c->spec, d->name);
    const struct migr_domxml_disk *file;
    const char *bus, *prefix, *path, *format = "raw", *cache = "none";
    bool readonly = false;
    char dev[16], alias[300];
    unsigned *counter;

    if (!v)
        return fail(c, -EINVAL, "disk \"%s\": no volume of that name", d->name);
    if (d->type == API_DISK_LUN)
        return fail(c, -EOPNOTSUPP, "disk \"%s\": lun disks are not supported",
                    d->name);
    switch (v->type) {
    case API_VOLUME_CLOUD_INIT_NOCLOUD:
        path = c->opts->seed_path;
        if (!path)
            return fail(c, -EINVAL, "volume \"%s\": no NoCloud seed path",
                        v->name);
        readonly = true;
        break;
    case API_VOLUME_HOST_DISK:
        path = v->path;
        break;
    case API_VOLUME_OTHER:
        return fail(c, -EOPNOTSUPP,
                    "volume \"%s\": this volume source is not supported",
                    v->name);
    default:
        file = find_disk(c, v->name);
        if (!file || !file->path)
            return fail(c, -EINVAL, "volume \"%s\": no file for it", v->name);
        path = file->path;
        if (file->format)
            format = file->format;
        if (file->cache)
            cache = file->cache;
        if (v->type == API_VOLUME_PVC && v->read_only)
            readonly = true;
        break;
    }
    if (!path || !*path)
        return fail(c, -EINVAL, "volume \"%s\": no file for it", v->name);

    bus = d->bus ? d->bus : (d->type == API_DISK_CDROM ? "sata" : "virtio");
    if (strcmp(bus, "virtio") == 0) {
        prefix = "vd";
        counter = &counters[0];
    } else if (strcmp(bus, "sata") == 0 || strcmp(bus, "scsi") == 0 ||
               strcmp(bus, "usb") == 0) {
        prefix = "sd";
        counter = &counters[1];
    } else if (strcmp(bus, "ide") == 0) {
        prefix = "hd";
        counter = &counters[2];
    } else {
        return fail(c, -EOPNOTSUPP, "disk \"%s\": bus \"%s\" is not supported",
                    d->name, bus);
    }
    target_name(prefix, (*counter)++, dev, sizeof(dev));
    if (d->type == API_DISK_CDROM)
        readonly = true;

    xw_start(w, "disk");
    xw_attr(w, "type", "file");
    xw_attr(w, "device", d->type == API_DISK_CDROM ? "cdrom" : "disk");
    xw_start(w, "driver");
    xw_attr(w, "name", "qemu");
    xw_attr(w, "type", format);
    if (!readonly)
        xw_attr(w, "cache", cache);
    xw_end(w);
    xw_leaf(w, "source", NULL, "file", path, NULL);
    xw_leaf(w, "target", NULL, "dev", dev, "bus", bus, NULL);
    if (readonly)
        xw_leaf(w, "readonly", NULL, NULL);
    if (d->has_boot_order) {
        xw_start(w, "boot");
        xw_attrf(w, "order", "%" PRId64, d->boot_order);
        xw_end(w);
    }
    snprintf(alias, sizeof(alias), MIGR_ALIAS_USER "%s", d->name);
    xw_leaf(w, "alias", NULL, "name", alias, NULL);
    xw_end(w);
    return 0;
}

/* A cloudInitNoCloud volume no disk names: KubeVirt would not attach it,
 * but a seed the guest cannot see is no seed, so it goes on a CD-ROM: on
 * the IDE bus every i440fx ('pc') machine has (its driver is in every
 * kernel, AHCI is not), on SATA on other machines. */
static int write_orphan_seed(struct ctx *c, struct xw *w, unsigned counters[3])
{
    const struct api_vmi_spec *s = c->spec;

    for (size_t i = 0; i < s->volume_count; i++) {
        const struct api_volume *v = &s->volumes[i];
        bool named = false;

        if (v->type != API_VOLUME_CLOUD_INIT_NOCLOUD || !v->name)
            continue;
        for (size_t k = 0; k < s->disk_count && !named; k++)
            named = s->disks[k].name && strcmp(s->disks[k].name, v->name) == 0;
        if (named)
            continue;
        const char *m = c->opts->machine;
        bool pc = !m || (strncmp(m, "pc", 2) == 0 && !strstr(m, "q35"));
        struct api_disk d = {.name = v->name,
                             .type = API_DISK_CDROM,
                             .bus = pc ? "ide" : "sata"};
        return write_disk(c, w, &d, counters);
    }
    return 0;
}

/* The SR-IOV <interface> for `iface` on `vf`. */
static int write_sriov(struct ctx *c, struct xw *w,
                       const struct api_interface *iface,
                       const struct migr_domxml_vf *vf)
{
    char alias[300];

    snprintf(alias, sizeof(alias), MIGR_ALIAS_SRIOV "%s", iface->name);
    if (vf->mode == MIGR_VF_MODE_MACVTAP) {
        if (!vf->netdev || !*vf->netdev)
            return fail(c, -EINVAL, "interface \"%s\": the VF has no netdev",
                        iface->name);
        xw_start(w, "interface");
        xw_attr(w, "type", "direct");
        if (iface->mac_address)
            xw_leaf(w, "mac", NULL, "address", iface->mac_address, NULL);
        xw_leaf(w, "source", NULL, "dev", vf->netdev, "mode", "passthrough",
                NULL);
        xw_leaf(w, "model", NULL, "type",
                iface->model ? iface->model : "virtio", NULL);
        xw_leaf(w, "alias", NULL, "name", alias, NULL);
        xw_end(w);
        return 0;
    }
    unsigned dom, bus, slot, fn;
    char tail;
    if (!vf->pci || sscanf(vf->pci, "%4x:%2x:%2x.%1x%c", &dom, &bus, &slot, &fn,
                           &tail) != 4)
        return fail(c, -EINVAL, "interface \"%s\": bad VF PCI address \"%s\"",
                    iface->name, vf->pci ? vf->pci : "");
    if (vf->vlan < 0 || vf->vlan > 4094)
        return fail(c, -EINVAL, "interface \"%s\": bad VLAN %d", iface->name,
                    vf->vlan);
    xw_start(w, "interface");
    xw_attr(w, "type", "hostdev");
    xw_attr(w, "managed", "yes");
    if (iface->mac_address)
        xw_leaf(w, "mac", NULL, "address", iface->mac_address, NULL);
    xw_leaf(w, "driver", NULL, "name", "vfio", NULL);
    xw_start(w, "source");
    xw_start(w, "address");
    xw_attr(w, "type", "pci");
    xw_attrf(w, "domain", "0x%04x", dom);
    xw_attrf(w, "bus", "0x%02x", bus);
    xw_attrf(w, "slot", "0x%02x", slot);
    xw_attrf(w, "function", "0x%x", fn);
    xw_end(w);
    xw_end(w);
    if (vf->vlan > 0) {
        xw_start(w, "vlan");
        xw_start(w, "tag");
        xw_attrf(w, "id", "%d", vf->vlan);
        xw_end(w);
        xw_end(w);
    }
    xw_leaf(w, "alias", NULL, "name", alias, NULL);
    xw_end(w);
    return 0;
}

static const char *multus_bridge(const struct migr_domxml_opts *o,
                                 const char *network)
{
    for (size_t i = 0; i < o->bridge_count; i++)
        if (o->bridges[i].network && network &&
            strcmp(o->bridges[i].network, network) == 0)
            return o->bridges[i].bridge;
    return network;
}

static int write_interface(struct ctx *c, struct xw *w,
                           const struct api_interface *iface)
{
    const struct api_network *net = find_network(c->spec, iface->name);
    const struct migr_domxml_vf *vf;
    const char *bridge;
    char alias[300];

    if (!net)
        return fail(c, -EINVAL, "interface \"%s\": no network of that name",
                    iface->name);
    switch (iface->binding) {
    case API_BINDING_SRIOV:
        vf = find_vf(c->opts, iface->name);
        if (!vf)
            return fail(c, -EINVAL, "interface \"%s\": no VF assigned",
                        iface->name);
        return write_sriov(c, w, iface, vf);
    case API_BINDING_MASQUERADE:
        if (net->type != API_NETWORK_POD || !c->opts->nat_network)
            break;
        snprintf(alias, sizeof(alias), MIGR_ALIAS_USER "%s", iface->name);
        xw_start(w, "interface");
        xw_attr(w, "type", "network");
        if (iface->mac_address)
            xw_leaf(w, "mac", NULL, "address", iface->mac_address, NULL);
        xw_leaf(w, "source", NULL, "network", c->opts->nat_network, NULL);
        xw_leaf(w, "model", NULL, "type",
                iface->model ? iface->model : "virtio", NULL);
        xw_leaf(w, "alias", NULL, "name", alias, NULL);
        xw_end(w);
        return 0;
    case API_BINDING_BRIDGE:
        bridge = net->type == API_NETWORK_MULTUS
                     ? multus_bridge(c->opts, net->network_name)
                     : c->opts->bridge;
        if (!bridge || !*bridge)
            return fail(c, -EINVAL, "interface \"%s\": no host bridge",
                        iface->name);
        snprintf(alias, sizeof(alias), MIGR_ALIAS_USER "%s", iface->name);
        xw_start(w, "interface");
        xw_attr(w, "type", "bridge");
        if (iface->mac_address)
            xw_leaf(w, "mac", NULL, "address", iface->mac_address, NULL);
        xw_leaf(w, "source", NULL, "bridge", bridge, NULL);
        xw_leaf(w, "model", NULL, "type",
                iface->model ? iface->model : "virtio", NULL);
        xw_leaf(w, "alias", NULL, "name", alias, NULL);
        xw_end(w);
        return 0;
    default:
        break;
    }
    return fail(c, -EOPNOTSUPP,
                "interface \"%s\": binding \"%s\" is not supported%s",
                iface->name, api_iface_binding_name(iface->binding),
                iface->binding == API_BINDING_MASQUERADE
                    ? " (only on the pod network of a host with a NAT network)"
                    : "");
}

static bool has_seed(const struct api_vmi_spec *s)
{
    for (size_t i = 0; i < s->volume_count; i++)
        if (s->volumes[i].type == API_VOLUME_CLOUD_INIT_NOCLOUD)
            return true;
    return false;
}

static int64_t or1(int64_t v)
{
    return v > 0 ? v : 1;
}

static void write_cpu(struct ctx *c, struct xw *w)
{
    const struct api_vmi_spec *s = c->spec;
    const char *model = s->cpu_model;

    xw_start(w, "cpu");
    if (model && (strcmp(model, "host-passthrough") == 0 ||
                  strcmp(model, "host-model") == 0)) {
        xw_attr(w, "mode", model);
    } else if (model && *model) {
        xw_attr(w, "mode", "custom");
        xw_attr(w, "match", "exact");
        xw_leaf(w, "model", model, "fallback", "allow", NULL);
    }
    xw_start(w, "topology");
    xw_attrf(w, "sockets", "%" PRId64, or1(s->cpu_sockets));
    xw_attrf(w, "cores", "%" PRId64, or1(s->cpu_cores));
    xw_attrf(w, "threads", "%" PRId64, or1(s->cpu_threads));
    xw_end(w);
    xw_end(w);
}

static void write_console(struct ctx *c, struct xw *w)
{
    const char *path = c->opts->console_path;
    const char *type = path ? "file" : "pty";

    for (int i = 0; i < 2; i++) {
        xw_start(w, i == 0 ? "serial" : "console");
        xw_attr(w, "type", type);
        if (path)
            xw_leaf(w, "source", NULL, "path", path, "append", "on", NULL);
        xw_start(w, "target");
        if (i == 1)
            xw_attr(w, "type", "serial");
        xw_attr(w, "port", "0");
        xw_end(w);
        xw_end(w);
    }
}

int migr_domxml_build(const struct api_meta *meta,
                      const struct api_vmi_spec *spec,
                      const struct migr_domxml_opts *opts, char **ret_xml,
                      char *err, size_t errlen)
{
    static const struct migr_domxml_opts no_opts;
    struct ctx c = {spec, opts ? opts : &no_opts, err, errlen};
    struct xw w;
    char name[300], num[32];
    const char *uuid;
    int64_t mem, vcpus;
    bool seed;
    unsigned counters[3] = {0};
    int r;

    if (err && errlen)
        err[0] = '\0';
    if (!meta || !spec || !ret_xml)
        return fail(&c, -EINVAL, "no VMI");
    if (migr_domxml_name(meta, name, sizeof(name)) < 0)
        return fail(&c, -EINVAL, "the VMI has no usable name");
    mem = api_vmi_spec_memory_bytes(spec);
    if (mem <= 0)
        return fail(&c, -EINVAL, "the VMI has no memory size");
    vcpus =
        or1(spec->cpu_sockets) * or1(spec->cpu_cores) * or1(spec->cpu_threads);
    if (vcpus > 4096)
        return fail(&c, -EINVAL, "%" PRId64 " vCPUs is too many", vcpus);
    uuid =
        c.opts->uuid ? c.opts->uuid : (is_uuid(meta->uid) ? meta->uid : NULL);
    if (c.opts->uuid && !is_uuid(c.opts->uuid))
        return fail(&c, -EINVAL, "bad uuid \"%s\"", c.opts->uuid);

    if (xw_init(&w) < 0)
        return fail(&c, -ENOMEM, "out of memory");
    xw_start(&w, "domain");
    xw_attr(&w, "type", c.opts->domain_type ? c.opts->domain_type : "kvm");
    xw_leaf(&w, "name", name, NULL);
    if (uuid)
        xw_leaf(&w, "uuid", uuid, NULL);
    if (meta->uid && *meta->uid) {
        xw_start(&w, "metadata");
        xw_start(&w, "orch:vmi");
        xw_attr(&w, "xmlns:orch", MIGR_VMI_XMLNS);
        xw_attr(&w, "namespace",
                meta->namespace && *meta->namespace ? meta->namespace
                                                    : "default");
        xw_attr(&w, "name", meta->name);
        xw_attr(&w, "uid", meta->uid);
        xw_end(&w);
        xw_end(&w);
    }
    /* KiB, rounded up: libvirt would round the same way. */
    snprintf(num, sizeof(num), "%" PRId64, (mem + 1023) / 1024);
    xw_leaf(&w, "memory", num, "unit", "KiB", NULL);
    snprintf(num, sizeof(num), "%" PRId64, vcpus);
    xw_leaf(&w, "vcpu", num, "placement", "static", NULL);
    /* The hint cloud-init's ds-identify reads first: a system serial
     * number "ds=nocloud" says a NoCloud seed is attached. */
    seed = has_seed(spec);
    if (seed) {
        xw_start(&w, "sysinfo");
        xw_attr(&w, "type", "smbios");
        xw_start(&w, "system");
        xw_leaf(&w, "entry", "ds=nocloud", "name", "serial", NULL);
        xw_end(&w);
        xw_end(&w);
    }

    xw_start(&w, "os");
    xw_leaf(&w, "type", "hvm", "arch", c.opts->arch ? c.opts->arch : "x86_64",
            "machine", c.opts->machine ? c.opts->machine : "pc", NULL);
    if (spec->kernel_boot) {
        const struct api_kernel_boot *k = spec->kernel_boot;
        if (!k->kernel_path || !*k->kernel_path) {
            r = fail(&c, -EINVAL, "kernelBoot has no kernelPath");
            goto out;
        }
        xw_leaf(&w, "kernel", k->kernel_path, NULL);
        if (k->initrd_path && *k->initrd_path)
            xw_leaf(&w, "initrd", k->initrd_path, NULL);
        if (k->kernel_args && *k->kernel_args)
            xw_leaf(&w, "cmdline", k->kernel_args, NULL);
    }
    if (seed)
        xw_leaf(&w, "smbios", NULL, "mode", "sysinfo", NULL);
    xw_end(&w);
    xw_start(&w, "features");
    xw_leaf(&w, "acpi", NULL, NULL);
    xw_end(&w);
    write_cpu(&c, &w);
    xw_leaf(&w, "clock", NULL, "offset", "utc", NULL);
    xw_leaf(&w, "on_poweroff", "destroy", NULL);
    xw_leaf(&w, "on_reboot", "restart", NULL);
    xw_leaf(&w, "on_crash", "destroy", NULL);

    xw_start(&w, "devices");
    for (size_t i = 0; i < spec->disk_count; i++) {
        r = write_disk(&c, &w, &spec->disks[i], counters);
        if (r < 0)
            goto out;
    }
    r = write_orphan_seed(&c, &w, counters);
    if (r < 0)
        goto out;
    for (size_t i = 0; i < spec->interface_count; i++) {
        r = write_interface(&c, &w, &spec->interfaces[i]);
        if (r < 0)
            goto out;
    }
    write_console(&c, &w);
    if (spec->rng) {
        xw_start(&w, "rng");
        xw_attr(&w, "model", "virtio");
        xw_leaf(&w, "backend", "/dev/urandom", "model", "random", NULL);
        xw_end(&w);
    }
    xw_leaf(&w, "controller", NULL, "type", "usb", "model", "none", NULL);
    xw_leaf(&w, "memballoon", NULL, "model", "none", NULL);
    xw_end(&w);
    xw_end(&w);
    r = 0;
out:
    if (r < 0) {
        xw_fail(&w, r);
        xw_finish(&w, ret_xml);
        return r;
    }
    r = xw_finish(&w, ret_xml);
    if (r == -EINVAL)
        return fail(&c, r, "text that XML cannot hold");
    if (r < 0)
        return fail(&c, r, "out of memory");
    return 0;
}

int migr_domxml_sriov_interface(const struct api_interface *iface,
                                const struct migr_domxml_vf *vf, char **ret_xml,
                                char *err, size_t errlen)
{
    static const struct migr_domxml_opts no_opts;
    struct ctx c = {NULL, &no_opts, err, errlen};
    struct xw w;
    int r;

    if (err && errlen)
        err[0] = '\0';
    if (!iface || !iface->name || !vf || !ret_xml)
        return fail(&c, -EINVAL, "no interface or VF");
    if (xw_init(&w) < 0)
        return fail(&c, -ENOMEM, "out of memory");
    r = write_sriov(&c, &w, iface, vf);
    if (r < 0) {
        xw_fail(&w, r);
        xw_finish(&w, ret_xml);
        return r;
    }
    r = xw_finish(&w, ret_xml);
    if (r < 0)
        return fail(&c, r,
                    r == -EINVAL ? "text that XML cannot hold"
                                 : "out of memory");
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Retargeting macvtap interfaces in libvirt's own XML                     */

/* Find attribute `name` in the start tag [tag, end): on success *ret_val
 * and *ret_len delimit its raw (escaped) value. */
static int tag_attr(const char *tag, const char *end, const char *name,
                    const char **ret_val, size_t *ret_len)
{
    size_t n = strlen(name);

    for (const char *p = tag; p + n + 2 < end; p++) {
        if (!isspace((unsigned char)p[0]) || strncmp(p + 1, name, n) != 0)
            continue;
        const char *q = p + 1 + n;
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q >= end || *q != '=')
            continue;
        q++;
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q >= end || (*q != '\'' && *q != '"'))
            return -EINVAL;
        const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
        if (!close)
            return -EINVAL;
        *ret_val = q + 1;
        *ret_len = (size_t)(close - q - 1);
        return 0;
    }
    return -ENOENT;
}

/* Within [from, to), the start tag of the first element `name`: *ret_tag
 * at '<', *ret_end at its '>'. */
static int find_tag(const char *from, const char *to, const char *name,
                    const char **ret_tag, const char **ret_end)
{
    size_t n = strlen(name);

    for (const char *p = from; p && p < to; p++) {
        p = memchr(p, '<', (size_t)(to - p));
        if (!p)
            break;
        if (strncmp(p + 1, name, n) == 0 &&
            (isspace((unsigned char)p[1 + n]) || p[1 + n] == '>' ||
             p[1 + n] == '/')) {
            const char *e = memchr(p, '>', (size_t)(to - p));
            if (!e)
                return -EINVAL;
            *ret_tag = p;
            *ret_end = e;
            return 0;
        }
    }
    return -ENOENT;
}

static bool value_is(const char *v, size_t len, const char *prefix,
                     const char *name)
{
    size_t pl = strlen(prefix), nl = strlen(name);
    return len == pl + nl && memcmp(v, prefix, pl) == 0 &&
           memcmp(v + pl, name, nl) == 0;
}

int migr_domxml_retarget_macvtap(const char *xml,
                                 const struct migr_domxml_retarget *map,
                                 size_t n, char **ret_xml, char *err,
                                 size_t errlen)
{
    static const struct migr_domxml_opts no_opts;
    struct ctx c = {NULL, &no_opts, err, errlen};
    char *out = NULL;
    int r;

    if (err && errlen)
        err[0] = '\0';
    if (!xml || !ret_xml || (n && !map))
        return fail(&c, -EINVAL, "no XML");
    out = strdup(xml);
    if (!out)
        return fail(&c, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *iface = map[i].iface, *netdev = map[i].netdev;
        const char *pos = out, *end = out + strlen(out);
        const char *tag, *tag_end, *block_end, *v;
        size_t vlen;
        bool found = false;

        if (!iface || !netdev || !*netdev || !xml_ok(netdev) ||
            strpbrk(netdev, "&<>'\"")) {
            r = fail(&c, -EINVAL, "interface \"%s\": bad netdev",
                     iface ? iface : "");
            goto out;
        }
        while (find_tag(pos, end, "interface", &tag, &tag_end) == 0) {
            const char *a, *a_end, *s, *s_end;

            block_end = strstr(tag_end, "</interface>");
            if (!block_end) {
                r = fail(&c, -EINVAL, "unterminated <interface>");
                goto out;
            }
            pos = block_end;
            if (find_tag(tag_end, block_end, "alias", &a, &a_end) < 0 ||
                tag_attr(a, a_end, "name", &v, &vlen) < 0 ||
                !value_is(v, vlen, MIGR_ALIAS_SRIOV, iface))
                continue;
            found = true;
            if (tag_attr(tag, tag_end, "type", &v, &vlen) < 0 ||
                !value_is(v, vlen, "", "direct")) {
                r = fail(&c, -EINVAL, "interface \"%s\" is not type 'direct'",
                         iface);
                goto out;
            }
            if (find_tag(tag_end, block_end, "source", &s, &s_end) < 0 ||
                tag_attr(s, s_end, "dev", &v, &vlen) < 0) {
                r = fail(&c, -EINVAL, "interface \"%s\" has no source dev",
                         iface);
                goto out;
            }
            /* Splice the new netdev over the old value. */
            size_t head = (size_t)(v - out), nl = strlen(netdev);
            size_t tail = strlen(v + vlen);
            char *next = malloc(head + nl + tail + 1);
            if (!next) {
                r = fail(&c, -ENOMEM, "out of memory");
                goto out;
            }
            memcpy(next, out, head);
            memcpy(next + head, netdev, nl);
            memcpy(next + head + nl, v + vlen, tail + 1);
            free(out);
            out = next;
            break;
        }
        if (!found) {
            r = fail(&c, -ENOENT, "interface \"%s\" is not in the domain",
                     iface);
            goto out;
        }
    }
    *ret_xml = out;
    out = NULL;
    r = 0;
out:
    free(out);
    return r;
}
