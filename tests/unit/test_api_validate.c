/*
 * Unit tests for api/ validation: each error with its exact Kubernetes
 * wording, and the Status message built from the list.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "api/api.h"

#define VMIM_HEAD                                                              \
    "apiVersion: kubevirt.io/v1\n"                                             \
    "kind: VirtualMachineInstanceMigration\n"

/* Parse and validate `text` as `kind`; expect the joined error list to be
 * `expect` ("" for a valid object). */
static void check(const char *text, enum api_kind kind, const char *expect)
{
    struct api_errors errs = API_ERRORS_INIT;
    json_t *doc = NULL;
    const struct api_kind_info *ki = NULL;
    int r = api_object_parse(text, strlen(text), NULL, kind, &doc, &ki, &errs);
    char *joined = api_errors_join(&errs);

    if (!*expect) {
        if (r != 0)
            fprintf(stderr, "unexpected: %s\n", joined);
        assert_int_equal(r, 0);
        assert_non_null(doc);
        assert_non_null(ki);
    } else {
        assert_int_equal(r, -EINVAL);
        assert_null(doc);
        assert_string_equal(joined, expect);
    }
    free(joined);
    json_decref(doc);
    api_errors_clear(&errs);
}

static void test_vmim_valid(void **state)
{
    (void)state;
    check(VMIM_HEAD "metadata: {name: m1}\nspec: {vmiName: vm1}\n",
          API_KIND_VMIM, "");
    check(VMIM_HEAD "metadata: {generateName: kubevirt-migrate-vm-}\n"
                    "spec:\n  vmiName: vm1\n  addedNodeSelector: {rack: a}\n"
                    "status:\n  phase: Running\n  migrationState:\n"
                    "    sourceNode: h1\n    targetNode: h2\n"
                    "    mode: PreCopy\n    completed: false\n"
                    "    migrationConfiguration: {allowPostCopy: true,"
                    " bandwidthPerMigration: 64Mi}\n"
                    "  phaseTransitionTimestamps:\n"
                    "  - {phase: Pending, phaseTransitionTimestamp: "
                    "'2026-11-25T21:00:00Z'}\n"
                    "  conditions: [{type: Ready, status: 'True', "
                    "lastProbeTime: null}]\n"
                    "  progress: {dataTotalBytes: 100, iteration: 2}\n",
          API_KIND_VMIM, "");
}

static void test_required(void **state)
{
    (void)state;
    check(VMIM_HEAD "metadata: {name: m1}\nspec: {}\n", API_KIND_VMIM,
          "spec.vmiName: Required value");
    check(VMIM_HEAD "metadata: {name: m1}\n", API_KIND_VMIM,
          "spec: Required value");
    check(VMIM_HEAD "metadata: {namespace: ns}\nspec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.name: Required value: name or generateName is required");
    check("kind: VirtualMachineInstanceMigration\nmetadata: {name: a}\n",
          API_KIND_VMIM, "apiVersion: Required value");
}

static void test_names(void **state)
{
    (void)state;
    check(VMIM_HEAD "metadata: {name: Bad_Name}\nspec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 "
          "subdomain must consist of lower case alphanumeric characters, '-' "
          "or '.', and must start and end with an alphanumeric character "
          "(e.g. 'example.com', regex used for validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
          "*')");
    check(VMIM_HEAD "metadata: {name: a, namespace: Bad.ns}\n"
                    "spec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.namespace: Invalid value: \"Bad.ns\": a lowercase RFC "
          "1123 label must consist of lower case alphanumeric characters or "
          "'-', and must start and end with an alphanumeric character (e.g. "
          "'my-name',  or '123-abc', regex used for validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
    /* A trailing '-' is allowed in a prefix, but a lone "-" would make
     * names such as "-x7k2p". */
    check(VMIM_HEAD "metadata: {generateName: a-}\nspec: {vmiName: a}\n",
          API_KIND_VMIM, "");
    check(VMIM_HEAD "metadata: {generateName: '-'}\nspec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.generateName: Invalid value: \"-\": a lowercase RFC 1123 "
          "subdomain must consist of lower case alphanumeric characters, '-' "
          "or '.', and must start and end with an alphanumeric character "
          "(e.g. 'example.com', regex used for validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
          "*')");
    check("apiVersion: v1\nkind: Node\nmetadata: {name: h1, namespace: x}\n",
          API_KIND_NODE,
          "metadata.namespace: Forbidden: not allowed on this type");
}

static void test_labels(void **state)
{
    (void)state;
    check(VMIM_HEAD "metadata:\n  name: a\n  labels: {\"bad key\": x}\n"
                    "spec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.labels: Invalid value: \"bad key\": name part must "
          "consist of alphanumeric characters, '-', '_' or '.', and must "
          "start and end with an alphanumeric character (e.g. 'MyName',  or "
          "'my.name',  or '123-abc', regex used for validation is "
          "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    check(VMIM_HEAD "metadata:\n  name: a\n  labels: {ok: \"-bad\"}\n"
                    "spec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.labels: Invalid value: \"-bad\": a valid label must be "
          "an empty string or consist of alphanumeric characters, '-', '_' "
          "or '.', and must start and end with an alphanumeric character "
          "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
          "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    check(VMIM_HEAD "metadata:\n  name: a\n  labels: {\"Ex_ample.com/x\": "
                    "y}\nspec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.labels: Invalid value: \"Ex_ample.com/x\": prefix part "
          "a lowercase RFC 1123 subdomain must consist of lower case "
          "alphanumeric characters, '-' or '.', and must start and end with "
          "an alphanumeric character (e.g. 'example.com', regex used for "
          "validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
          "*')");
    check(VMIM_HEAD "metadata:\n  name: a\n  labels: {kubevirt.io/vmi-name: "
                    "vm1, a: \"\"}\n  annotations: {x/y: anything goes}\n"
                    "spec: {vmiName: a}\n",
          API_KIND_VMIM, "");
    check(VMIM_HEAD "metadata:\n  name: a\n  labels: {a: 5}\n"
                    "spec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.labels.a: Invalid value: \"integer\": metadata.labels.a "
          "in body must be of type string: \"integer\"");
}

static void test_unknown_and_types(void **state)
{
    (void)state;
    check(VMIM_HEAD "metadata: {name: a}\nspec: {vmiName: a, foo: 1}\n",
          API_KIND_VMIM, "unknown field \"spec.foo\"");
    check(VMIM_HEAD "metadata: {name: a}\nspec: {vmiName: 5}\n", API_KIND_VMIM,
          "spec.vmiName: Invalid value: \"integer\": spec.vmiName in body "
          "must be of type string: \"integer\"");
    /* The value named is the JSON type that was found, as the apiserver
     * words a CRD's type errors. */
    check(VMIM_HEAD "metadata: {name: a}\nspec: {vmiName: a, "
                    "addedNodeSelector: {a: [], b: {}, c: 1.5, d: true, "
                    "e: null}}\n",
          API_KIND_VMIM,
          "[spec.addedNodeSelector.a: Invalid value: \"array\": "
          "spec.addedNodeSelector.a in body must be of type string: "
          "\"array\", spec.addedNodeSelector.b: Invalid value: \"object\": "
          "spec.addedNodeSelector.b in body must be of type string: "
          "\"object\", spec.addedNodeSelector.c: Invalid value: \"number\": "
          "spec.addedNodeSelector.c in body must be of type string: "
          "\"number\", spec.addedNodeSelector.d: Invalid value: "
          "\"boolean\": spec.addedNodeSelector.d in body must be of type "
          "string: \"boolean\", spec.addedNodeSelector.e: Invalid value: "
          "\"null\": spec.addedNodeSelector.e in body must be of type "
          "string: \"null\"]");
    check(VMIM_HEAD "metadata: {name: a}\nspec: [1]\n", API_KIND_VMIM,
          "spec: Invalid value: \"array\": spec in body must be of type "
          "object: \"array\"");
    check(VMIM_HEAD "metadata: {name: a}\nspec: {vmiName: a}\n"
                    "status: {phase: Flying}\n",
          API_KIND_VMIM,
          "status.phase: Unsupported value: \"Flying\": supported values: "
          "\"Pending\", \"Scheduling\", \"Scheduled\", \"PreparingTarget\", "
          "\"TargetReady\", \"Running\", \"Succeeded\", \"Failed\"");
    /* Several errors: unknown first in document order, then required. */
    check(VMIM_HEAD "metadata: {name: a, bogus: 1}\nspec: {x: 1}\n",
          API_KIND_VMIM,
          "[unknown field \"metadata.bogus\", unknown field \"spec.x\", "
          "spec.vmiName: Required value]");
    /* Server-owned metadata is accepted. */
    check(VMIM_HEAD "metadata: {name: a, uid: u, resourceVersion: '7', "
                    "generation: 2, creationTimestamp: "
                    "'2026-11-25T21:00:00Z'}\nspec: {vmiName: a}\n",
          API_KIND_VMIM, "");
    check(VMIM_HEAD "metadata: {name: a, creationTimestamp: yesterday}\n"
                    "spec: {vmiName: a}\n",
          API_KIND_VMIM,
          "metadata.creationTimestamp: Invalid value: \"yesterday\": must be "
          "an RFC 3339 timestamp (e.g. '2026-11-25T21:00:00Z')");
}

static void test_api_version_kind(void **state)
{
    (void)state;
    check("apiVersion: kubevirt.io/v2\nkind: VirtualMachineInstanceMigration"
          "\nmetadata: {name: a}\nspec: {vmiName: a}\n",
          API_KIND_VMIM,
          "apiVersion: Unsupported value: \"kubevirt.io/v2\": supported "
          "values: \"kubevirt.io/v1\"");
    check("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"
          "metadata: {name: a}\nspec: {vmiName: a}\n",
          API_KIND_VMIM,
          "kind: Unsupported value: \"VirtualMachine\": supported values: "
          "\"VirtualMachineInstanceMigration\"");
    check("apiVersion: kubevirt.io/v1\nkind: Pod\nmetadata: {name: a}\n",
          API_KIND_NONE,
          "kind: Unsupported value: \"Pod\": supported values: "
          "\"VirtualMachineInstanceMigration\", \"VirtualMachineInstance\", "
          "\"VirtualMachine\", \"MigrationPolicy\", \"Node\"");
    check("apiVersion: kubevirt.io/v1\nkind: MigrationPolicy\n"
          "metadata: {name: a}\n",
          API_KIND_NONE,
          "apiVersion: Unsupported value: \"kubevirt.io/v1\": supported "
          "values: \"migrations.kubevirt.io/v1alpha1\"");
    check("- a\n", API_KIND_NONE, "the document is not an object");
    check("metadata: {name: a}\n", API_KIND_NONE,
          "[apiVersion: Required value, kind: Required value]");
    check("apiVersion: ''\nkind: 5\nmetadata: {name: a}\n", API_KIND_NONE,
          "[apiVersion: Required value, kind: Invalid value: \"integer\": "
          "kind in body must be of type string: \"integer\"]");
}

#define VM_HEAD                                                                \
    "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"                       \
    "metadata: {name: vm1}\n"                                                  \
    "spec:\n  running: true\n  template:\n    spec:\n"                         \
    "      domain:\n        devices:\n"

static void test_vm_cross_refs(void **state)
{
    (void)state;
    check(VM_HEAD "          interfaces: [{name: x, sriov: {}}]\n"
                  "      networks: [{name: y, multus: {networkName: y}}]\n",
          API_KIND_VM,
          "[spec.template.spec.domain.devices.interfaces[0].name: Invalid "
          "value: \"x\": must match the name of a network in "
          "spec.template.spec.networks, spec.template.spec.networks[0].name:"
          " Invalid value: \"y\": must match the name of an interface in "
          "spec.template.spec.domain.devices.interfaces]");
    check(VM_HEAD "          disks: [{name: d0, disk: {bus: virtio}}]\n",
          API_KIND_VM,
          "spec.template.spec.domain.devices.disks[0].name: Invalid value: "
          "\"d0\": must match the name of a volume in "
          "spec.template.spec.volumes");
    check(VM_HEAD "          interfaces: [{name: x, masquerade: {}},"
                  " {name: x, masquerade: {}}]\n"
                  "      networks: [{name: x, pod: {}}]\n",
          API_KIND_VM,
          "spec.template.spec.domain.devices.interfaces[1].name: Duplicate "
          "value: \"x\"");
    check(VM_HEAD "          interfaces: [{name: x, masquerade: {}, "
                  "bridge: {}}]\n"
                  "      networks: [{name: x, pod: {}}]\n",
          API_KIND_VM,
          "spec.template.spec.domain.devices.interfaces[0]: Forbidden: must "
          "have at most one binding method (masquerade, bridge, sriov, "
          "slirp, passt, binding)");
    check(VM_HEAD "          interfaces: [{name: x}]\n"
                  "      networks: [{name: x}]\n",
          API_KIND_VM,
          "spec.template.spec.networks[0]: Required value: must have one "
          "network source (pod, multus)");
}

static void test_vm_values(void **state)
{
    (void)state;
    check(VM_HEAD "          interfaces: [{name: x, sriov: {}, "
                  "macAddress: '02:00:00:00:00:0g'}]\n"
                  "      networks: [{name: x, multus: {networkName: n}}]\n",
          API_KIND_VM,
          "spec.template.spec.domain.devices.interfaces[0].macAddress: "
          "Invalid value: \"02:00:00:00:00:0g\": must be a valid MAC "
          "address (e.g. '02:00:00:00:00:01')");
    check(VM_HEAD "          rng: {}\n"
                  "        resources: {requests: {memory: 10XB}}\n",
          API_KIND_VM,
          "spec.template.spec.domain.resources.requests.memory: Invalid "
          "value: \"10XB\": quantities must match the regular expression "
          "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    /* Kubernetes refuses negative quantities (ValidateNonnegativeQuantity),
     * whether written as a string or a number. */
    check(VM_HEAD "          rng: {}\n"
                  "        resources: {requests: {memory: -1Gi, cpu: -100m}}\n"
                  "        memory: {guest: -5}\n",
          API_KIND_VM,
          "[spec.template.spec.domain.resources.requests.memory: Invalid "
          "value: \"-1Gi\": must be greater than or equal to 0, "
          "spec.template.spec.domain.resources.requests.cpu: Invalid value: "
          "\"-100m\": must be greater than or equal to 0, "
          "spec.template.spec.domain.memory.guest: Invalid value: -5: must "
          "be greater than or equal to 0]");
    check(VM_HEAD "          rng: {}\n"
                  "        resources: {requests: {memory: '-0', cpu: 0m}}\n",
          API_KIND_VM, "");
    check(VM_HEAD "          rng: {}\n        cpu: {cores: 0}\n", API_KIND_VM,
          "spec.template.spec.domain.cpu.cores: Invalid value: 0: must be "
          "greater than or equal to 1");
    check(VM_HEAD "          interfaces: [{name: x, masquerade: {}, ports: "
                  "[{port: 70000}]}]\n"
                  "      networks: [{name: x, pod: {}}]\n",
          API_KIND_VM,
          "spec.template.spec.domain.devices.interfaces[0].ports[0].port: "
          "Invalid value: 70000: must be less than or equal to 65535");
    check("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"
          "metadata: {name: vm1}\n"
          "spec:\n  running: true\n  runStrategy: Always\n"
          "  template: {spec: {domain: {devices: {}}}}\n",
          API_KIND_VM,
          "spec.running: Forbidden: running and runStrategy are mutually "
          "exclusive");
    check("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"
          "metadata: {name: vm1}\n"
          "spec:\n  runStrategy: Sometimes\n"
          "  template: {spec: {domain: {devices: {}}}}\n",
          API_KIND_VM,
          "spec.runStrategy: Unsupported value: \"Sometimes\": supported "
          "values: \"Always\", \"Halted\", \"Manual\", \"RerunOnFailure\", "
          "\"Once\", \"WaitAsReceiver\"");
    check("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"
          "metadata: {name: vm1}\n"
          "spec:\n  template: {spec: {domain: {devices: {}}, volumes: "
          "[{name: v, hostDisk: {path: /x, type: Disk, capacity: 2Gi}}, "
          "{name: w, emptyDisk: {capacity: 0.5Gi}}, {name: p, "
          "persistentVolumeClaim: {claimName: c}}]}}\n",
          API_KIND_VM, "");
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Cross references are checked in linear time: a VM with as many
 * interfaces and networks as the decoder lets through (10000 each) must
 * not stall the daemon that validates it (this took 10 s of CPU when each
 * name was looked up by a scan). */
static void test_vm_cross_refs_many(void **state)
{
    const size_t n = 10000;
    json_t *vm =
        json_pack("{s:s,s:s,s:{s:s},s:{s:{s:{s:{s:{s:[]}},s:[]}}}}",
                  "apiVersion", "kubevirt.io/v1", "kind", "VirtualMachine",
                  "metadata", "name", "vm1", "spec", "template", "spec",
                  "domain", "devices", "interfaces", "networks");
    json_t *spec, *ifaces, *nets;
    struct api_errors errs = API_ERRORS_INIT;
    char *joined;
    double t0;
    (void)state;

    assert_non_null(vm);
    spec = json_object_get(
        json_object_get(json_object_get(vm, "spec"), "template"), "spec");
    ifaces = json_object_get(
        json_object_get(json_object_get(spec, "domain"), "devices"),
        "interfaces");
    nets = json_object_get(spec, "networks");
    for (size_t i = 0; i < n; i++) {
        char name[16];
        /* The last interface repeats the first; the last network is
         * missing, and so the last-but-one interface names nothing. */
        snprintf(name, sizeof(name), "n%zu", i == n - 1 ? (size_t)0 : i);
        assert_int_equal(
            json_array_append_new(
                ifaces, json_pack("{s:s,s:{}}", "name", name, "bridge")),
            0);
        if (i < n - 2)
            assert_int_equal(
                json_array_append_new(
                    nets, json_pack("{s:s,s:{}}", "name", name, "pod")),
                0);
    }
    t0 = cpu_seconds();
    assert_int_equal(api_object_validate(vm, API_KIND_VM, NULL, &errs),
                     -EINVAL);
    if (cpu_seconds() - t0 > 2.0)
        fail_msg("validating %zu interfaces took %.1f s of CPU", n,
                 cpu_seconds() - t0);
    joined = api_errors_join(&errs);
    assert_string_equal(
        joined, "[spec.template.spec.domain.devices.interfaces[9998].name: "
                "Invalid value: \"n9998\": must match the name of a network "
                "in spec.template.spec.networks, "
                "spec.template.spec.domain.devices.interfaces[9999].name: "
                "Duplicate value: \"n0\"]");
    free(joined);
    api_errors_clear(&errs);
    json_decref(vm);
}

static void test_policy_and_node(void **state)
{
    (void)state;
    check("apiVersion: migrations.kubevirt.io/v1alpha1\n"
          "kind: MigrationPolicy\nmetadata: {name: fast}\n"
          "spec:\n  selectors:\n    virtualMachineInstanceSelector: "
          "{tier: gold}\n  allowPostCopy: true\n  maxDowntimeMs: 0\n"
          "  bandwidthPerMigration: 1Gi\n",
          API_KIND_POLICY,
          "spec.maxDowntimeMs: Invalid value: 0: must be greater than or "
          "equal to 1");
    check("apiVersion: migrations.kubevirt.io/v1alpha1\n"
          "kind: MigrationPolicy\nmetadata: {name: fast}\n"
          "spec: {selectors: {}, bandwidthPerMigration: -64Mi}\n",
          API_KIND_POLICY,
          "spec.bandwidthPerMigration: Invalid value: \"-64Mi\": must be "
          "greater than or equal to 0");
    check("apiVersion: migrations.kubevirt.io/v1alpha1\n"
          "kind: MigrationPolicy\nmetadata: {name: fast}\n"
          "spec: {selectors: {}, progressTimeout: 5}\n",
          API_KIND_POLICY, "unknown field \"spec.progressTimeout\"");
    check("apiVersion: v1\nkind: Node\nmetadata: {name: h1, labels: "
          "{kubernetes.io/hostname: h1}}\n"
          "spec: {unschedulable: true}\n"
          "status:\n  addresses: [{type: InternalIP, address: 10.0.0.1}]\n"
          "  capacity: {cpu: '8', memory: 32Gi}\n"
          "  conditions: [{type: Ready, status: 'True', lastHeartbeatTime: "
          "'2026-11-25T21:00:00Z'}]\n",
          API_KIND_NODE, "");
    check("apiVersion: v1\nkind: Node\nmetadata: {name: h1}\n"
          "status: {capacity: {memory: lots}}\n",
          API_KIND_NODE,
          "status.capacity.memory: Invalid value: \"lots\": quantities must "
          "match the regular expression "
          "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
}

static void test_status_message(void **state)
{
    struct api_errors errs = API_ERRORS_INIT;
    char *msg;
    (void)state;

    api_errors_add(&errs, API_ERR_REQUIRED, "spec.vmiName", "Required value");
    msg = api_errors_status_message(&errs, api_kind_info(API_KIND_VMIM), "m");
    assert_string_equal(msg, "VirtualMachineInstanceMigration.kubevirt.io "
                             "\"m\" is invalid: spec.vmiName: Required "
                             "value");
    free(msg);
    api_errors_add(&errs, API_ERR_UNKNOWN_FIELD, "spec.foo",
                   "unknown field \"%s\"", "spec.foo");
    msg = api_errors_status_message(&errs, api_kind_info(API_KIND_VMIM), "m");
    assert_string_equal(msg, "VirtualMachineInstanceMigration.kubevirt.io "
                             "\"m\" is invalid: [spec.vmiName: Required "
                             "value, unknown field \"spec.foo\"]");
    free(msg);
    msg = api_errors_status_message(&errs, api_kind_info(API_KIND_NODE), NULL);
    assert_string_equal(msg, "Node \"\" is invalid: [spec.vmiName: Required "
                             "value, unknown field \"spec.foo\"]");
    free(msg);
    assert_string_equal(errs.items[0].field, "spec.vmiName");
    assert_string_equal(errs.items[0].detail, "Required value");
    assert_string_equal(api_error_reason(errs.items[0].type),
                        "FieldValueRequired");
    assert_string_equal(api_error_reason(errs.items[1].type),
                        "FieldValueUnknown");
    api_errors_clear(&errs);

    /* Decode errors alone are not "is invalid". */
    api_errors_add(&errs, API_ERR_DECODE, NULL, "empty document");
    msg = api_errors_status_message(&errs, api_kind_info(API_KIND_VMIM), "m");
    assert_string_equal(msg, "empty document");
    free(msg);
    api_errors_clear(&errs);

    /* The list is bounded. */
    for (int i = 0; i < API_ERRORS_MAX + 5; i++)
        api_errors_add(&errs, API_ERR_REQUIRED, "f", "Required value");
    assert_int_equal(errs.count, API_ERRORS_MAX);
    assert_true(errs.truncated);
    api_errors_clear(&errs);
}

static void test_defaults(void **state)
{
    json_t *doc = json_pack("{s:{s:s}}", "metadata", "name", "a");
    (void)state;

    assert_int_equal(api_object_set_defaults(doc, api_kind_info(API_KIND_VMIM)),
                     0);
    assert_string_equal(api_doc_get_string(doc, "metadata.namespace"),
                        "default");
    assert_int_equal(api_doc_set_string(doc, "metadata.namespace", "prod"), 0);
    assert_int_equal(api_object_set_defaults(doc, api_kind_info(API_KIND_VMIM)),
                     0);
    assert_string_equal(api_doc_get_string(doc, "metadata.namespace"), "prod");
    assert_int_equal(api_object_set_defaults(doc, api_kind_info(API_KIND_NODE)),
                     0);
    assert_null(api_doc_get_string(doc, "metadata.namespace"));
    assert_int_equal(api_doc_set_string(doc, "status.a.b", "c"), 0);
    assert_string_equal(api_doc_get_string(doc, "status.a.b"), "c");
    assert_int_equal(api_doc_set_string(doc, "status.a.b.c", "d"), -EINVAL);
    json_decref(doc);
}

/* network-config: the seed's v2 shape and a v1 one pass; each wrong shape
 * is named by its path inside the document. */
static void netcfg(const char *text, const char *expect)
{
    char msg[400];
    int r = api_network_config_check(text, strlen(text), msg, sizeof(msg));
    if (!*expect) {
        if (r != 0)
            fail_msg("unexpected: %s", msg);
    } else {
        assert_int_equal(r, -EINVAL);
        assert_string_equal(msg, expect);
    }
}

static void test_network_config(void **state)
{
    (void)state;
    netcfg("version: 2\n"
           "ethernets:\n"
           "  id0:\n"
           "    match:\n"
           "      macaddress: \"02:00:00:00:00:01\"\n"
           "    set-name: eth1\n"
           "    addresses: [198.18.0.50/15, \"fd00::5/64\"]\n"
           "    gateway4: 198.18.0.1\n"
           "    nameservers: {addresses: [198.18.0.1]}\n"
           "    routes: [{to: 0.0.0.0/0, via: 198.18.0.1}]\n",
           "");
    netcfg("network:\n  version: 2\n  ethernets: {}\n", "");
    netcfg("version: 1\n"
           "config:\n"
           "  - type: physical\n"
           "    name: eth0\n"
           "    mac_address: \"02:00:00:00:00:01\"\n"
           "    subnets:\n"
           "      - type: static\n"
           "        address: 198.18.0.50/15\n"
           "        gateway: 198.18.0.1\n"
           "        dns_nameservers: [198.18.0.1]\n"
           "  - type: nameserver\n"
           "    address: [198.18.0.1]\n",
           "");
    netcfg("version: 3\n", "version: unsupported version 3: supported: 1, 2");
    netcfg("version: \"2\"\n",
           "version: unsupported version \"2\": supported: 1, 2");
    netcfg("ethernets: {}\n", "version: required (1 or 2)");
    netcfg("- a\n- b\n", "must be a mapping with \"version\"");
    netcfg("version: 2\nethernet: {}\n",
           "ethernet: unknown key: version 2 has ethernets, bonds, bridges, "
           "vlans, wifis, renderer");
    netcfg("version: 2\nethernets:\n  eth0:\n    addresses: [not-an-ip]\n",
           "ethernets.eth0.addresses[0]: \"not-an-ip\" is not an IP address "
           "(with an optional /prefix)");
    netcfg("version: 2\nethernets:\n  eth0:\n    addresses: 198.18.0.5/15\n",
           "ethernets.eth0.addresses: must be a list");
    netcfg("version: 2\nethernets:\n  eth0:\n    dhcp4: maybe\n",
           "ethernets.eth0.dhcp4: must be true or false");
    netcfg("version: 2\nethernets:\n  eth0:\n    routes: [{to: x}]\n",
           "ethernets.eth0.routes[0]: must be a mapping with \"to\" and "
           "\"via\"");
    netcfg("version: 2\nethernets:\n  eth0:\n    addresses: [1.2.3.4/33]\n",
           "ethernets.eth0.addresses[0]: \"1.2.3.4/33\" is not an IP address "
           "(with an optional /prefix)");
    netcfg("version: 1\n", "config: required for version 1");
    netcfg("version: 1\nconfig:\n  - type: wifi\n",
           "config[0].type: unsupported type \"wifi\": supported: physical, "
           "bond, bridge, vlan, nameserver, route");
    netcfg("version: 1\nconfig:\n  - type: physical\n",
           "config[0].name: required (a string) for type physical");
    netcfg("version: 1\nconfig:\n  - type: physical\n    name: eth0\n"
           "    subnets: [{type: static}]\n",
           "config[0].subnets[0].address: required for a static subnet");
    netcfg("version: [\n", "not YAML: yaml: line 2, column 1: did not find "
                           "expected node content while parsing a flow node");
}

static void test_network_data_field(void **state)
{
    (void)state;
    check("apiVersion: kubevirt.io/v1\n"
          "kind: VirtualMachine\n"
          "metadata: {name: vm}\n"
          "spec:\n"
          "  runStrategy: Halted\n"
          "  template:\n"
          "    spec:\n"
          "      domain: {devices: {}}\n"
          "      volumes:\n"
          "        - name: ci\n"
          "          cloudInitNoCloud:\n"
          "            networkData: |\n"
          "              version: 2\n"
          "              ethernets:\n"
          "                eth0: {gateway4: nowhere}\n",
          API_KIND_VM,
          "spec.template.spec.volumes[0].cloudInitNoCloud.networkData: "
          "Invalid value: not a valid cloud-init network-config (version 1 "
          "or 2): ethernets.eth0.gateway4: \"nowhere\" is not an IP address");
}

static void migratable(const char *vmi_json, const char *shared_json,
                       const char *reason, const char *msg_start)
{
    json_t *vmi = json_loads(vmi_json, 0, NULL);
    json_t *shared = shared_json ? json_loads(shared_json, 0, NULL) : NULL;
    const char *got = NULL;
    char msg[768];
    int r;

    assert_non_null(vmi);
    r = api_vmi_live_migratable(vmi, shared, &got, msg, sizeof(msg));
    if (!reason) {
        if (r != 0)
            fail_msg("unexpected: %s %s", got, msg);
    } else {
        assert_int_equal(r, -EDOM);
        assert_string_equal(got, reason);
        if (strncmp(msg, msg_start, strlen(msg_start)) != 0)
            fail_msg("message: %s", msg);
    }
    json_decref(vmi);
    json_decref(shared);
}

static void test_live_migratable(void **state)
{
    (void)state;
    /* Masquerade on the pod network, a multus bridge: fine. */
    migratable("{\"spec\":{\"domain\":{\"devices\":{\"interfaces\":["
               "{\"name\":\"default\",\"masquerade\":{},\"ports\":[{\"port\":"
               "80}]},{\"name\":\"n1\",\"bridge\":{}}]}},\"networks\":["
               "{\"name\":\"default\",\"pod\":{}},{\"name\":\"n1\","
               "\"multus\":{\"networkName\":\"br1\"}}]}}",
               NULL, NULL, NULL);
    /* Bridge on the pod network. */
    migratable("{\"spec\":{\"domain\":{\"devices\":{\"interfaces\":["
               "{\"name\":\"default\",\"bridge\":{}}]}},\"networks\":["
               "{\"name\":\"default\",\"pod\":{}}]}}",
               NULL, "InterfaceNotLiveMigratable",
               "spec.domain.devices.interfaces[0].bridge: cannot migrate VMI "
               "which does not use masquerade");
    /* ... unless annotated, KubeVirt's escape hatch. */
    migratable("{\"metadata\":{\"annotations\":{\"kubevirt.io/"
               "allow-pod-bridge-network-live-migration\":\"\"}},"
               "\"spec\":{\"domain\":{\"devices\":{\"interfaces\":["
               "{\"name\":\"default\",\"bridge\":{}}]}},\"networks\":["
               "{\"name\":\"default\",\"pod\":{}}]}}",
               NULL, NULL, NULL);
    /* Masquerade forwarding a migration port. */
    migratable("{\"spec\":{\"domain\":{\"devices\":{\"interfaces\":["
               "{\"name\":\"default\",\"masquerade\":{},\"ports\":[{\"port\":"
               "22},{\"port\":49153}]}]}},\"networks\":["
               "{\"name\":\"default\",\"pod\":{}}]}}",
               NULL, "InterfaceNotLiveMigratable",
               "spec.domain.devices.interfaces[0].ports[1].port: cannot "
               "migrate VMI: masquerade interface \"default\" forwards port "
               "49153");
    /* hostDisk: under a shared path, shared: true, or refused. */
    migratable("{\"spec\":{\"volumes\":[{\"name\":\"d\",\"hostDisk\":{"
               "\"path\":\"/srv/shared/a.img\"}}]}}",
               "[\"/srv/shared/\"]", NULL, NULL);
    migratable("{\"spec\":{\"volumes\":[{\"name\":\"d\",\"hostDisk\":{"
               "\"path\":\"/srv/sharedx/a.img\"}}]}}",
               "[\"/srv/shared\"]", "DisksNotLiveMigratable",
               "spec.volumes[0].hostDisk.path: cannot migrate VMI: hostDisk "
               "\"d\" (/srv/sharedx/a.img) is not shared");
    migratable("{\"spec\":{\"volumes\":[{\"name\":\"d\",\"hostDisk\":{"
               "\"path\":\"/var/a.img\",\"shared\":true}}]}}",
               NULL, NULL, NULL);
    migratable("{\"spec\":{\"volumes\":[{\"name\":\"c\",\"containerDisk\":{"
               "\"image\":\"x\"}},{\"name\":\"d\",\"hostDisk\":{"
               "\"path\":\"/var/a.img\"}}]}}",
               NULL, "DisksNotLiveMigratable", "spec.volumes[1].hostDisk.path");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmim_valid),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_unknown_and_types),
        cmocka_unit_test(test_api_version_kind),
        cmocka_unit_test(test_vm_cross_refs),
        cmocka_unit_test(test_vm_values),
        cmocka_unit_test(test_vm_cross_refs_many),
        cmocka_unit_test(test_policy_and_node),
        cmocka_unit_test(test_status_message),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_network_config),
        cmocka_unit_test(test_network_data_field),
        cmocka_unit_test(test_live_migratable),
    };
    return cmocka_run_group_tests_name("api_validate", tests, NULL, NULL);
}
