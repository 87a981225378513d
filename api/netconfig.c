/*
 * api: cloud-init network-config (the NoCloud seed's "network-config",
 * a VM's cloudInitNoCloud.networkData) checked for the shape cloud-init
 * reads, so a manifest whose guest would come up without its address is
 * refused when it is posted instead of booting a guest that is unreachable.
 *
 * Version 1 (cloudinit/net/network_state.py): {version: 1, config: [...]},
 * each entry a mapping with a known "type".  Version 2 (netplan's subset):
 * {version: 2, ethernets|bonds|bridges|vlans: {ID: {...}}}.  Both may sit
 * under a top-level "network" key, as cloud-init also accepts.  Only the
 * shape is checked (types, required members, known versions and entry
 * types, CIDR-looking addresses); what a renderer does with it is the
 * guest's.
 */
#include "api/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct ncx {
    char *msg;
    size_t len;
    bool bad;
};

__attribute__((format(printf, 3, 4))) static void
nerr(struct ncx *c, const char *path, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->bad)
        return; /* the first problem is the one reported */
    c->bad = true;
    n = snprintf(c->msg, c->len, "%s%s", path, *path ? ": " : "");
    if (n < 0 || (size_t)n >= c->len)
        return;
    va_start(ap, fmt);
    vsnprintf(c->msg + n, c->len - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool is_str(const json_t *v)
{
    return json_is_string(v);
}

/* An address with an optional prefix: "198.18.0.50/15", "fd00::5/64". */
static bool cidr_ok(const char *s, bool need_prefix)
{
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    bool v6 = memchr(s, ':', n) != NULL;

    if (n == 0 || (need_prefix && !slash))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || ch == '.' ||
              (v6 && (ch == ':' || (ch >= 'a' && ch <= 'f') ||
                      (ch >= 'A' && ch <= 'F')))))
            return false;
    }
    if (slash) {
        const char *p = slash + 1;
        int bits = 0;
        if (!*p)
            return false;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return false;
            bits = bits * 10 + (*p - '0');
            if (bits > 128)
                return false;
        }
        if (!v6 && bits > 32)
            return false;
    }
    return true;
}

static void check_str_list(struct ncx *c, const char *path, const json_t *v,
                           bool cidr)
{
    char p[512];
    size_t i;
    const json_t *e;

    if (!json_is_array(v)) {
        nerr(c, path, "must be a list");
        return;
    }
    json_array_foreach(v, i, e)
    {
        snprintf(p, sizeof(p), "%.200s[%zu]", path, i);
        if (!is_str(e))
            nerr(c, p, "must be a string");
        else if (cidr && !cidr_ok(json_string_value(e), false))
            nerr(c, p,
                 "\"%.64s\" is not an IP address (with an optional "
                 "/prefix)",
                 json_string_value(e));
    }
}

/* ---- version 1 ---- */

static void check_v1_subnet(struct ncx *c, const char *path, const json_t *s)
{
    static const char *const types[] = {"static",
                                        "static6",
                                        "dhcp",
                                        "dhcp4",
                                        "dhcp6",
                                        "manual",
                                        "ipv6_dhcpv6-stateful",
                                        "ipv6_dhcpv6-stateless",
                                        "ipv6_slaac",
                                        NULL};
    const char *type = json_string_value(json_object_get(s, "type"));
    const json_t *addr = json_object_get(s, "address");
    char p[512];
    size_t k;

    if (!json_is_object(s)) {
        nerr(c, path, "must be a mapping");
        return;
    }
    snprintf(p, sizeof(p), "%.200s.type", path);
    if (!type) {
        nerr(c, p, "required");
        return;
    }
    for (k = 0; types[k] && strcmp(types[k], type) != 0; k++)
        ;
    if (!types[k]) {
        nerr(c, p, "unsupported subnet type \"%.32s\"", type);
        return;
    }
    snprintf(p, sizeof(p), "%.200s.address", path);
    if (strncmp(type, "static", 6) == 0) {
        if (!addr)
            nerr(c, p, "required for a static subnet");
        else if (!is_str(addr) || !cidr_ok(json_string_value(addr), false))
            nerr(c, p, "must be an IP address (with an optional /prefix)");
    }
    snprintf(p, sizeof(p), "%.200s.gateway", path);
    if (json_object_get(s, "gateway") &&
        (!is_str(json_object_get(s, "gateway")) ||
         !cidr_ok(json_string_value(json_object_get(s, "gateway")), false)))
        nerr(c, p, "must be an IP address");
    snprintf(p, sizeof(p), "%.200s.dns_nameservers", path);
    if (json_object_get(s, "dns_nameservers"))
        check_str_list(c, p, json_object_get(s, "dns_nameservers"), true);
}

static void check_v1(struct ncx *c, const json_t *nc)
{
    static const char *const types[] = {"physical",   "bond",  "bridge", "vlan",
                                        "nameserver", "route", NULL};
    const json_t *config = json_object_get(nc, "config");
    const json_t *e;
    size_t i;

    if (!config) {
        nerr(c, "config", "required for version 1");
        return;
    }
    if (!json_is_array(config)) {
        nerr(c, "config", "must be a list");
        return;
    }
    json_array_foreach(config, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        const json_t *subnets = json_object_get(e, "subnets");
        char p[512], q[320];
        size_t k;

        snprintf(p, sizeof(p), "config[%zu]", i);
        if (!json_is_object(e)) {
            nerr(c, p, "must be a mapping");
            return;
        }
        snprintf(q, sizeof(q), "%.200s.type", p);
        if (!type) {
            nerr(c, q, "required");
            return;
        }
        for (k = 0; types[k] && strcmp(types[k], type) != 0; k++)
            ;
        if (!types[k]) {
            nerr(c, q,
                 "unsupported type \"%.32s\": supported: physical, bond, "
                 "bridge, vlan, nameserver, route",
                 type);
            return;
        }
        snprintf(q, sizeof(q), "%.200s.name", p);
        if (k <= 3 && !is_str(json_object_get(e, "name")))
            nerr(c, q, "required (a string) for type %s", type);
        snprintf(q, sizeof(q), "%.200s.mac_address", p);
        if (json_object_get(e, "mac_address") &&
            !is_str(json_object_get(e, "mac_address")))
            nerr(c, q, "must be a string");
        snprintf(q, sizeof(q), "%.200s.address", p);
        if (strcmp(type, "nameserver") == 0 && json_object_get(e, "address")) {
            const json_t *a = json_object_get(e, "address");
            if (is_str(a)) {
                if (!cidr_ok(json_string_value(a), false))
                    nerr(c, q, "must be an IP address");
            } else {
                check_str_list(c, q, a, true);
            }
        }
        if (subnets) {
            const json_t *s;
            size_t j;
            snprintf(q, sizeof(q), "%.200s.subnets", p);
            if (!json_is_array(subnets)) {
                nerr(c, q, "must be a list");
                return;
            }
            json_array_foreach(subnets, j, s)
            {
                char r[512];
                snprintf(r, sizeof(r), "%.200s[%zu]", q, j);
                check_v1_subnet(c, r, s);
            }
        }
        if (c->bad)
            return;
    }
}

/* ---- version 2 ---- */

static void check_v2_dev(struct ncx *c, const char *path, const json_t *d)
{
    static const struct {
        const char *name;
        int type; /* 0 string, 1 bool, 2 mapping, 3 list, 4 CIDR list */
    } members[] = {
        {"set-name", 0},   {"gateway4", 0},    {"gateway6", 0},
        {"macaddress", 0}, {"dhcp4", 1},       {"dhcp6", 1},
        {"match", 2},      {"nameservers", 2}, {"addresses", 4},
        {"routes", 3},     {"interfaces", 3},
    };
    char p[512];

    if (!json_is_object(d)) {
        nerr(c, path, "must be a mapping");
        return;
    }
    for (size_t i = 0; i < sizeof(members) / sizeof(*members) && !c->bad; i++) {
        const json_t *v = json_object_get(d, members[i].name);
        if (!v)
            continue;
        snprintf(p, sizeof(p), "%.200s.%s", path, members[i].name);
        switch (members[i].type) {
        case 0:
            if (!is_str(v))
                nerr(c, p, "must be a string");
            else if (strncmp(members[i].name, "gateway", 7) == 0 &&
                     !cidr_ok(json_string_value(v), false))
                nerr(c, p, "\"%.64s\" is not an IP address",
                     json_string_value(v));
            break;
        case 1:
            if (!json_is_boolean(v))
                nerr(c, p, "must be true or false");
            break;
        case 2:
            if (!json_is_object(v))
                nerr(c, p, "must be a mapping");
            break;
        case 3:
            if (!json_is_array(v))
                nerr(c, p, "must be a list");
            break;
        default:
            check_str_list(c, p, v, true);
            break;
        }
    }
    snprintf(p, sizeof(p), "%.200s.nameservers.addresses", path);
    if (!c->bad &&
        json_object_get(json_object_get(d, "nameservers"), "addresses"))
        check_str_list(
            c, p,
            json_object_get(json_object_get(d, "nameservers"), "addresses"),
            true);
    if (!c->bad && json_is_array(json_object_get(d, "routes"))) {
        const json_t *rt;
        size_t j;
        json_array_foreach(json_object_get(d, "routes"), j, rt)
        {
            snprintf(p, sizeof(p), "%.200s.routes[%zu]", path, j);
            if (!json_is_object(rt) || !is_str(json_object_get(rt, "to")) ||
                !is_str(json_object_get(rt, "via"))) {
                nerr(c, p, "must be a mapping with \"to\" and \"via\"");
                return;
            }
        }
    }
}

static void check_v2(struct ncx *c, const json_t *nc)
{
    static const char *const groups[] = {"ethernets", "bonds", "bridges",
                                         "vlans",     "wifis", NULL};
    const char *key;
    const json_t *v;

    json_object_foreach((json_t *)nc, key, v)
    {
        size_t k;
        if (strcmp(key, "version") == 0 || strcmp(key, "renderer") == 0)
            continue;
        for (k = 0; groups[k] && strcmp(groups[k], key) != 0; k++)
            ;
        if (!groups[k]) {
            nerr(c, key,
                 "unknown key: version 2 has ethernets, bonds, bridges, "
                 "vlans, wifis, renderer");
            return;
        }
        if (!json_is_object(v)) {
            nerr(c, key, "must be a mapping of device ids");
            return;
        }
        {
            const char *id;
            const json_t *d;
            json_object_foreach((json_t *)v, id, d)
            {
                char p[512];
                snprintf(p, sizeof(p), "%.200s.%.100s", key, id);
                check_v2_dev(c, p, d);
                if (c->bad)
                    return;
            }
        }
    }
}

int api_network_config_check(const char *text, size_t len, char *msg,
                             size_t msglen)
{
    struct api_errors errs = API_ERRORS_INIT;
    struct ncx c = {.msg = msg, .len = msglen};
    json_t *doc = NULL;
    const json_t *nc, *ver;
    int r;

    if (msglen)
        msg[0] = '\0';
    r = api_doc_decode(text, len, NULL, &doc, &errs);
    if (r == -ENOMEM) {
        api_errors_clear(&errs);
        return r;
    }
    if (r < 0) {
        nerr(&c, "", "not YAML: %s",
             errs.count ? errs.items[0].message : "cannot be read");
        api_errors_clear(&errs);
        return -EINVAL;
    }
    api_errors_clear(&errs);
    nc = doc;
    if (json_is_object(nc) && json_object_size(nc) == 1 &&
        json_is_object(json_object_get(nc, "network")))
        nc = json_object_get(nc, "network");
    if (!json_is_object(nc)) {
        nerr(&c, "", "must be a mapping with \"version\"");
        goto out;
    }
    ver = json_object_get(nc, "version");
    if (!ver) {
        nerr(&c, "version", "required (1 or 2)");
    } else if (json_is_integer(ver) && json_integer_value(ver) == 1) {
        check_v1(&c, nc);
    } else if (json_is_integer(ver) && json_integer_value(ver) == 2) {
        check_v2(&c, nc);
    } else {
        char v[64];
        if (json_is_string(ver))
            snprintf(v, sizeof(v), "\"%.40s\"", json_string_value(ver));
        else if (json_is_integer(ver))
            snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(ver));
        else
            snprintf(v, sizeof(v), "a %s",
                     json_is_object(ver) ? "mapping" : "non-integer");
        nerr(&c, "version", "unsupported version %s: supported: 1, 2", v);
    }
out:
    json_decref(doc);
    return c.bad ? -EINVAL : 0;
}
