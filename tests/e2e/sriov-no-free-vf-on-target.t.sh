#!/bin/bash
# sriov-no-free-vf-on-target: the SR-IOV VM of sriov-vm-macvtap-in-place
# runs on one host; every stand-in VF of the other host's ens1f0 is held by
# another guest (a paused domain with a macvtap passthrough interface on
# it).  A VMIM for the VM ends Failed with a reason naming the PF and the
# host, nothing of the VM reaches that host, and the VM is untouched: it
# runs where it ran, answers at its static address, keeps its VF, and its
# console counter never restarted.  Then two more SR-IOV VMs are posted at
# once with one VF left in the lab (on the first host): placement counts the
# VF the first one's start is taking, so the second is not placed (it would
# fail its start with NoFreeVF) and says why.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/vmlib.sh
. "$ORCH_TOP/tests/e2e/vmlib.sh"
# shellcheck source=tests/e2e/sriovlib.sh
. "$ORCH_TOP/tests/e2e/sriovlib.sh"

name=vm-sriov
dom=default_$name
addr=198.18.0.67
mac=02:00:c6:12:00:43

sriov_setup 2 2
vm_image_make
sriov_vm_yaml "$name" "$addr" "$mac" >"$work/vm.yaml"

e2e_step "POST the SR-IOV VirtualMachine"
code=$(post_vm "$work/vm.yaml")
e2e_check "POST answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
from=$(wait_vmi_running "$name" 120) || e2e_fail "VMI $name is not Running"
to=$(other_host "$from")
e2e_check "$name answers at $addr" lab_wait_ping "$addr" 60
e2e_check "$from's VF is in use by $dom" wait_pf 15 "$from" ens1f0 .vfsFree 1
vf=$(vf_of "$from" "$dom")
e2e_note "$dom holds $vf on $from"

e2e_step "another guest takes every VF of $to"
i=0
for nd in $(pf "$to" ens1f0 '.vfs[].netdev'); do
    squat_vf "$to" "$nd" "$i" || e2e_fail "cannot start a guest on $to's $nd"
    i=$((i + 1))
done
e2e_check "$to: ens1f0 has no free VF left" wait_pf 15 "$to" ens1f0 .vfsFree 0

e2e_step "a VMIM of $name"
before=$(sed -n 's/.*orch-counter \([0-9]*\).*/\1/p' "$(vm_console "$from" "$dom")" | tail -1)
code=$(post_vmim "mig-$name" "$name")
e2e_check "POST VMIM answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim "mig-$name" 30) || true
lab_api_get "$vmims/mig-$name" | jq -c .status
reason=$(vmim_field "mig-$name" .status.migrationState.failureReason)
e2e_note "failureReason: $reason"
e2e_check "the VMIM ended Failed (got $phase)" [ "$phase" = Failed ]
e2e_check "its reason names $to and PF ens1f0 without a free VF" \
    grep -q "$to: PF 'ens1f0' (network 'sriov-net1') has no free VF" <<<"$reason"
e2e_check "$to never saw the VM" [ -z "$(lab_dom_state "$to" "$dom")" ]
e2e_check "$to keeps none of its files" [ ! -e "$(vm_dir "$to" "$dom")" ]
e2e_check "$dom runs on $from and on no other host" on_one_host "$dom" "$from"
e2e_check "VMI $name's nodeName is still $from" wait_nodename "$name" "$from" 1
e2e_check "it answers at its static address $addr" lab_ping "$addr" 5
e2e_check "it keeps its VF $vf on $from" [ "$(vf_of "$from" "$dom")" = "$vf" ]
e2e_check "its console counter goes on past $before" \
    wait_console "$from" "$dom" "orch-counter $((before + 3))([^0-9]|\$)" 30
e2e_check "and never restarted" \
    sh -c "[ \$(grep -Ec 'orch-counter 1([^0-9]|\$)' '$(vm_console "$from" "$dom")') -le 1 ]"

e2e_step "two more SR-IOV VMs at once: $from has one VF left, $to none"
sriov_vm_yaml vm-sriov-b 198.18.0.68 02:00:c6:12:00:44 >"$work/vm-b.yaml"
sriov_vm_yaml vm-sriov-c 198.18.0.69 02:00:c6:12:00:45 >"$work/vm-c.yaml"
codes=$(post_vm "$work/vm-b.yaml")$(post_vm "$work/vm-c.yaml")
e2e_check "both POSTs answer 201 (got $codes)" [ "$codes" = 201201 ]
# The reason as soon as one is placed: while the placed one's start is under
# way it names it as work in flight; once its VF is reported, "in use".
first=
for _ in $(seq 100); do
    for v in vm-sriov-b vm-sriov-c; do
        m=$(field "$vmis/$v" '.status.conditions[]? | select(.type == "PodScheduled" and .status == "False") | .message')
        [ -n "$m" ] && first=$m && break 2
    done
    sleep 0.1
done
e2e_note "first reason: $first"
placed=
for _ in $(seq 600); do
    for v in vm-sriov-b vm-sriov-c; do
        [ "$(field "$vmis/$v" .status.phase)" = Running ] && placed=$v && break 2
    done
    sleep 0.1
done
waiting=vm-sriov-b
[ "$placed" = vm-sriov-b ] && waiting=vm-sriov-c
e2e_check "one of them runs on $from (got '$placed')" \
    [ "$(field "$vmis/$placed" .status.nodeName)" = "$from" ]
e2e_check "the other stays Scheduling" [ "$(field "$vmis/$waiting" .status.phase)" = Scheduling ]
why=$(field "$vmis/$waiting" '.status.conditions[]? | select(.type == "PodScheduled") | .message')
e2e_note "$waiting: $why"
e2e_check "its reason: $from's ens1f0 has no free VF" \
    grep -q "$from: PF 'ens1f0' (network 'sriov-net1') has no free VF" <<<"$why"
e2e_check "and $to's neither" grep -q "$to: PF 'ens1f0' (network 'sriov-net1') has no free VF" <<<"$why"
e2e_check "no host ever saw default_$waiting" gone_everywhere "default_$waiting"
