/*
 * Unit tests for orchestratord/sriov: admission of an SR-IOV VMI (static
 * MAC and a static address for it in networkData, v1 and v2), the target
 * rule (the PF by the same interface name with a free VF) and the pick
 * around orch_migration_pick_target, on VMIs made from the seed's manifest
 * (tests/data/vm-sriov.yaml) and node records as hosts.c writes them.
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
#include "orchestratord/migration.h"
#include "orchestratord/sriov.h"

static json_t *load(const char *text)
{
    json_t *j = NULL;

    if (api_doc_decode(text, strlen(text), NULL, &j, NULL) < 0)
        fail_msg("cannot decode: %s", text);
    return j;
}

/* The VMI the seed's VirtualMachine makes: its template, running. */
static json_t *seed_vmi(void)
{
    const char *top = getenv("ORCH_TOP");
    char path[1024], *text;
    FILE *f;
    long n;
    json_t *vm, *vmi;

    snprintf(path, sizeof(path), "%s/tests/data/vm-sriov.yaml",
             top ? top : ".");
    f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    vm = load(text);
    free(text);
    vmi = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:O, s:{s:s}}", "apiVersion",
        "kubevirt.io/v1", "kind", "VirtualMachineInstance", "metadata", "name",
        "vmi-sriov-test-vm", "namespace", "default", "spec",
        json_object_get(
            json_object_get(json_object_get(vm, "spec"), "template"), "spec"),
        "status", "phase", "Running");
    json_decref(vm);
    assert_non_null(vmi);
    return vmi;
}

static json_t *iface0(json_t *vmi)
{
    return json_array_get(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(vmi, "spec"), "domain"),
                "devices"),
            "interfaces"),
        0);
}

static void set_network_data(json_t *vmi, const char *text)
{
    json_t *vols = json_object_get(json_object_get(vmi, "spec"), "volumes");
    json_t *nc = json_object_get(json_array_get(vols, 1), "cloudInitNoCloud");

    assert_non_null(nc);
    if (text)
        json_object_set_new(nc, "networkData", json_string(text));
    else
        json_object_del(nc, "networkData");
}

/* ---------------------------------------------------------------------- */
/* Admission                                                               */

static void test_vmi_check_seed_passes(void **state)
{
    json_t *vmi = seed_vmi();
    char msg[512];

    (void)state;
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "");
    /* Through the migration module's check as admission calls it. */
    assert_int_equal(orch_migration_vmi_check(vmi, msg, sizeof(msg)), 0);
    /* A MAC written in capitals still matches (netplan's key). */
    json_object_set_new(iface0(vmi), "macAddress",
                        json_string("02:00:00:00:00:AB"));
    set_network_data(vmi, "version: 2\nethernets:\n  e:\n    match:\n"
                          "      macaddress: \"02:00:00:00:00:ab\"\n"
                          "    addresses: [198.18.0.50/15]\n");
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), 0);
    json_decref(vmi);
}

static void test_vmi_check_refusals(void **state)
{
    json_t *vmi = seed_vmi();
    char msg[512];

    (void)state;
    /* No static MAC. */
    json_object_del(iface0(vmi), "macAddress");
    assert_int_equal(orch_migration_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_string_equal(
        msg, "Cannot migrate VMI, Reason: InterfaceNotLiveMigratable,"
             " Message: SR-IOV interface 'sriov-net1' "
             "(spec.domain.devices.interfaces[0]) has no static "
             "macAddress");
    json_object_set_new(iface0(vmi), "macAddress",
                        json_string("02:00:00:00:00:01"));

    /* The address is for another MAC. */
    set_network_data(vmi, "version: 2\nethernets:\n  e:\n    match:\n"
                          "      macAddress: \"02:00:00:00:00:02\"\n"
                          "    addresses: [198.18.0.50/15]\n");
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_string_equal(
        msg, "Cannot migrate VMI, Reason: InterfaceNotLiveMigratable,"
             " Message: SR-IOV interface 'sriov-net1': the "
             "cloudInitNoCloud networkData gives MAC "
             "02:00:00:00:00:01 no static address");
    /* DHCP only is not static. */
    set_network_data(vmi, "version: 2\nethernets:\n  e:\n    match:\n"
                          "      macAddress: \"02:00:00:00:00:01\"\n"
                          "    dhcp4: true\n");
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_non_null(strstr(msg, "no static address"));
    /* v1: a physical entry with that MAC and a static subnet passes, a
     * dhcp subnet does not. */
    set_network_data(vmi, "version: 1\nconfig:\n- type: physical\n"
                          "  name: eth1\n  mac_address: '02:00:00:00:00:01'\n"
                          "  subnets:\n  - type: static\n"
                          "    address: 198.18.0.50/15\n");
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), 0);
    set_network_data(vmi, "network:\n  version: 1\n  config:\n"
                          "  - type: physical\n    name: eth1\n"
                          "    mac_address: '02:00:00:00:00:01'\n"
                          "    subnets:\n    - type: dhcp\n");
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_non_null(strstr(msg, "no static address"));
    /* ...and the same under "network:" with a static subnet passes. */
    set_network_data(vmi, "network:\n  version: 1\n  config:\n"
                          "  - type: physical\n    name: eth1\n"
                          "    mac_address: '02:00:00:00:00:01'\n"
                          "    subnets:\n    - type: static6\n"
                          "      address: fd00::5/64\n");
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), 0);
    /* Not YAML at all. */
    set_network_data(vmi, "ethernets: [unclosed\n");
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_non_null(strstr(msg, "networkData is not valid YAML"));
    /* No networkData. */
    set_network_data(vmi, NULL);
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), -EDOM);
    assert_string_equal(
        msg, "Cannot migrate VMI, Reason: InterfaceNotLiveMigratable,"
             " Message: SR-IOV interface 'sriov-net1': no "
             "cloudInitNoCloud networkData gives MAC "
             "02:00:00:00:00:01 a static address");

    /* Without an SR-IOV binding nothing of this applies. */
    json_object_del(iface0(vmi), "sriov");
    json_object_set_new(iface0(vmi), "bridge", json_object());
    assert_int_equal(orch_sriov_vmi_check(vmi, msg, sizeof(msg)), 0);
    json_decref(vmi);
}

/* ---------------------------------------------------------------------- */
/* Targets                                                                 */

/* A Ready node NAME whose config maps sriov-net1 to PF with FREE of TOTAL
 * VFs free; pf NULL: the PF is missing on the host. */
static json_t *node(const char *name, const char *pf, int free_vfs, int total)
{
    json_t *vfs = json_array();
    json_t *n;

    for (int i = 0; i < total; i++)
        json_array_append_new(
            vfs, json_pack("{s:i, s:b}", "index", i, "inUse", i >= free_vfs));
    n = json_pack(
        "{s:s, s:s, s:{s:s, s:{s:s}}, s:{}, s:{s:[{s:s, s:s}], s:{s:s},"
        " s:{s:s}, s:[{s:s, s:s, s:s}], s:{s:[]}}}",
        "apiVersion", "v1", "kind", "Node", "metadata", "name", name,
        "annotations", "orchestrator.io/agent-url", "http://198.18.0.9:8081",
        "spec", "status", "conditions", "type", "Ready", "status", "True",
        "capacity", "memory", "16Gi", "allocatable", "memory", "16Gi",
        "sriovNetworks", "name", "sriov-net1", "pf", pf ? pf : "ens1f0", "mode",
        "macvtap", "sriov", "pfs");
    assert_non_null(n);
    if (pf)
        json_array_append_new(
            json_object_get(
                json_object_get(json_object_get(n, "status"), "sriov"), "pfs"),
            json_pack("{s:s, s:[s], s:i, s:i, s:o}", "name", pf, "networks",
                      "sriov-net1", "vfsFree", free_vfs, "vfsInUse",
                      total - free_vfs, "vfs", vfs));
    else {
        json_array_append_new(
            json_object_get(
                json_object_get(json_object_get(n, "status"), "sriov"), "pfs"),
            json_pack("{s:s, s:[s], s:s}", "name", "ens1f0", "networks",
                      "sriov-net1", "error", "no such interface"));
        json_decref(vfs);
    }
    return n;
}

static void test_target_ok(void **state)
{
    json_t *vmi = seed_vmi();
    json_t *a = node("host-a", "ens1f0", 2, 4);
    json_t *b = node("host-b", "ens1f0", 1, 4);
    json_t *full = node("host-c", "ens1f0", 0, 4);
    json_t *other = node("host-d", "ens2f0", 4, 4);
    json_t *missing = node("host-e", NULL, 0, 0);
    json_t *b2;
    char why[512];

    (void)state;
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, NULL, NULL, why, sizeof(why)), 1);
    assert_string_equal(why, "");
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, full, NULL, NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "host-c: PF 'ens1f0' (network 'sriov-net1') has "
                             "no free VF (4 of 4 in use)");
    /* The same network on a PF of another name: VFs match by PF name. */
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, other, NULL, NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "host-d: network 'sriov-net1' is on PF 'ens2f0' "
                             "here but on PF 'ens1f0' on the source host-a");
    /* Without a source record the target's own mapping is taken. */
    assert_int_equal(
        orch_sriov_target_ok(vmi, NULL, other, NULL, NULL, why, sizeof(why)),
        1);
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, missing, NULL, NULL, why, sizeof(why)), 0);
    assert_string_equal(
        why, "host-e: PF 'ens1f0' (network 'sriov-net1'): no such interface");
    /* A host without the network at all. */
    b2 = json_deep_copy(b);
    json_object_set_new(json_object_get(b2, "status"), "sriovNetworks",
                        json_array());
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b2, NULL, NULL, why, sizeof(why)), 0);
    assert_string_equal(why, "host-b: no SR-IOV network 'sriov-net1'");
    json_decref(b2);

    /* Two SR-IOV interfaces on the same network need two VFs. */
    {
        json_t *ifs = json_object_get(
            json_object_get(
                json_object_get(json_object_get(vmi, "spec"), "domain"),
                "devices"),
            "interfaces");
        json_array_append_new(ifs, json_pack("{s:s, s:s, s:{}}", "name",
                                             "sriov-net1b", "macAddress",
                                             "02:00:00:00:00:02", "sriov"));
        json_array_append_new(
            json_object_get(json_object_get(vmi, "spec"), "networks"),
            json_pack("{s:s, s:{s:s}}", "name", "sriov-net1b", "multus",
                      "networkName", "sriov-net1"));
    }
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, NULL, NULL, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "has no free VF"));
    assert_int_equal(
        orch_sriov_target_ok(vmi, b, a, NULL, NULL, why, sizeof(why)), 1);

    json_decref(vmi);
    json_decref(a);
    json_decref(b);
    json_decref(full);
    json_decref(other);
    json_decref(missing);
}

static void test_pick_target(void **state)
{
    json_t *vmi = seed_vmi();
    json_t *nodes = json_pack("[o, o, o]", node("host-a", "ens1f0", 2, 4),
                              node("host-b", "ens1f0", 0, 4),
                              node("host-c", "ens1f0", 1, 4));
    const json_t *got = NULL;
    char msg[1024];

    (void)state;
    /* host-b would win on name order; it has no free VF. */
    assert_int_equal(orch_sriov_pick_target(vmi, nodes, "host-a", NULL, 1024,
                                            NULL, NULL, NULL, &got, msg,
                                            sizeof(msg)),
                     0);
    assert_string_equal(api_doc_get_string(got, "metadata.name"), "host-c");

    /* Only host-b besides the source: the reason names PF and host. */
    json_array_remove(nodes, 2);
    assert_int_equal(orch_sriov_pick_target(vmi, nodes, "host-a", NULL, 1024,
                                            NULL, NULL, NULL, &got, msg,
                                            sizeof(msg)),
                     -ENOENT);
    assert_string_equal(msg, "no node to migrate to: host-b: PF 'ens1f0' "
                             "(network 'sriov-net1') has no free VF (4 of 4 in "
                             "use)");

    /* With another node ruled out for another reason, both are said. */
    json_array_append_new(nodes, node("host-d", "ens1f0", 3, 4));
    json_object_set_new(json_object_get(json_array_get(nodes, 2), "spec"),
                        "unschedulable", json_true());
    assert_int_equal(orch_sriov_pick_target(vmi, nodes, "host-a", NULL, 1024,
                                            NULL, NULL, NULL, &got, msg,
                                            sizeof(msg)),
                     -ENOENT);
    assert_string_equal(msg, "no node to migrate to: 1 other node: host-d is "
                             "unschedulable; SR-IOV: host-b: PF 'ens1f0' "
                             "(network 'sriov-net1') has no free VF (4 of 4 "
                             "in use)");

    /* A VMI without SR-IOV is the plain pick: host-b is fine for it. */
    json_object_del(iface0(vmi), "sriov");
    assert_int_equal(orch_sriov_pick_target(vmi, nodes, "host-a", NULL, 1024,
                                            NULL, NULL, NULL, &got, msg,
                                            sizeof(msg)),
                     0);
    assert_string_equal(api_doc_get_string(got, "metadata.name"), "host-b");
    json_decref(nodes);
    json_decref(vmi);
}

/* ---------------------------------------------------------------------- */
/* VFs held by work in flight                                              */

/* orch_node_incoming_fn for the tests: ARG is {node name: [VMIs]}; a new
 * reference to the node's list.  Counts its calls in incoming_calls. */
static int incoming_calls;

static json_t *incoming(const char *node, void *arg)
{
    incoming_calls++;
    return json_incref(json_object_get(arg, node));
}

/* The seed VMI again, as NS/NAME: another SR-IOV VM on its way. */
static json_t *other_vmi(const char *ns, const char *name)
{
    json_t *v = seed_vmi();

    json_object_set_new(json_object_get(v, "metadata"), "namespace",
                        json_string(ns));
    json_object_set_new(json_object_get(v, "metadata"), "name",
                        json_string(name));
    return v;
}

/* Mark VF K of NODE's first PF in use by USER, as the migrator reports a
 * reservation (the counts follow, as hosts.c writes them). */
static void vf_used_by(json_t *node, int k, const char *user)
{
    json_t *p = json_array_get(
        json_object_get(
            json_object_get(json_object_get(node, "status"), "sriov"), "pfs"),
        0);
    json_t *vf = json_array_get(json_object_get(p, "vfs"), (size_t)k);

    assert_non_null(vf);
    assert_false(json_is_true(json_object_get(vf, "inUse")));
    json_object_set_new(vf, "inUse", json_true());
    json_object_set_new(vf, "usedBy", json_string(user));
    json_object_set_new(
        p, "vfsFree",
        json_integer(json_integer_value(json_object_get(p, "vfsFree")) - 1));
    json_object_set_new(
        p, "vfsInUse",
        json_integer(json_integer_value(json_object_get(p, "vfsInUse")) + 1));
}

/* One free VF on host-b and another SR-IOV VM migrating there: host-b is
 * full, and the reason says why; once the report shows that VM's VF as
 * its own, it is not counted a second time. */
static void test_target_ok_work_in_flight(void **state)
{
    json_t *vmi = seed_vmi();
    json_t *a = node("host-a", "ens1f0", 2, 4);
    json_t *b = node("host-b", "ens1f0", 1, 4);
    json_t *in = json_pack("{s:[o]}", "host-b", other_vmi("default", "vm-a"));
    char why[512];

    (void)state;
    incoming_calls = 0;
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, incoming, in, why, sizeof(why)), 0);
    assert_string_equal(why, "host-b: PF 'ens1f0' (network 'sriov-net1') has "
                             "no free VF (1 free, 1 held by work in flight: "
                             "default/vm-a)");
    assert_int_equal(incoming_calls, 1);
    /* Without the work in flight, the report alone: it fits. */
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, NULL, NULL, why, sizeof(why)), 1);
    /* Work toward another node holds nothing here. */
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, a, incoming, in, why, sizeof(why)), 1);

    /* The prepare reserved vm-a's VF and the report says so: vfsFree is
     * already one less (here: 1 of 4 left after a second VF was free). */
    json_decref(b);
    b = node("host-b", "ens1f0", 2, 4);
    vf_used_by(b, 0, "default_vm-a");
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, incoming, in, why, sizeof(why)), 1);
    assert_string_equal(why, "");
    /* A VF used by another domain does not stand for vm-a's. */
    json_decref(b);
    b = node("host-b", "ens1f0", 2, 4);
    vf_used_by(b, 0, "default_vm-z");
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, incoming, in, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "(1 free, 1 held by work in flight: "
                                "default/vm-a)"));

    /* The VMI itself in the list (its own migration) is not held against
     * it; a VMI without SR-IOV holds no VF. */
    json_decref(in);
    in = json_pack("{s:[o]}", "host-b", seed_vmi());
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, incoming, in, why, sizeof(why)), 1);
    json_object_del(iface0(json_array_get(json_object_get(in, "host-b"), 0)),
                    "sriov");
    json_object_set_new(
        json_object_get(json_array_get(json_object_get(in, "host-b"), 0),
                        "metadata"),
        "name", json_string("vm-plain"));
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, incoming, in, why, sizeof(why)), 1);

    /* Many in flight: three named, then "...". */
    json_decref(b);
    b = node("host-b", "ens1f0", 4, 4);
    json_decref(in);
    in = json_pack("{s:[o, o, o, o]}", "host-b", other_vmi("ns1", "v1"),
                   other_vmi("ns1", "v2"), other_vmi("ns2", "v3"),
                   other_vmi("ns2", "v4"));
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, incoming, in, why, sizeof(why)), 0);
    assert_string_equal(why, "host-b: PF 'ens1f0' (network 'sriov-net1') has "
                             "no free VF (4 free, 4 held by work in flight: "
                             "ns1/v1, ns1/v2, ns2/v3, ...)");

    /* A VMI without SR-IOV interfaces never asks. */
    incoming_calls = 0;
    json_object_del(iface0(vmi), "sriov");
    assert_int_equal(
        orch_sriov_target_ok(vmi, a, b, incoming, in, why, sizeof(why)), 1);
    assert_int_equal(incoming_calls, 0);

    json_decref(in);
    json_decref(vmi);
    json_decref(a);
    json_decref(b);
}

/* The pick: host-b would win on name order, but its one free VF is held
 * by a migration in flight: host-c is chosen; with host-c's held too, the
 * migration is refused with both reasons. */
static void test_pick_target_work_in_flight(void **state)
{
    json_t *vmi = seed_vmi();
    json_t *nodes = json_pack("[o, o, o]", node("host-a", "ens1f0", 2, 4),
                              node("host-b", "ens1f0", 1, 4),
                              node("host-c", "ens1f0", 1, 4));
    json_t *in = json_pack("{s:[o]}", "host-b", other_vmi("default", "vm-a"));
    const json_t *got = NULL;
    char msg[1024];

    (void)state;
    assert_int_equal(orch_sriov_pick_target(vmi, nodes, "host-a", NULL, 1024,
                                            NULL, incoming, in, &got, msg,
                                            sizeof(msg)),
                     0);
    assert_string_equal(api_doc_get_string(got, "metadata.name"), "host-c");
    json_object_set_new(in, "host-c",
                        json_pack("[o]", other_vmi("default", "vm-b")));
    assert_int_equal(orch_sriov_pick_target(vmi, nodes, "host-a", NULL, 1024,
                                            NULL, incoming, in, &got, msg,
                                            sizeof(msg)),
                     -ENOENT);
    assert_string_equal(
        msg, "no node to migrate to: host-b: PF 'ens1f0' (network "
             "'sriov-net1') has no free VF (1 free, 1 held by work in flight: "
             "default/vm-a), host-c: PF 'ens1f0' (network 'sriov-net1') has "
             "no free VF (1 free, 1 held by work in flight: default/vm-b)");
    json_decref(in);
    json_decref(nodes);
    json_decref(vmi);
}

/* A VirtualMachine (its template) is held to the same rule when it is
 * created: the field path and the reason without the migration's head. */
static void test_vm_check(void **state)
{
    json_t *vmi = seed_vmi(), *vm;
    char field[128], msg[512];

    (void)state;
    vm = json_pack("{s:s, s:s, s:{s:s}, s:{s:b, s:{s:{}, s:O}}}", "apiVersion",
                   "kubevirt.io/v1", "kind", "VirtualMachine", "metadata",
                   "name", "vm", "spec", "running", 1, "template", "metadata",
                   "spec", json_object_get(vmi, "spec"));
    assert_non_null(vm);
    assert_int_equal(
        orch_sriov_vm_check(vm, field, sizeof(field), msg, sizeof(msg)), 0);
    json_object_del(iface0(vmi), "macAddress");
    assert_int_equal(
        orch_sriov_vm_check(vm, field, sizeof(field), msg, sizeof(msg)), -EDOM);
    assert_string_equal(field, "spec.template.spec.domain.devices."
                               "interfaces[0].macAddress");
    assert_string_equal(msg, "SR-IOV interface 'sriov-net1' "
                             "(spec.domain.devices.interfaces[0]) has no "
                             "static macAddress");
    json_object_set_new(iface0(vmi), "macAddress",
                        json_string("02:00:00:00:00:01"));
    set_network_data(vmi, "version: 2\nethernets:\n  e:\n    match:\n"
                          "      macAddress: \"02:00:00:00:00:01\"\n"
                          "    dhcp4: true\n");
    assert_int_equal(
        orch_sriov_vm_check(vm, field, sizeof(field), msg, sizeof(msg)), -EDOM);
    assert_string_equal(field, "spec.template.spec.volumes");
    assert_string_equal(msg, "SR-IOV interface 'sriov-net1': the "
                             "cloudInitNoCloud networkData gives MAC "
                             "02:00:00:00:00:01 no static address");
    json_decref(vm);
    json_decref(vmi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmi_check_seed_passes),
        cmocka_unit_test(test_vmi_check_refusals),
        cmocka_unit_test(test_vm_check),
        cmocka_unit_test(test_target_ok),
        cmocka_unit_test(test_pick_target),
        cmocka_unit_test(test_target_ok_work_in_flight),
        cmocka_unit_test(test_pick_target_work_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
