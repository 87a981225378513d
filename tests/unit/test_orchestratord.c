/*
 * Unit tests for orchestratord's REST handlers: each request is a plain
 * struct run through orch_handle() against a ":memory:" store, and the
 * status code, Status reason and message, and returned objects asserted.
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
#include "orchestratord/migration.h"
#include "orchestratord/orchd.h"
#include "tests/unit/support/orchd_call.h"
#include "tests/unit/support/store_fail.h"

#define NS          "default"
#define POLICY_PATH "/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies"
#define VMIM_PATH                                                              \
    "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations"

struct fixture {
    struct store *st;
    struct orch_server srv;
    struct http_response resp;
    json_t *body; /* the last response, decoded when JSON */
    char target[4096];
};

static const char vmim_yaml[] = "apiVersion: kubevirt.io/v1\n"
                                "kind: VirtualMachineInstanceMigration\n"
                                "metadata:\n"
                                "  name: migration-job\n"
                                "spec:\n"
                                "  vmiName: vmi-fedora\n";

static void seed_vmi(struct fixture *f, const char *name, const char *phase)
{
    json_t *vmi =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:s, s:s}}", "apiVersion",
                  "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                  "metadata", "name", name, "namespace", NS, "spec", "status",
                  "phase", phase, "nodeName", "node1");
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];
    assert_non_null(f);
    log_init("test_orchestratord", LOG_LEVEL_WARN);
    assert_int_equal(store_open(":memory:", NULL, &f->st, err, sizeof(err)), 0);
    orch_server_init(&f->srv, f->st);
    seed_vmi(f, "vmi-fedora", "Running");
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

/* Run one request; returns the status code.  HEADERS: content type,
 * accept, authorization (each may be NULL). */
static int call(struct fixture *f, enum http_method m, const char *target,
                const char *body, const char *ctype, const char *accept,
                const char *auth)
{
    struct orchd_call c = {.method = m,
                           .target = target,
                           .body = body,
                           .content_type = ctype,
                           .accept = accept,
                           .authorization = auth,
                           .feed = true};
    return orchd_call(&f->srv, &c, &f->resp, &f->body, f->target,
                      sizeof(f->target));
}

static const char *jstr(const json_t *doc, const char *path)
{
    const char *s = api_doc_get_string(doc, path);
    return s ? s : "(null)";
}

static void assert_status(struct fixture *f, int code, const char *reason,
                          const char *msg_part)
{
    assert_int_equal(f->resp.status, code);
    assert_non_null(f->body);
    assert_string_equal(jstr(f->body, "kind"), "Status");
    assert_int_equal(json_integer_value(json_object_get(f->body, "code")),
                     code);
    if (reason)
        assert_string_equal(jstr(f->body, "reason"), reason);
    if (msg_part && !strstr(jstr(f->body, "message"), msg_part))
        fail_msg("message '%s' lacks '%s'", jstr(f->body, "message"), msg_part);
}

static void test_create_get_list_delete(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml,
                          "application/yaml", NULL, NULL),
                     201);
    assert_string_equal(jstr(f->body, "metadata.name"), "migration-job");
    assert_string_equal(jstr(f->body, "metadata.namespace"), "default");
    assert_string_equal(jstr(f->body, "status.phase"), "Pending");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(f->body, "metadata"), "labels"),
            "kubevirt.io/vmi-name")),
        "vmi-fedora");
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(f->body, "status"),
                                        "phaseTransitionTimestamps")),
        1);
    assert_true(strlen(jstr(f->body, "metadata.uid")) == 36);

    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "/migration-job", NULL,
                          NULL, NULL, NULL),
                     200);
    assert_string_equal(jstr(f->body, "spec.vmiName"), "vmi-fedora");

    /* The same name again: 409 AlreadyExists, after admission's in-flight
     * check, which comes first for the same VMI. */
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL, NULL), 409);
    assert_status(f, 409, "Conflict",
                  "in-flight migration detected. Active migration job "
                  "(migration-job) is currently already in progress for VMI "
                  "vmi-fedora.");

    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL, NULL, NULL), 200);
    assert_string_equal(jstr(f->body, "kind"),
                        "VirtualMachineInstanceMigrationList");
    assert_int_equal(json_array_size(json_object_get(f->body, "items")), 1);

    /* All namespaces. */
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/kubevirt.io/v1/"
                          "virtualmachineinstancemigrations",
                          NULL, NULL, NULL, NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(f->body, "items")), 1);

    /* Pending: deleted at once. */
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIM_PATH "/migration-job",
                          NULL, NULL, NULL, NULL),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "/migration-job", NULL,
                          NULL, NULL, NULL),
                     404);
    assert_status(f, 404, "NotFound",
                  "virtualmachineinstancemigrations.kubevirt.io "
                  "\"migration-job\" not found");
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIM_PATH "/migration-job",
                          NULL, NULL, NULL, NULL),
                     404);
}

static void test_create_json_and_generate_name(void **state)
{
    struct fixture *f = *state;
    const char *json =
        "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
        "\"VirtualMachineInstanceMigration\",\"metadata\":{\"generateName\":"
        "\"mig-\"},\"spec\":{\"vmiName\":\"vmi-fedora\"}}";
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, json,
                          "application/json", NULL, NULL),
                     201);
    assert_true(strncmp(jstr(f->body, "metadata.name"), "mig-", 4) == 0);
    assert_true(strlen(jstr(f->body, "metadata.name")) > 4);
}

/* Server-owned metadata in a request is replaced: the store relies on it for
 * uid uniqueness (schema v4 has no unique index on uid). */
static void test_create_replaces_server_fields(void **state)
{
    struct fixture *f = *state;
    const char *uid = "0b1e6f3e-5c1d-4a8e-9f00-000000000001";
    char json[512];

    for (int i = 0; i < 2; i++) {
        snprintf(json, sizeof(json),
                 "{\"apiVersion\":\"migrations.kubevirt.io/v1alpha1\","
                 "\"kind\":\"MigrationPolicy\",\"metadata\":{\"name\":\"p%d\","
                 "\"uid\":\"%s\",\"resourceVersion\":\"999999\","
                 "\"creationTimestamp\":\"2000-01-01T00:00:00Z\"},"
                 "\"spec\":{\"selectors\":{}}}",
                 i, uid);
        assert_int_equal(call(f, HTTP_METHOD_POST, POLICY_PATH, json,
                              "application/json", NULL, NULL),
                         201);
        assert_string_not_equal(jstr(f->body, "metadata.uid"), uid);
        assert_string_not_equal(jstr(f->body, "metadata.resourceVersion"),
                                "999999");
        assert_string_not_equal(jstr(f->body, "metadata.creationTimestamp"),
                                "2000-01-01T00:00:00Z");
    }
}

static void test_admission(void **state)
{
    struct fixture *f = *state;
    char body[512];

    /* No such VMI: 422 naming it. */
    snprintf(body, sizeof(body),
             "apiVersion: kubevirt.io/v1\nkind: "
             "VirtualMachineInstanceMigration\nmetadata: {name: m1}\nspec: "
             "{vmiName: nope}\n");
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, body, NULL, NULL, NULL), 422);
    assert_status(f, 422, "Invalid", "the VMI \"default/nope\" does not exist");

    /* A finished VMI. */
    seed_vmi(f, "vmi-done", "Succeeded");
    snprintf(body, sizeof(body),
             "apiVersion: kubevirt.io/v1\nkind: "
             "VirtualMachineInstanceMigration\nmetadata: {name: m2}\nspec: "
             "{vmiName: vmi-done}\n");
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, body, NULL, NULL, NULL), 422);
    assert_status(f, 422, "Invalid", "Cannot migrate VMI in finalized state.");

    /* Feature gate off. */
    f->srv.settings.live_migration = false;
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL, NULL), 422);
    assert_status(f, 422, "Invalid",
                  "LiveMigration feature gate is not enabled");
    f->srv.settings.live_migration = true;

    /* Validation: field causes. */
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH,
                          "apiVersion: kubevirt.io/v1\nkind: "
                          "VirtualMachineInstanceMigration\nmetadata: {name: "
                          "m3}\nspec: {}\n",
                          NULL, NULL, NULL),
                     422);
    assert_status(f, 422, "Invalid", "spec.vmiName: Required value");
    {
        json_t *causes =
            json_object_get(json_object_get(f->body, "details"), "causes");
        assert_true(json_array_size(causes) >= 1);
        assert_string_equal(jstr(json_array_get(causes, 0), "field"),
                            "spec.vmiName");
        assert_string_equal(jstr(json_array_get(causes, 0), "reason"),
                            "FieldValueRequired");
    }

    /* Kind and apiVersion must match the URL: 400. */
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH,
                          "apiVersion: kubevirt.io/v1\nkind: "
                          "VirtualMachine\nmetadata: {name: x}\n",
                          NULL, NULL, NULL),
                     400);
    assert_status(f, 400, "BadRequest",
                  "the kind in the data (VirtualMachine) does not match the "
                  "expected kind (VirtualMachineInstanceMigration)");
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH,
                          "apiVersion: kubevirt.io/v2\nkind: "
                          "VirtualMachineInstanceMigration\n",
                          NULL, NULL, NULL),
                     400);
    assert_status(f, 400, "BadRequest",
                  "the API version in the data (kubevirt.io/v2) does not "
                  "match the expected API version (kubevirt.io/v1)");

    /* Namespace in the body must match the URL. */
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH,
                          "apiVersion: kubevirt.io/v1\nkind: "
                          "VirtualMachineInstanceMigration\nmetadata: {name: "
                          "m4, namespace: other}\nspec: {vmiName: x}\n",
                          NULL, NULL, NULL),
                     400);
    assert_status(f, 400, "BadRequest",
                  "the namespace of the provided object does not match the "
                  "namespace sent on the request");

    /* Malformed YAML, binary garbage, wrong media type. */
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, "a: [b\n", NULL, NULL, NULL), 400);
    assert_status(f, 400, "BadRequest", "the request body is invalid");
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, "\x7f\x45\x4c\x46",
                          NULL, NULL, NULL),
                     400);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml,
                          "text/plain", NULL, NULL),
                     415);
    assert_status(f, 415, "UnsupportedMediaType", "unknown format");
}

static void test_body_too_large(void **state)
{
    struct fixture *f = *state;
    size_t n = 2048;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    f->srv.settings.api_limits.max_body_bytes = 1024;
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, big, NULL, NULL, NULL), 413);
    assert_status(f, 413, "RequestEntityTooLarge", "too large");
    free(big);
}

static void test_delete_in_flight_requests_abort(void **state)
{
    struct fixture *f = *state;
    json_t *obj = NULL;

    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL, NULL), 201);
    /* Pretend the controller moved it to Running. */
    assert_int_equal(
        store_get(f->st, STORE_KIND_MIGRATION, NS, "migration-job", &obj), 0);
    api_doc_set_string(obj, "status.phase", "Running");
    assert_int_equal(store_update(f->st, STORE_KIND_MIGRATION, obj, 0), 0);
    json_decref(obj);

    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIM_PATH "/migration-job",
                          NULL, NULL, NULL, NULL),
                     202);
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(f->body, "status"), "migrationState"),
        "abortRequested")));
    assert_string_not_equal(jstr(f->body, "metadata.deletionTimestamp"),
                            "(null)");
    /* Still there. */
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "/migration-job", NULL,
                          NULL, NULL, NULL),
                     200);
}

static void add_tokens(struct fixture *f)
{
    f->srv.settings.tokens = calloc(2, sizeof(struct orch_token));
    f->srv.settings.tokens[0].name = strdup("ops");
    f->srv.settings.tokens[0].token = strdup("admin-secret-0123456789");
    f->srv.settings.tokens[0].role = ORCH_ROLE_ADMIN;
    f->srv.settings.tokens[1].name = strdup("dash");
    f->srv.settings.tokens[1].token = strdup("viewer-secret-0123456789");
    f->srv.settings.tokens[1].role = ORCH_ROLE_VIEWER;
    f->srv.settings.n_tokens = 2;
}

static void test_auth(void **state)
{
    struct fixture *f = *state;
    add_tokens(f);

    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL, NULL, NULL), 401);
    assert_status(f, 401, "Unauthorized", "Unauthorized");
    assert_string_equal(f->resp.header_names[0], "WWW-Authenticate");
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL, NULL,
                          "Bearer wrong-secret-0123456789"),
                     401);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL, NULL,
                          "Bearer viewer-secret-012345678"),
                     401); /* a prefix is not the token */
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL, NULL,
                          "Basic dXNlcjpwYXNz"),
                     401);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL, NULL,
                          "Bearer viewer-secret-0123456789"),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL,
                          "Bearer viewer-secret-0123456789"),
                     403);
    assert_status(f, 403, "Forbidden",
                  "virtualmachineinstancemigrations.kubevirt.io is "
                  "forbidden: User \"dash\" cannot create resource "
                  "\"virtualmachineinstancemigrations\" in API group "
                  "\"kubevirt.io\" in the namespace \"default\"");
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL,
                          "Bearer admin-secret-0123456789"),
                     201);
    /* Health needs no token. */
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/healthz", NULL, NULL, NULL, NULL), 200);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/readyz", NULL, NULL, NULL, NULL), 200);
}

static void test_discovery(void **state)
{
    struct fixture *f = *state;
    json_t *res;
    bool found_vmim = false;

    assert_int_equal(call(f, HTTP_METHOD_GET, "/api", NULL, NULL, NULL, NULL),
                     200);
    assert_string_equal(jstr(f->body, "kind"), "APIVersions");
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/api/v1", NULL, NULL, NULL, NULL), 200);
    assert_string_equal(
        jstr(json_array_get(json_object_get(f->body, "resources"), 0), "name"),
        "nodes");
    assert_int_equal(call(f, HTTP_METHOD_GET, "/apis", NULL, NULL, NULL, NULL),
                     200);
    assert_string_equal(jstr(f->body, "kind"), "APIGroupList");
    assert_int_equal(json_array_size(json_object_get(f->body, "groups")), 3);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/apis/kubevirt.io", NULL, NULL, NULL, NULL),
        200);
    assert_string_equal(jstr(f->body, "preferredVersion.groupVersion"),
                        "kubevirt.io/v1");
    assert_int_equal(call(f, HTTP_METHOD_GET, "/apis/kubevirt.io/v1", NULL,
                          NULL, NULL, NULL),
                     200);
    res = json_object_get(f->body, "resources");
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *r = json_array_get(res, i);
        if (strcmp(jstr(r, "name"), "virtualmachineinstancemigrations"))
            continue;
        found_vmim = true;
        assert_string_equal(json_string_value(json_array_get(
                                json_object_get(r, "shortNames"), 0)),
                            "vmim");
        assert_true(json_is_true(json_object_get(r, "namespaced")));
    }
    assert_true(found_vmim);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/migrations.kubevirt.io/v1alpha1", NULL, NULL,
                          NULL, NULL),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/subresources.kubevirt.io/v1", NULL, NULL, NULL,
                          NULL),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_GET, "/apis/example.com/v1", NULL,
                          NULL, NULL, NULL),
                     404);
    assert_status(f, 404, "NotFound", "could not find the requested resource");
}

/* GET /version answers like Kubernetes' (kubectl and orchctl version read
 * gitVersion); other methods are refused. */
static void test_version(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/version", NULL, NULL, NULL, NULL), 200);
    assert_string_equal(jstr(f->body, "gitVersion"), ORCHD_VERSION);
    assert_string_equal(jstr(f->body, "major"), "0");
    assert_string_equal(jstr(f->body, "minor"), "1");
    assert_non_null(strstr(jstr(f->body, "platform"), "linux/"));
    assert_int_equal(
        call(f, HTTP_METHOD_POST, "/version", "{}", NULL, NULL, NULL), 405);
    assert_status(f, 405, "MethodNotAllowed", "does not allow this method");
}

static void test_routes_and_methods(void **state)
{
    struct fixture *f = *state;
    /* VMIs: read only. */
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/kubevirt.io/v1/namespaces/default/"
                          "virtualmachineinstances/vmi-fedora",
                          NULL, NULL, NULL, NULL),
                     200);
    assert_int_equal(call(f, HTTP_METHOD_DELETE,
                          "/apis/kubevirt.io/v1/namespaces/default/"
                          "virtualmachineinstances/vmi-fedora",
                          NULL, NULL, NULL, NULL),
                     405);
    assert_status(f, 405, "MethodNotAllowed", "does not allow this method");
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/api/v1/nodes", NULL, NULL, NULL, NULL), 200);
    assert_string_equal(jstr(f->body, "kind"), "NodeList");
    assert_int_equal(call(f, HTTP_METHOD_GET, "/apis/kubevirt.io/v1/nothing",
                          NULL, NULL, NULL, NULL),
                     404);
    assert_int_equal(call(f, HTTP_METHOD_GET, "/", NULL, NULL, NULL, NULL),
                     404);
}

static void test_yaml_accept_and_406(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/kubevirt.io/v1/namespaces/default/"
                          "virtualmachineinstances/vmi-fedora",
                          NULL, NULL, "application/yaml", NULL),
                     200);
    assert_string_equal(f->resp.content_type, "application/yaml");
    assert_non_null(strstr(f->resp.body, "kind: VirtualMachineInstance\n"));
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/apis", NULL, NULL, "text/html", NULL), 406);
    assert_status(f, 406, "NotAcceptable", "application/yaml");
    assert_int_equal(orch_accept_format("application/json;q=0.9, */*"),
                     API_FORMAT_JSON);
    assert_int_equal(orch_accept_format("application/yaml, application/json"),
                     API_FORMAT_YAML);
}

/* Decode the last response's body as YAML (or JSON). */
static json_t *decode_resp(struct fixture *f)
{
    struct api_limits lim;
    struct api_errors errs = API_ERRORS_INIT;
    json_t *doc = NULL;
    api_limits_default(&lim);
    assert_int_equal(
        api_doc_decode(f->resp.body, f->resp.body_len, &lim, &doc, &errs), 0);
    api_errors_clear(&errs);
    return doc;
}

/* JSON answers to GET and list are the stored texts sent as they are; YAML
 * answers go through the document tree.  Both must say the same. */
static void test_json_text_and_yaml_agree(void **state)
{
    struct fixture *f = *state;
    json_t *stored = NULL, *yaml = NULL, *json = NULL;
    const char *vmi_path = "/apis/kubevirt.io/v1/namespaces/default/"
                           "virtualmachineinstances/vmi-fedora";
    char target[1024];

    seed_vmi(f, "vmi-b", "Running");
    seed_vmi(f, "vmi-c", "Scheduling");
    assert_int_equal(call(f, HTTP_METHOD_GET, vmi_path, NULL, NULL, NULL, NULL),
                     200);
    assert_string_equal(f->resp.content_type, "application/json");
    assert_int_equal(
        store_get(f->st, STORE_KIND_VMI, NS, "vmi-fedora", &stored), 0);
    assert_non_null(f->body);
    assert_true(json_equal(f->body, stored));
    assert_int_equal(strlen(f->resp.body), f->resp.body_len);
    json_decref(stored);

    /* A missing record through the text path is still a NotFound Status. */
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/kubevirt.io/v1/namespaces/default/"
                          "virtualmachineinstances/vmi-nope",
                          NULL, NULL, NULL, NULL),
                     404);
    assert_status(f, 404, "NotFound",
                  "virtualmachineinstances.kubevirt.io \"vmi-nope\" not found");

    /* A first page (with a continue token), then the rest, both ways. */
    for (int page = 0; page < 2; page++) {
        const char *cont;
        if (page == 0)
            snprintf(target, sizeof(target),
                     "/apis/kubevirt.io/v1/namespaces/default/"
                     "virtualmachineinstances?limit=2");
        assert_int_equal(
            call(f, HTTP_METHOD_GET, target, NULL, NULL, NULL, NULL), 200);
        json = json_incref(f->body);
        assert_non_null(json);
        assert_int_equal(call(f, HTTP_METHOD_GET, target, NULL, NULL,
                              "application/yaml", NULL),
                         200);
        assert_string_equal(f->resp.content_type, "application/yaml");
        yaml = decode_resp(f);
        assert_true(json_equal(json, yaml));
        assert_string_equal(jstr(json, "kind"), "VirtualMachineInstanceList");
        assert_string_equal(jstr(json, "apiVersion"), "kubevirt.io/v1");
        assert_non_null(api_doc_get_string(json, "metadata.resourceVersion"));
        assert_int_equal(json_array_size(json_object_get(json, "items")),
                         page == 0 ? 2 : 1);
        cont = api_doc_get_string(json, "metadata.continue");
        if (page == 0) {
            assert_non_null(cont);
            snprintf(target, sizeof(target),
                     "/apis/kubevirt.io/v1/namespaces/default/"
                     "virtualmachineinstances?limit=2&continue=%s",
                     cont);
        } else {
            assert_null(cont);
            assert_string_equal(
                jstr(json_array_get(json_object_get(json, "items"), 0),
                     "metadata.name"),
                "vmi-fedora");
        }
        json_decref(json);
        json_decref(yaml);
    }
}

/* A VMI with CONDS (a JSON array text) in its status. */
static void seed_vmi_conds(struct fixture *f, const char *name,
                           const char *conds)
{
    json_t *vmi = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{}, s:{s:s, s:s, s:o}}", "apiVersion",
        "kubevirt.io/v1", "kind", "VirtualMachineInstance", "metadata", "name",
        name, "namespace", NS, "spec", "status", "phase", "Running", "nodeName",
        "node1", "conditions", json_loads(conds, 0, NULL));
    assert_non_null(vmi);
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
}

static int post_for_vmi(struct fixture *f, const char *mig, const char *vmi)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":"
             "\"VirtualMachineInstanceMigration\",\"metadata\":{\"name\":"
             "\"%s\"},\"spec\":{\"vmiName\":\"%s\"}}",
             mig, vmi);
    return call(f, HTTP_METHOD_POST, VMIM_PATH, body, NULL, NULL, NULL);
}

/* Admission's VMI rules (migration.c), worded as KubeVirt's admitter. */
static void test_admission_conditions(void **state)
{
    struct fixture *f = *state;

    seed_vmi_conds(f, "vmi-ok",
                   "[{\"type\":\"Ready\",\"status\":\"True\"},"
                   "{\"type\":\"LiveMigratable\",\"status\":\"True\"}]");
    assert_int_equal(post_for_vmi(f, "m-ok", "vmi-ok"), 201);
    assert_string_equal(jstr(f->body, "status.phase"), "Pending");
    assert_string_equal(jstr(f->body, "metadata.namespace"), NS);
    assert_non_null(api_doc_get_string(f->body, "metadata.uid"));
    assert_non_null(api_doc_get_string(f->body, "metadata.resourceVersion"));

    seed_vmi_conds(f, "vmi-no",
                   "[{\"type\":\"Ready\",\"status\":\"True\"},"
                   "{\"type\":\"LiveMigratable\",\"status\":\"False\","
                   "\"reason\":\"DisksNotLiveMigratable\",\"message\":"
                   "\"disk \\\"root\\\" is not shared\"}]");
    assert_int_equal(post_for_vmi(f, "m-no", "vmi-no"), 422);
    assert_status(f, 422, "Invalid",
                  "Cannot migrate VMI, Reason: DisksNotLiveMigratable, "
                  "Message: disk \"root\" is not shared");

    /* No status on the condition: not "False", so admitted (the tree
     * check asks for status False). */
    seed_vmi_conds(f, "vmi-odd", "[{\"type\":\"LiveMigratable\"}, 7]");
    assert_int_equal(post_for_vmi(f, "m-odd", "vmi-odd"), 201);

    seed_vmi(f, "vmi-failed", "Failed");
    assert_int_equal(post_for_vmi(f, "m-failed", "vmi-failed"), 422);
    assert_status(f, 422, "Invalid", "Cannot migrate VMI in finalized state.");

    /* Nothing of a refused POST was stored. */
    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIM_PATH "/m-no", NULL, NULL, NULL, NULL),
        404);
    /* One in flight per VMI. */
    assert_int_equal(post_for_vmi(f, "m-ok2", "vmi-ok"), 409);
    assert_status(f, 409, "Conflict", "Active migration job (m-ok)");
}

/* An SR-IOV VMI migrates only with a static MAC and a static address for
 * it in networkData (orchestratord/sriov.h): 422 with the reason. */
static void test_admission_sriov(void **state)
{
    struct fixture *f = *state;
    json_t *vmi = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:[{s:s, s:{}}]}},"
        " s:[{s:s, s:{s:s}}], s:[{s:s, s:{s:s}}]},"
        " s:{s:s, s:s}}",
        "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
        "metadata", "name", "vmi-sriov", "namespace", NS, "spec", "domain",
        "devices", "interfaces", "name", "net1", "sriov", "networks", "name",
        "net1", "multus", "networkName", "sriov-net1", "volumes", "name",
        "cloudinit", "cloudInitNoCloud", "networkData",
        "version: 2\nethernets:\n  e:\n    match: {macAddress: "
        "'02:00:00:00:00:07'}\n    addresses: [198.18.0.70/15]\n",
        "status", "phase", "Running", "nodeName", "node1");

    assert_non_null(vmi);
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);
    assert_int_equal(post_for_vmi(f, "m-sriov", "vmi-sriov"), 422);
    assert_status(f, 422, "Invalid",
                  "Cannot migrate VMI, Reason: InterfaceNotLiveMigratable, "
                  "Message: SR-IOV interface 'net1' "
                  "(spec.domain.devices.interfaces[0]) has no static "
                  "macAddress");
}

/* The rules on their own, as the controller will call them: on objects,
 * without HTTP. */
static void test_migration_rules(void **state)
{
    struct fixture *f = *state;
    char msg[256];
    json_t *vmi, *vmim;
    static const struct {
        const char *phase;
        enum orch_migration_cancel want;
    } cancel[] = {
        {NULL, ORCH_MIGRATION_CANCEL_DELETE},
        {"Pending", ORCH_MIGRATION_CANCEL_DELETE},
        {"Scheduling", ORCH_MIGRATION_CANCEL_ABORT},
        {"PreparingTarget", ORCH_MIGRATION_CANCEL_ABORT},
        {"Running", ORCH_MIGRATION_CANCEL_ABORT},
        {"Succeeded", ORCH_MIGRATION_CANCEL_DELETE},
        {"Failed", ORCH_MIGRATION_CANCEL_DELETE},
        {"Bogus", ORCH_MIGRATION_CANCEL_DELETE},
    };

    vmi =
        json_pack("{s:{s:s, s:[{s:s, s:s}]}}", "status", "phase", "Running",
                  "conditions", "type", "LiveMigratable", "status", "Unknown");
    assert_int_equal(orch_migration_vmi_check(vmi, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "");
    json_object_set_new(
        json_array_get(
            json_object_get(json_object_get(vmi, "status"), "conditions"), 0),
        "status", json_string("False"));
    assert_int_equal(orch_migration_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_string_equal(msg, "Cannot migrate VMI, Reason: , Message: ");
    api_doc_set_string(vmi, "status.phase", "Succeeded");
    assert_int_equal(orch_migration_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_string_equal(msg, "Cannot migrate VMI in finalized state.");
    /* A message cut to the buffer, still a string. */
    assert_int_equal(orch_migration_vmi_check(vmi, msg, 8), -EDOM);
    assert_string_equal(msg, "Cannot ");
    json_decref(vmi);

    assert_int_equal(
        orch_migration_vmi_admit(f->st, NS, "nope", msg, sizeof(msg)), -EDOM);
    assert_string_equal(msg, "the VMI \"default/nope\" does not exist");
    assert_int_equal(
        orch_migration_vmi_admit(f->st, NS, "vmi-fedora", msg, sizeof(msg)), 0);
    assert_int_equal(orch_migration_check_in_flight(f->st, NS, "vmi-fedora",
                                                    msg, sizeof(msg)),
                     0);
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL, NULL), 201);
    assert_int_equal(orch_migration_check_in_flight(f->st, NS, "vmi-fedora",
                                                    msg, sizeof(msg)),
                     -EALREADY);
    assert_non_null(strstr(msg, "Active migration job (migration-job)"));

    for (size_t i = 0; i < sizeof(cancel) / sizeof(*cancel); i++) {
        vmim = json_pack("{s:{}, s:{}}", "metadata", "status");
        if (cancel[i].phase)
            api_doc_set_string(vmim, "status.phase", cancel[i].phase);
        if (orch_migration_cancel_action(vmim) != cancel[i].want)
            fail_msg("phase %s: wrong cancel action",
                     cancel[i].phase ? cancel[i].phase : "(none)");
        json_decref(vmim);
    }
    vmim = json_pack("{s:{s:s}}", "metadata", "deletionTimestamp",
                     "2026-01-01T00:00:00Z");
    assert_int_equal(orch_migration_request_abort(vmim), 0);
    assert_true(json_is_true(json_object_get(
        json_object_get(json_object_get(vmim, "status"), "migrationState"),
        "abortRequested")));
    /* The first deletion request's time stays. */
    assert_string_equal(jstr(vmim, "metadata.deletionTimestamp"),
                        "2026-01-01T00:00:00Z");
    json_decref(vmim);
}

static void test_selectors_and_pages(void **state)
{
    struct fixture *f = *state;
    char target[512], body[512];
    const char *cont;
    char *token;
    size_t total = 0;

    for (int i = 0; i < 5; i++) {
        char vmi[32];
        snprintf(vmi, sizeof(vmi), "vmi-%d", i);
        seed_vmi(f, vmi, "Running");
        snprintf(body, sizeof(body),
                 "apiVersion: kubevirt.io/v1\nkind: "
                 "VirtualMachineInstanceMigration\nmetadata: {name: m%d, "
                 "labels: {tier: %s}}\nspec: {vmiName: %s}\n",
                 i, i % 2 ? "odd" : "even", vmi);
        assert_int_equal(
            call(f, HTTP_METHOD_POST, VMIM_PATH, body, NULL, NULL, NULL), 201);
    }
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH "?labelSelector=tier%3Deven", NULL, NULL,
                          NULL, NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(f->body, "items")), 3);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH
                          "?labelSelector=kubevirt.io/vmi-name%3Dvmi-3",
                          NULL, NULL, NULL, NULL),
                     200);
    assert_int_equal(json_array_size(json_object_get(f->body, "items")), 1);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH "?fieldSelector=spec.vmiName%3Dvmi-1", NULL,
                          NULL, NULL, NULL),
                     200);
    assert_string_equal(
        jstr(json_array_get(json_object_get(f->body, "items"), 0),
             "metadata.name"),
        "m1");
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH "?labelSelector=%3D%3Dbad", NULL, NULL,
                          NULL, NULL),
                     400);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH "?fieldSelector=spec.foo%3D1", NULL, NULL,
                          NULL, NULL),
                     400);
    assert_status(f, 400, "BadRequest", "field label not supported: spec.foo");
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "?limit=abc", NULL,
                          NULL, NULL, NULL),
                     400);

    /* Pages of 2. */
    snprintf(target, sizeof(target), VMIM_PATH "?limit=2");
    for (int page = 0; page < 5; page++) {
        assert_int_equal(
            call(f, HTTP_METHOD_GET, target, NULL, NULL, NULL, NULL), 200);
        total += json_array_size(json_object_get(f->body, "items"));
        cont = api_doc_get_string(f->body, "metadata.continue");
        if (!cont)
            break;
        token = strdup(cont);
        snprintf(target, sizeof(target), VMIM_PATH "?limit=2&continue=%s",
                 token);
        free(token);
    }
    assert_int_equal(total, 5);
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH "?limit=2&continue=garbage", NULL, NULL,
                          NULL, NULL),
                     400);
}

static const char vm_yaml[] = "apiVersion: kubevirt.io/v1\n"
                              "kind: VirtualMachine\n"
                              "metadata: {name: vm1}\n"
                              "spec:\n"
                              "  running: false\n"
                              "  template:\n"
                              "    spec:\n"
                              "      domain:\n"
                              "        devices: {}\n"
                              "        memory: {guest: 1Gi}\n";

#define VM_PATH "/apis/kubevirt.io/v1/namespaces/default/virtualmachines"
#define SUB_PATH                                                               \
    "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines"

static void test_vm_replace_and_subresources(void **state)
{
    struct fixture *f = *state;
    char *doc;
    json_t *vm;

    assert_int_equal(
        call(f, HTTP_METHOD_POST, VM_PATH, vm_yaml, NULL, NULL, NULL), 201);
    vm = json_deep_copy(f->body);
    /* PUT with the current resourceVersion works, a stale one is 409. */
    json_object_set_new(json_object_get(vm, "metadata"), "labels",
                        json_pack("{s:s}", "a", "b"));
    doc = json_dumps(vm, 0);
    assert_int_equal(
        call(f, HTTP_METHOD_PUT, VM_PATH "/vm1", doc, NULL, NULL, NULL), 200);
    assert_int_equal(
        call(f, HTTP_METHOD_PUT, VM_PATH "/vm1", doc, NULL, NULL, NULL), 409);
    assert_status(f, 409, "Conflict",
                  "Operation cannot be fulfilled on "
                  "virtualmachines.kubevirt.io \"vm1\": the object has been "
                  "modified");
    free(doc);
    json_decref(vm);

    assert_int_equal(
        call(f, HTTP_METHOD_PUT, SUB_PATH "/vm1/stop", NULL, NULL, NULL, NULL),
        409);
    assert_status(f, 409, "Conflict", "VM is not running");
    assert_int_equal(
        call(f, HTTP_METHOD_PUT, SUB_PATH "/vm1/start", NULL, NULL, NULL, NULL),
        202);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, VM_PATH "/vm1", NULL, NULL, NULL, NULL), 200);
    assert_true(json_is_true(
        json_object_get(json_object_get(f->body, "spec"), "running")));
    assert_int_equal(
        call(f, HTTP_METHOD_PUT, SUB_PATH "/vm1/start", NULL, NULL, NULL, NULL),
        409);
    assert_status(f, 409, "Conflict", "VM is already running");

    /* migrate: vm1 has no VMI. */
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB_PATH "/vm1/migrate", NULL,
                          NULL, NULL, NULL),
                     409);
    assert_status(f, 409, "Conflict", "VM is not running");
    /* A VM whose VMI runs. */
    assert_int_equal(call(f, HTTP_METHOD_POST, VM_PATH,
                          "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"
                          "metadata: {name: vmi-fedora}\nspec: {running: "
                          "true, template: {spec: {domain: {devices: {}}}}}\n",
                          NULL, NULL, NULL),
                     201);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB_PATH "/vmi-fedora/migrate",
                          "{\"addedNodeSelector\":{\"zone\":\"b\"}}", NULL,
                          NULL, NULL),
                     202);
    assert_string_equal(jstr(f->body, "kind"),
                        "VirtualMachineInstanceMigration");
    assert_true(strncmp(jstr(f->body, "metadata.name"), "kubevirt-migrate-vm-",
                        20) == 0);
    assert_string_equal(jstr(f->body, "spec.addedNodeSelector.zone"), "b");
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB_PATH "/vmi-fedora/migrate",
                          NULL, NULL, NULL, NULL),
                     409);
    assert_status(f, 409, "Conflict", "in-flight migration detected");
    assert_int_equal(
        call(f, HTTP_METHOD_GET, SUB_PATH "/vm1/start", NULL, NULL, NULL, NULL),
        405);
    assert_int_equal(call(f, HTTP_METHOD_PUT, SUB_PATH "/nope/start", NULL,
                          NULL, NULL, NULL),
                     404);
}

/* A watch IO that collects the lines. */
struct sink {
    char buf[65536];
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

/* One write reaches every live watcher that matches, as the same line:
 * {"type":...,"object":<the object as GET returns it>}\n, whether the
 * object came as stored text (a JSON POST) or was encoded (a YAML one). */
static void test_watch_fan_out(void **state)
{
    struct fixture *f = *state;
    struct sink a = {0}, b = {0}, c = {0};
    struct orch_watch_io ioa = {sink_write, sink_pending, sink_end, &a};
    struct orch_watch_io iob = {sink_write, sink_pending, sink_end, &b};
    struct orch_watch_io ioc = {sink_write, sink_pending, sink_end, &c};
    struct orch_watcher *wa, *wb, *wc;
    char want[8192];
    json_t *line, *stored = NULL;

    seed_vmi(f, "vmi-2", "Running");
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "?watch=true", NULL,
                          NULL, NULL, NULL),
                     200);
    wa = f->resp.stream_arg;
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "?watch=true", NULL,
                          NULL, NULL, NULL),
                     200);
    wb = f->resp.stream_arg;
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH "?watch=true&labelSelector=tier%3Dgold",
                          NULL, NULL, NULL, NULL),
                     200);
    wc = f->resp.stream_arg;
    orch_watch_start(wa, &ioa);
    orch_watch_start(wb, &iob);
    orch_watch_start(wc, &ioc);
    assert_int_equal(a.len, 0);

    /* JSON: the line holds the stored text, byte for byte. */
    assert_int_equal(post_for_vmi(f, "m-json", "vmi-fedora"), 201);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIM_PATH "/m-json", NULL, NULL, NULL, NULL),
        200);
    snprintf(want, sizeof(want), "{\"type\":\"ADDED\",\"object\":%s}\n",
             f->resp.body);
    assert_string_equal(a.buf, want);
    assert_string_equal(b.buf, want);
    assert_int_equal(c.len, 0);

    /* YAML: the object is encoded for the watchers. */
    a.len = b.len = 0;
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH,
                          "apiVersion: kubevirt.io/v1\n"
                          "kind: VirtualMachineInstanceMigration\n"
                          "metadata: {name: m-yaml}\nspec: {vmiName: vmi-2}\n",
                          NULL, "application/yaml", NULL),
                     201);
    assert_string_equal(f->resp.content_type, "application/yaml");
    assert_string_equal(a.buf, b.buf);
    assert_int_equal(a.buf[a.len - 1], '\n');
    assert_null(memchr(a.buf, '\n', a.len - 1));
    line = json_loadb(a.buf, a.len, 0, NULL);
    assert_non_null(line);
    assert_string_equal(jstr(line, "type"), "ADDED");
    assert_int_equal(
        store_get(f->st, STORE_KIND_MIGRATION, NS, "m-yaml", &stored), 0);
    assert_true(json_equal(json_object_get(line, "object"), stored));
    json_decref(stored);
    json_decref(line);
    assert_int_equal(c.len, 0);
    assert_int_equal(f->srv.metrics.watch_events, 4);

    orch_watch_closed(wa);
    orch_watch_closed(wb);
    orch_watch_closed(wc);
    assert_int_equal(f->srv.n_watchers, 0);
}

static void test_watch(void **state)
{
    struct fixture *f = *state;
    struct sink sink = {0};
    struct orch_watch_io io = {sink_write, sink_pending, sink_end, &sink};
    struct orch_watcher *w;
    char rv[32];

    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL, NULL), 201);
    snprintf(rv, sizeof(rv), "%s", jstr(f->body, "metadata.resourceVersion"));
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "?watch=true", NULL,
                          NULL, NULL, NULL),
                     200);
    assert_non_null(f->resp.stream_start);
    w = f->resp.stream_arg;
    orch_watch_start(w, &io);
    assert_non_null(strstr(sink.buf, "{\"type\":\"ADDED\",\"object\":{"));
    assert_non_null(strstr(sink.buf, "\"name\":\"migration-job\""));
    sink.len = 0;
    assert_int_equal(call(f, HTTP_METHOD_DELETE, VMIM_PATH "/migration-job",
                          NULL, NULL, NULL, NULL),
                     200);
    assert_non_null(strstr(sink.buf, "{\"type\":\"DELETED\""));
    assert_int_equal(f->srv.n_watchers, 1);
    orch_watch_closed(w);
    assert_int_equal(f->srv.n_watchers, 0);

    /* Resume from a resourceVersion: only the later changes. */
    memset(&sink, 0, sizeof(sink));
    snprintf(f->target, sizeof(f->target), "%s", rv);
    {
        char target[256];
        snprintf(target, sizeof(target),
                 VMIM_PATH "?watch=1&resourceVersion=%s", rv);
        assert_int_equal(
            call(f, HTTP_METHOD_GET, target, NULL, NULL, NULL, NULL), 200);
    }
    w = f->resp.stream_arg;
    orch_watch_start(w, &io);
    assert_null(strstr(sink.buf, "ADDED"));
    assert_non_null(strstr(sink.buf, "{\"type\":\"DELETED\""));
    orch_watch_closed(w);

    /* Too many watchers: 429. */
    f->srv.settings.max_watchers = 0;
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "?watch=true", NULL,
                          NULL, NULL, NULL),
                     429);
    assert_status(f, 429, "TooManyRequests", "too many watches");
}

/* A sink that grows and reports as much pending as the test says. */
struct big_sink {
    char *buf;
    size_t len, cap;
    bool stalled; /* then anything written is still pending, and more */
};

static int big_sink_write(void *ctx, const char *buf, size_t len)
{
    struct big_sink *s = ctx;
    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
        assert_non_null(s->buf);
    }
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return 0;
}

static size_t big_sink_pending(void *ctx)
{
    struct big_sink *s = ctx;
    return s->stalled && s->len ? s->len + (1 << 20) : 0;
}

static void big_sink_end(void *ctx)
{
    (void)ctx;
}

static json_t *new_vmi(const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion",
                     "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                     "metadata", "name", name, "namespace", NS, "spec");
}

/* A watch without a resourceVersion lists the objects a page at a time,
 * then follows the change feed from the first page's resourceVersion.
 * Objects written while the client was slow to take the first page are
 * listed at their new version by a later page: the feed must not send
 * them again, nor send their older versions after the newer one. */
static void test_watch_list_then_feed_no_duplicates(void **state)
{
    struct fixture *f = *state;
    struct big_sink sink = {0};
    struct orch_watch_io io = {big_sink_write, big_sink_pending, big_sink_end,
                               &sink};
    struct orch_watcher *w;
    json_t *vmi = NULL, *seen = json_object();
    char *line, *save = NULL;
    size_t n_events = 0;

    for (int i = 0; i < 250; i++) {
        char name[16];
        snprintf(name, sizeof(name), "v%03d", i);
        vmi = new_vmi(name);
        assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmi), 0);
        json_decref(vmi);
    }
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/kubevirt.io/v1/virtualmachineinstances?"
                          "watch=true",
                          NULL, NULL, NULL, NULL),
                     200);
    w = f->resp.stream_arg;
    /* The client takes nothing after the first page. */
    sink.stalled = true;
    orch_watch_start(w, &io);
    assert_true(sink.len > 0);
    assert_null(strstr(sink.buf, "\"name\":\"v240\""));

    /* Meanwhile: v240 (on the next page) changes, twice, and an object
     * that sorts last is created. */
    for (int i = 0; i < 2; i++) {
        char label[8];
        assert_int_equal(store_get(f->st, STORE_KIND_VMI, NS, "v240", &vmi), 0);
        snprintf(label, sizeof(label), "%d", i);
        json_object_set_new(json_object_get(vmi, "metadata"), "labels",
                            json_pack("{s:s}", "round", label));
        assert_int_equal(store_update(f->st, STORE_KIND_VMI, vmi, 0), 0);
        json_decref(vmi);
    }
    vmi = new_vmi("zz-new");
    assert_int_equal(store_create(f->st, STORE_KIND_VMI, vmi), 0);
    json_decref(vmi);

    sink.stalled = false;
    orch_watch_drained(w);

    /* Every object once as ADDED, at one version; v240 at its last. */
    for (line = strtok_r(sink.buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *ev = json_loads(line, 0, NULL);
        const char *name;
        assert_non_null(ev);
        name = jstr(json_object_get(ev, "object"), "metadata.name");
        if (json_object_get(seen, name))
            fail_msg("'%s' sent twice: %s", name, line);
        assert_string_equal(jstr(ev, "type"), "ADDED");
        json_object_set_new(seen, name, json_true());
        if (strcmp(name, "v240") == 0)
            assert_string_equal(
                jstr(json_object_get(ev, "object"), "metadata.labels.round"),
                "1");
        n_events++;
        json_decref(ev);
    }
    assert_int_equal(n_events, 252); /* vmi-fedora, v000..v249, zz-new */

    /* Live from here on: what the catch-up sent, the feed does not send
     * again; one more change comes once, however often the feed runs. */
    sink.len = 0;
    orch_feed_run(&f->srv);
    assert_int_equal(sink.len, 0);
    assert_int_equal(store_get(f->st, STORE_KIND_VMI, NS, "v001", &vmi), 0);
    assert_int_equal(store_update(f->st, STORE_KIND_VMI, vmi, 0), 0);
    json_decref(vmi);
    orch_feed_run(&f->srv);
    orch_feed_run(&f->srv);
    assert_non_null(strstr(sink.buf, "{\"type\":\"MODIFIED\""));
    assert_non_null(strstr(sink.buf, "\"name\":\"v001\""));
    assert_int_equal(strchr(sink.buf, '\n') - sink.buf + 1, sink.len);
    orch_watch_closed(w);
    json_decref(seen);
    free(sink.buf);
}

static void test_watch_expired(void **state)
{
    struct fixture *f = *state;
    struct sink sink = {0};
    struct orch_watch_io io = {sink_write, sink_pending, sink_end, &sink};
    struct store *st = NULL;
    struct store_opts o = {.change_history = 2};
    char err[256];
    json_t *vmi;

    /* A store that keeps two changes. */
    assert_int_equal(store_open(":memory:", &o, &st, err, sizeof(err)), 0);
    f->srv.store = st;
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "v%d", i);
        vmi = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion",
                        "kubevirt.io/v1", "kind", "VirtualMachineInstance",
                        "metadata", "name", name, "namespace", NS);
        assert_int_equal(store_create(st, STORE_KIND_VMI, vmi), 0);
        json_decref(vmi);
    }
    assert_int_equal(call(f, HTTP_METHOD_GET,
                          "/apis/kubevirt.io/v1/virtualmachineinstances?"
                          "watch=true&resourceVersion=1",
                          NULL, NULL, NULL, NULL),
                     200);
    orch_watch_start(f->resp.stream_arg, &io);
    assert_non_null(strstr(sink.buf, "{\"type\":\"ERROR\""));
    assert_non_null(strstr(sink.buf, "\"code\":410"));
    assert_non_null(strstr(sink.buf, "\"reason\":\"Expired\""));
    assert_true(sink.ended);
    assert_int_equal(f->srv.n_watchers, 0);
    f->srv.store = f->st;
    store_close(st);
}

/*
 * Lists through the store's indexes against the filter on every record.
 */

/* A mixed set: VMIMs in two namespaces whose vmi-name label mostly equals
 * spec.vmiName, but differs, is empty or is missing for some; phases
 * unset, in flight and final; a tier label on some.  VMIs with phases and
 * nodes, some unset. */
static void seed_mixed(struct fixture *f)
{
    static const char *const phases[] = {NULL, "Pending", "Running",
                                         "Succeeded", "Failed"};

    for (int i = 0; i < 60; i++) {
        char name[16], vmi[16], label[16];
        json_t *labels = json_object(), *status = json_object();
        json_t *o;

        snprintf(name, sizeof(name), "m%02d", i);
        snprintf(vmi, sizeof(vmi), "vmi-%d", i % 5);
        snprintf(label, sizeof(label), "%s",
                 i % 7 == 0    ? "vmi-x"
                 : i % 13 == 0 ? ""
                               : vmi);
        if (i % 11 != 0)
            json_object_set_new(labels, "kubevirt.io/vmi-name",
                                json_string(label));
        if (i % 3 == 0)
            json_object_set_new(labels, "tier",
                                json_string(i % 2 ? "odd" : "even"));
        if (phases[i % 5])
            json_object_set_new(status, "phase", json_string(phases[i % 5]));
        if (i % 4 == 0)
            json_object_set_new(status, "nodeName", json_string("node-1"));
        o = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:s}, s:o}",
                      "apiVersion", "kubevirt.io/v1", "kind",
                      "VirtualMachineInstanceMigration", "metadata", "name",
                      name, "namespace", i % 2 ? "other" : NS, "labels", labels,
                      "spec", "vmiName", vmi, "status", status);
        assert_int_equal(store_create(f->st, STORE_KIND_MIGRATION, o), 0);
        json_decref(o);
    }
    /* Texts the scanner leaves to the parser: escapes, a status that is
     * not an object; and values that are not strings. */
    static const char *const odd[] = {
        "{\"metadata\":{\"name\":\"odd-esc\",\"namespace\":\"default\","
        "\"labels\":{\"tier\":\"o\\\"dd\",\"kubevirt.io/vmi-name\":"
        "\"vmi-2\"}},\"spec\":{\"vmiName\":\"vmi-2\"},\"status\":"
        "{\"phase\":\"Run\\u006eing\",\"nodeName\":\"node-1\"}}",
        "{\"metadata\":{\"name\":\"odd-null\",\"namespace\":\"default\","
        "\"annotations\":{}},\"spec\":{\"vmiName\":\"vmi-2\"},"
        "\"status\":\"x\"}",
        "{\"metadata\":{\"name\":\"odd-num\",\"namespace\":\"other\","
        "\"labels\":{\"tier\":5}},\"spec\":{\"vmiName\":7},"
        "\"status\":{\"phase\":null,\"nodeName\":[\"node-1\"]}}",
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
        json_t *o = json_loads(odd[i], 0, NULL);
        assert_non_null(o);
        assert_int_equal(store_create(f->st, STORE_KIND_MIGRATION, o), 0);
        json_decref(o);
    }
    for (int i = 0; i < 6; i++) {
        char name[16];
        json_t *o;

        snprintf(name, sizeof(name), "host-%c", 'a' + i);
        o = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1",
                      "kind", "Node", "metadata", "name", name, "labels",
                      "role", i % 2 ? "edge" : "core");
        assert_int_equal(store_create(f->st, STORE_KIND_NODE, o), 0);
        json_decref(o);
    }
    for (int i = 0; i < 30; i++) {
        char name[16], node[16];
        json_t *status = json_object(), *o;

        snprintf(name, sizeof(name), "vmi-%d", i);
        snprintf(node, sizeof(node), "node-%d", i % 3);
        if (i % 4)
            json_object_set_new(status, "phase",
                                json_string(i % 2 ? "Running" : "Scheduled"));
        if (i % 5)
            json_object_set_new(status, "nodeName", json_string(node));
        o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{}, s:o}",
                      "apiVersion", "kubevirt.io/v1", "kind",
                      "VirtualMachineInstance", "metadata", "name", name,
                      "namespace", i % 2 ? "other" : NS, "labels",
                      "kubevirt.io/vmi-name", i % 3 ? "vmi-2" : "vmi-1", "spec",
                      "status", status);
        assert_int_equal(store_create(f->st, STORE_KIND_VMI, o), 0);
        json_decref(o);
    }
}

/* Every page of a list, "ns/name,..." into BUF.  Returns the number of
 * pages. */
static int list_pages(struct fixture *f, enum store_kind kind, const char *ns,
                      struct store_list_opts *o, char *buf, size_t len)
{
    char *token = NULL;
    int pages = 0;

    buf[0] = '\0';
    do {
        struct store_page page = {0};
        size_t i;
        json_t *item;

        o->continue_token = token;
        assert_int_equal(store_list(f->st, kind, ns, o, &page), 0);
        if (o->limit)
            assert_true(json_array_size(page.items) <= o->limit);
        json_array_foreach(page.items, i, item)
        {
            size_t n = strlen(buf);
            snprintf(buf + n, len - n, "%s/%s,",
                     jstr(item, "metadata.namespace"),
                     jstr(item, "metadata.name"));
        }
        free(token);
        token = page.continue_token ? strdup(page.continue_token) : NULL;
        store_page_release(&page);
        pages++;
        assert_true(pages < 1000);
    } while (token);
    o->continue_token = NULL;
    return pages;
}

static void test_list_indexed_matches_filter(void **state)
{
    struct fixture *f = *state;
    /* DRIVEN: the store reads only matching records for it (1: when the
     * list is confined to a namespace, 2: always). */
    static const struct {
        enum api_kind kind;
        const char *labels;
        const char *fields;
        int driven;
    } cases[] = {
        {API_KIND_VMIM, "kubevirt.io/vmi-name=vmi-2", NULL, 2},
        {API_KIND_VMIM, "kubevirt.io/vmi-name==vmi-x", NULL, 2},
        {API_KIND_VMIM, "kubevirt.io/vmi-name=", NULL, 2},
        {API_KIND_VMIM, "kubevirt.io/vmi-name!=vmi-2", NULL, 0},
        {API_KIND_VMIM, "kubevirt.io/vmi-name in (vmi-1,vmi-x)", NULL, 0},
        {API_KIND_VMIM, "kubevirt.io/vmi-name notin (vmi-1,vmi-x)", NULL, 0},
        {API_KIND_VMIM, "kubevirt.io/vmi-name", NULL, 0},
        {API_KIND_VMIM, "!kubevirt.io/vmi-name", NULL, 0},
        {API_KIND_VMIM, "kubevirt.io/vmi-name=vmi-2,tier=odd", NULL, 0},
        {API_KIND_VMIM, "tier=odd", NULL, 0},
        {API_KIND_VMIM, "tier", NULL, 0},
        {API_KIND_VMIM, "!tier", NULL, 0},
        {API_KIND_VMIM, "tier notin (odd)", NULL, 0},
        {API_KIND_VMIM, "tier", "status.phase!=Running", 0},
        {API_KIND_VMIM, NULL, "status.nodeName=", 0},
        {API_KIND_VMIM, NULL, "status.nodeName!=node-1", 0},
        {API_KIND_VMIM, "tier in (odd, even),!kubevirt.io/vmi-name", NULL, 0},
        {API_KIND_VMIM, NULL, "status.phase=Running", 2},
        {API_KIND_VMIM, NULL, "status.phase==Failed", 2},
        {API_KIND_VMIM, NULL, "status.phase=", 2},
        {API_KIND_VMIM, NULL, "status.phase!=Succeeded", 0},
        {API_KIND_VMIM, NULL, "spec.vmiName=vmi-3", 2},
        {API_KIND_VMIM, NULL, "spec.vmiName!=vmi-3", 0},
        {API_KIND_VMIM, NULL, "spec.vmiName=vmi-3,status.phase=Pending", 0},
        {API_KIND_VMIM, NULL, "metadata.name=m08", 1},
        {API_KIND_VMIM, NULL, "metadata.name!=m08", 0},
        {API_KIND_VMIM, NULL, "metadata.namespace=other", 0},
        {API_KIND_VMIM, NULL, "metadata.namespace!=other", 0},
        {API_KIND_VMIM, NULL, "metadata.namespace=", 0},
        {API_KIND_VMIM, NULL, "status.nodeName=node-1", 0},
        {API_KIND_VMIM, "kubevirt.io/vmi-name=vmi-2",
         "status.phase=Running,metadata.namespace=default", 0},
        {API_KIND_VMIM, "kubevirt.io/vmi-name in (vmi-2)",
         "status.nodeName!=node-1", 0},
        {API_KIND_VMI, NULL, "status.phase=Running", 2},
        {API_KIND_VMI, NULL, "status.phase=", 2},
        {API_KIND_VMI, NULL, "status.nodeName=node-1", 2},
        {API_KIND_VMI, NULL, "status.nodeName=", 2},
        {API_KIND_VMI, NULL, "status.phase=Running,status.nodeName!=node-0", 0},
        {API_KIND_VMI, NULL, "spec.vmiName=", 0},
        {API_KIND_VMI, "kubevirt.io/vmi-name=vmi-2", NULL, 0},
        {API_KIND_NODE, NULL, "metadata.name=host-c", 2},
        {API_KIND_NODE, NULL, "metadata.name!=host-c", 0},
        {API_KIND_NODE, NULL, "metadata.namespace=", 0},
        {API_KIND_NODE, NULL, "metadata.namespace=default", 0},
        {API_KIND_NODE, "role=edge", "status.phase=", 0},
    };
    static const char *const namespaces[] = {NULL, NS};
    char want[4096], got[4096];
    size_t nonempty = 0;

    seed_mixed(f);
    for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
        enum store_kind sk = orch_store_kind(cases[c].kind);
        for (size_t n = 0; n < 2; n++) {
            const char *ns = namespaces[n];
            struct orch_filter filter;
            struct store_list_opts ref = {0}, o = {0};
            char *msg = NULL;
            size_t matches = 0;

            assert_int_equal(orch_filter_parse(&filter, cases[c].labels,
                                               cases[c].fields, &msg),
                             0);
            /* The filter on every record, as watches apply it. */
            ref.match = orch_filter_match;
            ref.match_arg = &filter;
            list_pages(f, sk, ns, &ref, want, sizeof(want));
            for (const char *p = want; (p = strchr(p, ',')); p++)
                matches++;
            nonempty += matches > 0;

            /* Through the indexes, whole or in pages, with or without a
             * budget that ends pages early. */
            orch_filter_list_opts(&filter, cases[c].kind, &o);
            list_pages(f, sk, ns, &o, got, sizeof(got));
            if (strcmp(got, want))
                fail_msg("case %zu ns %s: '%s' != '%s'", c, ns ? ns : "*", got,
                         want);
            o.limit = 2;
            list_pages(f, sk, ns, &o, got, sizeof(got));
            assert_string_equal(got, want);
            o.max_scan = 3;
            list_pages(f, sk, ns, &o, got, sizeof(got));
            assert_string_equal(got, want);

            /* An index that serves the selector reads matching records
             * only: a budget of their number fills one page and no token
             * is left. */
            if (cases[c].driven == 2 || (cases[c].driven == 1 && ns)) {
                struct store_page page = {0};
                o.limit = 0;
                o.max_scan = matches ? matches : 1;
                assert_int_equal(store_list(f->st, sk, ns, &o, &page), 0);
                assert_int_equal(json_array_size(page.items), matches);
                if (page.continue_token)
                    fail_msg("case %zu ns %s read more than the %zu "
                             "matching records",
                             c, ns ? ns : "*", matches);
                store_page_release(&page);
            }
            orch_filter_clear(&filter);
        }
    }
    /* The data set makes most selectors select something. */
    assert_true(nonempty > 50);
}

/* Over HTTP: with a small budget, an unindexed selector's pages end early
 * (fewer items than the limit, a continue token), and following the tokens
 * gives exactly the matching records. */
static void test_list_scan_budget(void **state)
{
    struct fixture *f = *state;
    char target[1024], names[2048] = "";
    bool short_page = false;
    int pages = 0;

    seed_mixed(f);
    f->srv.list_max_scan = 4;
    snprintf(target, sizeof(target),
             "/apis/kubevirt.io/v1/virtualmachineinstancemigrations"
             "?labelSelector=tier%%3Dodd&limit=2");
    for (;;) {
        const char *cont;
        json_t *items, *item;
        size_t i;

        assert_int_equal(
            call(f, HTTP_METHOD_GET, target, NULL, NULL, NULL, NULL), 200);
        items = json_object_get(f->body, "items");
        assert_true(json_array_size(items) <= 2);
        json_array_foreach(items, i, item)
        {
            size_t n = strlen(names);
            snprintf(names + n, sizeof(names) - n, "%s,",
                     jstr(item, "metadata.name"));
        }
        cont = api_doc_get_string(f->body, "metadata.continue");
        if (!cont)
            break;
        short_page |= json_array_size(items) < 2;
        snprintf(target, sizeof(target),
                 "/apis/kubevirt.io/v1/virtualmachineinstancemigrations"
                 "?labelSelector=tier%%3Dodd&limit=2&continue=%s",
                 cont);
        assert_true(++pages < 100);
    }
    /* i % 3 == 0 and odd: 3, 9, 15, ... 57, all in "other". */
    assert_string_equal(names, "m03,m09,m15,m21,m27,m33,m39,m45,m51,m57,");
    assert_true(short_page);
    /* 60 records read at most 4 at a time. */
    assert_true(pages >= 14);
}

static void test_metrics(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(
        call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml, NULL, NULL, NULL), 201);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/metrics", NULL, NULL, NULL, NULL), 200);
    assert_non_null(strstr(f->resp.body,
                           "orchestratord_http_requests_total{verb=\"POST\","
                           "code=\"201\"} 1\n"));
    assert_non_null(
        strstr(f->resp.body, "kubevirt_vmi_migrations_in_pending_phase 1\n"));
    assert_non_null(
        strstr(f->resp.body, "kubevirt_vmi_migrations_in_running_phase 0\n"));
    assert_non_null(strstr(f->resp.body, "kubevirt_vmi_migration_failed 0\n"));

    /* Counted from the store's phase index: finished migrations, however
     * many, are not in flight; Scheduled to TargetReady count as
     * scheduling, as KubeVirt counts them. */
    static const char *const phases[] = {
        "Running",   "Running",   "Scheduled", "PreparingTarget",
        "Succeeded", "Succeeded", "Failed",    "Bogus"};
    for (size_t i = 0; i < sizeof(phases) / sizeof(*phases); i++) {
        char name[16];
        snprintf(name, sizeof(name), "seeded-%zu", i);
        json_t *o = json_pack("{s:{s:s, s:s}, s:{s:s}, s:{s:s}}", "metadata",
                              "name", name, "namespace", NS, "spec", "vmiName",
                              name, "status", "phase", phases[i]);
        assert_int_equal(store_create(f->st, STORE_KIND_MIGRATION, o), 0);
        json_decref(o);
    }
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/metrics", NULL, NULL, NULL, NULL), 200);
    assert_non_null(
        strstr(f->resp.body, "kubevirt_vmi_migrations_in_pending_phase 1\n"));
    assert_non_null(strstr(f->resp.body,
                           "kubevirt_vmi_migrations_in_scheduling_phase 2\n"));
    assert_non_null(
        strstr(f->resp.body, "kubevirt_vmi_migrations_in_running_phase 2\n"));
    assert_non_null(
        strstr(f->resp.body, "kubevirt_vmi_migrations_in_unset_phase 0\n"));
}

/* Messages quote what the client sent, which need not be UTF-8, and long
 * ones are cut, maybe inside a character: the Status must still encode
 * (found by fuzz_http: it was a 500 "out of memory"). */
static void test_status_message_not_utf8(void **state)
{
    struct fixture *f = *state;
    char target[2048];
    size_t n;

    assert_int_equal(call(f, HTTP_METHOD_GET,
                          VMIM_PATH "?fieldSelector=status.ph%F5%F5", NULL,
                          NULL, NULL, NULL),
                     400);
    assert_status(f, 400, "BadRequest",
                  "invalid field selector: 'status.ph\xef\xbf\xbd"
                  "\xef\xbf\xbd'");

    /* A name of "é" (2 bytes) repeated past the 512-byte message buffer
     * of a 404, whose prefix is 46 bytes: the cut halves one. */
    n = (size_t)snprintf(target, sizeof(target), "%s", VMIM_PATH "/");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(target + n, sizeof(target) - n, "%%C3%%A9");
    assert_int_equal(call(f, HTTP_METHOD_GET, target, NULL, NULL, NULL, NULL),
                     404);
    assert_status(f, 404, "NotFound",
                  "virtualmachineinstancemigrations.kubevirt.io "
                  "\"\xc3\xa9\xc3\xa9");
}

static void test_status_table(void **state)
{
    const char *reason;
    (void)state;
    assert_int_equal(orch_status_for_errno(-EINVAL, &reason), 400);
    assert_string_equal(reason, "BadRequest");
    assert_int_equal(orch_status_for_errno(-ENOKEY, &reason), 401);
    assert_int_equal(orch_status_for_errno(-EACCES, &reason), 403);
    assert_int_equal(orch_status_for_errno(-ENOENT, &reason), 404);
    assert_int_equal(orch_status_for_errno(-EOPNOTSUPP, &reason), 405);
    assert_int_equal(orch_status_for_errno(-ENOPROTOOPT, &reason), 406);
    assert_int_equal(orch_status_for_errno(-EEXIST, &reason), 409);
    assert_string_equal(reason, "AlreadyExists");
    assert_int_equal(orch_status_for_errno(-ESTALE, &reason), 409);
    assert_string_equal(reason, "Conflict");
    assert_int_equal(orch_status_for_errno(-EKEYEXPIRED, &reason), 410);
    assert_string_equal(reason, "Expired");
    assert_int_equal(orch_status_for_errno(-EMSGSIZE, &reason), 413);
    assert_int_equal(orch_status_for_errno(-EPROTONOSUPPORT, &reason), 415);
    assert_int_equal(orch_status_for_errno(-EDOM, &reason), 422);
    assert_string_equal(reason, "Invalid");
    assert_int_equal(orch_status_for_errno(-EAGAIN, &reason), 429);
    assert_int_equal(orch_status_for_errno(-EBUSY, &reason), 503);
    assert_int_equal(orch_status_for_errno(-EIO, &reason), 500);
    assert_string_equal(reason, "InternalError");
}

static void test_vmim_phase(void **state)
{
    json_t *m = json_pack("{s:{s:s}}", "status", "phase", "TargetReady");
    (void)state;
    assert_int_equal(orch_vmim_phase(m), API_VMIM_PHASE_TARGET_READY);
    json_object_set_new(json_object_get(m, "status"), "phase",
                        json_string("Succeeded"));
    assert_int_equal(orch_vmim_phase(m), API_VMIM_PHASE_SUCCEEDED);
    json_object_set_new(json_object_get(m, "status"), "phase",
                        json_string("Sleeping"));
    assert_int_equal(orch_vmim_phase(m), -EINVAL);
    json_object_del(m, "status");
    assert_int_equal(orch_vmim_phase(m), API_VMIM_PHASE_UNSET);
    json_decref(m);
}

static void test_parse_target(void **state)
{
    struct http_request req;
    char buf[256];
    (void)state;
    memset(&req, 0, sizeof(req));
    assert_int_equal(
        http_request_parse_target(&req, "/a//b%20c/?x=1&y&z=a+b%2Bc#frag", buf,
                                  sizeof(buf)),
        0);
    assert_int_equal(req.segc, 2);
    assert_string_equal(req.segv[1], "b c");
    assert_string_equal(http_request_param(&req, "x"), "1");
    assert_string_equal(http_request_param(&req, "y"), "");
    assert_string_equal(http_request_param(&req, "z"), "a b+c");
    assert_null(http_request_param(&req, "frag"));
    assert_int_equal(
        http_request_parse_target(&req, "/a%00b", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(http_request_parse_target(&req, "/a%zz", buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(http_request_parse_target(&req, "/a%4", buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(http_request_parse_target(&req, "/?=x", buf, sizeof(buf)),
                     -EINVAL);
    assert_int_equal(http_request_parse_target(&req, "/aaaaaaaaaaaaa", buf, 8),
                     -E2BIG);
}

/* The value of RESP's extra header NAME, or NULL. */
static const char *resp_header(const struct http_response *resp,
                               const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcmp(resp->header_names[i], name) == 0)
            return resp->header_values[i];
    return NULL;
}

/* Other methods on the probes and /metrics: 405 naming what is allowed. */
static void test_probes_method_not_allowed(void **state)
{
    struct fixture *f = *state;
    static const struct {
        enum http_method m;
        const char *path;
    } cases[] = {
        {HTTP_METHOD_POST, "/healthz"},    {HTTP_METHOD_DELETE, "/readyz"},
        {HTTP_METHOD_PUT, "/metrics"},     {HTTP_METHOD_PATCH, "/livez"},
        {HTTP_METHOD_OPTIONS, "/healthz"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        assert_int_equal(
            call(f, cases[i].m, cases[i].path, "{}", NULL, NULL, NULL), 405);
        assert_status(f, 405, "MethodNotAllowed", "does not allow");
        assert_non_null(resp_header(&f->resp, "Allow"));
        assert_string_equal(resp_header(&f->resp, "Allow"), "GET, HEAD");
    }
    assert_int_equal(
        call(f, HTTP_METHOD_HEAD, "/healthz", NULL, NULL, NULL, NULL), 200);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/readyz", NULL, NULL, NULL, NULL), 200);
}

/* Without a valid token the answer is 401, whatever Accept says; with
 * one, an Accept the server cannot meet is 406. */
static void test_auth_before_accept(void **state)
{
    struct fixture *f = *state;
    add_tokens(f);

    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/apis", NULL, NULL, "text/html", NULL), 401);
    assert_status(f, 401, "Unauthorized", NULL);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL,
                          "text/html", "Bearer wrong-secret-0123456789"),
                     401);
    assert_int_equal(call(f, HTTP_METHOD_GET, "/apis", NULL, NULL, "text/html",
                          "Bearer admin-secret-0123456789"),
                     406);
    assert_status(f, 406, "NotAcceptable", NULL);
}

/* Counts in the query are int64s as strconv.ParseInt reads them: a sign
 * and decimal digits, no blanks (a '+' decodes to one); below 1 is no
 * limit. */
static void test_numeric_params_strict(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        VMIM_PATH "?limit=%205",
        VMIM_PATH "?limit=+5",
        VMIM_PATH "?limit=%095",
        VMIM_PATH "?limit=--1",
        VMIM_PATH "?limit=5%20",
        VMIM_PATH "?limit=",
        VMIM_PATH "?watch=true&timeoutSeconds=%201",
        VMIM_PATH "?watch=true&timeoutSeconds=+1",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        if (call(f, HTTP_METHOD_GET, bad[i], NULL, NULL, NULL, NULL) != 400)
            fail_msg("'%s' answered %d", bad[i], f->resp.status);
        assert_status(f, 400, "BadRequest", "invalid");
    }
    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIM_PATH "?limit=5", NULL, NULL, NULL, NULL),
        200);
    assert_int_equal(call(f, HTTP_METHOD_GET, VMIM_PATH "?limit=%2B5", NULL,
                          NULL, NULL, NULL),
                     200);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIM_PATH "?limit=-1", NULL, NULL, NULL, NULL),
        200);
}

/* A full disk: the write is a 507 and /readyz is not ready until a write
 * goes through again. */
static void test_store_full(void **state)
{
    struct fixture *f = *state;

    test_store_create_fail(-ENOSPC);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml,
                          "application/yaml", NULL, NULL),
                     507);
    assert_status(f, 507, "InsufficientStorage", "No space left on device");
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/readyz", NULL, NULL, NULL, NULL), 503);
    assert_non_null(strstr(f->resp.body, "store full"));
    /* Space is back, but nothing has shown it yet. */
    test_store_create_fail(0);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/readyz", NULL, NULL, NULL, NULL), 503);
    /* Reads do not clear it; a write that succeeds does. */
    assert_int_equal(
        call(f, HTTP_METHOD_GET, VMIM_PATH, NULL, NULL, NULL, NULL), 200);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/readyz", NULL, NULL, NULL, NULL), 503);
    assert_int_equal(call(f, HTTP_METHOD_POST, VMIM_PATH, vmim_yaml,
                          "application/yaml", NULL, NULL),
                     201);
    assert_int_equal(
        call(f, HTTP_METHOD_GET, "/readyz", NULL, NULL, NULL, NULL), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_list_delete, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_create_json_and_generate_name,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_replaces_server_fields,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission_sriov, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission_conditions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_migration_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_in_flight_requests_abort,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes_and_methods, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_yaml_accept_and_406, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_text_and_yaml_agree, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_selectors_and_pages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vm_replace_and_subresources, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_fan_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_list_then_feed_no_duplicates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_message_not_utf8, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_probes_method_not_allowed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_auth_before_accept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_numeric_params_strict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_indexed_matches_filter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list_scan_budget, setup, teardown),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_parse_target),
        cmocka_unit_test(test_vmim_phase),
    };
    return cmocka_run_group_tests_name("orchestratord", tests, NULL, NULL);
}
