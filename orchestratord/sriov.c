/*
 * SR-IOV admission and target rules.  See sriov.h.
 */
#include "orchestratord/sriov.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"

#define NOT_MIGRATABLE                                                         \
    "Cannot migrate VMI, Reason: InterfaceNotLiveMigratable, "

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* strcmp that takes NULL as different from everything. */
static bool streq_safe(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The value at dotted PATH of DOC (objects only), or NULL. */
static const json_t *doc_get(const json_t *doc, const char *path)
{
    char key[128];

    while (doc && *path) {
        size_t n = strcspn(path, ".");

        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        doc = json_object_get(doc, key);
        path += n + (path[n] == '.');
    }
    return doc;
}

/* The spec.networks[] entry named NAME, or NULL. */
static const json_t *vmi_network(const json_t *vmi, const char *name)
{
    const json_t *nets =
        json_object_get(json_object_get(vmi, "spec"), "networks");
    size_t i;
    json_t *n;

    json_array_foreach(nets, i, n)
    {
        if (name && streq_safe(jstr(n, "name"), name))
            return n;
    }
    return NULL;
}

static const json_t *vmi_interfaces(const json_t *vmi)
{
    return doc_get(vmi, "spec.domain.devices.interfaces");
}

/* The multus networkName of SR-IOV interface IFACE, or NULL. */
static const char *iface_network_name(const json_t *vmi, const json_t *iface)
{
    const json_t *n = vmi_network(vmi, jstr(iface, "name"));

    return jstr(json_object_get(n, "multus"), "networkName");
}

static bool is_sriov(const json_t *iface)
{
    return json_is_object(json_object_get(iface, "sriov"));
}

/* ---------------------------------------------------------------------- */
/* Admission                                                               */

/* Whether KEY of O is MAC, compared without case. */
static bool mac_is(const json_t *o, const char *key, const char *mac)
{
    const char *v = jstr(o, key);

    return v && strcasecmp(v, mac) == 0;
}

/* A static address in a v1 "subnets" list. */
static bool v1_static(const json_t *subnets)
{
    size_t i;
    json_t *s;

    json_array_foreach(subnets, i, s)
    {
        const char *t = jstr(s, "type");

        if (t && (!strcmp(t, "static") || !strcmp(t, "static6")) &&
            jstr(s, "address"))
            return true;
    }
    return false;
}

/* Whether the network-config document NC gives MAC a static address. */
static bool nc_static_for(const json_t *nc, const char *mac)
{
    const json_t *inner = json_object_get(nc, "network");
    const json_t *v, *cfg, *eths;
    const char *k;
    size_t i;
    json_t *e;

    /* Both cloud-init layouts: the document itself, or under "network". */
    if (json_is_object(inner) && json_object_get(inner, "version"))
        nc = inner;
    v = json_object_get(nc, "version");
    cfg = json_object_get(nc, "config");
    eths = json_object_get(nc, "ethernets");
    if (json_integer_value(v) == 1 || json_is_array(cfg)) {
        json_array_foreach(cfg, i, e)
        {
            if (streq_safe(jstr(e, "type"), "physical") &&
                mac_is(e, "mac_address", mac) &&
                v1_static(json_object_get(e, "subnets")))
                return true;
        }
        return false;
    }
    json_object_foreach((json_t *)eths, k, e)
    {
        const json_t *match = json_object_get(e, "match");
        const json_t *addrs = json_object_get(e, "addresses");

        /* netplan spells it macaddress; the seed's manifest macAddress. */
        if (!mac_is(match, "macaddress", mac) &&
            !mac_is(match, "macAddress", mac))
            continue;
        if (json_array_size(addrs) > 0)
            return true;
    }
    return false;
}

/* The cloudInitNoCloud volume of VMI, or NULL. */
static const json_t *nocloud(const json_t *vmi)
{
    const json_t *vols =
        json_object_get(json_object_get(vmi, "spec"), "volumes");
    size_t i;
    json_t *v;

    json_array_foreach(vols, i, v)
    {
        const json_t *c = json_object_get(v, "cloudInitNoCloud");
        if (json_is_object(c))
            return c;
    }
    return NULL;
}

/* The static MAC and address rule on VMI (a VMI or a VM's template: both
 * have spec.domain and spec.volumes).  Each message starts with HEAD;
 * FIELD (may be NULL) gets the path of what is wrong, relative to VMI. */
static int static_check(const json_t *vmi, const char *head, char *field,
                        size_t flen, char *msg, size_t len)
{
    const json_t *ifaces = vmi_interfaces(vmi);
    const json_t *nc_vol = NULL;
    json_t *nc = NULL;
    bool parsed = false;
    size_t i;
    json_t *f;
    int r = 0;

    if (len)
        msg[0] = '\0';
    if (flen)
        field[0] = '\0';
    json_array_foreach(ifaces, i, f)
    {
        const char *name = jstr(f, "name");
        const char *mac = jstr(f, "macAddress");
        const char *text;

        if (!is_sriov(f))
            continue;
        if (!mac || !*mac) {
            snprintf(msg, len,
                     "%sSR-IOV interface '%s' "
                     "(spec.domain.devices.interfaces[%zu]) has no static "
                     "macAddress",
                     head, name ? name : "", i);
            if (flen)
                snprintf(field, flen,
                         "spec.domain.devices.interfaces[%zu].macAddress", i);
            r = -EDOM;
            goto out;
        }
        if (!parsed) {
            parsed = true;
            nc_vol = nocloud(vmi);
            text = jstr(nc_vol, "networkData");
            if (text &&
                api_doc_decode(text, strlen(text), NULL, &nc, NULL) < 0) {
                snprintf(msg, len,
                         "%sSR-IOV interface '%s': the cloudInitNoCloud "
                         "networkData is not valid YAML",
                         head, name ? name : "");
                if (flen)
                    snprintf(field, flen, "spec.volumes");
                r = -EDOM;
                goto out;
            }
        }
        if (!nc) {
            if (flen)
                snprintf(field, flen, "spec.volumes");
            snprintf(msg, len,
                     "%sSR-IOV interface '%s': no cloudInitNoCloud "
                     "networkData gives MAC %s a static address%s",
                     head, name ? name : "", mac,
                     nc_vol && (json_object_get(nc_vol, "networkDataBase64") ||
                                json_object_get(nc_vol, "networkDataSecretRef"))
                         ? " (networkDataBase64 and networkDataSecretRef are "
                           "not read)"
                         : "");
            r = -EDOM;
            goto out;
        }
        if (!nc_static_for(nc, mac)) {
            snprintf(msg, len,
                     "%sSR-IOV interface '%s': the cloudInitNoCloud "
                     "networkData gives MAC %s no static address",
                     head, name ? name : "", mac);
            if (flen)
                snprintf(field, flen, "spec.volumes");
            r = -EDOM;
            goto out;
        }
    }
out:
    json_decref(nc);
    return r;
}

int orch_sriov_vmi_check(const json_t *vmi, char *msg, size_t len)
{
    return static_check(vmi, NOT_MIGRATABLE "Message: ", NULL, 0, msg, len);
}

int orch_sriov_vm_check(const json_t *vm, char *field, size_t flen, char *msg,
                        size_t len)
{
    const json_t *tpl =
        json_object_get(json_object_get(vm, "spec"), "template");
    char rel[128];
    int r = static_check(tpl, "", rel, sizeof(rel), msg, len);

    if (r < 0 && flen)
        snprintf(field, flen, "spec.template.%s", rel);
    return r;
}

/* ---------------------------------------------------------------------- */
/* Targets                                                                 */

/* The status.sriovNetworks entry named NAME of NODE, or NULL. */
static const json_t *node_network(const json_t *node, const char *name)
{
    const json_t *nets = doc_get(node, "status.sriovNetworks");
    size_t i;
    json_t *n;

    json_array_foreach(nets, i, n)
    {
        if (streq_safe(jstr(n, "name"), name))
            return n;
    }
    return NULL;
}

/* The status.sriov.pfs entry named PF of NODE, or NULL. */
static const json_t *node_pf(const json_t *node, const char *pf)
{
    const json_t *pfs = doc_get(node, "status.sriov.pfs");
    size_t i;
    json_t *p;

    json_array_foreach(pfs, i, p)
    {
        if (streq_safe(jstr(p, "name"), pf))
            return p;
    }
    return NULL;
}

/* Whether W and VMI are the same VMI (namespace and name). */
static bool same_vmi(const json_t *w, const json_t *vmi)
{
    return streq_safe(api_doc_get_string(w, "metadata.name"),
                      api_doc_get_string(vmi, "metadata.name")) &&
           streq_safe(api_doc_get_string(w, "metadata.namespace"),
                      api_doc_get_string(vmi, "metadata.namespace"));
}

/* VFs of PF (the node's status.sriov.pfs entry P) that the VMI W will hold
 * on NODE beyond what NODE's report already shows as W's: one per SR-IOV
 * interface of W whose network NODE maps to PF, less the VFs whose usedBy
 * is W's domain (the migrator's reservation or the running domain, which
 * vfsFree already left out). */
static json_int_t vfs_still_needed(const json_t *w, const json_t *node,
                                   const json_t *p, const char *pf)
{
    json_int_t need = 0, shown = 0;
    char dom[320];
    size_t i;
    json_t *f;

    json_array_foreach(vmi_interfaces(w), i, f)
    {
        const char *net = is_sriov(f) ? iface_network_name(w, f) : NULL;
        const json_t *n = net ? node_network(node, net) : NULL;

        need += n && streq_safe(jstr(n, "pf"), pf);
    }
    if (need == 0)
        return 0;
    if (orch_migration_domain_name(w, dom, sizeof(dom)) == 0) {
        json_array_foreach(json_object_get(p, "vfs"), i, f)
        {
            shown += streq_safe(jstr(f, "usedBy"), dom);
        }
    }
    return need > shown ? need - shown : 0;
}

/* VFs of PF on NODE held by the VMIs of INCOMING other than VMI, with up to
 * three of their "NS/NAME" in WHO (LEN bytes) for the reason. */
static json_int_t vfs_held(const json_t *vmi, const json_t *incoming,
                           const json_t *node, const json_t *p, const char *pf,
                           char *who, size_t len)
{
    json_int_t held = 0;
    size_t i, pos = 0, named = 0;
    json_t *w;

    if (len)
        who[0] = '\0';
    json_array_foreach(incoming, i, w)
    {
        json_int_t k;

        if (same_vmi(w, vmi) || (k = vfs_still_needed(w, node, p, pf)) == 0)
            continue;
        held += k;
        if (pos < len) {
            const char *ns = api_doc_get_string(w, "metadata.namespace");
            const char *name = api_doc_get_string(w, "metadata.name");
            int c = named < 3    ? snprintf(who + pos, len - pos, "%s%s/%s",
                                         pos ? ", " : "", ns ? ns : "",
                                         name ? name : "")
                    : named == 3 ? snprintf(who + pos, len - pos, ", ...")
                                 : 0;

            pos += c > 0 ? (size_t)c : 0;
            named++;
        }
    }
    return held;
}

int orch_sriov_target_ok(const json_t *vmi, const json_t *source,
                         const json_t *node, orch_node_incoming_fn incoming,
                         void *incoming_arg, char *reason, size_t len)
{
    const char *host = api_doc_get_string(node, "metadata.name");
    const char *src = api_doc_get_string(source, "metadata.name");
    const json_t *ifaces = vmi_interfaces(vmi);
    json_t *in = NULL;
    bool asked = false;
    size_t i;
    json_t *f;
    int ok = 0;

    if (len)
        reason[0] = '\0';
    host = host ? host : "";
    json_array_foreach(ifaces, i, f)
    {
        const char *net = iface_network_name(vmi, f);
        const json_t *n, *sn, *p;
        const char *pf, *err;
        json_int_t free_vfs, held, need = 0;
        char who[160];
        size_t k;
        json_t *g;

        if (!is_sriov(f))
            continue;
        if (!net) {
            snprintf(reason, len,
                     "%s: SR-IOV interface '%s' has no multus network", host,
                     jstr(f, "name") ? jstr(f, "name") : "");
            goto out;
        }
        n = node_network(node, net);
        pf = jstr(n, "pf");
        if (!n || !pf) {
            snprintf(reason, len, "%s: no SR-IOV network '%s'", host, net);
            goto out;
        }
        sn = source ? node_network(source, net) : NULL;
        if (sn && jstr(sn, "pf") && strcmp(jstr(sn, "pf"), pf) != 0) {
            snprintf(reason, len,
                     "%s: network '%s' is on PF '%s' here but on PF '%s' on "
                     "the source %s",
                     host, net, pf, jstr(sn, "pf"), src ? src : "");
            goto out;
        }
        p = node_pf(node, pf);
        err = p ? jstr(p, "error") : jstr(n, "error");
        if (!p || err || !json_is_integer(json_object_get(p, "vfsFree"))) {
            snprintf(reason, len, "%s: PF '%s' (network '%s'): %s", host, pf,
                     net, err ? err : "not reported");
            goto out;
        }
        /* Every SR-IOV interface of this VMI up to this one on the same
         * PF takes a VF of its own. */
        for (k = 0; k <= i; k++) {
            const char *other;
            const json_t *on;

            g = json_array_get(ifaces, k);
            other = is_sriov(g) ? iface_network_name(vmi, g) : NULL;
            on = other ? node_network(node, other) : NULL;
            need += on && streq_safe(jstr(on, "pf"), pf);
        }
        /* The report is the migrator's last word: VFs that work in flight
         * toward this node will take and that it does not show yet are
         * not free (asked once, and only once a PF is to be counted). */
        if (!asked && incoming)
            in = incoming(host, incoming_arg);
        asked = true;
        held = vfs_held(vmi, in, node, p, pf, who, sizeof(who));
        free_vfs = json_integer_value(json_object_get(p, "vfsFree"));
        if (free_vfs - held < need) {
            if (held > 0)
                snprintf(reason, len,
                         "%s: PF '%s' (network '%s') has no free VF "
                         "(%" JSON_INTEGER_FORMAT " free, %" JSON_INTEGER_FORMAT
                         " held by work in flight: %s)",
                         host, pf, net, free_vfs, held, who);
            else
                snprintf(reason, len,
                         "%s: PF '%s' (network '%s') has no free VF "
                         "(%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
                         " in use)",
                         host, pf, net,
                         json_integer_value(json_object_get(p, "vfsInUse")),
                         json_integer_value(json_object_get(p, "vfsInUse")) +
                             free_vfs);
            goto out;
        }
    }
    ok = 1;
out:
    json_decref(in);
    return ok;
}

/* Whether VMI has an SR-IOV interface at all. */
static bool vmi_has_sriov(const json_t *vmi)
{
    size_t i;
    json_t *f;

    json_array_foreach(vmi_interfaces(vmi), i, f)
    {
        if (is_sriov(f))
            return true;
    }
    return false;
}

int orch_sriov_pick_target(const json_t *vmi, const json_t *nodes,
                           const char *source, const json_t *selector,
                           int64_t need, orch_node_used_fn used,
                           orch_node_incoming_fn incoming, void *used_arg,
                           const json_t **ret_node, char *msg, size_t len)
{
    const json_t *src = NULL;
    json_t *fit = NULL;
    char why[1024] = "", one[512];
    size_t pos = 0, ruled_out = 0, i;
    json_t *n;
    int r;

    if (!vmi_has_sriov(vmi))
        return orch_migration_pick_target(nodes, source, selector, need, used,
                                          used_arg, ret_node, msg, len);
    fit = json_array();
    if (!fit)
        return -ENOMEM;
    json_array_foreach(nodes, i, n)
    {
        if (source &&
            streq_safe(api_doc_get_string(n, "metadata.name"), source))
            src = n;
    }
    json_array_foreach(nodes, i, n)
    {
        const char *name = api_doc_get_string(n, "metadata.name");

        if (!name || (source && !strcmp(name, source)) ||
            orch_sriov_target_ok(vmi, src, n, incoming, used_arg, one,
                                 sizeof(one))) {
            if (json_array_append(fit, n) < 0) {
                json_decref(fit);
                return -ENOMEM;
            }
            continue;
        }
        ruled_out++;
        if (pos < sizeof(why)) {
            int k = snprintf(why + pos, sizeof(why) - pos, "%s%s",
                             pos ? ", " : "", one);
            pos += k > 0 ? (size_t)k : 0;
        }
    }
    r = orch_migration_pick_target(fit, source, selector, need, used, used_arg,
                                   ret_node, msg, len);
    if (r == -ENOENT && ruled_out) {
        /* The nodes SR-IOV ruled out are not "other nodes" to the picker,
         * so its "no node other than the source" would mislead. */
        if (strstr(msg, "there is no node other than the source"))
            snprintf(msg, len, "no node to migrate to: %s", why);
        else {
            size_t m = strlen(msg);
            snprintf(msg + m, len > m ? len - m : 0, "; SR-IOV: %s", why);
        }
    }
    /* *ret_node is one of NODES' own: FIT only held references. */
    json_decref(fit);
    return r;
}
