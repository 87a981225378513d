#!/bin/bash
# sriov-vm-unplug-plug: the seed's SR-IOV VM (kernel boot of the test guest,
# lab addresses; its interface bound with sriov on sriov-net1, static MAC and
# address) on a network that crosses migrations by unplug and plug
# (migration = "unplug", what hostdev mode always does; the lab has no VFIO,
# so its stand-in VFs are attached as macvtap passthrough).
#   1. A migration that fails after the unplug (a MigrationPolicy caps it at
#      1 MiB/s, the VMIM is deleted mid-flight): the source's migrator is
#      SIGKILLed and restarted while the NIC is out, and takes the VF back
#      from its journal; the cancel then plugs the VF back on the source,
#      the guest re-applies its static address and answers on the source.
#   2. A migration that succeeds: the source unplugs the NIC before it
#      (its migrate job says so), its migrator is SIGKILLed and restarted
#      while the migration runs (8 MiB/s), the target's plug job attaches its own VF
#      with the same MAC, the guest re-applies its address and answers there,
#      its counter never restarted; the source's VF is free again.
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
policies=/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies
# net_lines HOST: how many times the guest's console there says it
# configured lab0 (once at boot, again each time the NIC comes back).
net_lines() { grep -c "orch-net lab0 $addr/15 $mac" "$(vm_console "$1" "$dom")" || true; }
# wait_net_lines HOST N: until net_lines HOST reaches N (20 s).
wait_net_lines() {
    local _
    for _ in $(seq 200); do
        [ "$(net_lines "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

SRIOV_MIGRATION=unplug sriov_setup 2 2
vm_image_make
sriov_vm_up "$name" "$addr" "$mac"
e2e_check "$to's VFs are all free" wait_pf 5 "$to" ens1f0 .vfsFree 2

# policy NAME BANDWIDTH: POST a MigrationPolicy NAME capping this guest's
# migrations at BANDWIDTH; then DELETE it with policy_delete NAME.
policy() {
    cat >"$work/policy.yaml" <<YAML
apiVersion: migrations.kubevirt.io/v1alpha1
kind: MigrationPolicy
metadata:
  name: $1
spec:
  bandwidthPerMigration: $2
  selectors:
    virtualMachineInstanceSelector:
      kubevirt.io/domain: lab
YAML
    code=$(curl -s -o "$work/policy.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H 'Content-Type: application/yaml' \
        --data-binary @"$work/policy.yaml" "$api$policies")
    e2e_check "POST the policy $1 ($2) answers 201 (got $code: $(head -c 300 "$work/policy.out"))" \
        [ "$code" = 201 ]
}
policy_delete() {
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$policies/$1")
    e2e_check "DELETE the policy $1 answers 200 (got $code)" [ "$code" = 200 ]
}

e2e_step "1. a migration caught at 1 MiB/s (a MigrationPolicy) and cancelled"
policy slow 1Mi
boots=$(net_lines "$from")
code=$(post_vmim slow "$name")
e2e_check "POST VMIM slow answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "slow is Running with data moving" wait_running slow 60
e2e_check "the NIC is unplugged on $from while it runs" \
    sh -c "! virsh -c '$(lab_host_uri "$from")' dumpxml '$dom' | grep -q \"<source dev='$from_vf'\""
# The domain no longer names the VF: only the migrate job's journal does.
e2e_check "$from's migrator, SIGKILLed mid-migration, restarts and reports" \
    sriov_migrator_restart "$from"
e2e_check "$from's VF $from_vf is still held for $dom, taken back from the journal" \
    wait_pf 15 "$from" ens1f0 \
    "[.vfs[] | select(.reserved and .usedBy == \"$dom\") | .netdev] | join(\",\")" "$from_vf"
e2e_check "its log says so" grep -q "1 VF(s) held for the jobs' journal" \
    "$(lab_host_dir "$from")/log/migrator.log"
e2e_check "slow is still Running" [ "$(field "$vmims/slow" .status.phase)" = Running ]
code=$(delete_vmim slow)
e2e_check "DELETE slow is accepted (got $code)" [ "$code" = 200 -o "$code" = 202 ]
phase=$(wait_vmim slow 60) || true
lab_api_get "$vmims/slow" | jq -c .status.migrationState
e2e_check "slow ended Failed (got $phase)" [ "$phase" = Failed ]
e2e_check "$dom runs on $from and on no other host" on_one_host "$dom" "$from"
e2e_check "its VF $from_vf is plugged back on $from" sriov_iface_on "$from" "$dom" "$from_vf"
e2e_check "the guest re-applied its address to the NIC that came back" \
    wait_net_lines "$from" $((boots + 1))
e2e_check "it answers at $addr on $from" lab_wait_ping "$addr" 20
e2e_check "$to's VFs are all free again" wait_pf 15 "$to" ens1f0 .vfsFree 2
policy_delete slow

e2e_step "2. migrate it $from -> $to: unplug, migrate (the source's migrator restarted meanwhile), plug"
# At 8 MiB/s the migration lasts long enough for the source's migrator to
# be SIGKILLed and restarted while it runs: the new one re-attaches the
# migration, holds the unplugged VF from its journal, and when the domain
# turns up on the target does the source's cleanup (VF and files).
policy steady 8Mi
before=$(console_counter "$from" "$dom")
code=$(post_vmim "mig-$name" "$name")
e2e_check "POST VMIM answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "mig-$name is Running with data moving" wait_running "mig-$name" 60
e2e_check "$from's migrator, SIGKILLed while it runs, restarts and reports" \
    sriov_migrator_restart "$from"
phase=$(wait_vmim "mig-$name" 120) || true
lab_api_get "$vmims/mig-$name" | jq -c .status.migrationState
e2e_check "the VMIM Succeeded (got $phase)" [ "$phase" = Succeeded ]
uid=$(vmim_field "mig-$name" .metadata.uid)
unplugged=$(agent_job "$from" "$uid-migrate" | jq -c .result.unplugged || true)
e2e_check "$from's migrate job unplugged sriov-net1 (says $unplugged)" [ "$unplugged" = '["sriov-net1"]' ]
plug=$(agent_job "$to" "$uid-plug" || true)
e2e_note "plug job on $to: $(jq -c '{state, result, error}' <<<"$plug" 2>/dev/null)"
e2e_check "$to's plug job Succeeded, plugging $to_vf with $mac" \
    [ "$(jq -r '.state + " " + .result.plugged[0].netdev + " " + .result.plugged[0].mac' <<<"$plug")" = "Succeeded $to_vf $mac" ]
events=$(lab_api_get "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=mig-$name" |
    jq -r '[.items[].reason] | join(",")' || true)
e2e_check "the VMIM has the event SRIOVPlugged (has $events)" grep -q SRIOVPlugged <<<"$events"
e2e_check "VMI $name's nodeName is $to" wait_nodename "$name" "$to" 10
e2e_check "$dom runs on $to and on no other host" on_one_host "$dom" "$to"
e2e_check "on $to its interface is a macvtap passthrough on $to_vf" sriov_iface_on "$to" "$dom" "$to_vf"
e2e_check "with the same MAC $mac" \
    sh -c "virsh -c '$(lab_host_uri "$to")' dumpxml '$dom' | grep -qi \"<mac address='$mac'/>\""
e2e_check "the guest re-applied its address to the plugged NIC on $to" wait_net_lines "$to" 1
lab_wait_ping "$addr" 20 || sriov_diag "$from" "$to" "$mac" "$to_vf"
e2e_check "it answers at its static address $addr on $to" lab_wait_ping "$addr" 5
e2e_check "its console counter goes on past $before on $to" \
    wait_counter_past "$to" "$dom" $((before + 2)) 30
e2e_check "and never restarted there" \
    sh -c "! grep -Eq 'orch-counter 1([^0-9]|\$)' '$(vm_console "$to" "$dom")'"
e2e_check "$to's VF $to_vf is in use by $dom" wait_pf 15 "$to" ens1f0 "[.vfs[] | select(.usedBy == \"$dom\") | .netdev] | join(\",\")" "$to_vf"
e2e_check "$from's VFs are all free again" wait_pf 15 "$from" ens1f0 .vfsFree 2
e2e_check "$from keeps none of its files" [ ! -e "$(vm_dir "$from" "$dom")" ]
e2e_check "$from's restarted migrator re-attached the migration" \
    [ "$(agent_job "$from" "$uid-migrate" | jq -r .reattached)" = true ]
policy_delete steady
