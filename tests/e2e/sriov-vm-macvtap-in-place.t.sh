#!/bin/bash
# sriov-vm-macvtap-in-place: a VM in the seed's SR-IOV shape (kernel boot of
# the test guest, lab addresses; its one interface bound with sriov on the
# macvtap network sriov-net1, static MAC and address) is started from its
# manifest: the migrator reserves a stand-in VF and attaches it as a direct
# passthrough interface.  A VMIM migrates it in place: the target's prepare
# reserves a VF of the PF of the same name (its netdev named otherwise),
# the destination XML names it, the guest answers at its static address on
# the target, the target's VF is in use by it and the source's is free again.
# Before the migration the source's migrator is restarted (SIGKILL): it
# takes the running domain's VF back into its reservations from the
# domain's XML, so the release after the migration finds it.
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
addr=198.18.0.66
mac=02:00:c6:12:00:42

sriov_setup 2 2
vm_image_make
sriov_vm_up "$name" "$addr" "$mac"
e2e_check "$to's VFs are all free" wait_pf 5 "$to" ens1f0 .vfsFree 2

e2e_step "restart $from's migrator: it adopts the VF $dom holds"
e2e_check "$from's migrator restarts and reports" sriov_migrator_restart "$from"
e2e_check "$from's VF $from_vf is reserved for $dom again" wait_pf 15 "$from" ens1f0 \
    "[.vfs[] | select(.reserved and .usedBy == \"$dom\") | .netdev] | join(\",\")" "$from_vf"
e2e_check "its log says so" grep -q "domain '$dom' interface 'ua-sriov-sriov-net1': adopted VF 0 of PF 'ens1f0'" \
    "$(lab_host_dir "$from")/log/migrator.log"

e2e_step "migrate it $from -> $to with a VMIM"
before=$(console_counter "$from" "$dom")
code=$(post_vmim "mig-$name" "$name")
e2e_check "POST VMIM answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim "mig-$name" 120) || true
lab_api_get "$vmims/mig-$name" | jq -c .status.migrationState
e2e_check "the VMIM Succeeded (got $phase)" [ "$phase" = Succeeded ]
e2e_check "VMI $name's nodeName is $to" wait_nodename "$name" "$to" 10
e2e_check "$dom runs on $to and on no other host" on_one_host "$dom" "$to"
e2e_check "on $to its interface is a macvtap passthrough on $to_vf" sriov_iface_on "$to" "$dom" "$to_vf"
lab_wait_ping "$addr" 20 || {
    tail -n 15 "$(vm_console "$to" "$dom")"
    sriov_diag "$from" "$to" "$mac" "$to_vf"
    lab_exec "$to" virsh dumpxml "$dom" | sed -n '/<interface/,/<\/interface>/p'
    grep -o -- '-netdev [^ ]*' "$(lab_host_dir "$to")/log/qemu/$dom.log" | tail -2
    grep -i 'macvtap\|direct\|error' "$(lab_host_dir "$to")/log/libvirtd.log" | tail -20
}
e2e_check "it answers at its static address $addr on $to" lab_wait_ping "$addr" 5
e2e_check "its console counter goes on past $before on $to" \
    wait_console "$to" "$dom" "orch-counter $((before + 3))([^0-9]|\$)" 30
e2e_check "and never restarted there" \
    sh -c "! grep -Eq 'orch-counter 1([^0-9]|\$)' '$(vm_console "$to" "$dom")'"
e2e_check "$to's VF $to_vf is in use by $dom" wait_pf 15 "$to" ens1f0 "[.vfs[] | select(.usedBy == \"$dom\") | .netdev] | join(\",\")" "$to_vf"
e2e_check "$from's VFs are all free again (its adopted one released)" wait_pf 15 "$from" ens1f0 .vfsFree 2
e2e_check "$from keeps none of its files" [ ! -e "$(vm_dir "$from" "$dom")" ]
