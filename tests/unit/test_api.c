/*
 * Unit tests for api/: the kind table, quantities, durations, selectors,
 * timestamps, names and the typed views.
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

#include "api/api.h"

static json_t *load(const char *name)
{
    const char *top = getenv("ORCH_TOP");
    char path[4096];
    json_error_t err;
    json_t *doc;
    char *buf;
    FILE *f;
    long n;

    snprintf(path, sizeof(path), "%s/tests/data/%s", top ? top : ".", name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    assert_int_equal(api_doc_decode(buf, (size_t)n, NULL, &doc, NULL), 0);
    free(buf);
    (void)err;
    return doc;
}

static void test_kinds(void **state)
{
    size_t n;
    const struct api_kind_info *t = api_kind_table(&n);
    (void)state;

    assert_int_equal(n, 5);
    assert_string_equal(t[0].plural, "virtualmachineinstancemigrations");
    assert_ptr_equal(api_kind_lookup("vmim"), api_kind_info(API_KIND_VMIM));
    assert_ptr_equal(api_kind_lookup("VMIS"), api_kind_info(API_KIND_VMI));
    assert_ptr_equal(api_kind_lookup("VirtualMachine"),
                     api_kind_info(API_KIND_VM));
    assert_ptr_equal(api_kind_lookup("vm.kubevirt.io"),
                     api_kind_info(API_KIND_VM));
    assert_null(api_kind_lookup("vm.example.com"));
    assert_ptr_equal(
        api_kind_lookup("migrationpolicies.migrations.kubevirt.io"),
        api_kind_info(API_KIND_POLICY));
    assert_ptr_equal(api_kind_lookup("nodes"), api_kind_info(API_KIND_NODE));
    assert_ptr_equal(api_kind_lookup("no"), api_kind_info(API_KIND_NODE));
    assert_null(api_kind_lookup("pods"));
    assert_null(api_kind_lookup(""));
    assert_ptr_equal(api_kind_find("v1", "Node"), api_kind_info(API_KIND_NODE));
    assert_null(api_kind_find("kubevirt.io/v1", "Node"));
    assert_ptr_equal(api_kind_by_resource("", "v1", "nodes"),
                     api_kind_info(API_KIND_NODE));
    assert_ptr_equal(api_kind_by_resource("migrations.kubevirt.io", "v1alpha1",
                                          "migrationpolicies"),
                     api_kind_info(API_KIND_POLICY));
    assert_null(api_kind_by_resource("kubevirt.io", "v2", "virtualmachines"));
    assert_false(api_kind_info(API_KIND_POLICY)->namespaced);
    assert_true(api_kind_info(API_KIND_VMIM)->namespaced);
    assert_string_equal(api_kind_info(API_KIND_NODE)->api_version, "v1");
    assert_null(api_kind_info(API_KIND_NONE));
}

static void test_quantities(void **state)
{
    static const struct {
        const char *s;
        int64_t v;
    } ok[] = {
        {"1024M", 1024000000LL},
        {"2Gi", 2147483648LL},
        {"500m", 1},
        {"1e3", 1000},
        {"0.5Gi", 536870912LL},
        {"1.5", 2},
        {"0", 0},
        {"100", 100},
        {"1Ki", 1024},
        {"1k", 1000},
        {"+3M", 3000000},
        {"-2Ki", -2048},
        {"1E", 1000000000000000000LL},
        {"7Ei", 8070450532247928832LL},
        {".5k", 500},
        {"5.", 5},
        {"1E3", 1000},
        {"12e-1", 2},
        {"1n", 1},
    };
    static const char *const bad[] = {"",    "M",  "1.2.3", "1Gb", "1 Gi",
                                      "Gi1", "1e", "0x10",  "1ki", "--1"};
    int64_t v;
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(api_quantity_parse(ok[i].s, &v), 0);
        if (v != ok[i].v)
            fprintf(stderr, "%s -> %lld\n", ok[i].s, (long long)v);
        assert_true(v == ok[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(api_quantity_parse(bad[i], &v), -EINVAL);
    assert_int_equal(api_quantity_parse("8Ei", &v), -ERANGE);
    assert_int_equal(api_quantity_parse("9223372036854775808", &v), -ERANGE);
    assert_int_equal(api_quantity_parse("1e100", &v), -ERANGE);
    /* Tiny, not too large: rounded up (away from zero) as Value() does. */
    assert_int_equal(api_quantity_parse("1e-1001", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(api_quantity_parse("-5e-99999999999999999999", &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(api_quantity_parse("0e-5000", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(api_quantity_parse("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(api_quantity_parse_milli("500m", &v), 0);
    assert_int_equal(v, 500);
    assert_int_equal(api_quantity_parse_milli("2", &v), 0);
    assert_int_equal(v, 2000);
    assert_int_equal(api_quantity_parse_milli("0.1", &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(api_quantity_parse_milli("1u", &v), 0);
    assert_int_equal(v, 1);
}

static void test_durations(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"1h30m", 5400000},    {"150s", 150000}, {"1.5h", 5400000},
        {"300ms", 300},        {"0", 0},         {"-2s", -2000},
        {"1m0.5s", 60500},     {"999us", 0},     {"1500000ns", 1},
        {"2h45m10s", 9910000},
    };
    static const char *const bad[] = {"",     "1",  "s", "1x",
                                      "1.s.", "h1", "-", "1hh"};
    int64_t v;
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(api_duration_parse(ok[i].s, &v), 0);
        assert_true(v == ok[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(api_duration_parse(bad[i], &v), -EINVAL);
    assert_int_equal(api_duration_parse("3000000h", &v), -ERANGE);
}

static bool sel_match(const char *sel, const char *labels_json)
{
    struct api_selector *s = NULL;
    json_t *labels = json_loads(labels_json, 0, NULL);
    bool m;

    assert_int_equal(api_selector_parse(sel, &s, NULL), 0);
    m = api_selector_match(s, labels);
    api_selector_free(s);
    json_decref(labels);
    return m;
}

static void sel_error(const char *sel, const char *msg)
{
    struct api_errors errs = API_ERRORS_INIT;
    struct api_selector *s = NULL;

    assert_int_equal(api_selector_parse(sel, &s, &errs), -EINVAL);
    assert_null(s);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].message, msg);
    api_errors_clear(&errs);
}

static void test_selectors(void **state)
{
    const char *l = "{\"a\":\"b\",\"c\":\"x\",\"e\":\"y\",\"g\":\"\"}";
    (void)state;

    assert_true(sel_match("a=b,c!=d,e in (x,y),f notin (z),g,!h", l));
    assert_true(sel_match("", l));
    assert_true(sel_match("a==b", l));
    assert_true(sel_match(" a = b , e in ( x , y ) ", l));
    assert_false(sel_match("a=c", l));
    assert_false(sel_match("a!=b", l));
    assert_false(sel_match("e in (z)", l));
    assert_false(sel_match("e notin (y)", l));
    assert_false(sel_match("h", l));
    assert_false(sel_match("!a", l));
    assert_true(sel_match("h!=x", l)); /* absent key: != matches */
    assert_true(sel_match("h notin (x)", l));
    assert_false(sel_match("a=b", "{}"));
    assert_true(sel_match("!a", "null"));
    assert_true(sel_match("kubevirt.io/vmi-name=vm1",
                          "{\"kubevirt.io/vmi-name\":\"vm1\"}"));
    assert_true(api_selector_match(NULL, NULL));

    /* Each requirement, as parsed, for callers that serve some of them
     * from an index. */
    struct api_selector *s = NULL;
    struct api_selector_req req;
    assert_int_equal(
        api_selector_parse("a==b,c!=d,e in (x,y),f notin (z),g,!h", &s, NULL),
        0);
    assert_int_equal(api_selector_count(s), 6);
    static const enum api_selector_op ops[] = {
        API_SELECTOR_IN,     API_SELECTOR_NOT_IN, API_SELECTOR_IN,
        API_SELECTOR_NOT_IN, API_SELECTOR_EXISTS, API_SELECTOR_NOT_EXISTS};
    static const char *const keys[] = {"a", "c", "e", "f", "g", "h"};
    static const size_t n_values[] = {1, 1, 2, 1, 0, 0};
    for (size_t i = 0; i < 6; i++) {
        api_selector_get(s, i, &req);
        assert_string_equal(req.key, keys[i]);
        assert_int_equal(req.op, ops[i]);
        assert_int_equal(req.n_values, n_values[i]);
    }
    api_selector_get(s, 2, &req);
    assert_string_equal(req.values[0], "x");
    assert_string_equal(req.values[1], "y");
    api_selector_free(s);
    assert_int_equal(api_selector_count(NULL), 0);

    sel_error("a=b,", "unable to parse requirement: found 'end of string', "
                      "expected: identifier");
    sel_error("a in x", "unable to parse requirement: found 'x', expected: "
                        "'('");
    sel_error("a in (x", "unable to parse requirement: found 'end of "
                         "string', expected: ',' or ')'");
    sel_error("=b", "unable to parse requirement: found '=', expected: "
                    "identifier");
    sel_error("a b", "unable to parse requirement: found 'b', expected: "
                     "'=', '!=', '==', 'in', notin'");
    sel_error("a=b c", "unable to parse requirement: found 'c', expected: "
                       "','");
    sel_error("bad key!=x",
              "unable to parse requirement: found 'key', expected: '=', "
              "'!=', '==', 'in', notin'");
    sel_error("-a=b", "unable to parse requirement: invalid label key "
                      "\"-a\": name part must consist of alphanumeric "
                      "characters, '-', '_' or '.', and must start and end "
                      "with an alphanumeric character (e.g. 'MyName',  or "
                      "'my.name',  or '123-abc', regex used for validation "
                      "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    sel_error("a=-b", "unable to parse requirement: invalid label value: "
                      "\"-b\": a valid label must be an empty string or "
                      "consist of alphanumeric characters, '-', '_' or '.', "
                      "and must start and end with an alphanumeric "
                      "character (e.g. 'MyValue',  or 'my_value',  or "
                      "'12345', regex used for validation is "
                      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");

    {
        json_t *m = json_pack("{s:s}", "rack", "a");
        json_t *labels = json_pack("{s:s,s:s}", "rack", "a", "x", "y");
        json_t *other = json_pack("{s:s}", "rack", "b");
        assert_true(api_labels_match_map(m, labels));
        assert_false(api_labels_match_map(m, other));
        assert_false(api_labels_match_map(m, NULL));
        assert_true(api_labels_match_map(NULL, other));
        json_decref(m);
        json_decref(labels);
        json_decref(other);
    }
}

static void test_time_uid_names(void **state)
{
    char buf[API_TIME_LEN], uid[API_UID_LEN], uid2[API_UID_LEN];
    int64_t t;
    char *name = NULL;
    (void)state;

    assert_int_equal(api_time_format(1795640400, buf), 0);
    assert_string_equal(buf, "2026-11-25T21:00:00Z");
    assert_int_equal(api_time_parse("2026-11-25T21:00:00Z", &t), 0);
    assert_true(t == 1795640400);
    assert_int_equal(api_time_parse("2026-11-25T23:00:00.123+02:00", &t), 0);
    assert_true(t == 1795640400);
    assert_int_equal(api_time_parse("2026-11-25 21:00:00Z", &t), -EINVAL);
    assert_int_equal(api_time_parse("2026-02-30T21:00:00Z", &t), -EINVAL);
    assert_int_equal(api_time_parse("2026-11-25T21:00:00", &t), -EINVAL);
    assert_int_equal(api_time_parse("2024-02-29T00:00:00Z", &t), 0);
    assert_int_equal(api_time_parse("2025-02-29T00:00:00Z", &t), -EINVAL);
    api_time_now(buf);
    assert_int_equal(strlen(buf), 20);
    assert_int_equal(api_time_parse(buf, &t), 0);

    assert_int_equal(api_uid_new(uid), 0);
    assert_int_equal(api_uid_new(uid2), 0);
    assert_int_equal(strlen(uid), 36);
    assert_true(uid[14] == '4');
    assert_true(strchr("89ab", uid[19]) != NULL);
    assert_true(uid[8] == '-' && uid[13] == '-' && uid[18] == '-' &&
                uid[23] == '-');
    assert_string_not_equal(uid, uid2);

    assert_int_equal(api_name_generate("kubevirt-migrate-vm-", &name), 0);
    assert_int_equal(strlen(name), strlen("kubevirt-migrate-vm-") + 5);
    assert_memory_equal(name, "kubevirt-migrate-vm-", 20);
    for (size_t i = 20; i < 25; i++)
        assert_non_null(strchr("bcdfghjklmnpqrstvwxz2456789", name[i]));
    assert_null(api_check_dns1123_subdomain(name));
    free(name);
    {
        char longp[100];
        memset(longp, 'a', 99);
        longp[99] = '\0';
        assert_int_equal(api_name_generate(longp, &name), 0);
        assert_int_equal(strlen(name), 63);
        free(name);
    }
    assert_int_equal(api_name_generate("", &name), -EINVAL);
}

/* Every status value validation accepts, the typed view reads: a stored
 * VMIM that passed validation must never be unreadable for the daemon. */
static void test_view_reads_what_validation_accepts(void **state)
{
    static const char *const phases[] = {"",
                                         "Pending",
                                         "Scheduling",
                                         "Scheduled",
                                         "PreparingTarget",
                                         "TargetReady",
                                         "Running",
                                         "Succeeded",
                                         "Failed",
                                         "WaitingForSync",
                                         "Synchronizing",
                                         "Flying",
                                         NULL};
    static const char *const modes[] = {"",       "PreCopy", "PostCopy",
                                        "Paused", "Fast",    NULL};
    static const char *const aborts[] = {"",       "Aborting", "Succeeded",
                                         "Failed", "Maybe",    NULL};
    int accepted = 0;
    (void)state;

    for (int i = 0; phases[i]; i++)
        for (int j = 0; modes[j]; j++)
            for (int k = 0; aborts[k]; k++) {
                json_t *doc = json_pack(
                    "{s:s,s:s,s:{s:s},s:{s:s},s:{s:s,s:[{s:s}],s:{s:s,s:s}}}",
                    "apiVersion", "kubevirt.io/v1", "kind",
                    "VirtualMachineInstanceMigration", "metadata", "name", "m",
                    "spec", "vmiName", "v", "status", "phase", phases[i],
                    "phaseTransitionTimestamps", "phase", phases[i],
                    "migrationState", "mode", modes[j], "abortStatus",
                    aborts[k]);
                struct api_vmim m = {0};
                assert_non_null(doc);
                if (api_object_validate(doc, API_KIND_VMIM, NULL, NULL) == 0) {
                    accepted++;
                    if (api_vmim_from_json(doc, &m, NULL) != 0)
                        fail_msg("valid but unreadable: phase '%s', mode "
                                 "'%s', abortStatus '%s'",
                                 phases[i], modes[j], aborts[k]);
                    api_vmim_clear(&m);
                }
                json_decref(doc);
            }
    /* 9 phases ("" too), 4 modes, 4 abort states. */
    assert_int_equal(accepted, 9 * 4 * 4);
}

/* A view refuses what it cannot read with the same words as validation. */
static void test_view_type_error(void **state)
{
    json_t *doc =
        json_pack("{s:s,s:s,s:{s:s},s:{s:i}}", "apiVersion", "kubevirt.io/v1",
                  "kind", "VirtualMachineInstanceMigration", "metadata", "name",
                  "m", "spec", "vmiName", 5);
    struct api_vmim m = {0};
    struct api_errors errs = API_ERRORS_INIT;
    char *joined;
    (void)state;

    assert_non_null(doc);
    assert_int_equal(api_vmim_from_json(doc, &m, &errs), -EINVAL);
    joined = api_errors_join(&errs);
    assert_string_equal(joined, "spec.vmiName: Invalid value: \"integer\": "
                                "spec.vmiName in body must be of type "
                                "string: \"integer\"");
    assert_string_equal(api_error_reason(errs.items[0].type),
                        "FieldValueTypeInvalid");
    free(joined);
    api_errors_clear(&errs);
    api_vmim_clear(&m);
    json_decref(doc);
}

static void test_vmim_view(void **state)
{
    json_t *doc = load("migration.yaml"), *out, *again;
    struct api_vmim m = {0}, m2 = {0};
    struct api_errors errs = API_ERRORS_INIT;
    char now[API_TIME_LEN] = "2026-11-25T21:00:00Z";
    (void)state;

    assert_int_equal(api_vmim_from_json(doc, &m, &errs), 0);
    assert_string_equal(m.meta.name, "migration-job");
    assert_null(m.meta.namespace);
    assert_string_equal(m.vmi_name, "vmi-fedora");
    assert_int_equal(m.phase, API_VMIM_PHASE_UNSET);
    assert_null(m.migration_state);

    /* Unchanged struct: the same document back. */
    out = api_vmim_to_json(&m);
    assert_true(json_equal(out, doc));
    json_decref(out);

    /* Drive it like the controller does. */
    assert_int_equal(api_vmim_set_phase(&m, API_VMIM_PHASE_PENDING, now), 0);
    assert_int_equal(api_vmim_set_phase(&m, API_VMIM_PHASE_RUNNING, now), 0);
    m.migration_state = calloc(1, sizeof(*m.migration_state));
    m.migration_state->source_node = strdup("h1");
    m.migration_state->target_node = strdup("h2");
    m.migration_state->mode = API_MODE_POSTCOPY;
    m.migration_state->abort_status = API_ABORT_ABORTING;
    m.migration_state->abort_requested = true;
    m.migration_state->has_migration_configuration = true;
    m.migration_state->migration_configuration.allow_post_copy = API_BOOL_TRUE;
    m.migration_state->migration_configuration.has_completion_timeout_per_gib =
        true;
    m.migration_state->migration_configuration.completion_timeout_per_gib = 150;
    m.migration_state->migration_configuration.bandwidth_per_migration =
        strdup("64Mi");
    assert_int_equal(
        api_conditions_set(&m.conditions, "Ready", "True", "R", "msg", now), 0);
    m.progress = calloc(1, sizeof(*m.progress));
    m.progress->data_total_bytes = 1000;
    m.progress->data_remaining_bytes = 10;
    m.progress->iteration = 3;
    out = api_vmim_to_json(&m);
    assert_non_null(out);
    assert_int_equal(api_object_validate(out, API_KIND_VMIM, NULL, &errs), 0);
    assert_string_equal(api_doc_get_string(out, "status.phase"), "Running");
    assert_string_equal(api_doc_get_string(out, "status.migrationState.mode"),
                        "PostCopy");
    assert_string_equal(
        api_doc_get_string(out, "status.migrationState.abortStatus"),
        "Aborting");
    {
        char *s = NULL;
        assert_int_equal(api_doc_encode(json_object_get(out, "status"),
                                        API_FORMAT_JSON, &s, NULL),
                         0);
        assert_string_equal(
            s, "{\"phase\":\"Running\",\"phaseTransitionTimestamps\":[{"
               "\"phase\":\"Pending\",\"phaseTransitionTimestamp\":\"2026-11-"
               "25T21:00:00Z\"},{\"phase\":\"Running\","
               "\"phaseTransitionTimestamp\":\"2026-11-25T21:00:00Z\"}],"
               "\"migrationState\":{\"targetNode\":\"h2\",\"sourceNode\":"
               "\"h1\",\"abortRequested\":true,\"abortStatus\":\"Aborting\","
               "\"mode\":\"PostCopy\",\"migrationConfiguration\":{"
               "\"bandwidthPerMigration\":\"64Mi\","
               "\"completionTimeoutPerGiB\":150,\"allowPostCopy\":true}},"
               "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
               "\"reason\":\"R\",\"message\":\"msg\",\"lastTransitionTime\":"
               "\"2026-11-25T21:00:00Z\"}],\"progress\":{\"dataTotalBytes\":"
               "1000,\"dataProcessedBytes\":0,\"dataRemainingBytes\":10,"
               "\"dirtyMemoryRateBytes\":0,\"memoryTransferRateBytes\":0,"
               "\"iteration\":3,\"elapsedMs\":0}}");
        free(s);
    }

    /* Back through a struct: same document again. */
    assert_int_equal(api_vmim_from_json(out, &m2, &errs), 0);
    assert_int_equal(m2.phase, API_VMIM_PHASE_RUNNING);
    assert_int_equal(m2.transition_count, 2);
    assert_int_equal(m2.migration_state->mode, API_MODE_POSTCOPY);
    assert_true(m2.migration_state->abort_requested);
    assert_int_equal(
        m2.migration_state->migration_configuration.completion_timeout_per_gib,
        150);
    assert_int_equal(m2.progress->iteration, 3);
    assert_string_equal(api_conditions_find(&m2.conditions, "Ready")->status,
                        "True");
    again = api_vmim_to_json(&m2);
    assert_true(json_equal(out, again));
    json_decref(again);

    /* Clearing a field removes it; unknown status fields survive. */
    json_object_set_new(json_object_get(out, "status"), "custom",
                        json_string("kept"));
    api_vmim_clear(&m2);
    assert_int_equal(api_vmim_from_json(out, &m2, &errs), 0);
    api_migration_state_clear(m2.migration_state);
    free(m2.migration_state);
    m2.migration_state = NULL;
    again = api_vmim_to_json(&m2);
    assert_null(
        json_object_get(json_object_get(again, "status"), "migrationState"));
    assert_string_equal(api_doc_get_string(again, "status.custom"), "kept");
    json_decref(again);

    assert_int_equal(errs.count, 0);
    api_vmim_clear(&m2);
    api_vmim_clear(&m);
    api_vmim_clear(NULL);
    json_decref(out);
    json_decref(doc);
}

static void test_vm_view(void **state)
{
    json_t *doc = load("vm-sriov.yaml"), *out;
    struct api_vm vm = {0};
    struct api_vmi vmi = {0};
    struct api_errors errs = API_ERRORS_INIT;
    const struct api_vmi_spec *s = &vm.spec;
    (void)state;

    assert_int_equal(api_vm_from_json(doc, &vm, &errs), 0);
    assert_string_equal(vm.meta.name, "vmi-sriov-test-vm");
    assert_int_equal(vm.running, API_BOOL_TRUE);
    assert_string_equal(json_string_value(json_object_get(vm.template_labels,
                                                          "kubevirt.io/size")),
                        "small");
    assert_int_equal(s->cpu_cores, 4);
    assert_true(s->requests_memory_bytes == 1024000000LL);
    assert_true(api_vmi_spec_memory_bytes(s) == 1024000000LL);
    assert_int_equal(s->disk_count, 2);
    assert_string_equal(s->disks[1].name, "cloudinitdisk");
    assert_string_equal(s->disks[1].bus, "virtio");
    assert_int_equal(s->interface_count, 1);
    assert_int_equal(s->interfaces[0].binding, API_BINDING_SRIOV);
    assert_string_equal(api_iface_binding_name(s->interfaces[0].binding),
                        "sriov");
    assert_string_equal(s->interfaces[0].mac_address, "02:00:00:00:00:01");
    assert_true(s->rng);
    assert_int_equal(s->network_count, 1);
    assert_int_equal(s->networks[0].type, API_NETWORK_MULTUS);
    assert_string_equal(s->networks[0].network_name, "sriov-net1");
    assert_int_equal(s->volume_count, 2);
    assert_int_equal(s->volumes[0].type, API_VOLUME_CONTAINER_DISK);
    assert_int_equal(s->volumes[1].type, API_VOLUME_CLOUD_INIT_NOCLOUD);
    assert_non_null(strstr(s->volumes[1].network_data,
                           "macAddress: \"02:00:00:00:00:01\""));
    assert_string_equal(s->volumes[1].user_data,
                        "#!/bin/bash\necho \"fedora\" |passwd fedora "
                        "--stdin");

    out = api_vm_to_json(&vm);
    assert_true(json_equal(out, doc));
    json_decref(out);

    /* Edit through the struct: a new MAC, a second port-less interface
     * removed again, stopped. */
    free(vm.spec.interfaces[0].mac_address);
    vm.spec.interfaces[0].mac_address = strdup("02:00:00:00:00:02");
    vm.running = API_BOOL_FALSE;
    out = api_vm_to_json(&vm);
    assert_int_equal(api_object_validate(out, API_KIND_VM, NULL, &errs), 0);
    assert_true(json_is_false(
        json_object_get(json_object_get(out, "spec"), "running")));
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(
                json_object_get(
                    json_object_get(
                        json_object_get(
                            json_object_get(
                                json_object_get(json_object_get(out, "spec"),
                                                "template"),
                                "spec"),
                            "domain"),
                        "devices"),
                    "interfaces"),
                0),
            "macAddress")),
        "02:00:00:00:00:02");
    json_decref(out);

    /* A VMI made from the VM's template. */
    {
        json_t *vd = json_pack(
            "{s:s,s:s,s:{s:s,s:s},s:O,s:{s:s,s:s,s:[{s:s,s:s,s:[s]}],s:{s:s,"
            "s:s,s:b},s:[{s:s,s:s}]}}",
            "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachineInstance",
            "metadata", "name", "vmi-sriov-test-vm", "namespace", "default",
            "spec",
            json_object_get(
                json_object_get(json_object_get(doc, "spec"), "template"),
                "spec"),
            "status", "phase", "Running", "nodeName", "h1", "interfaces",
            "name", "sriov-net1", "mac", "02:00:00:00:00:01", "ipAddresses",
            "10.10.10.12", "migrationState", "sourceNode", "h1", "targetNode",
            "h2", "completed", 1, "conditions", "type", "LiveMigratable",
            "status", "True");
        assert_non_null(vd);
        assert_int_equal(api_object_validate(vd, API_KIND_VMI, NULL, &errs), 0);
        assert_int_equal(api_vmi_from_json(vd, &vmi, &errs), 0);
        assert_string_equal(vmi.node_name, "h1");
        assert_string_equal(vmi.interfaces[0].mac, "02:00:00:00:00:01");
        assert_true(vmi.migration_state->completed);
        assert_string_equal(
            api_conditions_find(&vmi.conditions, "LiveMigratable")->status,
            "True");
        assert_int_equal(vmi.spec.cpu_cores, 4);
        out = api_vmi_to_json(&vmi);
        assert_true(json_equal(out, vd));
        json_decref(out);
        json_decref(vd);
    }
    assert_int_equal(errs.count, 0);
    api_vmi_clear(&vmi);
    api_vm_clear(&vm);
    json_decref(doc);
}

static void test_policy_node_view(void **state)
{
    static const char policy[] =
        "apiVersion: migrations.kubevirt.io/v1alpha1\n"
        "kind: MigrationPolicy\nmetadata: {name: gold}\n"
        "spec:\n  selectors:\n    virtualMachineInstanceSelector: {tier: "
        "gold}\n  allowPostCopy: true\n  completionTimeoutPerGiB: 300\n"
        "  bandwidthPerMigration: 1Gi\n";
    static const char node[] =
        "apiVersion: v1\nkind: Node\nmetadata: {name: h1, labels: {rack: "
        "a}}\nspec: {unschedulable: true}\nstatus:\n  addresses: [{type: "
        "InternalIP, address: 10.0.0.1}]\n  capacity: {cpu: '8', memory: "
        "32Gi}\n  conditions: [{type: Ready, status: 'True'}]\n";
    struct api_policy p = {0};
    struct api_node n = {0};
    json_t *doc = NULL, *out;
    (void)state;

    assert_int_equal(api_object_parse(policy, strlen(policy), NULL,
                                      API_KIND_POLICY, &doc, NULL, NULL),
                     0);
    assert_int_equal(api_policy_from_json(doc, &p, NULL), 0);
    assert_int_equal(p.config.allow_post_copy, API_BOOL_TRUE);
    assert_int_equal(p.config.allow_auto_converge, API_BOOL_UNSET);
    assert_int_equal(p.config.completion_timeout_per_gib, 300);
    assert_string_equal(p.config.bandwidth_per_migration, "1Gi");
    assert_string_equal(
        json_string_value(json_object_get(p.vmi_selector, "tier")), "gold");
    out = api_policy_to_json(&p);
    assert_true(json_equal(out, doc));
    json_decref(out);
    api_policy_clear(&p);
    json_decref(doc);

    assert_int_equal(api_object_parse(node, strlen(node), NULL, API_KIND_NODE,
                                      &doc, NULL, NULL),
                     0);
    assert_int_equal(api_node_from_json(doc, &n, NULL), 0);
    assert_true(n.unschedulable);
    assert_int_equal(n.capacity_cpu_milli, 8000);
    assert_true(n.capacity_memory_bytes == 32LL << 30);
    assert_string_equal(n.addresses[0].address, "10.0.0.1");
    assert_string_equal(n.conditions.items[0].type, "Ready");
    out = api_node_to_json(&n);
    assert_true(json_equal(out, doc));
    json_decref(out);
    n.unschedulable = false;
    out = api_node_to_json(&n);
    assert_null(json_object_get(json_object_get(out, "spec"), "unschedulable"));
    json_decref(out);
    api_node_clear(&n);
    json_decref(doc);
}

static void test_enums(void **state)
{
    (void)state;
    assert_string_equal(api_vmim_phase_name(API_VMIM_PHASE_PREPARING_TARGET),
                        "PreparingTarget");
    assert_string_equal(api_vmim_phase_name(API_VMIM_PHASE_UNSET), "");
    assert_null(api_vmim_phase_name(API_VMIM_PHASE_COUNT));
    assert_int_equal(api_vmim_phase_parse("TargetReady"),
                     API_VMIM_PHASE_TARGET_READY);
    assert_int_equal(api_vmim_phase_parse("running"), -EINVAL);
    assert_true(api_vmim_phase_is_final(API_VMIM_PHASE_FAILED));
    assert_false(api_vmim_phase_is_final(API_VMIM_PHASE_RUNNING));
    assert_int_equal(api_abort_status_parse("Succeeded"), API_ABORT_SUCCEEDED);
    assert_int_equal(api_migration_mode_parse("Paused"), API_MODE_PAUSED);
    assert_int_equal(api_migration_mode_parse("Fast"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_time_uid_names),
        cmocka_unit_test(test_view_reads_what_validation_accepts),
        cmocka_unit_test(test_view_type_error),
        cmocka_unit_test(test_vmim_view),
        cmocka_unit_test(test_vm_view),
        cmocka_unit_test(test_policy_node_view),
        cmocka_unit_test(test_enums),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
