#!/bin/bash
# vm-static-ip-survives-migration: the VM of vm-manifest-runs, started from
# its manifest through orchestratord, is live-migrated with a VMIM: the
# target's migrator writes the same seed and the overlay before the
# migration, the guest keeps answering at its static address across the
# move, its counter goes on, and the source keeps none of its files.
# Needs orchestratord's VM controller (vmapi) and the migrate job's
# copyStorage (contract A.3, mig9) for the containerDisk's local overlay.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/vmlib.sh
. "$ORCH_TOP/tests/e2e/vmlib.sh"

name=vm-lab
dom=default_$name
addr=198.18.0.64
mac=02:00:c6:12:00:40

mig_setup host-a host-b
vm_image_make
vm_yaml "$name" "$addr" "$mac" >"$work/vm.yaml"

e2e_step "POST the VirtualMachine"
code=$(post_vm "$work/vm.yaml")
e2e_check "POST answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
from=$(wait_vmi_running "$name" 120) || e2e_fail "VMI $name is not Running"
to=host-a
[ "$from" != host-a ] || to=host-b
e2e_check "the guest configured lab0 from its seed on $from" \
    wait_console "$from" "$dom" "orch-net lab0 $addr/15 $mac" 60
e2e_check "$name answers at $addr" lab_wait_ping "$addr" 30

e2e_step "migrate it $from -> $to with a VMIM"
before=$(sed -n 's/.*orch-counter \([0-9]*\).*/\1/p' "$(vm_console "$from" "$dom")" | tail -1)
seed_sum=$(md5sum <"$(vm_dir "$from" "$dom")/seed.iso")
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
code=$(post_vmim "mig-$name" "$name")
e2e_check "POST VMIM answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim "mig-$name" 180) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
lab_api_get "$vmims/mig-$name" | jq -c .status.migrationState
e2e_check "the VMIM Succeeded (got $phase)" [ "$phase" = Succeeded ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
e2e_check "VMI $name's nodeName is $to" wait_nodename "$name" "$to" 10
e2e_check "$dom runs on $to and on no other host" on_one_host "$dom" "$to"
e2e_check "the target's seed is the source's" \
    [ "$(md5sum <"$(vm_dir "$to" "$dom")/seed.iso")" = "$seed_sum" ]
e2e_check "it answers at the same address $addr" lab_ping "$addr" 5
e2e_check "its console counter goes on past $before on $to" \
    wait_console "$to" "$dom" "orch-counter $((before + 3))([^0-9]|\$)" 30
e2e_check "and never restarted there" \
    sh -c "! grep -Eq 'orch-counter 1([^0-9]|\$)' '$(vm_console "$to" "$dom")'"
e2e_check "$from keeps none of its files" [ ! -e "$(vm_dir "$from" "$dom")" ]
