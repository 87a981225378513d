/*
 * orchestratord: discovery documents, built from api's kind table so that
 * Kubernetes-shaped clients find every resource by kind and short name.
 */
#include "orchestratord/orchd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char subresources_group[] = "subresources.kubevirt.io";

static json_t *strv(const char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

/* The groups, in a fixed order, with their one version.  The subresources
 * group has no kinds of its own. */
static const struct {
    const char *group;
    const char *version;
} groups[] = {
    {"kubevirt.io", "v1"},
    {"subresources.kubevirt.io", "v1"},
    {"migrations.kubevirt.io", "v1alpha1"},
};

static json_t *group_doc(const char *group, const char *version)
{
    char gv[128];
    snprintf(gv, sizeof(gv), "%s/%s", group, version);
    return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "kind",
                     "APIGroup", "apiVersion", "v1", "name", group, "versions",
                     "groupVersion", gv, "version", version, "preferredVersion",
                     "groupVersion", gv, "version", version);
}

static json_t *resource_list(const char *group, const char *version)
{
    size_t n;
    const struct api_kind_info *t = api_kind_table(&n);
    json_t *res = json_array();
    char gv[128];

    if (group[0])
        snprintf(gv, sizeof(gv), "%s/%s", group, version);
    else
        snprintf(gv, sizeof(gv), "%s", version);

    if (strcmp(group, subresources_group) == 0) {
        static const char *const subs[] = {"start", "stop", "restart",
                                           "migrate"};
        for (size_t i = 0; i < sizeof(subs) / sizeof(*subs); i++) {
            char name[64];
            snprintf(name, sizeof(name), "virtualmachines/%s", subs[i]);
            json_array_append_new(
                res, json_pack("{s:s, s:s, s:b, s:s, s:[s]}", "name", name,
                               "singularName", "", "namespaced", 1, "kind",
                               "VirtualMachine", "verbs", "update"));
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r;
        if (strcmp(t[i].group, group) != 0 ||
            strcmp(t[i].version, version) != 0)
            continue;
        r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", t[i].plural,
                      "singularName", t[i].singular, "namespaced",
                      t[i].namespaced, "kind", t[i].kind_name, "verbs",
                      strv(orch_kind_verbs(t[i].kind)));
        if (t[i].short_names && t[i].short_names[0])
            json_object_set_new(r, "shortNames", strv(t[i].short_names));
        if (t[i].categories && t[i].categories[0])
            json_object_set_new(r, "categories", strv(t[i].categories));
        json_array_append_new(res, r);
    }
    /* core/v1 Events (events.c): listed and watched, written by the
     * server only. */
    if (!group[0] && !strcmp(version, "v1"))
        json_array_append_new(
            res,
            json_pack("{s:s, s:s, s:b, s:s, s:[s, s], s:[s]}", "name", "events",
                      "singularName", "event", "namespaced", 1, "kind", "Event",
                      "verbs", "list", "watch", "shortNames", "ev"));
    if (json_array_size(res) == 0) {
        json_decref(res);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList",
                     "apiVersion", "v1", "groupVersion", gv, "resources", res);
}

json_t *orch_discovery(const char *const *segv, size_t segc, int *ret_err)
{
    json_t *doc = NULL;

    *ret_err = 0;
    if (segc >= 1 && strcmp(segv[0], "api") == 0) {
        if (segc == 1)
            doc =
                json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
                          "versions", "v1", "serverAddressByClientCIDRs",
                          "clientCIDR", "0.0.0.0/0", "serverAddress", "");
        else if (segc == 2 && strcmp(segv[1], "v1") == 0)
            doc = resource_list("", "v1");
    } else if (segc >= 1 && strcmp(segv[0], "apis") == 0) {
        size_t ng = sizeof(groups) / sizeof(*groups);
        if (segc == 1) {
            json_t *a = json_array();
            for (size_t i = 0; i < ng; i++) {
                json_t *g = group_doc(groups[i].group, groups[i].version);
                json_object_del(g, "kind");
                json_object_del(g, "apiVersion");
                json_array_append_new(a, g);
            }
            doc = json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList",
                            "apiVersion", "v1", "groups", a);
        } else {
            for (size_t i = 0; i < ng; i++) {
                if (strcmp(segv[1], groups[i].group) != 0)
                    continue;
                if (segc == 2)
                    doc = group_doc(groups[i].group, groups[i].version);
                else if (segc == 3 && strcmp(segv[2], groups[i].version) == 0)
                    doc = resource_list(groups[i].group, groups[i].version);
            }
        }
    }
    if (!doc)
        *ret_err = -ENOENT;
    return doc;
}
