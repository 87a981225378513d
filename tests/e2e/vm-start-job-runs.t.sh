#!/bin/bash
# vm-start-job-runs: the migrator's side of VMs made from manifests, driven
# through its agent API with curl as orchestratord's VM controller would
# (contract A.5).  A start job with a VMI in the seed's shape (kernel boot,
# a containerDisk, the NoCloud seed with no disk of its own: a CD-ROM, a static address for
# the interface's MAC) makes the overlay and the seed and starts the domain;
# the guest reads its seed as cloud-init would and answers at its static
# address on the renamed interface.  The same job again and a second start
# change nothing; a network the host does not have is refused with the field
# path and leaves nothing; the host's report maps the domain to its VMI by
# the domain's metadata; a stop job ends it and removes its files.
# shellcheck disable=SC2016 # jq programs in single quotes
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/vmlib.sh
. "$ORCH_TOP/tests/e2e/vmlib.sh"

name=vm-start
dom=default_$name
uid=0f3e6c1a-8b2d-4c5e-9f70-a1b2c3d4e5f6
addr=198.18.0.61
mac=02:00:c6:12:00:3d

mig_setup host-a
vm_image_make
vmi=$(vmi_json "$name" "$uid" "$addr" "$mac" cdrom)

e2e_step "a start job on host-a's agent"
req=$(jq -nc --arg id "$uid-start" --arg d "$dom" --argjson v "$vmi" \
    '{id: $id, type: "start", domain: $d, start: {vmi: $v}}')
code=$(agent_post host-a "$req")
e2e_check "POST /v1/jobs answers 202 (got $code: $(head -c 300 "$work/agent.out"))" [ "$code" = 202 ]
state=$(agent_wait host-a "$uid-start" 60) || true
agent_job host-a "$uid-start" | jq -c '{state, result, error}'
e2e_check "the start job Succeeded (got $state)" [ "$state" = Succeeded ]
e2e_check "its result names the domain and the VMI's uid as uuid" \
    jq -e --arg d "$dom" --arg u "$uid" '.result.domain == $d and .result.uuid == $u' \
    <<<"$(agent_job host-a "$uid-start")"
e2e_check "$dom runs on host-a" [ "$(lab_dom_state host-a "$dom")" = running ]
d=$(vm_dir host-a "$dom")
e2e_check "the seed is in $d" [ -f "$d/seed.iso" ]
backing=$(overlay_backing "$d/containerdisk.qcow2")
e2e_check "the containerDisk's overlay is backed by the image (got '$backing')" \
    [ "$backing" = "$vm_images/lab_guest-disk_1.qcow2" ]
e2e_check "the domain carries the VMI in its metadata" \
    sh -c "virsh -q -c '$(lab_host_uri host-a)' dumpxml '$dom' | grep -q 'uid=\"$uid\"'"

e2e_step "the guest reads its seed and comes up at $addr"
e2e_check "the guest found its cidata CD-ROM" wait_console host-a "$dom" 'orch-seed /dev/sr0: network-config, 1 interface' 60
e2e_check "it configured lab0 ($addr/15, MAC $mac)" wait_console host-a "$dom" "orch-net lab0 $addr/15 $mac" 20
e2e_check "$dom answers pings at $addr" lab_wait_ping "$addr" 30
e2e_check "and keeps answering" lab_ping "$addr" 5

e2e_step "the same job again, and a second start job for the same VMI"
code=$(agent_post host-a "$req")
e2e_check "the same job again answers 200 (got $code)" [ "$code" = 200 ]
req2=$(jq -c '.id += "-again"' <<<"$req")
agent_post host-a "$req2" >/dev/null
state=$(agent_wait host-a "$uid-start-again" 30) || true
e2e_check "a second start job Succeeded too (got $state)" [ "$state" = Succeeded ]
e2e_check "with the same uuid" jq -e --arg u "$uid" '.result.uuid == $u' <<<"$(agent_job host-a "$uid-start-again")"
e2e_check "$dom still answers" lab_ping "$addr" 3

e2e_step "the host's report maps $dom to VMI default/$name by its metadata"
e2e_check "the inventory's domain has vmi.uid $uid" \
    sh -c "curl -sf -H 'Authorization: Bearer $LAB_AGENT_TOKEN' http://$(lab_host_addr host-a):$LAB_AGENT_PORT/v1/inventory | jq -e --arg d '$dom' --arg u '$uid' '.domains[] | select(.name == \$d) | .vmi.uid == \$u and .vmi.name == \"$name\"'"
for _ in $(seq 150); do
    [ "$(field "$ns_path/virtualmachineinstances/$name" .status.phase)" = Running ] && break
    sleep 0.1
done
e2e_check "orchestratord shows VMI $name Running on host-a" wait_nodename "$name" host-a 5

e2e_step "a network the host does not have is refused and leaves nothing"
bad=$(jq -c '.metadata.name = "vm-bad" | .metadata.uid = "0f3e6c1a-8b2d-4c5e-9f70-00000000bad0" |
    .spec.networks[0].multus.networkName = "no-such-net"' <<<"$vmi")
req=$(jq -nc --argjson v "$bad" '{id: "bad-start", type: "start", domain: "default_vm-bad", start: {vmi: $v}}')
agent_post host-a "$req" >/dev/null
state=$(agent_wait host-a bad-start 30) || true
agent_job host-a bad-start | jq -c .error
e2e_check "it Failed (got $state)" [ "$state" = Failed ]
e2e_check "with InvalidSpec naming the field" \
    jq -e '.error.reason == "InvalidSpec" and (.error.message | startswith("spec.networks[0].multus.networkName: \"no-such-net\" is not a network of this host"))' \
    <<<"$(agent_job host-a bad-start)"
e2e_check "no domain default_vm-bad" [ -z "$(lab_dom_state host-a default_vm-bad)" ]
e2e_check "no directory for it" [ ! -e "$(vm_dir host-a default_vm-bad)" ]

e2e_step "a stop job ends $dom"
req=$(jq -nc --arg id "$uid-stop" --arg d "$dom" '{id: $id, type: "stop", domain: $d, stop: {gracePeriodS: 3}}')
agent_post host-a "$req" >/dev/null
state=$(agent_wait host-a "$uid-stop" 60) || true
e2e_check "the stop job Succeeded (got $state)" [ "$state" = Succeeded ]
e2e_check "$dom is gone from host-a" [ -z "$(lab_dom_state host-a "$dom")" ]
e2e_check "its directory is removed" [ ! -e "$d" ]
e2e_check "$addr is silent" sh -c "! ping -c 2 -W 1 $addr >/dev/null 2>&1"
req=$(jq -c '.id += "-again"' <<<"$req")
agent_post host-a "$req" >/dev/null
state=$(agent_wait host-a "$uid-stop-again" 30) || true
e2e_check "a stop of a domain that is not there Succeeds (got $state)" [ "$state" = Succeeded ]
