#!/bin/bash
# vm-not-migratable-reasons: each of the seed's limitations (issue 11 §4) is
# refused at migration admission with KubeVirt's reason and wording, against
# the real controller, migrators and libvirtds.  Four VMs from manifests run:
#   vm-rwo      a hostDisk on storage no shared_storage declares (RWO)
#   vm-podbr    a bridge binding on the pod network
#   vm-podbr-ok the same with KubeVirt's escape-hatch annotation
#   vm-masq     a masquerade interface that forwards port 49153
# Each of vm-rwo, vm-podbr and vm-masq runs (KubeVirt runs them too: they
# are only not live-migratable), and its migration is refused 422 naming
# the field, the reason and the rule: POST of a VMIM, and for vm-rwo also
# `orchctl migrate` and the VM's migrate subresource.  No refused migration
# is stored, and nothing is prepared or defined on any other host: each
# domain is on its one host (virsh list --all), no host has a prepare job,
# and the API keeps serving.  vm-podbr-ok's VMIM is admitted and migrates.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/vmlib.sh
. "$ORCH_TOP/tests/e2e/vmlib.sh"

vm_need_nat_tools
# The pod network's bridge binding puts a guest on pod_bridge: br0 here.
export LAB_MIGRATOR_CONF="$LAB_MIGRATOR_CONF
pod_bridge = \"br0\";"
allow=kubevirt.io/allow-pod-bridge-network-live-migration
sub=/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines
disk=/var/lib/libvirt/vm-rwo-data.img

# mini_vm NAME SPEC-JSON [ANNOTATIONS-JSON]: a running VirtualMachine whose
# template boots the lab guest's kernel, SPEC merged into template.spec.
mini_vm() {
    local ann=${3:-}
    [ -n "$ann" ] || ann='{}'
    jq -nc --arg n "$1" --argjson x "$2" --argjson ann "$ann" \
        --arg k "$LAB_GUEST_DIR/vmlinuz" --arg i "$LAB_GUEST_DIR/initrd.gz" '{
      apiVersion: "kubevirt.io/v1", kind: "VirtualMachine", metadata: {name: $n},
      spec: {running: true, template: {metadata: {annotations: $ann},
        spec: ({domain: {cpu: {cores: 1},
                 firmware: {kernelBoot: {kernelArgs: "console=ttyS0 panic=-1 loglevel=4",
                   container: {image: "lab/guest:latest", kernelPath: $k, initrdPath: $i}}},
                 devices: {}, resources: {requests: {memory: "192Mi"}}}} * $x)}}}'
}
pod='{"networks":[{"name":"default","pod":{}}]}'
podbr=$(jq -nc --argjson p "$pod" '$p * {domain: {devices: {interfaces: [{name: "default", bridge: {}}]}}}')

mig_setup host-a host-b

e2e_step "four VMs: a local hostDisk, a pod bridge, a pod bridge with $allow, a masquerade forwarding 49153"
mini_vm vm-rwo "$(jq -nc --arg d "$disk" '{
  domain: {devices: {disks: [{name: "data", disk: {bus: "virtio"}}],
                     interfaces: [{name: "lab-net", bridge: {}, macAddress: "02:00:c6:12:00:51"}]}},
  networks: [{name: "lab-net", multus: {networkName: "lab-net"}}],
  volumes: [{name: "data", hostDisk: {path: $d, type: "DiskOrCreate", capacity: "16Mi"}}]}')" \
    >"$work/vm-rwo.json"
mini_vm vm-podbr "$podbr" >"$work/vm-podbr.json"
mini_vm vm-podbr-ok "$podbr" "{\"$allow\":\"\"}" >"$work/vm-podbr-ok.json"
mini_vm vm-masq "$(jq -nc --argjson p "$pod" '$p * {domain: {devices: {interfaces: [
  {name: "default", masquerade: {}, ports: [{name: "http", port: 80}, {name: "mig", port: 49153}]}]}}}')" \
    >"$work/vm-masq.json"
declare -A host
for v in vm-rwo vm-podbr vm-podbr-ok vm-masq; do
    code=$(post_vm "$work/$v.json")
    e2e_check "POST of $v answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
done
for v in vm-rwo vm-podbr vm-podbr-ok vm-masq; do
    host[$v]=$(wait_vmi_running "$v" 60) || e2e_fail "VMI $v is not Running"
    e2e_check "$v runs on ${host[$v]} and on no other host" on_one_host "default_$v" "${host[$v]}"
done
# rwo_judged: host's report has judged vm-rwo's disks (the VMI's
# LiveMigratable condition, which admission reads first).
rwo_judged() {
    local _
    for _ in $(seq 100); do
        [ "$(field "$vmis/vm-rwo" '.status.conditions[]? | select(.type == "LiveMigratable")
            | .status + " " + .reason')" = "False DisksNotLiveMigratable" ] && return 0
        sleep 0.1
    done
    return 1
}
e2e_check "vm-rwo's VMI says LiveMigratable False, DisksNotLiveMigratable" rwo_judged

# refused NAME VMI WHAT REGEX...: POST VMIM NAME for VMI answers 422 with a
# Status whose message matches every REGEX.
refused() {
    local n=$1 v=$2 what=$3 code msg re
    shift 3
    code=$(post_vmim "$n" "$v")
    msg=$(jq -r '.message // empty' "$work/post.out" 2>/dev/null || true)
    e2e_note "$v: $code $msg"
    e2e_check "a VMIM for $v ($what) is refused 422 (got $code)" [ "$code" = 422 ]
    e2e_check "as a Status with reason Invalid" \
        [ "$(jq -r '.kind + " " + .reason' "$work/post.out")" = "Status Invalid" ]
    for re in "$@"; do
        e2e_check "its message says '$re'" grep -Eq -- "$re" <<<"$msg"
    done
}

e2e_step "a disk not on shared storage: the RWX rule"
refused mig-rwo vm-rwo "local hostDisk" 'migration-create-validator\.kubevirt\.io' \
    'Reason: DisksNotLiveMigratable' "$disk" 'shared'
out=$("$ORCH_BUILD/bin/orchctl" migrate vm-rwo 2>&1) && rc=0 || rc=$?
e2e_note "orchctl migrate vm-rwo: rc $rc: $out"
e2e_check "orchctl migrate vm-rwo exits 1 (got $rc)" [ "$rc" = 1 ]
e2e_check "and says why (DisksNotLiveMigratable, $disk)" \
    grep -q "DisksNotLiveMigratable.*$disk" <<<"$out"
code=$(curl -s -o "$work/migrate.out" -w '%{http_code}' --max-time 10 -X PUT \
    -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$sub/vm-rwo/migrate")
e2e_check "PUT .../virtualmachines/vm-rwo/migrate answers 422 (got $code: $(head -c 300 "$work/migrate.out"))" \
    [ "$code" = 422 ]
e2e_check "for the same reason" grep -q "DisksNotLiveMigratable.*$disk" "$work/migrate.out"

e2e_step "a bridge binding on the pod network, without and with $allow"
refused mig-podbr vm-podbr "pod bridge" 'Reason: InterfaceNotLiveMigratable' \
    'spec\.domain\.devices\.interfaces\[0\]\.bridge' \
    "cannot migrate VMI which does not use masquerade, bridge with $allow VM annotation or a migratable plugin to connect to the pod network"

e2e_step "a masquerade interface that forwards a migration port"
refused mig-masq vm-masq "masquerade forwarding 49153" 'Reason: InterfaceNotLiveMigratable' \
    'spec\.domain\.devices\.interfaces\[0\]\.ports\[1\]\.port' 'forwards port 49153' \
    '49152 and 49153 are reserved'

e2e_step "nothing was made for the refused ones"
n=$(lab_api_get "$vmims" | jq '.items | length')
e2e_check "no VMIM was stored (got $n)" [ "$n" = 0 ]
for v in vm-rwo vm-podbr vm-podbr-ok vm-masq; do
    e2e_check "$v still runs on ${host[$v]} only" on_one_host "default_$v" "${host[$v]}"
done
for h in host-a host-b; do
    doms=$(virsh -q -c "$(lab_host_uri "$h")" list --all --name | sort | xargs)
    e2e_note "virsh list --all on $h: $doms"
    want=$(for v in vm-rwo vm-podbr vm-podbr-ok vm-masq; do
        [ "${host[$v]}" != "$h" ] || echo "default_$v"
    done | sort | xargs)
    e2e_check "$h has exactly its own domains ($want)" [ "$doms" = "$want" ]
    prep=$(find "$(lab_host_dir "$h")/lib/orch-migrator/jobs" -name '*-prepare*' 2>/dev/null | wc -l)
    e2e_check "$h's migrator was asked to prepare nothing (got $prep)" [ "$prep" = 0 ]
done
# vm-masq runs with its ports forwarded, but not 49153 (migrator/podnat.h).
m=${host[vm-masq]}
n=$(lab_exec "$m" iptables-save | grep 'orch-pod:default_vm-masq"' | grep -c -- '--dport 80 ' || true)
e2e_check "$m forwards vm-masq's port 80 (2 DNAT, 1 FORWARD: got $n)" [ "$n" = 3 ]
n=$(lab_exec "$m" iptables-save | grep 'orch-pod:default_vm-masq"' | grep -c -- '--dport 4915[23] ' || true)
e2e_check "but not 49153, where libvirt receives migrations (got $n)" [ "$n" = 0 ]
e2e_check "the API keeps serving (/readyz)" curl -sf --max-time 5 -o /dev/null "$api/readyz"

e2e_step "vm-podbr-ok, annotated, is admitted and migrates"
code=$(post_vmim mig-podbr-ok vm-podbr-ok)
e2e_check "its VMIM is admitted (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim mig-podbr-ok 60) || true
e2e_check "mig-podbr-ok ended Succeeded (got $phase: $(vmim_field mig-podbr-ok .status.migrationState.failureReason))" \
    [ "$phase" = Succeeded ]
to="host-a"
[ "${host[vm-podbr-ok]}" != "host-a" ] || to="host-b"
e2e_check "default_vm-podbr-ok runs on $to only" on_one_host default_vm-podbr-ok "$to"
