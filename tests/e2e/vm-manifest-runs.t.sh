#!/bin/bash
# vm-manifest-runs: a VirtualMachine manifest in the seed's shape (kernel boot
# instead of the container image, the lab's addresses, a bridge binding on the
# lab's multus network instead of SR-IOV) POSTed to orchestratord comes up at
# its static address: the VM controller places it and sends the start job,
# the host's migrator makes the seed and the overlay and starts the domain,
# the guest reads its seed and configures lab0 by its MAC.  Posting it again
# changes nothing; deleting the VM stops the domain and removes its files.
# Needs orchestratord's VM controller (vmapi's side of issue 11).
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/vmlib.sh
. "$ORCH_TOP/tests/e2e/vmlib.sh"

name=vm-lab
dom=default_$name
addr=198.18.0.63
mac=02:00:c6:12:00:3f

mig_setup host-a host-b
vm_image_make
vm_yaml "$name" "$addr" "$mac" >"$work/vm.yaml"

e2e_step "POST the VirtualMachine"
code=$(post_vm "$work/vm.yaml")
e2e_check "POST answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
host=$(wait_vmi_running "$name" 120) || e2e_fail "VMI $name is not Running"
e2e_note "VMI $name runs on $host"
e2e_check "$dom runs on $host and on no other host" on_one_host "$dom" "$host"
e2e_check "the guest configured lab0 from its seed" \
    wait_console "$host" "$dom" "orch-net lab0 $addr/15 $mac" 60
e2e_check "$name answers at its static address $addr" lab_wait_ping "$addr" 30
e2e_check "and keeps answering" lab_ping "$addr" 5
e2e_check "the VM is Ready" \
    sh -c "[ \"\$(curl -sf -H 'Authorization: Bearer $LAB_ADMIN_TOKEN' '$api$vms/$name' | jq -r .status.ready)\" = true ]"

e2e_step "the same manifest again changes nothing"
uid=$(field "$vmis/$name" .metadata.uid)
code=$(post_vm "$work/vm.yaml")
e2e_check "a second POST is refused as a conflict (got $code)" [ "$code" = 409 ]
sleep 2
e2e_check "the VMI is the same one ($uid)" [ "$(field "$vmis/$name" .metadata.uid)" = "$uid" ]
e2e_check "$dom still runs on $host only" on_one_host "$dom" "$host"

e2e_step "DELETE the VM"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE \
    -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$vms/$name")
e2e_check "DELETE answers 200 (got $code)" [ "$code" = 200 ]
e2e_check "$dom is gone from every host" wait_gone "$dom" 60
e2e_check "its files are gone from $host" [ ! -e "$(vm_dir "$host" "$dom")" ]
