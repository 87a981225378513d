/*
 * orchestratord: OpenAPI v2 and v3 documents, generated from api's kind
 * table and schema tables (api_kind_openapi_schema()), never written by
 * hand, so that what kubectl validates, patches and explains is what the
 * server checks.
 *
 * kubectl 1.32 reads v3 (/openapi/v3, then /openapi/v3/apis/G/V): it
 * finds a kind by the x-kubernetes-group-version-kind of its PATCH
 * operation, asks the server to validate when that operation lists the
 * fieldValidation parameter, and builds an apply patch as a strategic one
 * only when the PATCH request body lists that content type.  v2 is served
 * as JSON for the client libraries that read it; kubectl asks v2 for
 * protobuf only, gets 406 and does without.
 */
#include "orchestratord/kubeapi.h"
#include "orchestratord/orchd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum style { V2, V3 };

/* What kubectl explain shows for a kind: KubeVirt's own words. */
static const char *kind_description(enum api_kind k)
{
    switch (k) {
    case API_KIND_VMIM:
        return "VirtualMachineInstanceMigration represents the object "
               "tracking a VMI's migration to another host in the cluster";
    case API_KIND_VMI:
        return "VirtualMachineInstance is *the* VirtualMachineInstance "
               "Definition. It represents a virtual machine in the runtime "
               "environment of kubernetes.";
    case API_KIND_VM:
        return "VirtualMachine handles the VirtualMachines that are not "
               "running or are in a stopped state The VirtualMachine "
               "contains the template to create the VirtualMachineInstance. "
               "It also mirrors the running state of the created "
               "VirtualMachineInstance in its status.";
    case API_KIND_POLICY:
        return "MigrationPolicy holds migration configurations for the VMIs "
               "it selects; its settings override the cluster's";
    case API_KIND_NODE:
        return "Node is a worker node in Kubernetes: here a hypervisor host "
               "with its migrator.";
    default:
        return "";
    }
}

/* The members every object has, described as Kubernetes does. */
static const struct {
    const char *name, *text;
} top_docs[] = {
    {"apiVersion",
     "APIVersion defines the versioned schema of this representation of an "
     "object. Servers should convert recognized schemas to the latest "
     "internal value, and may reject unrecognized values."},
    {"kind", "Kind is a string value representing the REST resource this "
             "object represents. Servers may infer this from the endpoint "
             "the client submits requests to. Cannot be updated. In "
             "CamelCase."},
    {"metadata", "Standard object's metadata."},
    {"spec", "Specification of the desired behavior."},
    {"status", "Most recently observed status, owned by the server."},
};

/* "kubevirt.io" -> "io.kubevirt", "migrations.kubevirt.io" ->
 * "io.kubevirt.migrations", "" -> "io.k8s.api.core": how the API server
 * names the schemas of a group. */
static void group_prefix(const char *group, char *buf, size_t len)
{
    const char *end;
    size_t o = 0;

    if (!*group) {
        snprintf(buf, len, "io.k8s.api.core");
        return;
    }
    end = group + strlen(group);
    buf[0] = '\0';
    while (end > group && o + 1 < len) {
        const char *dot = end;
        while (dot > group && dot[-1] != '.')
            dot--;
        o += (size_t)snprintf(buf + o, len - o, "%s%.*s", o ? "." : "",
                              (int)(end - dot), dot);
        if (o >= len)
            o = len - 1;
        end = dot > group ? dot - 1 : group;
    }
}

static void schema_name(const struct api_kind_info *k, bool list, char *buf,
                        size_t len)
{
    char g[128];
    group_prefix(k->group, g, sizeof(g));
    snprintf(buf, len, "%s.%s.%s", g, k->version,
             list ? k->list_kind : k->kind_name);
}

static json_t *ref(enum style st, const char *name)
{
    char r[320];
    snprintf(r, sizeof(r), "%s%s",
             st == V2 ? "#/definitions/" : "#/components/schemas/", name);
    return json_pack("{s:s}", "$ref", r);
}

static json_t *gvk(const struct api_kind_info *k, bool list)
{
    return json_pack("{s:s, s:s, s:s}", "group", k->group, "kind",
                     list ? k->list_kind : k->kind_name, "version", k->version);
}

static bool has_verb(const struct api_kind_info *k, const char *verb)
{
    for (const char *const *v = orch_kind_verbs(k->kind); *v; v++)
        if (!strcmp(*v, verb))
            return true;
    return false;
}

const char *const *orch_patch_types(enum api_kind kind)
{
    static const char *const custom[] = {"application/json-patch+json",
                                         "application/merge-patch+json", NULL};
    static const char *const core[] = {
        "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json", NULL};
    const struct api_kind_info *k = api_kind_info(kind);
    return k && !k->group[0] ? core : custom;
}

/* One query (or path) parameter. */
static json_t *param(enum style st, const char *name, const char *in,
                     const char *type, const char *desc)
{
    json_t *p = json_pack("{s:s, s:s, s:s}", "name", name, "in", in,
                          "description", desc);
    if (!p)
        return NULL;
    if (!strcmp(in, "path"))
        json_object_set_new(p, "required", json_true());
    if (st == V2)
        json_object_set_new(p, "type", json_string(type));
    else
        json_object_set_new(p, "schema", json_pack("{s:s}", "type", type));
    json_object_set_new(p, "uniqueItems", json_true());
    return p;
}

/* The query parameters each action reads (query.c parses them). */
static json_t *params_for(enum style st, const char *action)
{
    json_t *a = json_array();
    if (!strcmp(action, "list")) {
        json_array_append_new(a, param(st, "labelSelector", "query", "string",
                                       "A selector to restrict the list of "
                                       "returned objects by their labels."));
        json_array_append_new(a, param(st, "fieldSelector", "query", "string",
                                       "A selector to restrict the list of "
                                       "returned objects by their fields."));
        json_array_append_new(a, param(st, "limit", "query", "integer",
                                       "The maximum number of responses to "
                                       "return for a list call."));
        json_array_append_new(a, param(st, "continue", "query", "string",
                                       "The continue token of the previous "
                                       "page."));
        json_array_append_new(a, param(st, "resourceVersion", "query", "string",
                                       "Where a list or a watch starts."));
        json_array_append_new(a, param(st, "resourceVersionMatch", "query",
                                       "string",
                                       "How resourceVersion applies to a "
                                       "list: NotOlderThan or Exact."));
        json_array_append_new(a, param(st, "timeoutSeconds", "query", "integer",
                                       "Timeout for the list/watch call."));
        json_array_append_new(a, param(st, "watch", "query", "boolean",
                                       "Watch for changes to the described "
                                       "resources."));
        json_array_append_new(a, param(st, "allowWatchBookmarks", "query",
                                       "boolean",
                                       "Bookmarks may be sent; this server "
                                       "sends none."));
        return a;
    }
    if (!strcmp(action, "post") || !strcmp(action, "put") ||
        !strcmp(action, "patch") || !strcmp(action, "delete"))
        json_array_append_new(
            a, param(st, "dryRun", "query", "string",
                     "When present (All), the request is admitted and "
                     "validated but nothing is stored."));
    if (!strcmp(action, "post") || !strcmp(action, "put") ||
        !strcmp(action, "patch")) {
        json_array_append_new(a, param(st, "fieldManager", "query", "string",
                                       "A name associated with the actor "
                                       "making the change."));
        json_array_append_new(a, param(st, "fieldValidation", "query", "string",
                                       "Ignore, Warn or Strict: unknown "
                                       "and duplicate fields are refused "
                                       "by this server in every case."));
    }
    if (!strcmp(action, "delete")) {
        json_array_append_new(a, param(st, "gracePeriodSeconds", "query",
                                       "integer",
                                       "The duration in seconds before the "
                                       "object should be deleted."));
        json_array_append_new(a,
                              param(st, "propagationPolicy", "query", "string",
                                    "Orphan, Background or Foreground."));
    }
    return a;
}

static json_t *operation(enum style st, const struct api_kind_info *k,
                         const char *method, const char *action)
{
    char schema[256], opid[192];
    bool list = !strcmp(action, "list") || !strcmp(action, "deletecollection");
    const char *const *pt = orch_patch_types(k->kind);
    json_t *op, *resp, *body = NULL, *okschema;

    schema_name(k, list, schema, sizeof(schema));
    snprintf(opid, sizeof(opid), "%s%s%s", method,
             k->namespaced ? "Namespaced" : "", k->kind_name);
    okschema = ref(st, schema);
    if (st == V2)
        resp =
            json_pack("{s:{s:s, s:o}, s:{s:s}}", "200", "description", "OK",
                      "schema", okschema, "401", "description", "Unauthorized");
    else
        resp =
            json_pack("{s:{s:s, s:{s:{s:o}}}, s:{s:s}}", "200", "description",
                      "OK", "content", "application/json", "schema", okschema,
                      "401", "description", "Unauthorized");
    op = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o}", "operationId", opid,
                   "description", action, "responses", resp,
                   "x-kubernetes-action", action,
                   "x-kubernetes-group-version-kind", gvk(k, false),
                   "parameters", params_for(st, action));
    if (!op)
        return NULL;
    json_object_set_new(op, "tags",
                        json_pack("[s]", k->group[0] ? k->group : "core_v1"));
    if (!strcmp(action, "post") || !strcmp(action, "put") ||
        !strcmp(action, "patch")) {
        char pname[256];
        const char *const json_only[] = {"application/json", "application/yaml",
                                         NULL};
        const char *const *types = !strcmp(action, "patch") ? pt : json_only;
        if (!strcmp(action, "patch"))
            snprintf(pname, sizeof(pname),
                     "io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
        else
            snprintf(pname, sizeof(pname), "%s", schema);
        if (st == V2) {
            json_t *consumes = json_array();
            for (const char *const *t = types; *t; t++)
                json_array_append_new(consumes, json_string(*t));
            json_object_set_new(op, "consumes", consumes);
            json_array_append_new(json_object_get(op, "parameters"),
                                  json_pack("{s:s, s:s, s:b, s:o}", "name",
                                            "body", "in", "body", "required", 1,
                                            "schema", ref(st, pname)));
        } else {
            json_t *content = json_object();
            for (const char *const *t = types; *t; t++)
                json_object_set_new(
                    content, *t, json_pack("{s:o}", "schema", ref(st, pname)));
            body = json_pack("{s:o, s:b}", "content", content, "required", 1);
            json_object_set_new(op, "requestBody", body);
        }
    }
    if (st == V2)
        json_object_set_new(
            op, "produces",
            json_pack("[s, s]", "application/json", "application/yaml"));
    return op;
}

/* The paths of one kind: its collection, its items, and for namespaced
 * kinds the list across namespaces. */
static int add_paths(enum style st, json_t *paths,
                     const struct api_kind_info *k)
{
    char base[192], coll[256], item[288];
    json_t *c = json_object(), *i = json_object();

    if (!c || !i)
        goto nomem;
    if (k->group[0])
        snprintf(base, sizeof(base), "/apis/%s/%s", k->group, k->version);
    else
        snprintf(base, sizeof(base), "/api/%s", k->version);
    if (k->namespaced)
        snprintf(coll, sizeof(coll), "%s/namespaces/{namespace}/%s", base,
                 k->plural);
    else
        snprintf(coll, sizeof(coll), "%s/%s", base, k->plural);
    snprintf(item, sizeof(item), "%s/{name}", coll);

    if (has_verb(k, "list"))
        json_object_set_new(c, "get", operation(st, k, "list", "list"));
    if (has_verb(k, "create"))
        json_object_set_new(c, "post", operation(st, k, "create", "post"));
    if (has_verb(k, "get"))
        json_object_set_new(i, "get", operation(st, k, "read", "get"));
    if (has_verb(k, "update"))
        json_object_set_new(i, "put", operation(st, k, "replace", "put"));
    if (has_verb(k, "patch"))
        json_object_set_new(i, "patch", operation(st, k, "patch", "patch"));
    if (has_verb(k, "delete"))
        json_object_set_new(i, "delete", operation(st, k, "delete", "delete"));
    json_object_set_new(i, "parameters",
                        json_pack("[o]", param(st, "name", "path", "string",
                                               "name of the object")));
    json_object_set_new(c, "parameters", json_array());
    if (k->namespaced) {
        json_t *nsp = param(st, "namespace", "path", "string",
                            "object name and auth scope");
        json_array_append(json_object_get(c, "parameters"), nsp);
        json_array_append_new(json_object_get(i, "parameters"), nsp);
    }
    json_array_append_new(json_object_get(c, "parameters"),
                          param(st, "pretty", "query", "string",
                                "If 'true', then the output is pretty "
                                "printed."));
    json_array_append_new(json_object_get(i, "parameters"),
                          param(st, "pretty", "query", "string",
                                "If 'true', then the output is pretty "
                                "printed."));
    json_object_set_new(paths, coll, c);
    json_object_set_new(paths, item, i);
    if (k->namespaced && has_verb(k, "list")) {
        char all[256];
        json_t *a = json_object();
        snprintf(all, sizeof(all), "%s/%s", base, k->plural);
        json_t *op = operation(st, k, "list", "list");
        if (!a || !op) {
            json_decref(a);
            json_decref(op);
            return -ENOMEM;
        }
        json_object_set_new(
            op, "operationId",
            json_sprintf("list%sForAllNamespaces", k->kind_name));
        json_object_set_new(a, "get", op);
        json_object_set_new(paths, all, a);
    }
    return 0;
nomem:
    json_decref(c);
    json_decref(i);
    return -ENOMEM;
}

/* The kind's schema from api/, with Kubernetes' descriptions of the common
 * members and the kind's group-version-kind. */
static json_t *kind_schema(const struct api_kind_info *k)
{
    json_t *s = api_kind_openapi_schema(k->kind), *props;

    if (!s)
        return NULL;
    json_object_set_new(s, "description",
                        json_string(kind_description(k->kind)));
    props = json_object_get(s, "properties");
    for (size_t i = 0; i < sizeof(top_docs) / sizeof(*top_docs); i++) {
        json_t *p = json_object_get(props, top_docs[i].name);
        if (p)
            json_object_set_new(p, "description",
                                json_string(top_docs[i].text));
    }
    /* The lists a strategic merge patch merges (core kinds only), as
     * kube's patch tags say it in OpenAPI. */
    if (!k->group[0]) {
        const char *path, *key;
        for (size_t i = 0; (path = orch_patch_merge_list(i, &key)); i++) {
            json_t *p = s;
            char step[64];
            while (p && *path) {
                size_t n = strcspn(path, ".");
                snprintf(step, sizeof(step), "%.*s", (int)n, path);
                p = json_object_get(json_object_get(p, "properties"), step);
                path += n + (path[n] == '.');
            }
            if (!p)
                continue;
            json_object_set_new(p, "x-kubernetes-patch-strategy",
                                json_string("merge"));
            if (key)
                json_object_set_new(p, "x-kubernetes-patch-merge-key",
                                    json_string(key));
        }
    }
    /* A request body need not repeat what the URL says; the handlers
     * check it (and metadata) themselves. */
    json_object_del(s, "required");
    if (json_object_get(props, "spec") && k->kind != API_KIND_NODE)
        json_object_set_new(s, "required", json_pack("[s]", "spec"));
    json_object_set_new(s, "x-kubernetes-group-version-kind",
                        json_pack("[o]", gvk(k, false)));
    return s;
}

static json_t *list_schema(enum style st, const struct api_kind_info *k)
{
    char item[256];
    schema_name(k, false, item, sizeof(item));
    return json_pack(
        "{s:s, s:s, s:[s], s:{s:{s:s}, s:{s:s}, s:{s:s, s:{s:{s:s}, "
        "s:{s:s}}}, s:{s:s, s:o}}, s:[o]}",
        "description", "A list of objects.", "type", "object", "required",
        "items", "properties", "apiVersion", "type", "string", "kind", "type",
        "string", "metadata", "type", "object", "properties", "resourceVersion",
        "type", "string", "continue", "type", "string", "items", "type",
        "array", "items", ref(st, item), "x-kubernetes-group-version-kind",
        gvk(k, true));
}

static void add_common_schemas(json_t *schemas)
{
    json_object_set_new(
        schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        json_pack("{s:s, s:s}", "description",
                  "Patch is provided to give a concrete name and type to "
                  "the Kubernetes PATCH request body.",
                  "type", "object"));
    json_object_set_new(
        schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, "
                  "s:{s:s}, s:{s:s, s:s}, s:{s:s, s:b}}, s:[{s:s, s:s, "
                  "s:s}]}",
                  "description",
                  "Status is a return value for calls that don't return "
                  "other objects.",
                  "type", "object", "properties", "apiVersion", "type",
                  "string", "kind", "type", "string", "status", "type",
                  "string", "message", "type", "string", "reason", "type",
                  "string", "code", "type", "integer", "format", "int32",
                  "details", "type", "object",
                  "x-kubernetes-preserve-unknown-fields", 1,
                  "x-kubernetes-group-version-kind", "group", "", "kind",
                  "Status", "version", "v1"));
}

/* Every kind of GROUP/VERSION (NULL, NULL: every kind) into PATHS and
 * SCHEMAS.  Returns the number of kinds added. */
static int add_kinds(enum style st, const char *group, const char *version,
                     json_t *paths, json_t *schemas)
{
    size_t n;
    const struct api_kind_info *t = api_kind_table(&n);
    int added = 0;

    for (size_t i = 0; i < n; i++) {
        char name[256];
        json_t *ks;
        if (group &&
            (strcmp(t[i].group, group) || strcmp(t[i].version, version)))
            continue;
        ks = kind_schema(&t[i]);
        if (!ks || add_paths(st, paths, &t[i]) < 0) {
            json_decref(ks);
            return -ENOMEM;
        }
        schema_name(&t[i], false, name, sizeof(name));
        json_object_set_new(schemas, name, ks);
        schema_name(&t[i], true, name, sizeof(name));
        json_object_set_new(schemas, name, list_schema(st, &t[i]));
        added++;
    }
    return added;
}

json_t *orch_openapi_v3_gv(const char *group, const char *version, int *ret_err)
{
    json_t *paths = json_object(), *schemas = json_object(), *doc;
    int n;

    *ret_err = -ENOMEM;
    if (!paths || !schemas)
        goto fail;
    n = add_kinds(V3, group, version, paths, schemas);
    if (n <= 0) {
        if (n == 0)
            *ret_err = -ENOENT;
        goto fail;
    }
    add_common_schemas(schemas);
    doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0",
                    "info", "title", "orchestratord", "version", ORCHD_VERSION,
                    "paths", paths, "components", "schemas", schemas);
    if (doc)
        *ret_err = 0;
    return doc;
fail:
    json_decref(paths);
    json_decref(schemas);
    return NULL;
}

/* FNV-1a, 64 bits: the digest only has to change when the document does. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

json_t *orch_openapi_v3_root(void)
{
    size_t n;
    const struct api_kind_info *t = api_kind_table(&n);
    json_t *paths = json_object();

    if (!paths)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char key[160], url[256];
        json_t *doc;
        char *text;
        int err;
        if (t[i].group[0])
            snprintf(key, sizeof(key), "apis/%s/%s", t[i].group, t[i].version);
        else
            snprintf(key, sizeof(key), "api/%s", t[i].version);
        if (json_object_get(paths, key))
            continue;
        doc = orch_openapi_v3_gv(t[i].group, t[i].version, &err);
        text = doc ? json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!text) {
            json_decref(paths);
            return NULL;
        }
        snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%016llX", key,
                 (unsigned long long)fnv1a(text));
        free(text);
        json_object_set_new(paths, key,
                            json_pack("{s:s}", "serverRelativeURL", url));
    }
    return json_pack("{s:o}", "paths", paths);
}

json_t *orch_openapi_v2(void)
{
    json_t *paths = json_object(), *defs = json_object();

    if (!paths || !defs || add_kinds(V2, NULL, NULL, paths, defs) < 0) {
        json_decref(paths);
        json_decref(defs);
        return NULL;
    }
    add_common_schemas(defs);
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:o}", "swagger", "2.0", "info",
                     "title", "orchestratord", "version", ORCHD_VERSION,
                     "paths", paths, "definitions", defs);
}

/* Drop from V what SCHEMA does not describe; returns how many members
 * went. */
/* PATH (LEN bytes, the path of V so far, "" at the top) grows while the walk
 * descends and is put back on the way up. */
static size_t prune(json_t *v, const json_t *schema, char *path, size_t len,
                    json_t *dropped)
{
    size_t n = 0, at = strlen(path);

    if (!schema ||
        json_is_true(
            json_object_get(schema, "x-kubernetes-preserve-unknown-fields")) ||
        json_is_true(json_object_get(schema, "x-kubernetes-int-or-string")))
        return 0;
    if (json_is_object(v)) {
        const json_t *props = json_object_get(schema, "properties");
        const json_t *ap = json_object_get(schema, "additionalProperties");
        const char *k;
        json_t *e;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, e)
        {
            const json_t *p = json_object_get(props, k);
            snprintf(path + at, len - at, "%s%s", at ? "." : "", k);
            if (p) {
                n += prune(e, p, path, len, dropped);
            } else if (ap) {
                n += prune(e, ap, path, len, dropped);
            } else if (props) {
                if (dropped)
                    json_array_append_new(dropped, json_string(path));
                json_object_del(v, k);
                n++;
            }
            path[at] = '\0';
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            snprintf(path + at, len - at, "[%zu]", i);
            n += prune(json_array_get(v, i), json_object_get(schema, "items"),
                       path, len, dropped);
            path[at] = '\0';
        }
    }
    return n;
}

int orch_openapi_prune(enum api_kind kind, json_t *doc, json_t *dropped)
{
    json_t *s = api_kind_openapi_schema(kind);
    char path[512] = "";
    size_t n;

    if (!s)
        return -ENOMEM;
    n = prune(doc, s, path, sizeof(path), dropped);
    json_decref(s);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}
