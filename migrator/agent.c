/*
 * The agent daemon.  See agent.h.
 */
#include "migrator/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>

#include "daemon/daemon.h"
#include "log/log.h"
#include "migrator/jobs.h"
#include "migrator/report.h"
#include "migrator/vmhost.h"

#define DRAIN_GRACE_S 5
/* At most one line per this many seconds about requests with a missing or
 * wrong bearer token, however many come. */
#define AUTHFAIL_LOG_INTERVAL_S 60

struct migr_agent {
    const struct conf_migrator *cfg;
    const struct migr_netlink_ops *nl;
    struct migr_sriov *sriov;
    struct conf_addr listen;

    /* Set before the worker starts (migr_agent_new, migr_agent_bound),
     * read by it. */
    char url[512];    /* the agent API's URL, as reported */
    char boot_id[37]; /* random per run: tells orchestratord we restarted */
    struct migr_report *report; /* NULL: no 'orchestrator' to report to */
    struct migr_jobs *jobs;     /* prepare, migrate, abort */

    /* Worker side: only the worker (or migr_agent_refresh's caller)
     * touches these. */
    struct migr_virt *virt;
    char virt_error[512];
    int last_virt_err; /* for logging transitions only */

    /* Shared between the worker, libvirt's event thread and the loop. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *inventory; /* the published JSON text; NULL before the first */
    size_t inventory_len;
    uint64_t generation;
    bool dirty; /* a lifecycle event asked for a refresh */
    bool stop;

    pthread_t worker;
    bool worker_running;
    bool events_running;

    /* Loop side. */
    struct log_ratelimit authfail;            /* wrong-token warnings */
    char authfail_host[INET6_ADDRSTRLEN + 2]; /* the last one's client */
    bool authfail_hosts; /* those counted came from several clients */
};

/* ---------------------------------------------------------------------- */
/* The inventory                                                           */

/* json_object_set_new that remembers a failure, so a build can check
 * once at the end. */
static void set(json_t *o, const char *k, json_t *v, bool *oom)
{
    if (!v || json_object_set_new(o, k, v) < 0)
        *oom = true;
}

static void append(json_t *a, json_t *v, bool *oom)
{
    if (!v || json_array_append_new(a, v) < 0)
        *oom = true;
}

static json_t *addr_entry(const char *type, const char *address)
{
    return json_pack("{s:s, s:s}", "type", type, "address", address);
}

/* This host's global addresses: not loopback, not link-local. */
static json_t *addresses(const char *name, bool *oom)
{
    struct ifaddrs *ifa = NULL;
    json_t *a = json_array();

    if (!a) {
        *oom = true;
        return NULL;
    }
    append(a, addr_entry("Hostname", name), oom);
    if (getifaddrs(&ifa) < 0)
        return a; /* the host name alone is still true */
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        char buf[INET6_ADDRSTRLEN];
        const void *raw;

        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct in_addr *in =
                &((const struct sockaddr_in *)(const void *)i->ifa_addr)
                     ->sin_addr;
            uint32_t h = ntohl(in->s_addr);
            if ((h >> 24) == 127 || (h >> 16) == 0xa9fe)
                continue;
            raw = in;
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *in6 =
                &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)
                     ->sin6_addr;
            if (IN6_IS_ADDR_LOOPBACK(in6) || IN6_IS_ADDR_LINKLOCAL(in6))
                continue;
            raw = in6;
        } else {
            continue;
        }
        if (inet_ntop(i->ifa_addr->sa_family, raw, buf, sizeof(buf)))
            append(a, addr_entry("InternalIP", buf), oom);
    }
    freeifaddrs(ifa);
    return a;
}

/* The reservation of VF `index` of `pf`, or NULL. */
static const struct migr_vf_reservation *
vf_reservation(const struct migr_vf_reservation *res, size_t n, const char *pf,
               unsigned index)
{
    for (size_t i = 0; i < n; i++)
        if (res[i].index == index && strcmp(res[i].pf, pf) == 0)
            return &res[i];
    return NULL;
}

/* The active domain whose interface names `vf` as its source (a hostdev
 * interface's PCI address, a direct interface's netdev), from the
 * inventory's "domains" (null or absent: none known), or NULL.  Inactive
 * domains hold nothing: libvirt takes the VF only when it starts. */
static const char *vf_domain(const json_t *domains, const struct migr_vf *vf)
{
    size_t i, k;
    json_t *d, *f;

    json_array_foreach(domains, i, d)
    {
        if (json_integer_value(json_object_get(d, "id")) < 0)
            continue;
        json_array_foreach(json_object_get(d, "interfaces"), k, f)
        {
            const char *src = json_string_value(json_object_get(f, "source"));

            if (src && *src &&
                (strcmp(src, vf->pci) == 0 ||
                 (vf->netdev[0] && strcmp(src, vf->netdev) == 0)))
                return json_string_value(json_object_get(d, "name"));
        }
    }
    return NULL;
}

/* A 0/1/-1 setting: a boolean, or null when left alone or unknown. */
static json_t *tristate(int v)
{
    return v < 0 ? json_null() : json_boolean(v);
}

static json_t *network(const struct migr_agent_sources *src,
                       const struct conf_network *net,
                       const struct migr_vf_reservation *res, size_t n_res,
                       const json_t *domains, bool *oom)
{
    struct migr_pf pf = {0};
    const char *link_error = NULL;
    json_t *o, *vfs;
    int r;

    /* A bridge network has no VFs: its name and bridge are the inventory
     * (orchestratord places VMs by the networks a host has). */
    if (net->mode == CONF_NET_MODE_BRIDGE) {
        o = json_pack("{s:s, s:s, s:s}", "name", net->name, "mode", "bridge",
                      "bridge", net->bridge);
        if (!o)
            *oom = true;
        return o;
    }
    o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o}", "name", net->name, "pf",
                  net->pf, "mode",
                  net->mode == CONF_NET_MODE_MACVTAP ? "macvtap" : "hostdev",
                  "vlan", net->vlan, "trust", tristate(net->trust), "spoofchk",
                  tristate(net->spoofchk));
    if (!o) {
        *oom = true;
        return NULL;
    }
    r = migr_pf_read(src->cfg->sysfs_root, net->pf, src->nl, &pf);
    if (r < 0 && r != -ENOMEM && src->nl) {
        /* Tell a PF that sysfs does not know from one whose VF list
         * netlink cannot give (e.g. no such link in this namespace): the
         * latter's VFs are still worth listing. */
        int r2 = migr_pf_read(src->cfg->sysfs_root, net->pf, NULL, &pf);
        if (r2 == 0)
            link_error = strerror(-r);
        r = r2;
    }
    if (r == -ENOMEM) {
        *oom = true;
        return o;
    }
    if (r < 0) {
        const char *why = r == -ENODEV       ? "no such interface"
                          : r == -EOPNOTSUPP ? "not an SR-IOV physical function"
                                             : strerror(-r);
        set(o, "error", json_string(why), oom);
        return o;
    }
    set(o, "totalVFs", json_integer(pf.total_vfs), oom);
    set(o, "numVFs", json_integer(pf.num_vfs), oom);
    if (link_error)
        set(o, "linkError", json_sprintf("netlink: %s", link_error), oom);
    vfs = json_array();
    for (size_t i = 0; vfs && i < pf.vf_count; i++) {
        const struct migr_vf *vf = &pf.vfs[i];
        const struct migr_vf_reservation *rv =
            vf_reservation(res, n_res, pf.name, vf->index);
        const char *dom = vf_domain(domains, vf);
        const char *ls =
            vf->has_link ? migr_vf_link_state_name(vf->link.link_state) : NULL;
        bool has_mac = vf->has_link && vf->link.mac[0];
        bool has_vlan = vf->has_link && vf->link.vlan >= 0;
        json_t *v = json_pack(
            "{s:I, s:s, s:s?, s:s?, s:o, s:o, s:o, s:o, s:s?, s:b, s:b, s:s?}",
            "index", (json_int_t)vf->index, "pci", vf->pci, "netdev",
            vf->netdev[0] ? vf->netdev : NULL, "driver",
            vf->driver[0] ? vf->driver : NULL, "mac",
            has_mac ? json_string(vf->link.mac) : json_null(), "vlan",
            has_vlan ? json_integer(vf->link.vlan) : json_null(), "trust",
            tristate(vf->has_link ? vf->link.trust : -1), "spoofchk",
            tristate(vf->has_link ? vf->link.spoofchk : -1), "linkState", ls,
            "reserved", rv != NULL, "inUse", rv != NULL || dom != NULL,
            "usedBy", rv ? rv->owner : dom);
        append(vfs, v, oom);
    }
    set(o, "vfs", vfs, oom);
    migr_pf_clear(&pf);
    return o;
}

/* A copy of the reservations into *ret (free(); NULL when there are none)
 * and their count.  Another thread may reserve between sizing the array
 * and filling it, so the count of the filling call is only trusted when it
 * fits, and the array is sized again otherwise.  Returns 0 or -ENOMEM. */
static int reservations_copy(struct migr_sriov *s,
                             struct migr_vf_reservation **ret, size_t *ret_n)
{
    struct migr_vf_reservation *res = NULL;
    size_t cap = 0, n;

    for (;;) {
        n = migr_sriov_list(s, res, cap);
        if (n <= cap)
            break;
        free(res);
        cap = n;
        res = calloc(cap, sizeof(*res));
        if (!res)
            return -ENOMEM;
    }
    *ret = res;
    *ret_n = n;
    return 0;
}

bool migr_agent_path_shared(const struct conf_migrator *cfg, const char *path)
{
    if (path[0] != '/' || strstr(path, "/../") ||
        (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
        return false;
    for (size_t i = 0; i < cfg->n_shared_storage; i++) {
        const char *p = cfg->shared_storage[i];
        size_t n = strlen(p);

        while (n > 1 && p[n - 1] == '/')
            n--;
        if (n == 1 ||
            (strncmp(path, p, n) == 0 && (path[n] == '/' || path[n] == '\0')))
            return true;
    }
    return false;
}

static json_t *interfaces(const struct migr_dom_devices *dv, bool *oom)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < dv->n_ifaces; i++) {
        const struct migr_dom_iface *f = &dv->ifaces[i];
        json_t *ips = json_array();

        if (!ips)
            *oom = true;
        for (size_t k = 0; ips && k < f->n_ips; k++)
            append(ips, json_string(f->ips[k]), oom);
        append(a,
               json_pack("{s:s, s:s, s:s, s:s, s:o*}", "name", f->name, "mac",
                         f->mac, "type", f->type, "source", f->source,
                         "ipAddresses", ips),
               oom);
    }
    if (!a)
        *oom = true;
    return a;
}

static json_t *disks(const struct conf_migrator *cfg, const char *domain,
                     const struct migr_dom_devices *dv, bool *oom)
{
    json_t *a = json_array();
    char dir[4096];
    size_t dl = 0;

    /* The VM's own files (its seed, its containerDisk overlays): a
     * migration target's prepare makes them again and a block migration
     * copies the overlays, so they do not need shared storage. */
    if (migr_vmhost_dir(cfg, domain, dir, sizeof(dir) - 1) == 0) {
        dl = strlen(dir);
        dir[dl++] = '/';
        dir[dl] = '\0';
    }
    for (size_t i = 0; a && i < dv->n_disks; i++) {
        const struct migr_dom_disk *d = &dv->disks[i];
        bool shared = strcmp(d->type, "network") == 0 ||
                      (d->source[0] && migr_agent_path_shared(cfg, d->source));
        bool per_vm = dl && strncmp(d->source, dir, dl) == 0;

        append(a,
               json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "target",
                         d->target, "device", d->device, "source", d->source,
                         "type", d->type, "shared", shared, "readonly",
                         d->readonly, "perVM", per_vm),
               oom);
    }
    if (!a)
        *oom = true;
    return a;
}

/* One domain of the inventory; NULL when it went away since the listing
 * (then *oom is left alone). */
static json_t *domain(const struct migr_agent_sources *src,
                      const struct migr_dom_info *d, bool *oom)
{
    struct migr_dom_devices dv = {0};
    char err[512];
    json_t *o;
    int r;

    r = migr_virt_devices(src->virt, d->name, true, &dv, err, sizeof(err));
    if (r == -ENOENT)
        return NULL;
    o = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:I, s:I}", "name", d->name,
        "uuid", d->uuid, "state", migr_dom_state_name(d->state), "stateReason",
        d->state_reason ? d->state_reason : "unknown", "id", d->id,
        "persistent", d->persistent, "migrating", d->migrating, "memoryKiB",
        (json_int_t)d->memory_kib, "vcpus", (json_int_t)d->vcpus);
    if (!o) {
        *oom = true;
    } else if (r < 0) {
        /* Unknown, not none: an empty disk list would read as nothing in
         * the way of a migration. */
        set(o, "interfaces", json_null(), oom);
        set(o, "disks", json_null(), oom);
        set(o, "devicesError", json_string(err), oom);
    } else {
        set(o, "interfaces", interfaces(&dv, oom), oom);
        set(o, "disks", disks(src->cfg, d->name, &dv, oom), oom);
        set(o, "hostdevs", json_integer(dv.hostdevs), oom);
        set(o, "acpi", json_boolean(dv.acpi), oom);
        /* The VMI a start job made it for (domxml's <metadata>): the
         * mapping that does not depend on parsing the name. */
        if (dv.vmi_uid[0])
            set(o, "vmi",
                json_pack("{s:s, s:s, s:s}", "namespace",
                          dv.vmi_namespace[0] ? dv.vmi_namespace : "default",
                          "name", dv.vmi_name, "uid", dv.vmi_uid),
                oom);
    }
    migr_dom_devices_clear(&dv);
    return o;
}

/* PRETTY_NAME from an os-release file, unquoted; "" when there is none. */
static void os_image(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    char line[512];

    buf[0] = '\0';
    while (f && fgets(line, sizeof(line), f)) {
        char *v, *end;
        size_t k = 0;

        if (strncmp(line, "PRETTY_NAME=", 12) != 0)
            continue;
        v = line + 12;
        end = v + strcspn(v, "\r\n");
        if (end > v && (*v == '"' || *v == '\'') && end[-1] == *v) {
            v++;
            end--;
        }
        for (; v < end && k + 1 < len; v++) {
            if (*v == '\\' && v + 1 < end)
                v++; /* shell-style escapes: \" \\ \$ \` */
            buf[k++] = *v;
        }
        buf[k] = '\0';
        break;
    }
    if (f)
        fclose(f);
}

/* What kubelet's nodeInfo says, plus libvirt's side when it answers. */
static json_t *node_info(const struct migr_agent_sources *src,
                         const struct migr_host_info *host, bool libvirt,
                         bool *oom)
{
    struct utsname u;
    char image[256];
    json_t *o = json_object();

    if (!o) {
        *oom = true;
        return NULL;
    }
    if (uname(&u) < 0)
        memset(&u, 0, sizeof(u));
    os_image(src->os_release ? src->os_release : CONF_OS_RELEASE_PATH, image,
             sizeof(image));
    set(o, "kernelVersion", json_string(u.release), oom);
    set(o, "osImage", json_string(image), oom);
    set(o, "arch",
        json_string(libvirt && host->arch[0] ? host->arch : u.machine), oom);
    if (!libvirt)
        return o;
    set(o, "libvirtVersion", json_string(host->version), oom);
    set(o, "hypervisorVersion", json_string(host->hypervisor_version), oom);
    if (host->host_uuid[0])
        set(o, "hostUUID", json_string(host->host_uuid), oom);
    /* A driver that names no CPU model (the test driver) still has an
     * architecture, which is what a model would be compared within. */
    set(o, "cpuModel",
        json_string(host->cpu_model[0] ? host->cpu_model
                    : host->arch[0]    ? host->arch
                                       : u.machine),
        oom);
    return o;
}

int migr_agent_inventory(const struct migr_agent_sources *src, json_t **ret,
                         int *ret_virt_err)
{
    const struct conf_migrator *cfg = src ? src->cfg : NULL;
    struct migr_vf_reservation *res = NULL;
    struct migr_dom_info *doms = NULL;
    struct migr_host_info host = {0};
    size_t n_res = 0;
    json_t *o = NULL, *lv, *a;
    char err[512] = "";
    bool oom = false;
    int n = 0, virt_err = 0, r;

    if (!cfg || !ret)
        return -EINVAL;
    o = json_object();
    if (!o)
        return -ENOMEM;
    set(o, "name", json_string(cfg->name ? cfg->name : ""), &oom);
    set(o, "addresses", addresses(cfg->name ? cfg->name : "", &oom), &oom);

    lv = json_pack("{s:s}", "uri", cfg->libvirt_uri ? cfg->libvirt_uri : "");
    set(o, "libvirt", lv, &oom);
    if (!src->virt) {
        virt_err = -ECONNREFUSED;
        snprintf(err, sizeof(err), "%s",
                 src->virt_error ? src->virt_error : "not connected");
    } else if ((r = migr_virt_host(src->virt, &host, err, sizeof(err))) < 0) {
        virt_err = r;
    } else if ((n = migr_virt_list(src->virt, &doms, err, sizeof(err))) < 0) {
        virt_err = n;
        n = 0;
    }
    if (lv && virt_err) {
        set(lv, "error", json_string(err), &oom);
        set(o, "domains", json_null(), &oom);
    } else if (lv) {
        set(lv, "uri", json_string(host.uri), &oom);
        set(lv, "version", json_string(host.version), &oom);
        if (host.host_uuid[0])
            set(lv, "hostUUID", json_string(host.host_uuid), &oom);
        set(o, "capacity",
            json_pack("{s:I, s:I}", "cpus", (json_int_t)host.cpus, "memoryKiB",
                      (json_int_t)host.memory_kib),
            &oom);
        a = json_array();
        for (int i = 0; a && !oom && i < n; i++) {
            json_t *d = domain(src, &doms[i], &oom);
            if (d)
                append(a, d, &oom);
        }
        set(o, "domains", a, &oom);
    }
    set(o, "nodeInfo", node_info(src, &host, lv && !virt_err, &oom), &oom);
    set(o, "agent",
        json_pack("{s:s, s:s, s:s, s:s*}", "url",
                  src->agent_url ? src->agent_url : "", "version",
                  MIGR_AGENT_VERSION, "bootId",
                  src->boot_id ? src->boot_id : "", "libvirtPeerURI",
                  src->libvirt_peer_uri && src->libvirt_peer_uri[0]
                      ? src->libvirt_peer_uri
                      : NULL),
        &oom);

    a = json_object();
    for (size_t i = 0; a && i < cfg->n_labels; i++)
        set(a, cfg->labels[i].key, json_string(cfg->labels[i].value), &oom);
    set(o, "labels", a, &oom);

    if (src->sriov && reservations_copy(src->sriov, &res, &n_res) < 0)
        oom = true;
    a = json_array();
    for (size_t i = 0; a && !oom && i < cfg->n_networks; i++)
        append(a,
               network(src, &cfg->networks[i], res, n_res,
                       json_object_get(o, "domains"), &oom),
               &oom);
    set(o, "networks", a, &oom);

    /* Where disks count as shared (the RWX rule orchestratord checks at a
     * migration's admission for VMs made from manifests). */
    a = json_array();
    for (size_t i = 0; a && i < cfg->n_shared_storage; i++)
        append(a, json_string(cfg->shared_storage[i]), &oom);
    set(o, "sharedStorage", a, &oom);

    free(res);
    free(doms);
    if (oom) {
        json_decref(o);
        return -ENOMEM;
    }
    if (ret_virt_err)
        *ret_virt_err = virt_err;
    *ret = o;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Wrong-token warnings                                                    */

static long long monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The address part of "ADDR:PORT" or "[ADDR6]:PORT" into buf. */
static void peer_host(const char *peer, char *buf, size_t len)
{
    const char *colon = peer ? strrchr(peer, ':') : NULL;

    if (!peer || !*peer)
        snprintf(buf, len, "?");
    else if (colon && colon > peer && !strchr(colon, ']'))
        snprintf(buf, len, "%.*s", (int)(colon - peer), peer);
    else
        snprintf(buf, len, "%s", peer);
}

/* Log how many requests were refused for their token since the last such
 * line, n of them, and from where. */
static void authfail_summary(struct migr_agent *a, unsigned long long n,
                             long long span_ms)
{
    log_warn("%llu more request%s with a missing or wrong bearer token in "
             "the last %lld s, %s%s",
             n, n == 1 ? "" : "s", span_ms < 1000 ? 1 : (span_ms + 999) / 1000,
             a->authfail_hosts ? "from several clients, the last from "
                               : "from ",
             a->authfail_host);
    a->authfail_host[0] = '\0';
    a->authfail_hosts = false;
}

/* A request was refused for its token: say so, but a client guessing
 * tokens gets one line in full and then at most one summary a minute
 * (log.h's rate limiting), so it cannot flood the log.  Loop thread. */
static void authfail_log(struct migr_agent *a, const struct http_request *req)
{
    char host[sizeof(a->authfail_host)];
    unsigned long long n = 0;
    long long span = 0;

    peer_host(req->peer, host, sizeof(host));
    if (a->authfail.count > 0 && strcmp(a->authfail_host, host) != 0)
        a->authfail_hosts = true;
    snprintf(a->authfail_host, sizeof(a->authfail_host), "%s", host);
    switch (log_ratelimit_hit(&a->authfail, monotonic_ms(), &n, &span)) {
    case LOG_RATELIMIT_FULL:
        log_warn("%s %s from %s: missing or wrong bearer token (more are "
                 "counted, and reported at most once a minute)",
                 http_method_name(req->method), req->path,
                 req->peer ? req->peer : "?");
        break;
    case LOG_RATELIMIT_QUIET:
        break;
    case LOG_RATELIMIT_SUMMARY:
        authfail_summary(a, n, span);
        break;
    }
}

/* At exit: what was counted and not yet said. */
static void authfail_flush(struct migr_agent *a)
{
    long long span = 0;
    unsigned long long n =
        log_ratelimit_flush(&a->authfail, monotonic_ms(), &span);

    if (n)
        authfail_summary(a, n, span);
}

/* ---------------------------------------------------------------------- */
/* The cache and the worker                                                */

/* A random (version 4) UUID.  getrandom() may block only before the
 * kernel's pool is seeded, early at boot, which an agent start can wait
 * out. */
static int boot_id_make(char *buf, size_t len)
{
    unsigned char b[16];

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return -errno;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(buf, len,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x"
             "%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

static bool addr_is_wildcard(const struct conf_addr *addr)
{
    struct in6_addr in6;
    struct in_addr in;

    if (addr->family == AF_INET6)
        return inet_pton(AF_INET6, addr->host, &in6) == 1 &&
               IN6_IS_ADDR_UNSPECIFIED(&in6);
    return inet_pton(AF_INET, addr->host, &in) == 1 && in.s_addr == 0;
}

/* The URL orchestratord should call: 'advertise_url' as given (without a
 * trailing '/'), else the scheme TLS implies and the listen address (or
 * 'migration_address' when listening on a wildcard) with `port`.
 * -EINVAL when a wildcard leaves no address to give. */
static int url_make(const struct conf_migrator *cfg,
                    const struct conf_addr *addr, uint16_t port, char *buf,
                    size_t len)
{
    const char *scheme = cfg->tls_certificate ? "https" : "http";
    const char *host = addr->host;
    size_t n;

    if (cfg->advertise_url) {
        snprintf(buf, len, "%s", cfg->advertise_url);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '/')
            buf[--n] = '\0';
        return 0;
    }
    if (addr_is_wildcard(addr)) {
        if (!cfg->migration_address)
            return -EINVAL;
        host = cfg->migration_address;
    }
    snprintf(buf, len, strchr(host, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
             scheme, host, (unsigned)port);
    return 0;
}

int migr_agent_new(const struct conf_migrator *cfg,
                   const struct migr_netlink_ops *nl, struct migr_agent **ret,
                   char *err, size_t errlen)
{
    struct migr_agent *a;
    struct conf_addr addr;
    pthread_condattr_t ca;
    int r;

    if (!cfg || !ret || !cfg->listen || !cfg->libvirt_uri || !cfg->sysfs_root ||
        conf_addr_parse(cfg->listen, &addr) < 0) {
        snprintf(err, errlen, "'listen': invalid address \"%s\"",
                 cfg && cfg->listen ? cfg->listen : "");
        return -EINVAL;
    }
    if (!cfg->agent_token && !conf_addr_is_loopback(&addr)) {
        snprintf(
            err, errlen,
            "'listen': %s is not a loopback address and no 'agent_token' is "
            "set: the agent API would be open to anyone",
            cfg->listen);
        return -EINVAL;
    }
    a = calloc(1, sizeof(*a));
    if (!a)
        goto oom;
    if (url_make(cfg, &addr, addr.port, a->url, sizeof(a->url)) < 0) {
        free(a);
        snprintf(err, errlen,
                 "'listen': %s is a wildcard address: set 'advertise_url' "
                 "or 'migration_address' so orchestratord knows where to "
                 "call the agent",
                 cfg->listen);
        return -EINVAL;
    }
    r = boot_id_make(a->boot_id, sizeof(a->boot_id));
    if (r < 0) {
        free(a);
        snprintf(err, errlen, "cannot make a boot id: %s", strerror(-r));
        return r;
    }
    a->cfg = cfg;
    a->nl = nl ? nl : &migr_netlink_libnl;
    a->listen = addr;
    a->authfail =
        (struct log_ratelimit)LOG_RATELIMIT_INIT(AUTHFAIL_LOG_INTERVAL_S);
    pthread_mutex_init(&a->lock, NULL);
    /* Timed waits on the monotonic clock: a wall clock step must not
     * stall or hurry the refreshes. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cond, &ca);
    pthread_condattr_destroy(&ca);
    /* Stand-in VFs (the lab) are reserved but cannot be programmed. */
    r = migr_sriov_new(cfg->sysfs_root, cfg->sriov_program_vfs ? a->nl : NULL,
                       &a->sriov);
    if (r < 0) {
        migr_agent_free(a);
        if (r == -ENOMEM)
            goto oom;
        snprintf(err, errlen, "'sysfs_root': invalid path \"%s\"",
                 cfg->sysfs_root);
        return r;
    }
    {
        /* Migration traffic comes to 'migration_address', else to the
         * agent's own address unless that is a wildcard. */
        bool wild =
            strcmp(addr.host, "0.0.0.0") == 0 || strcmp(addr.host, "::") == 0;
        struct migr_jobs_opts jo = {
            .cfg = cfg,
            .migration_address = cfg->migration_address ? cfg->migration_address
                                 : wild                 ? NULL
                                                        : addr.host,
            .sriov = a->sriov,
        };

        r = migr_jobs_new(&jo, &a->jobs);
        if (r < 0) {
            migr_agent_free(a);
            goto oom;
        }
    }
    if (cfg->orchestrator) {
        struct migr_report_opts ro = {
            .url = cfg->orchestrator,
            .node = cfg->name ? cfg->name : "",
            .token = cfg->orchestrator_token,
            .cacert = cfg->orchestrator_cacert,
            .interval_s = cfg->report_interval_s,
        };
        r = migr_report_new(&ro, &a->report);
        if (r < 0) {
            migr_agent_free(a);
            if (r == -ENOMEM)
                goto oom;
            snprintf(err, errlen, "'orchestrator': cannot report to \"%s\"",
                     cfg->orchestrator);
            return r;
        }
    }
    *ret = a;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

void migr_agent_free(struct migr_agent *a)
{
    if (!a)
        return;
    authfail_flush(a);
    migr_agent_stop(a);
    migr_jobs_free(a->jobs);
    migr_report_free(a->report);
    migr_virt_close(a->virt);
    migr_sriov_free(a->sriov);
    free(a->inventory);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* On libvirt's event thread: ask the worker for a refresh. */
static void on_lifecycle(const char *name, void *arg)
{
    struct migr_agent *a = arg;
    (void)name;

    pthread_mutex_lock(&a->lock);
    a->dirty = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

/* Connect to libvirt if not connected; remember why not otherwise. */
static void virt_connect(struct migr_agent *a)
{
    char err[512];
    int r;

    if (a->virt)
        return;
    r = migr_virt_open(a->cfg->libvirt_uri, &a->virt, err, sizeof(err));
    if (r < 0) {
        snprintf(a->virt_error, sizeof(a->virt_error), "%s", err);
        return;
    }
    a->virt_error[0] = '\0';
    /* Without libvirt's event loop there are no events; the periodic
     * refresh still runs. */
    if (a->events_running &&
        migr_virt_on_lifecycle(a->virt, on_lifecycle, a, err, sizeof(err)) < 0)
        log_warn("libvirt '%s': no domain events, refreshing every %d s "
                 "only: %s",
                 a->cfg->libvirt_uri, a->cfg->report_interval_s, err);
}

static char *timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int migr_agent_refresh(struct migr_agent *a)
{
    struct migr_agent_sources src;
    json_t *inv = NULL;
    char *text, when[32], peer[512];
    uint64_t gen;
    int virt_err = 0, r;

    if (!a)
        return -EINVAL;
    virt_connect(a);
    src = (struct migr_agent_sources){
        .cfg = a->cfg,
        .virt = a->virt,
        .virt_error = a->virt_error,
        .nl = a->nl,
        .sriov = a->sriov,
        .agent_url = a->url,
        .boot_id = a->boot_id,
        .libvirt_peer_uri = peer,
    };
    migr_jobs_peer_uri(a->jobs, peer, sizeof(peer));
    r = migr_agent_inventory(&src, &inv, &virt_err);
    if (r < 0)
        return r;
    if (virt_err != a->last_virt_err) {
        /* Log the transitions only, not every failed round. */
        json_t *e = json_object_get(json_object_get(inv, "libvirt"), "error");
        if (virt_err)
            log_error("libvirt '%s': %s", a->cfg->libvirt_uri,
                      json_string_value(e) ? json_string_value(e) : "failed");
        else
            log_info("libvirt '%s': connected", a->cfg->libvirt_uri);
        a->last_virt_err = virt_err;
    }
    /* A connection that failed (libvirtd restarted or gone) is dropped
     * and opened again on the next round. */
    if (virt_err && a->virt) {
        migr_virt_close(a->virt);
        a->virt = NULL;
    }
    pthread_mutex_lock(&a->lock);
    gen = a->generation + 1;
    pthread_mutex_unlock(&a->lock);
    if (json_object_set_new(inv, "generation", json_integer((json_int_t)gen)) <
            0 ||
        json_object_set_new(inv, "refreshedAt",
                            json_string(timestamp(when, sizeof(when)))) < 0) {
        json_decref(inv);
        return -ENOMEM;
    }
    text = json_dumps(inv, JSON_COMPACT);
    json_decref(inv);
    if (!text)
        return -ENOMEM;
    pthread_mutex_lock(&a->lock);
    free(a->inventory);
    a->inventory = text;
    a->inventory_len = strlen(text);
    a->generation = gen;
    pthread_mutex_unlock(&a->lock);
    /* Every new inventory goes out at once: this is what brings a
     * lifecycle event to orchestratord within a moment. */
    if (a->report && migr_report_submit(a->report, text) == -ENOMEM)
        return -ENOMEM;
    return 0;
}

void migr_agent_bound(struct migr_agent *a, uint16_t port)
{
    if (a && !a->worker_running && a->listen.port == 0)
        url_make(a->cfg, &a->listen, port, a->url, sizeof(a->url));
}

const char *migr_agent_url(const struct migr_agent *a)
{
    return a->url;
}

uint64_t migr_agent_generation(struct migr_agent *a)
{
    uint64_t g;

    pthread_mutex_lock(&a->lock);
    g = a->generation;
    pthread_mutex_unlock(&a->lock);
    return g;
}

static void *worker_main(void *arg)
{
    struct migr_agent *a = arg;
    struct timespec until;
    bool stop = false;

    while (!stop) {
        if (migr_agent_refresh(a) == -ENOMEM)
            log_error("inventory: out of memory");
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += a->cfg->report_interval_s;
        pthread_mutex_lock(&a->lock);
        while (!a->stop && !a->dirty &&
               pthread_cond_timedwait(&a->cond, &a->lock, &until) == 0)
            ;
        a->dirty = false;
        stop = a->stop;
        pthread_mutex_unlock(&a->lock);
    }
    return NULL;
}

/* Read the jobs' journal back (issue 10) and say what it held. */
static void agent_jobs_recover(struct migr_agent *a)
{
    struct migr_jobs_recovery rec;
    int r = migr_jobs_recover(a->jobs, &rec);

    if (r < 0) {
        log_error("jobs: cannot read the journal under '%s': %s",
                  a->cfg->state_dir, strerror(-r));
        return;
    }
    for (size_t i = 0; i < rec.n_bad; i++)
        log_warn("jobs: journal '%s/jobs/%s", a->cfg->state_dir, rec.bad[i]);
    if (rec.vfs_adopted)
        log_info("sriov: %zu VF(s) held for the jobs' journal (prepared "
                 "for a migration, or unplugged by one)",
                 rec.vfs_adopted);
    for (size_t i = 0; i < rec.n_vf_lost; i++)
        log_warn("sriov: %s: VF not taken back", rec.vf_lost[i]);
    if (rec.loaded || rec.reattached || rec.rerun || rec.removed || rec.n_bad)
        log_info("jobs: journal read: %zu finished, %zu migrations "
                 "re-attached, %zu jobs to run again, %zu old journals "
                 "removed, %zu unreadable",
                 rec.loaded, rec.reattached, rec.rerun, rec.removed, rec.n_bad);
    migr_jobs_recovery_clear(&rec);
}

int migr_agent_sriov_adopt(const struct conf_migrator *cfg, struct migr_virt *v,
                           struct migr_sriov *s)
{
    static const size_t plen = sizeof(MIGR_ALIAS_SRIOV) - 1;
    struct migr_dom_info *doms = NULL;
    char err[512];
    int n, r, adopted = 0;

    if (!cfg || !v || !s)
        return -EINVAL;
    n = migr_virt_list(v, &doms, err, sizeof(err));
    if (n < 0) {
        log_warn("sriov: cannot take back the domains' VFs: libvirt '%s': %s",
                 cfg->libvirt_uri, err);
        return n;
    }
    /* Active domains first: one that runs on a VF keeps it over a defined
     * one whose XML names the same VF. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            const char *dom = doms[i].name;
            struct migr_dom_devices dv = {0};

            if ((doms[i].id >= 0) != (pass == 0))
                continue;
            r = migr_virt_devices(v, dom, false, &dv, err, sizeof(err));
            /* -ENOENT: gone since the listing, holding nothing now. */
            if (r < 0 && r != -ENOENT)
                log_warn("sriov: domain '%s': VFs not taken back: %s", dom,
                         err);
            if (r < 0)
                continue;
            for (size_t k = 0; k < dv.n_ifaces; k++) {
                const struct migr_dom_iface *f = &dv.ifaces[k];
                const struct conf_network *net = NULL;
                struct migr_vf_reservation res;

                if (strncmp(f->alias, MIGR_ALIAS_SRIOV, plen) != 0)
                    continue;
                r = migr_sriov_adopt_iface(s, cfg, dom, f->type, f->source,
                                           f->mac, &res, &net);
                if (r == -ENOMEM) {
                    migr_dom_devices_clear(&dv);
                    free(doms);
                    return r;
                }
                if (r < 0) {
                    log_warn("sriov: domain '%s' interface '%s' (%s '%s', MAC "
                             "%s): VF not adopted: %s",
                             dom, f->alias, f->type, f->source,
                             f->mac[0] ? f->mac : "none",
                             migr_sriov_adopt_why(r));
                    continue;
                }
                log_info("sriov: domain '%s' interface '%s': adopted VF %u of "
                         "PF '%s' (%s%s%s) with MAC %s, network '%s'",
                         dom, f->alias, res.index, res.pf, res.pci,
                         res.netdev[0] ? ", " : "", res.netdev, res.mac,
                         net->name);
                adopted++;
            }
            migr_dom_devices_clear(&dv);
        }
    }
    free(doms);
    return adopted;
}

/* The table starts empty: take the domains' VFs back before a job can
 * reserve or release one.  A connection of its own, as the worker's is
 * not made yet. */
static void agent_sriov_adopt(struct migr_agent *a)
{
    struct migr_virt *v = NULL;
    char err[512];
    bool sriov = false;

    for (size_t i = 0; i < a->cfg->n_networks; i++)
        sriov |= a->cfg->networks[i].pf != NULL;
    if (!sriov)
        return;
    if (migr_virt_open(a->cfg->libvirt_uri, &v, err, sizeof(err)) < 0) {
        log_warn("sriov: cannot take back the domains' VFs: libvirt '%s': %s",
                 a->cfg->libvirt_uri, err);
        return;
    }
    (void)migr_agent_sriov_adopt(a->cfg, v, a->sriov);
    migr_virt_close(v);
}

int migr_agent_start(struct migr_agent *a)
{
    int r;

    if (!a)
        return -EINVAL;
    if (a->worker_running)
        return 0;
    /* libvirt's event loop must exist before the connection is opened for
     * events to reach it; a connection made without it is reopened. */
    r = migr_virt_events_start();
    if (r == 0) {
        a->events_running = true;
        migr_virt_close(a->virt);
        a->virt = NULL;
    } else {
        log_warn("libvirt event loop: %s; refreshing every %d s only",
                 strerror(-r), a->cfg->report_interval_s);
    }
    /* Before the worker: its first inventory shows the VFs taken back. */
    agent_sriov_adopt(a);
    a->stop = false;
    r = pthread_create(&a->worker, NULL, worker_main, a);
    if (r != 0) {
        if (a->events_running)
            migr_virt_events_stop();
        a->events_running = false;
        return -r;
    }
    a->worker_running = true;
    agent_jobs_recover(a);
    r = migr_jobs_start(a->jobs);
    if (r == 0 && a->report)
        r = migr_report_start(a->report);
    if (r < 0) {
        migr_agent_stop(a);
        return r;
    }
    return 0;
}

void migr_agent_stop(struct migr_agent *a)
{
    if (!a)
        return;
    /* First: a report in flight is cut short rather than waited for. */
    migr_report_stop(a->report);
    /* Jobs in flight finish (a migration is bounded by its timeouts). */
    migr_jobs_stop(a->jobs);
    if (a->worker_running) {
        pthread_mutex_lock(&a->lock);
        a->stop = true;
        pthread_cond_signal(&a->cond);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->worker, NULL);
        a->worker_running = false;
    }
    /* Deregister the callback before the event loop goes. */
    migr_virt_close(a->virt);
    a->virt = NULL;
    if (a->events_running) {
        migr_virt_events_stop();
        a->events_running = false;
    }
}

/* ---------------------------------------------------------------------- */
/* HTTP                                                                    */

static void reply(struct http_response *resp, int status, const char *ctype,
                  char *body)
{
    resp->status = status;
    resp->content_type = ctype;
    resp->body = body;
    resp->body_len = body ? strlen(body) : 0;
}

/* A Kubernetes Status, as orchestratord answers errors. */
static void reply_status(struct http_response *resp, int code,
                         const char *reason, const char *message)
{
    json_t *s =
        json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
                  "apiVersion", "v1", "metadata", "status", "Failure",
                  "message", message, "reason", reason, "code", code);
    char *text = s ? json_dumps(s, JSON_COMPACT) : NULL;

    json_decref(s);
    if (!text) {
        resp->status = 500;
        return;
    }
    reply(resp, code, "application/json", text);
}

static bool authorized(const struct migr_agent *a,
                       const struct http_request *req)
{
    const char *tok;
    size_t len;

    if (!a->cfg->agent_token)
        return true;
    return http_request_bearer(req, &tok, &len) == 0 &&
           http_secret_equal(tok, len, a->cfg->agent_token);
}

void migr_agent_handle(const struct http_request *req,
                       struct http_response *resp, void *arg)
{
    struct migr_agent *a = arg;
    bool read =
        req->method == HTTP_METHOD_GET || req->method == HTTP_METHOD_HEAD;
    bool ready;
    char *body;

    if (req->segc == 1 && strcmp(req->segv[0], "healthz") == 0) {
        if (!read) {
            reply_status(resp, 405, "MethodNotAllowed",
                         "only GET is allowed here");
            return;
        }
        reply(resp, 200, "text/plain", strdup("ok"));
        return;
    }
    if (req->segc == 0 || strcmp(req->segv[0], "v1") != 0) {
        reply_status(resp, 404, "NotFound", "the path is not served here");
        return;
    }
    if (!authorized(a, req)) {
        authfail_log(a, req);
        reply_status(resp, 401, "Unauthorized",
                     "a valid bearer token is required");
        http_response_add_header(resp, "WWW-Authenticate", "Bearer");
        return;
    }
    if (req->segc >= 2 && strcmp(req->segv[1], "jobs") == 0) {
        migr_jobs_handle(a->jobs, req, resp);
        return;
    }
    if (req->segc != 2 || strcmp(req->segv[1], "inventory") != 0) {
        reply_status(resp, 404, "NotFound", "the path is not served here");
        return;
    }
    if (!read) {
        reply_status(resp, 405, "MethodNotAllowed", "only GET is allowed here");
        return;
    }
    pthread_mutex_lock(&a->lock);
    ready = a->inventory != NULL;
    body = ready ? strdup(a->inventory) : NULL;
    pthread_mutex_unlock(&a->lock);
    if (!ready) {
        reply_status(resp, 503, "ServiceUnavailable",
                     "the first inventory is not ready yet");
        http_response_add_header(resp, "Retry-After", "1");
        return;
    }
    if (!body) {
        reply_status(resp, 500, "InternalError", "out of memory");
        return;
    }
    reply(resp, 200, "application/json", body);
}

/* ---------------------------------------------------------------------- */
/* The loop                                                                */

static int serve_start(struct daemon_ctx *d, uint16_t port, void *arg)
{
    struct migr_agent *a = arg;
    int r;
    (void)d;

    migr_agent_bound(a, port);
    r = migr_jobs_attach(a->jobs, daemon_ctx_base(d));
    if (r < 0) {
        log_error("cannot watch the jobs: %s", strerror(-r));
        return r;
    }
    r = migr_agent_start(a);
    if (r < 0) {
        /* The base goes without the stopped hook. */
        migr_jobs_detach(a->jobs);
        log_error("cannot start the inventory worker: %s", strerror(-r));
        return r;
    }
    log_info("serving %s on %s%s%s:%u as '%s', libvirt '%s', refresh every "
             "%d s%s",
             a->cfg->tls_certificate ? "HTTPS" : "HTTP",
             a->listen.family == AF_INET6 ? "[" : "", a->listen.host,
             a->listen.family == AF_INET6 ? "]" : "", (unsigned)port,
             a->cfg->name ? a->cfg->name : "", a->cfg->libvirt_uri,
             a->cfg->report_interval_s,
             a->cfg->agent_token ? ", bearer token required" : "");
    if (a->report)
        log_info("reporting to '%s' as '%s' (agent URL %s)",
                 a->cfg->orchestrator, a->cfg->name ? a->cfg->name : "",
                 a->url);
    return 0;
}

static void serve_stop(struct daemon_ctx *d, int sig, void *arg)
{
    struct migr_agent *a = arg;
    (void)d;

    log_info("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* Job watches would hold the drain for as long as a migration. */
    migr_jobs_detach(a->jobs);
}

/* The loop is over and its base about to go: no worker may wake it. */
static void serve_stopped(struct daemon_ctx *d, void *arg)
{
    struct migr_agent *a = arg;
    (void)d;

    migr_jobs_detach(a->jobs);
}

static void serve_reload(struct daemon_ctx *d, void *arg)
{
    (void)d;
    (void)arg;
    log_info("SIGHUP received, nothing to reload yet");
}

/* Answered even when every connection is taken. */
static const char *const probe_paths[] = {"/healthz", NULL};

int migr_agent_serve(struct migr_agent *a)
{
    struct daemon_opts o = {
        .handler = migr_agent_handle,
        .handler_arg = a,
        .drain_grace_s = DRAIN_GRACE_S,
        .hooks =
            {
                .start = serve_start,
                .stop = serve_stop,
                .reload = serve_reload,
                .stopped = serve_stopped,
                .arg = a,
            },
    };
    char err[512] = "";
    int r;

    if (!a)
        return -EINVAL;
    o.listen_host = a->listen.host;
    o.listen_port = a->listen.port;
    /* Job requests are small; keep what a client can make it buffer
     * small. */
    o.http.max_body_bytes = 64 * 1024;
    o.http.max_connections = 64;
    o.http.probe_paths = probe_paths;
    o.http.tls_certificate = a->cfg->tls_certificate;
    o.http.tls_key = a->cfg->tls_key;
    r = daemon_serve(&o, NULL, err, sizeof(err));
    migr_agent_stop(a);
    if (r < 0) {
        if (err[0])
            log_error("%s", err);
        return r;
    }
    log_info("stopped");
    return 0;
}
