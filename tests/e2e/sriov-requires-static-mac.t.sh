#!/bin/bash
# sriov-requires-static-mac: a VirtualMachine with an SR-IOV interface must
# give it a static MAC and the cloudInitNoCloud networkData a static address
# for that MAC (DESIGN.md: the VF is programmed with the MAC and the guest
# re-applies its address after a move).  A manifest without macAddress, and
# one whose networkData only asks DHCP for it, are refused with 422 and the
# field and reason; nothing is created: no VM, no VMI, no domain, no VF
# taken.  The same manifest with both is accepted.
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
addr=198.18.0.68
mac=02:00:c6:12:00:44

sriov_setup 1 1
vm_image_make

# refused FILE FIELD REASON-REGEX: POST FILE is 422 naming FIELD and REASON,
# and nothing of the VM exists anywhere.
refused() {
    local code h
    code=$(post_vm "$1")
    jq -c . "$work/post.out" 2>/dev/null || cat "$work/post.out"
    e2e_check "POST answers 422 (got $code)" [ "$code" = 422 ]
    e2e_check "the Status names the field $2" \
        [ "$(jq -r '.details.causes[0].field' "$work/post.out")" = "$2" ]
    e2e_check "and the reason" grep -Eq "$3" <<<"$(jq -r .message "$work/post.out")"
    e2e_check "no VirtualMachine $name" [ -z "$(field "$vms/$name" .metadata.name)" ]
    e2e_check "no VMI $name" [ -z "$(field "$vmis/$name" .metadata.name)" ]
    for h in host-a host-b; do
        e2e_check "$h has no domain $dom and all its VFs free" \
            sh -c "[ -z '$(lab_dom_state "$h" "$dom")' ] && [ '$(pf "$h" ens1f0 .vfsFree)' = 1 ]"
    done
}

e2e_step "a manifest without macAddress"
sriov_vm_yaml "$name" "$addr" "$mac" | sed '/- macAddress:/{N;s/- macAddress: [^\n]*\n */- /}' >"$work/nomac.yaml"
grep -A3 'interfaces:' "$work/nomac.yaml"
! grep -q 'macAddress: "' <(sed -n '/interfaces:/,/rng/p' "$work/nomac.yaml") || e2e_fail "the manifest still has a macAddress"
refused "$work/nomac.yaml" "spec.template.spec.domain.devices.interfaces[0].macAddress" \
    "SR-IOV interface 'sriov-net1' .*has no static macAddress"

e2e_step "a manifest whose networkData only asks DHCP for the MAC"
sriov_vm_yaml "$name" "$addr" "$mac" |
    sed -e '/^                addresses:$/,/^                gateway:/c\                dhcp4: true' >"$work/dhcp.yaml"
sed -n '/networkData/,/version/p' "$work/dhcp.yaml"
refused "$work/dhcp.yaml" "spec.template.spec.volumes" \
    "gives MAC $mac no static address"

e2e_step "the same manifest with both is accepted"
sriov_vm_yaml "$name" "$addr" "$mac" >"$work/vm.yaml"
code=$(post_vm "$work/vm.yaml")
e2e_check "POST answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
host=$(wait_vmi_running "$name" 120) || e2e_fail "VMI $name is not Running"
e2e_check "it took $host's VF" wait_pf 15 "$host" ens1f0 .vfsFree 0
