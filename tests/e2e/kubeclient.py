#!/usr/bin/env python3
"""Debian's Kubernetes client library (python3-kubernetes) against
orchestratord, as automation uses it: typed core calls (nodes, events,
a strategic-merge patch of a node), custom-object calls for KubeVirt's
kinds (create, watch with a field selector until Succeeded, merge patch,
delete with DeleteOptions and dryRun).  Prints one "ok: ..." line
per check and exits 1 at the first failure.

    kubeclient.py KUBECONFIG VMI
"""
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

KUBEVIRT = ("kubevirt.io", "v1")
NS = "default"
PLURAL = "virtualmachineinstancemigrations"


def check(what, cond):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def main():
    config.load_kube_config(config_file=sys.argv[1])
    vmi = sys.argv[2]
    core = client.CoreV1Api()
    co = client.CustomObjectsApi()

    nodes = core.list_node()
    names = sorted(n.metadata.name for n in nodes.items)
    check("list_node (typed) sees the hosts: %s" % names, "host-a" in names)

    core.patch_node("host-a", {"metadata": {"labels": {"client": "python"}}})
    n = core.read_node("host-a")
    check("patch_node (strategic merge) sets a label",
          n.metadata.labels.get("client") == "python")

    body = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"name": "lib-mig"}, "spec": {"vmiName": vmi}}
    dry = co.create_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, body, dry_run="All")
    check("create with dry_run=All answers the object", dry["metadata"]["name"] == "lib-mig")
    try:
        co.get_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, "lib-mig")
        check("a dry run stores nothing", False)
    except ApiException as e:
        check("a dry run stores nothing (404)", e.status == 404)

    co.create_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, body)
    phase = None
    w = watch.Watch()
    for ev in w.stream(co.list_namespaced_custom_object, *KUBEVIRT, NS, PLURAL,
                       field_selector="metadata.name=lib-mig", timeout_seconds=60):
        phase = ev["object"].get("status", {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            w.stop()
    check("watch with field_selector metadata.name follows it to Succeeded (%s)" % phase,
          phase == "Succeeded")

    # (This version of the library sends a custom object's patch as a merge
    # patch whatever the body; kubectl covers JSON patch.)
    co.patch_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, "lib-mig",
                                      {"metadata": {"labels": {"by": "merge"}}})
    o = co.get_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, "lib-mig")
    check("patch_namespaced_custom_object (merge patch)",
          o["metadata"]["labels"].get("by") == "merge")

    evs = core.list_namespaced_event(NS, field_selector="involvedObject.name=lib-mig")
    reasons = [e.reason for e in evs.items]
    check("list_namespaced_event (typed) has its phases: %s" % reasons,
          "Pending" in reasons and "Migrated" in reasons)

    co.delete_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, "lib-mig",
                                       body=client.V1DeleteOptions(dry_run=["All"]))
    co.get_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, "lib-mig")
    check("delete with DeleteOptions dry_run keeps it", True)
    co.delete_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, "lib-mig",
                                       body=client.V1DeleteOptions(propagation_policy="Background"))
    try:
        co.get_namespaced_custom_object(*KUBEVIRT, NS, PLURAL, "lib-mig")
        check("delete removes it", False)
    except ApiException as e:
        check("delete removes it (404)", e.status == 404)


if __name__ == "__main__":
    main()
