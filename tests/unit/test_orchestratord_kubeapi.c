/*
 * Unit tests for what kubectl needs of orchestratord beyond the resources
 * (kubeapi.h, events.h): the OpenAPI documents generated from api/'s
 * schema tables, Table rendering, the PATCH types, query parameters and
 * DeleteOptions, and the handlers that use them, run through orch_handle()
 * against a ":memory:" store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log/log.h"
#include "orchestratord/events.h"
#include "orchestratord/kubeapi.h"
#include "orchestratord/orchd.h"
#include "tests/unit/support/orchd_call.h"

#define VMIMS                                                                  \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"
#define TABLE_ACCEPT                                                           \
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad JSON in the test: %s: %s", e.text, text);
    return j;
}

/* A file of tests/data as a document. */
static json_t *load_data(const char *name)
{
    char path[1024];
    const char *top = getenv("ORCH_TOP");
    json_error_t e;
    json_t *j;

    snprintf(path, sizeof(path), "%s/tests/data/%s", top ? top : ".", name);
    j = json_load_file(path, 0, &e);
    if (!j)
        fail_msg("cannot read %s: %s", path, e.text);
    return j;
}

static const json_t *jget(const json_t *v, const char *path)
{
    const char *p = path;
    while (v && *p) {
        size_t n = strcspn(p, "/");
        v = json_object_getn(v, p, n);
        p += n + (p[n] == '/');
    }
    return v;
}

static const char *jstr(const json_t *v, const char *path)
{
    const char *s = json_string_value(jget(v, path));
    return s ? s : "(null)";
}

/*
 * OpenAPI.
 */

/* Every member of DOC is described by SCHEMA with a matching type, unless
 * the schema takes any member there: what the generator says is what
 * validation accepts. */
static void assert_described(const json_t *doc, const json_t *schema,
                             const char *path)
{
    const char *type = json_string_value(json_object_get(schema, "type"));
    char sub[512];

    if (json_is_true(json_object_get(schema, "x-kubernetes-int-or-string"))) {
        assert_true(json_is_string(doc) || json_is_integer(doc));
        return;
    }
    if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        if (!type || strcmp(type, "object"))
            fail_msg("%s is an object, the schema says %s", path,
                     type ? type : "nothing");
        json_object_foreach((json_t *)doc, k, v)
        {
            const json_t *props = json_object_get(schema, "properties");
            const json_t *p = json_object_get(props, k);
            const json_t *ap = json_object_get(schema, "additionalProperties");
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            if (p)
                assert_described(v, p, sub);
            else if (ap)
                assert_described(v, ap, sub);
            else if (!json_is_true(json_object_get(
                         schema, "x-kubernetes-preserve-unknown-fields")))
                fail_msg("%s is not in the schema", sub);
        }
    } else if (json_is_array(doc)) {
        if (!type || strcmp(type, "array"))
            fail_msg("%s is an array, the schema says %s", path,
                     type ? type : "nothing");
        for (size_t i = 0; i < json_array_size(doc); i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            assert_described(json_array_get(doc, i),
                             json_object_get(schema, "items"), sub);
        }
    } else if (json_is_string(doc)) {
        if (type && strcmp(type, "string"))
            fail_msg("%s is a string, the schema says %s", path, type);
    } else if (json_is_integer(doc)) {
        if (type && strcmp(type, "integer") && strcmp(type, "number"))
            fail_msg("%s is an integer, the schema says %s", path, type);
    } else if (json_is_boolean(doc)) {
        if (type && strcmp(type, "boolean"))
            fail_msg("%s is a boolean, the schema says %s", path, type);
    }
}

static bool has_string(const json_t *a, const char *s)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (json_string_value(json_array_get(a, i)) &&
            !strcmp(json_string_value(json_array_get(a, i)), s))
            return true;
    return false;
}

static void test_openapi_schema(void **state)
{
    json_t *s = api_kind_openapi_schema(API_KIND_VMIM), *doc;
    (void)state;

    assert_non_null(s);
    /* The tables' facts: required, enums, maps, formats. */
    assert_true(has_string(jget(s, "properties/spec/required"), "vmiName"));
    assert_true(has_string(jget(s, "properties/status/properties/phase/enum"),
                           "PreparingTarget"));
    assert_string_equal(
        jstr(s, "properties/metadata/properties/labels/additionalProperties/"
                "type"),
        "string");
    assert_string_equal(
        jstr(s, "properties/metadata/properties/creationTimestamp/format"),
        "date-time");
    /* The seed's migration and a finished one are described by it. */
    doc = load("{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
               "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
               "\"m\",\"labels\":{\"a\":\"b\"}},\"spec\":{\"vmiName\":\"v\"},"
               "\"status\":{\"phase\":\"Succeeded\",\"phaseTransition"
               "Timestamps\":[{\"phase\":\"Pending\",\"phaseTransition"
               "Timestamp\":\"2026-01-01T00:00:00Z\"}]}}");
    assert_described(doc, s, "");
    json_decref(doc);
    json_decref(s);

    /* A whole VM manifest (SR-IOV, cloud-init) against the VM schema. */
    s = api_kind_openapi_schema(API_KIND_VM);
    doc = load_data("vm-sriov.json");
    assert_described(doc, s, "");
    json_decref(doc);
    json_decref(s);
    s = api_kind_openapi_schema(API_KIND_NODE);
    doc = load_data("node-hv01.json");
    assert_described(doc, s, "");
    json_decref(doc);
    json_decref(s);

    assert_null(api_kind_openapi_schema(API_KIND_NONE));
    assert_null(api_kind_openapi_schema(API_KIND_COUNT));
}

/* The PATCH operation of PATH in a v3 document. */
static const json_t *patch_op(const json_t *doc, const char *path)
{
    return json_object_get(json_object_get(json_object_get(doc, "paths"), path),
                           "patch");
}

static bool op_has_param(const json_t *op, const char *name)
{
    const json_t *ps = json_object_get(op, "parameters");
    for (size_t i = 0; i < json_array_size(ps); i++)
        if (!strcmp(jstr(json_array_get(ps, i), "name"), name))
            return true;
    return false;
}

static void test_openapi_documents(void **state)
{
    int err = 0;
    json_t *doc = orch_openapi_v3_gv("kubevirt.io", "v1", &err), *root, *v2;
    const json_t *op, *schemas, *vmim;
    (void)state;

    assert_non_null(doc);
    assert_int_equal(err, 0);
    assert_string_equal(jstr(doc, "openapi"), "3.0.0");
    schemas = jget(doc, "components/schemas");
    vmim = json_object_get(schemas,
                           "io.kubevirt.v1.VirtualMachineInstanceMigration");
    assert_non_null(vmim);
    assert_string_equal(
        jstr(json_array_get(
                 json_object_get(vmim, "x-kubernetes-group-version-kind"), 0),
             "kind"),
        "VirtualMachineInstanceMigration");
    assert_non_null(json_object_get(
        schemas, "io.kubevirt.v1.VirtualMachineInstanceMigrationList"));
    /* kubectl finds the kind by its PATCH operation's GVK, validates on the
     * server when fieldValidation is a parameter, and builds a merge (not
     * strategic) apply patch for a custom resource. */
    op = patch_op(doc, "/apis/kubevirt.io/v1/namespaces/{namespace}/"
                       "virtualmachineinstancemigrations/{name}");
    assert_non_null(op);
    assert_string_equal(jstr(op, "x-kubernetes-group-version-kind/kind"),
                        "VirtualMachineInstanceMigration");
    assert_string_equal(jstr(op, "x-kubernetes-action"), "patch");
    assert_true(op_has_param(op, "fieldValidation"));
    assert_true(op_has_param(op, "dryRun"));
    assert_non_null(json_object_get(jget(op, "requestBody/content"),
                                    "application/merge-patch+json"));
    assert_null(json_object_get(jget(op, "requestBody/content"),
                                "application/strategic-merge-patch+json"));
    /* No Node here: that is the core group's document. */
    assert_null(json_object_get(schemas, "io.k8s.api.core.v1.Node"));
    json_decref(doc);

    doc = orch_openapi_v3_gv("", "v1", &err);
    assert_non_null(doc);
    op = patch_op(doc, "/api/v1/nodes/{name}");
    assert_non_null(json_object_get(jget(op, "requestBody/content"),
                                    "application/strategic-merge-patch+json"));
    /* The lists patch.c merges by key, published for clients. */
    schemas = jget(doc, "components/schemas");
    assert_string_equal(
        jstr(json_object_get(schemas, "io.k8s.api.core.v1.Node"),
             "properties/status/properties/conditions/"
             "x-kubernetes-patch-merge-key"),
        "type");
    assert_string_equal(
        jstr(json_object_get(schemas, "io.k8s.api.core.v1.Node"),
             "properties/metadata/properties/finalizers/"
             "x-kubernetes-patch-strategy"),
        "merge");
    json_decref(doc);

    assert_null(orch_openapi_v3_gv("kubevirt.io", "v2", &err));
    assert_int_equal(err, -ENOENT);
    assert_null(orch_openapi_v3_gv("nope.io", "v1", &err));
    assert_int_equal(err, -ENOENT);

    root = orch_openapi_v3_root();
    assert_non_null(root);
    {
        const json_t *p = json_object_get(json_object_get(root, "paths"),
                                          "apis/kubevirt.io/v1");
        const char *u = jstr(p, "serverRelativeURL");
        assert_true(strncmp(u, "/openapi/v3/apis/kubevirt.io/v1?hash=", 37) ==
                    0);
        assert_non_null(
            json_object_get(json_object_get(root, "paths"), "api/v1"));
        assert_non_null(json_object_get(json_object_get(root, "paths"),
                                        "apis/migrations.kubevirt.io/"
                                        "v1alpha1"));
    }
    json_decref(root);

    v2 = orch_openapi_v2();
    assert_non_null(v2);
    assert_string_equal(jstr(v2, "swagger"), "2.0");
    assert_non_null(
        json_object_get(json_object_get(v2, "definitions"),
                        "io.kubevirt.migrations.v1alpha1.MigrationPolicy"));
    op = patch_op(v2, "/api/v1/nodes/{name}");
    assert_true(has_string(json_object_get(op, "consumes"),
                           "application/strategic-merge-patch+json"));
    json_decref(v2);
}

/*
 * Tables.
 */

static void test_table(void **state)
{
    json_t *items, *t;
    const json_t *row;
    (void)state;

    assert_true(orch_accept_table(TABLE_ACCEPT));
    assert_true(
        orch_accept_table("application/json;as=Table;v=v1beta1;g=meta.k8s.io, "
                          "application/json"));
    assert_false(orch_accept_table("application/json"));
    assert_false(orch_accept_table(NULL));
    assert_false(orch_accept_table("application/json, "
                                   "application/json;as=Table;v=v1;"
                                   "g=meta.k8s.io"));
    assert_false(orch_accept_table("application/json;as=Table;v=v9;"
                                   "g=meta.k8s.io"));

    items = load("[{\"metadata\":{\"name\":\"m1\",\"namespace\":\"default\","
                 "\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
                 "\"spec\":{\"vmiName\":\"vmi-a\"},"
                 "\"status\":{\"phase\":\"Running\"}},"
                 "{\"metadata\":{\"name\":\"m2\"},\"spec\":{\"vmiName\":"
                 "\"vmi-b\"}}]");
    t = orch_table_new(API_KIND_VMIM, items, NULL, NULL, 1767225600);
    assert_string_equal(jstr(t, "kind"), "Table");
    assert_string_equal(jstr(t, "apiVersion"), "meta.k8s.io/v1");
    assert_int_equal(json_array_size(json_object_get(t, "columnDefinitions")),
                     3);
    assert_string_equal(
        jstr(json_array_get(json_object_get(t, "columnDefinitions"), 1),
             "name"),
        "Phase");
    row = json_array_get(json_object_get(t, "rows"), 0);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(row, "cells"), 0)),
        "m1");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(row, "cells"), 1)),
        "Running");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(row, "cells"), 2)),
        "vmi-a");
    assert_string_equal(jstr(row, "object/kind"), "PartialObjectMetadata");
    assert_string_equal(jstr(row, "object/metadata/name"), "m1");
    /* A VMIM without a phase yet: an empty cell, not a missing one. */
    row = json_array_get(json_object_get(t, "rows"), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(row, "cells"), 1)),
        "");
    json_decref(t);

    t = orch_table_new(API_KIND_VMIM, items, NULL, "None", 0);
    assert_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0),
                                "object"));
    json_decref(t);
    t = orch_table_new(API_KIND_VMIM, items, NULL, "Object", 0);
    assert_string_equal(jstr(json_array_get(json_object_get(t, "rows"), 0),
                             "object/spec/vmiName"),
                        "vmi-a");
    json_decref(t);
    json_decref(items);

    /* VMI: ages as HumanDuration, the first interface's IP, Ready. */
    items = load("[{\"metadata\":{\"name\":\"v\",\"creationTimestamp\":"
                 "\"2026-01-01T00:00:00Z\"},\"status\":{\"phase\":\"Running\","
                 "\"nodeName\":\"host-a\",\"interfaces\":[{\"ipAddress\":"
                 "\"198.18.1.10\"}],\"conditions\":[{\"type\":\"Paused\","
                 "\"status\":\"False\"},{\"type\":\"Ready\",\"status\":"
                 "\"True\"}]}}]");
    {
        static const struct {
            long long after;
            const char *age;
        } ages[] = {
            {0, "0s"},           {119, "119s"},
            {200, "3m20s"},      {600, "10m"},
            {5 * 3600, "5h"},    {3 * 3600 + 60, "3h1m"},
            {30 * 3600, "30h"},  {3 * 86400 + 3600, "3d1h"},
            {20 * 86400, "20d"}, {-5, "<invalid>"},
        };
        for (size_t i = 0; i < sizeof(ages) / sizeof(*ages); i++) {
            t = orch_table_new(API_KIND_VMI, items, NULL, NULL,
                               1767225600 + ages[i].after);
            row = json_array_get(json_object_get(t, "rows"), 0);
            assert_string_equal(json_string_value(json_array_get(
                                    json_object_get(row, "cells"), 1)),
                                ages[i].age);
            if (i == 0) {
                static const char *const want[] = {
                    "v", "0s", "Running", "198.18.1.10", "host-a", "True"};
                for (size_t c = 0; c < 6; c++)
                    assert_string_equal(json_string_value(json_array_get(
                                            json_object_get(row, "cells"), c)),
                                        want[c]);
            }
            json_decref(t);
        }
    }
    json_decref(items);

    /* Node: Ready + cordoned, roles from labels, version. */
    items = load("[{\"metadata\":{\"name\":\"n\",\"labels\":{"
                 "\"node-role.kubernetes.io/hypervisor\":\"\"},"
                 "\"annotations\":{\"orchestrator.io/agent-version\":"
                 "\"v0.1.0\"}},\"spec\":{\"unschedulable\":true},"
                 "\"status\":{\"conditions\":[{\"type\":\"Ready\","
                 "\"status\":\"True\"}]}}]");
    t = orch_table_new(API_KIND_NODE, items, NULL, NULL, 0);
    row = json_array_get(json_object_get(t, "rows"), 0);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(row, "cells"), 1)),
        "Ready,SchedulingDisabled");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(row, "cells"), 2)),
        "hypervisor");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(row, "cells"), 4)),
        "v0.1.0");
    json_decref(t);
    json_decref(items);
}

/*
 * Patches.
 */

/* Apply PATCH (JSON text) of TYPE to DOC (JSON text); returns the result
 * code and the document in *ret (NULL-safe). */
static int patch(enum api_kind kind, enum orch_patch_type type, const char *doc,
                 const char *p, json_t **ret, char *msg)
{
    json_t *d = load(doc), *pj = load(p);
    int r = orch_patch_apply(kind, type, d, pj, msg, 256);
    json_decref(pj);
    if (ret)
        *ret = d;
    else
        json_decref(d);
    return r;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = load(want);
    if (!json_equal((json_t *)got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got %s, want %s", g, want);
    }
    json_decref(w);
}

static void test_patch_types(void **state)
{
    (void)state;
    assert_int_equal(orch_patch_type_parse("application/json-patch+json"),
                     ORCH_PATCH_JSON);
    assert_int_equal(
        orch_patch_type_parse("Application/Merge-Patch+JSON; charset=utf-8"),
        ORCH_PATCH_MERGE);
    assert_int_equal(
        orch_patch_type_parse("application/strategic-merge-patch+json"),
        ORCH_PATCH_STRATEGIC);
    assert_int_equal(orch_patch_type_parse("application/apply-patch+yaml"),
                     ORCH_PATCH_APPLY);
    assert_int_equal(orch_patch_type_parse("application/json"),
                     -EPROTONOSUPPORT);
    assert_int_equal(orch_patch_type_parse(NULL), -EPROTONOSUPPORT);
    assert_int_equal(orch_patch_type_parse(""), -EPROTONOSUPPORT);
}

static void test_patch_merge_and_json(void **state)
{
    json_t *d;
    char msg[256];
    (void)state;

    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_MERGE,
                           "{\"a\":{\"b\":1,\"c\":2},\"l\":[1,2]}",
                           "{\"a\":{\"b\":null,\"d\":3},\"l\":[3]}", &d, msg),
                     0);
    assert_json(d, "{\"a\":{\"c\":2,\"d\":3},\"l\":[3]}");
    json_decref(d);
    assert_int_equal(
        patch(API_KIND_VMIM, ORCH_PATCH_MERGE, "{}", "[1]", NULL, msg),
        -EINVAL);

    assert_int_equal(
        patch(API_KIND_VMIM, ORCH_PATCH_JSON,
              "{\"metadata\":{\"labels\":{\"a/b\":\"1\"}},\"l\":[1,3]}",
              "[{\"op\":\"add\",\"path\":\"/metadata/labels/c~1d\","
              "\"value\":\"2\"},"
              "{\"op\":\"remove\",\"path\":\"/metadata/labels/a~1b\"},"
              "{\"op\":\"add\",\"path\":\"/l/1\",\"value\":2},"
              "{\"op\":\"add\",\"path\":\"/l/-\",\"value\":4},"
              "{\"op\":\"replace\",\"path\":\"/l/0\",\"value\":0},"
              "{\"op\":\"copy\",\"from\":\"/l\",\"path\":\"/m\"},"
              "{\"op\":\"move\",\"from\":\"/m\",\"path\":\"/n\"},"
              "{\"op\":\"test\",\"path\":\"/n/3\",\"value\":4}]",
              &d, msg),
        0);
    assert_json(d, "{\"metadata\":{\"labels\":{\"c/d\":\"2\"}},"
                   "\"l\":[0,2,3,4],\"n\":[0,2,3,4]}");
    json_decref(d);

    /* Failures: 422 (-EDOM) for paths and tests, 400 for bad shapes. */
    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_JSON, "{\"a\":1}",
                           "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]",
                           NULL, msg),
                     -EDOM);
    assert_non_null(strstr(msg, "test operation failed"));
    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_JSON, "{\"a\":1}",
                           "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":2}]",
                           NULL, msg),
                     -EDOM);
    assert_non_null(strstr(msg, "'/b' does not exist"));
    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_JSON, "{\"l\":[1]}",
                           "[{\"op\":\"add\",\"path\":\"/l/5\",\"value\":2}]",
                           NULL, msg),
                     -EDOM);
    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_JSON, "{}",
                           "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, msg),
                     -EINVAL);
    assert_non_null(strstr(msg, "unknown op \"frob\""));
    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_JSON, "{}",
                           "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]",
                           NULL, msg),
                     -EINVAL);
    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_JSON, "{}",
                           "{\"op\":\"add\"}", NULL, msg),
                     -EINVAL);
    assert_int_equal(patch(API_KIND_VMIM, ORCH_PATCH_JSON, "{}",
                           "[{\"op\":\"add\",\"path\":\"/a\"}]", NULL, msg),
                     -EINVAL);
    assert_non_null(strstr(msg, "missing \"value\""));
}

static void test_patch_strategic(void **state)
{
    json_t *d;
    char msg[256];
    (void)state;

    /* Conditions merge by type, addresses by type, finalizers as a set;
     * other lists (taints) are replaced. */
    assert_int_equal(
        patch(
            API_KIND_NODE, ORCH_PATCH_STRATEGIC,
            "{\"metadata\":{\"finalizers\":[\"a\"],\"labels\":{\"x\":\"1\"}},"
            "\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}]},"
            "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":"
            "\"True\"},{\"type\":\"Other\",\"status\":\"False\"}]}}",
            "{\"$setElementOrder/conditions\":[{\"type\":\"Ready\"}],"
            "\"metadata\":{\"finalizers\":[\"b\",\"a\"],\"labels\":{\"x\":null,"
            "\"y\":\"2\"}},\"spec\":{\"taints\":[]},"
            "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":"
            "\"False\"},{\"type\":\"Other\",\"$patch\":\"delete\"},"
            "{\"type\":\"New\",\"status\":\"True\"}]}}",
            &d, msg),
        0);
    assert_json(d, "{\"metadata\":{\"finalizers\":[\"a\",\"b\"],\"labels\":{"
                   "\"y\":\"2\"}},\"spec\":{\"taints\":[]},"
                   "\"status\":{\"conditions\":[{\"type\":\"Ready\","
                   "\"status\":\"False\"},{\"type\":\"New\",\"status\":"
                   "\"True\"}]}}");
    json_decref(d);

    /* $deleteFromPrimitiveList, $patch replace/delete on a map,
     * $retainKeys. */
    assert_int_equal(
        patch(API_KIND_NODE, ORCH_PATCH_STRATEGIC,
              "{\"metadata\":{\"finalizers\":[\"a\",\"b\"],\"annotations\":{"
              "\"p\":\"1\",\"q\":\"2\"}},\"spec\":{\"a\":1,\"b\":2},"
              "\"status\":{\"x\":1}}",
              "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a\"],"
              "\"annotations\":{\"$patch\":\"replace\",\"r\":\"3\"}},"
              "\"spec\":{\"$retainKeys\":[\"b\"],\"b\":5},"
              "\"status\":{\"$patch\":\"delete\"}}",
              &d, msg),
        0);
    assert_json(d, "{\"metadata\":{\"finalizers\":[\"b\"],\"annotations\":{"
                   "\"r\":\"3\"}},\"spec\":{\"b\":5}}");
    json_decref(d);

    assert_int_equal(patch(API_KIND_NODE, ORCH_PATCH_STRATEGIC, "{}",
                           "{\"$frob\":1}", NULL, msg),
                     -EINVAL);
    assert_int_equal(
        patch(API_KIND_NODE, ORCH_PATCH_STRATEGIC,
              "{\"status\":{\"conditions\":[]}}",
              "{\"status\":{\"conditions\":[{\"status\":\"True\"}]}}", NULL,
              msg),
        -EINVAL);
    assert_non_null(strstr(msg, "no merge key \"type\""));
    /* KubeVirt's kinds are custom resources: no strategic merge. */
    assert_int_equal(
        patch(API_KIND_VMIM, ORCH_PATCH_STRATEGIC, "{}", "{}", NULL, msg),
        -EPROTONOSUPPORT);
    assert_int_equal(
        patch(API_KIND_NODE, ORCH_PATCH_APPLY, "{}", "{}", NULL, msg),
        -EPROTONOSUPPORT);
}

/*
 * Query parameters and DeleteOptions.
 */

static int query(const char *verb, struct orch_query *q, char *msg, ...)
{
    struct http_param ps[8];
    size_t n = 0;
    va_list ap;
    const char *k;

    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) && n < 8) {
        ps[n].key = k;
        ps[n].value = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    return orch_query_parse(ps, n, verb, q, msg, 256);
}

static void test_query(void **state)
{
    struct orch_query q;
    char msg[256];
    (void)state;

    /* apimachinery's conversion, not strconv.ParseBool: only absence, "0"
     * and "false" (any case) are false. */
    static const char *const yes[] = {"1", "t", "true", "True", "yes", "", "x"};
    static const char *const no[] = {"0", "false", "False", "FALSE", "fAlSe"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
        if (!orch_query_bool(yes[i]))
            fail_msg("'%s' is not true", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
        if (orch_query_bool(no[i]))
            fail_msg("'%s' is not false", no[i]);
    assert_false(orch_query_bool(NULL));

    assert_int_equal(query("create", &q, msg, "dryRun", "All", "fieldManager",
                           "kubectl-create", "fieldValidation", "Strict",
                           "pretty", "T", NULL),
                     0);
    assert_true(q.dry_run);
    assert_true(q.pretty);
    assert_string_equal(q.field_manager, "kubectl-create");
    assert_string_equal(q.field_validation, "Strict");
    assert_int_equal(q.grace_period_s, -1);
    /* dryRun on a read means nothing; a bad value is refused anywhere. */
    assert_int_equal(query("list", &q, msg, "dryRun", "All", NULL), 0);
    assert_false(q.dry_run);
    assert_int_equal(query("create", &q, msg, "dryRun", "Some", NULL), -EDOM);
    assert_non_null(strstr(msg, "supported values: \"All\""));
    assert_int_equal(query("patch", &q, msg, "fieldValidation", "Loose", NULL),
                     -EINVAL);
    assert_int_equal(query("list", &q, msg, "watch", "maybe", NULL), 0);
    assert_true(q.watch);
    assert_int_equal(query("list", &q, msg, "watch", "0", NULL), 0);
    assert_false(q.watch);
    assert_int_equal(query("list", &q, msg, "watch", "1", "allowWatchBookmarks",
                           "true", "unknownParam", "x", NULL),
                     0);
    assert_true(q.watch);
    assert_true(q.allow_bookmarks);
    assert_int_equal(query("list", &q, msg, "watch", "true",
                           "sendInitialEvents", "true", NULL),
                     -EDOM);
    assert_non_null(strstr(msg, "WatchList feature gate"));
    assert_int_equal(query("list", &q, msg, "sendInitialEvents", "false", NULL),
                     -EDOM);
    assert_int_equal(
        query("list", &q, msg, "resourceVersionMatch", "NotOlderThan", NULL),
        -EDOM);
    assert_non_null(strstr(msg, "unless resourceVersion is provided"));
    assert_int_equal(query("list", &q, msg, "resourceVersionMatch", "Exact",
                           "resourceVersion", "5", NULL),
                     0);
    assert_string_equal(q.rv_match, "Exact");
    assert_int_equal(query("list", &q, msg, "resourceVersionMatch", "Exact",
                           "resourceVersion", "5", "watch", "true", NULL),
                     -EDOM);
    assert_int_equal(query("list", &q, msg, "resourceVersionMatch", "Newest",
                           "resourceVersion", "5", NULL),
                     -EDOM);
    assert_int_equal(query("delete", &q, msg, "propagationPolicy", "Background",
                           "gracePeriodSeconds", "30", NULL),
                     0);
    assert_string_equal(q.propagation_policy, "Background");
    assert_int_equal(q.grace_period_s, 30);
    assert_int_equal(
        query("delete", &q, msg, "propagationPolicy", "Later", NULL), -EDOM);
    assert_int_equal(
        query("delete", &q, msg, "gracePeriodSeconds", "soon", NULL), -EINVAL);
    {
        char big[200];
        memset(big, 'm', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(query("update", &q, msg, "fieldManager", big, NULL),
                         -EDOM);
        assert_non_null(strstr(msg, "128 bytes"));
    }
}

static void test_delete_options(void **state)
{
    struct orch_query q;
    char msg[256];
    json_t *b;
    (void)state;

    memset(&q, 0, sizeof(q));
    b = load("{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"dryRun\":"
             "[\"All\"],\"propagationPolicy\":\"Foreground\","
             "\"gracePeriodSeconds\":0,\"preconditions\":{\"uid\":\"u1\","
             "\"resourceVersion\":\"7\"}}");
    assert_int_equal(orch_delete_options_parse(b, &q, msg, sizeof(msg)), 0);
    assert_true(q.dry_run);
    assert_string_equal(q.propagation_policy, "Foreground");
    assert_int_equal(q.grace_period_s, 0);
    assert_string_equal(q.pre_uid, "u1");
    assert_string_equal(q.pre_rv, "7");
    json_decref(b);

    static const struct {
        const char *body;
        int err;
    } bad[] = {
        {"{\"kind\":\"Pod\"}", -EINVAL},
        {"{\"dryRun\":\"All\"}", -EINVAL},
        {"{\"dryRun\":[\"Some\"]}", -EDOM},
        {"{\"propagationPolicy\":\"Later\"}", -EDOM},
        {"{\"propagationPolicy\":\"Orphan\",\"orphanDependents\":true}", -EDOM},
        {"{\"gracePeriodSeconds\":\"30\"}", -EINVAL},
        {"{\"preconditions\":[]}", -EINVAL},
        {"[]", -EINVAL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        memset(&q, 0, sizeof(q));
        b = load(bad[i].body);
        if (orch_delete_options_parse(b, &q, msg, sizeof(msg)) != bad[i].err)
            fail_msg("'%s' was not refused with %d", bad[i].body, bad[i].err);
        json_decref(b);
    }
}

/*
 * Through the handlers.
 */

struct fixture {
    struct store *st;
    struct orch_server srv;
    struct http_response resp;
    json_t *body;
    char target[4096];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];
    json_t *vmi;

    assert_non_null(f);
    log_init("test_orchestratord_kubeapi", LOG_LEVEL_WARN);
    assert_int_equal(store_open(":memory:", NULL, &f->st, err, sizeof(err)), 0);
    orch_server_init(&f->srv, f->st);
    vmi = load("{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
               "\"VirtualMachineInstance\",\"metadata\":{\"name\":"
               "\"vmi-fedora\",\"namespace\":\"default\"},\"spec\":{},"
               "\"status\":{\"phase\":\"Running\",\"nodeName\":\"node1\"}}");
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    http_response_clear(&f->resp);
    json_decref(f->body);
    orch_server_release(&f->srv);
    store_close(f->st);
    free(f);
    return 0;
}

static int call(struct fixture *f, enum http_method m, const char *target,
                const char *body, const char *ctype, const char *accept)
{
    struct orchd_call c = {.method = m,
                           .target = target,
                           .body = body,
                           .content_type = ctype,
                           .accept = accept,
                           .feed = true};
    return orchd_call(&f->srv, &c, &f->resp, &f->body, f->target,
                      sizeof(f->target));
}

static const char vmim_json[] =
    "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
    "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":\"mig\"},"
    "\"spec\":{\"vmiName\":\"vmi-fedora\"}}";

static void test_handlers(void **state)
{
    struct fixture *f = *state;

    /* dryRun=All: admitted, answered, not stored. */
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIMS "?dryRun=All", vmim_json,
                          "application/json", NULL),
                     201);
    assert_string_equal(jstr(f->body, "metadata/name"), "mig");
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIMS "/mig", NULL, NULL, NULL),
                     404);
    /* fieldValidation: unknown fields are errors by default and when
     * Strict, dropped when Ignore (as kubectl --validate=false asks). */
    {
        static const char typo[] =
            "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
            "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
            "\"typo\",\"labels\":{\"a\":\"b\"}},\"spec\":{\"vmiName\":"
            "\"vmi-fedora\",\"vmiNmae\":\"x\"}}";
        assert_int_equal(call(f, HTTP_METHOD_POST,
                              VMIMS "?fieldValidation=Strict&dryRun=All", typo,
                              "application/json", NULL),
                         422);
        assert_int_equal(call(f, HTTP_METHOD_POST, VMIMS "?dryRun=All", typo,
                              "application/json", NULL),
                         422);
        assert_int_equal(call(f, HTTP_METHOD_POST,
                              VMIMS "?fieldValidation=Ignore&dryRun=All", typo,
                              "application/json", NULL),
                         201);
        assert_null(jget(f->body, "spec/vmiNmae"));
        assert_string_equal(jstr(f->body, "spec/vmiName"), "vmi-fedora");
        assert_string_equal(jstr(f->body, "metadata/labels/a"), "b");
        assert_int_equal(f->resp.n_headers, 0);
        /* Warn drops it too, and says so in a Warning header, which
         * kubectl prints as "Warning: unknown field ...". */
        assert_int_equal(call(f, HTTP_METHOD_POST,
                              VMIMS "?fieldValidation=Warn&dryRun=All", typo,
                              "application/json", NULL),
                         201);
        assert_null(jget(f->body, "spec/vmiNmae"));
        assert_int_equal(f->resp.n_headers, 1);
        assert_string_equal(f->resp.header_names[0], "Warning");
        assert_string_equal(f->resp.header_values[0],
                            "299 - \"unknown field \\\"spec.vmiNmae\\\"\"");
    }
    /* A hostile field name cannot break the header line, and a flood of
     * unknown fields gives a bounded number of headers. */
    {
        json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}",
                                "apiVersion", "kubevirt.io/v1", "kind",
                                "VirtualMachineInstanceMigration", "metadata",
                                "name", "hostile", "spec", "vmiName",
                                "vmi-fedora", "a\"b\r\nX-Injected: 1", "x");
        char *text;
        assert_non_null(doc);
        for (int i = 0; i < 20; i++) {
            char k[16];
            snprintf(k, sizeof(k), "extra%d", i);
            json_object_set_new(doc, k, json_true());
        }
        text = json_dumps(doc, JSON_COMPACT);
        assert_int_equal(call(f, HTTP_METHOD_POST,
                              VMIMS "?fieldValidation=Warn&dryRun=All", text,
                              "application/json", NULL),
                         201);
        free(text);
        json_decref(doc);
        assert_int_equal(f->resp.n_headers, 9);
        for (size_t i = 0; i < f->resp.n_headers; i++) {
            const char *v = f->resp.header_values[i];
            assert_string_equal(f->resp.header_names[i], "Warning");
            assert_null(strpbrk(v, "\r\n"));
            if (strstr(v, "spec.a"))
                assert_string_equal(
                    v, "299 - \"unknown field \\\"spec.a\\\\\\\"b??X-Injected: "
                       "1\\\"\"");
        }
        assert_string_equal(f->resp.header_values[8],
                            "299 - \"13 more unknown fields\"");
    }

    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIMS, vmim_json, "application/json", NULL),
        201);

    /* A Table for a get and a list. */
    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIMS "/mig", NULL, NULL, TABLE_ACCEPT), 200);
    assert_string_equal(jstr(f->body, "kind"), "Table");
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIMS "?includeObject=Object",
                          NULL, NULL, TABLE_ACCEPT),
                     200);
    assert_string_equal(jstr(f->body, "kind"), "Table");
    assert_non_null(jget(f->body, "metadata/resourceVersion"));
    assert_string_equal(
        jstr(json_array_get(json_object_get(f->body, "rows"), 0),
             "object/spec/vmiName"),
        "vmi-fedora");

    /* Patches: JSON patch on metadata; the spec stays immutable; a
     * strategic patch of a custom resource is 415; apply is 415 too. */
    assert_int_equal(call(f, HTTP_METHOD_PATCH, VMIMS "/mig",
                          "[{\"op\":\"add\",\"path\":\"/metadata/labels/x\","
                          "\"value\":\"y\"}]",
                          "application/json-patch+json", NULL),
                     200);
    assert_string_equal(jstr(f->body, "metadata/labels/x"), "y");
    assert_int_equal(call(f, HTTP_METHOD_PATCH, VMIMS "/mig",
                          "{\"spec\":{\"vmiName\":\"other\"}}",
                          "application/merge-patch+json", NULL),
                     422);
    assert_non_null(strstr(jstr(f->body, "message"), "spec is restricted"));
    assert_int_equal(call(f, HTTP_METHOD_PATCH, VMIMS "/mig", "{}",
                          "application/strategic-merge-patch+json", NULL),
                     415);
    assert_int_equal(call(f, HTTP_METHOD_PATCH, VMIMS "/mig", "{}",
                          "application/apply-patch+yaml", NULL),
                     415);
    assert_non_null(strstr(jstr(f->body, "message"), "server-side apply"));
    assert_int_equal(call(f, HTTP_METHOD_PATCH, VMIMS "/mig?dryRun=All",
                          "{\"metadata\":{\"labels\":{\"x\":\"z\"}}}",
                          "application/merge-patch+json", NULL),
                     200);
    assert_string_equal(jstr(f->body, "metadata/labels/x"), "z");
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIMS "/mig", NULL, NULL, NULL),
                     200);
    assert_string_equal(jstr(f->body, "metadata/labels/x"), "y");

    /* Events: the creation's, by field selector; an unknown selector. */
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/api/v1/namespaces/default/events?fieldSelector="
                          "involvedObject.name%3Dmig,involvedObject.kind%3D"
                          "VirtualMachineInstanceMigration",
                          NULL, NULL, NULL),
                     200);
    assert_string_equal(jstr(f->body, "kind"), "EventList");
    assert_int_equal(json_array_size(json_object_get(f->body, "items")), 1);
    assert_string_equal(
        jstr(json_array_get(json_object_get(f->body, "items"), 0), "reason"),
        "Pending");
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/api/v1/events?fieldSelector=involvedObject.name!%3D"
                          "mig",
                          NULL, NULL, NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(f->body, "items")), 0);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/api/v1/events?fieldSelector=spec.x%3D1", NULL, NULL,
                          NULL),
                     400);
    assert_int_equal(call(f, HTTP_METHOD_POST,
                          "/api/v1/namespaces/default/events", "{}",
                          "application/json", NULL),
                     405);

    /* DELETE with a DeleteOptions body: dryRun keeps it, a stale
     * precondition is a conflict, then it goes. */
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/mig",
                          "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
                          "\"dryRun\":[\"All\"]}",
                          "application/json", NULL),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIMS "/mig", NULL, NULL, NULL),
                     200);
    {
        /* In flight, a delete is a cancel: in a dry run, not even that
         * (kubectl delete --dry-run=server once aborted a migration). */
        json_t *m = NULL;
        assert_int_equal(
            store_get(f->st, STORE_KIND_MIGRATION, "default", "mig", &m), 0);
        json_object_set_new(m, "status",
                            json_pack("{s:s, s:{s:s, s:s}}", "phase", "Running",
                                      "migrationState", "sourceNode", "node1",
                                      "targetNode", "node2"));
        assert_int_equal(store_update(f->st, STORE_KIND_MIGRATION, m, 0), 0);
        json_decref(m);
        assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/mig",
                              "{\"dryRun\":[\"All\"]}", "application/json",
                              NULL),
                         202);
        assert_int_equal(
            call(f, HTTP_METHOD_GET, VMIMS "/mig", NULL, NULL, NULL), 200);
        assert_null(jget(f->body, "status/migrationState/abortRequested"));
        assert_string_equal(jstr(f->body, "status/phase"), "Running");
    }
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIMS "/mig",
                          "{\"preconditions\":{\"uid\":\"not-it\"}}",
                          "application/json", NULL),
                     409);
    assert_non_null(strstr(jstr(f->body, "message"), "Precondition failed"));

    /* OpenAPI routes, and ?pretty. */
    assert_int_equal(call(f, HTTP_METHOD_GET, "/openapi/v3/apis/kubevirt.io/v1",
                          NULL, NULL, NULL),
                     200);
    assert_string_equal(jstr(f->body, "openapi"), "3.0.0");
    assert_int_equal(call(f, HTTP_METHOD_GET, "/openapi/v3/apis/kubevirt.io/v9",
                          NULL, NULL, NULL),
                     404);
    assert_int_equal(call(f, HTTP_METHOD_GET, "/openapi/v2", NULL, NULL,
                          "application/com.github.proto-openapi.spec.v2@v1."
                          "0+protobuf"),
                     406);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/version?pretty=true", NULL, NULL, NULL),
        200);
    assert_non_null(strstr(f->resp.body, "\n  \"major\""));
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIMS "?watch=true&"
                                "sendInitialEvents=true",
                          NULL, NULL, NULL),
                     422);
}

static void test_event_record(void **state)
{
    struct fixture *f = *state;
    json_t *obj = load("{\"apiVersion\":\"v1\",\"kind\":\"Node\","
                       "\"metadata\":{\"name\":\"host-a\",\"uid\":\"u\"}}");
    json_t *bad = load("{\"apiVersion\":\"v9\",\"kind\":\"Thing\","
                       "\"metadata\":{\"name\":\"x\"}}");

    assert_int_equal(orch_event_record(&f->srv, obj, "Warning", "Cordoned",
                                       "marked unschedulable"),
                     0);
    assert_int_equal(orch_event_record(&f->srv, bad, "Normal", "X", NULL),
                     -EINVAL);
    assert_int_equal(orch_event_record(&f->srv, obj, "Loud", "X", NULL),
                     -EINVAL);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/api/v1/events?fieldSelector=involvedObject.kind%3D"
                          "Node,type%3DWarning",
                          NULL, NULL, TABLE_ACCEPT),
                     200);
    assert_string_equal(jstr(f->body, "kind"), "Table");
    assert_int_equal(json_array_size(json_object_get(f->body, "rows")), 1);
    {
        const json_t *cells = json_object_get(
            json_array_get(json_object_get(f->body, "rows"), 0), "cells");
        assert_string_equal(json_string_value(json_array_get(cells, 2)),
                            "Cordoned");
        assert_string_equal(json_string_value(json_array_get(cells, 3)),
                            "node/host-a");
    }
    json_decref(obj);
    json_decref(bad);
}

/* A watch whose client asked for Tables sends each event's object as a
 * Table of one row (kubectl get -w); an ERROR stays a Status. */
struct sink {
    char buf[16384];
    size_t len;
    bool ended;
};

static int sink_write(void *ctx, const char *buf, size_t len)
{
    struct sink *s = ctx;
    assert_true(s->len + len < sizeof(s->buf));
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return 0;
}

static size_t sink_pending(void *ctx)
{
    (void)ctx;
    return 0;
}

static void sink_end(void *ctx)
{
    ((struct sink *)ctx)->ended = true;
}

static void test_watch_table(void **state)
{
    struct fixture *f = *state;
    struct sink sink = {.len = 0};
    struct orch_watch_params p = {
        .kind = api_kind_info(API_KIND_VMI),
        .ns = "default",
        .table = true,
        .include_object = "None",
    };
    struct orch_watch_io io = {sink_write, sink_pending, sink_end, &sink};
    struct orch_watcher *w = NULL;
    char *msg = NULL, *nl;
    json_t *vmi = NULL, *ev;

    assert_int_equal(orch_watch_new(&f->srv, &p, &w, &msg), 0);
    orch_watch_start(w, &io);
    orch_feed_run(&f->srv);
    assert_int_equal(
        store_get(f->st, STORE_KIND_VMI, "default", "vmi-fedora", &vmi), 0);
    json_object_set_new(json_object_get(vmi, "status"), "phase",
                        json_string("Succeeded"));
    assert_int_equal(store_update(f->st, STORE_KIND_VMI, vmi, 0), 0);
    json_decref(vmi);
    orch_feed_run(&f->srv);

    /* ADDED (the listing), then MODIFIED, each a Table of one row. */
    nl = strchr(sink.buf, '\n');
    assert_non_null(nl);
    ev = json_loadb(sink.buf, (size_t)(nl - sink.buf), 0, NULL);
    assert_non_null(ev);
    assert_string_equal(jstr(ev, "type"), "ADDED");
    assert_string_equal(jstr(ev, "object/kind"), "Table");
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_array_get(jget(ev, "object/rows"), 0),
                            "cells"),
            2)),
        "Running");
    assert_null(
        json_object_get(json_array_get(jget(ev, "object/rows"), 0), "object"));
    json_decref(ev);
    ev = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(ev);
    assert_string_equal(jstr(ev, "type"), "MODIFIED");
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_array_get(jget(ev, "object/rows"), 0),
                            "cells"),
            2)),
        "Succeeded");
    json_decref(ev);
    /* The server's teardown ends the watch. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openapi_schema),
        cmocka_unit_test(test_openapi_documents),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_patch_types),
        cmocka_unit_test(test_patch_merge_and_json),
        cmocka_unit_test(test_patch_strategic),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_delete_options),
        cmocka_unit_test_setup_teardown(test_handlers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
