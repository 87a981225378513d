#!/bin/bash
# vm-seed-follows-migration: the migrators' side of migrating a VM made from
# a manifest, driven through their agent APIs with curl as orchestratord's
# controller would (contract A.1, A.5).  A start job runs the VM on host-a at
# its static address (from its NoCloud seed); a prepare job with the VMI on
# host-b writes the same seed (byte for byte) and the containerDisk's overlay
# on the same image before it answers; the migrate job moves the guest; it
# answers at the same address from host-b, its console counter going on, and
# host-a's copy of its files is gone.
# shellcheck disable=SC2016 # jq programs in single quotes
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/vmlib.sh
. "$ORCH_TOP/tests/e2e/vmlib.sh"

name=vm-mig
dom=default_$name
uid=7a3c9e10-2b4d-4f6a-8c1e-5d7f9a0b1c2d
addr=198.18.0.62
mac=02:00:c6:12:00:3e

mig_setup host-a host-b
vm_image_make
vmi=$(vmi_json "$name" "$uid" "$addr" "$mac")

e2e_step "start the VM on host-a"
agent_post host-a "$(jq -nc --arg id "$uid-start" --arg d "$dom" --argjson v "$vmi" \
    '{id: $id, type: "start", domain: $d, start: {vmi: $v}}')" >/dev/null
state=$(agent_wait host-a "$uid-start" 60) || true
e2e_check "the start job Succeeded (got $state)" [ "$state" = Succeeded ]
e2e_check "the guest configured lab0 from its seed (a virtio disk)" \
    wait_console host-a "$dom" "orch-net lab0 $addr/15 $mac" 60
e2e_check "$dom answers at $addr" lab_wait_ping "$addr" 30

e2e_step "prepare host-b with the VMI"
agent_post host-b "$(jq -nc --arg id "$uid-prepare" --arg d "$dom" --argjson v "$vmi" \
    '{id: $id, type: "prepare", domain: $d, prepare: {vmi: $v}}')" >/dev/null
state=$(agent_wait host-b "$uid-prepare" 60) || true
agent_job host-b "$uid-prepare" | jq -c '{state, result, error}'
e2e_check "the prepare job Succeeded (got $state)" [ "$state" = Succeeded ]
da=$(vm_dir host-a "$dom")
db=$(vm_dir host-b "$dom")
e2e_check "host-b's seed is host-a's, byte for byte" cmp "$da/seed.iso" "$db/seed.iso"
backing=$(overlay_backing "$db/containerdisk.qcow2")
e2e_check "host-b's overlay is on the same image (got '$backing')" \
    [ "$backing" = "$vm_images/lab_guest-disk_1.qcow2" ]

e2e_step "migrate host-a -> host-b"
prep=$(agent_job host-b "$uid-prepare")
before=$(sed -n 's/.*orch-counter \([0-9]*\).*/\1/p' "$(vm_console host-a "$dom")" | tail -1)
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
# The containerDisk's overlay is a local file: copyStorage "incremental"
# (contract A.3, VIR_MIGRATE_NON_SHARED_INC) has libvirt copy it into the
# overlay host-b's prepare made on the same image.  No "unsafe": libvirt
# would refuse to migrate a local disk it was not told to copy.  The copy
# goes to the NBD port the prepare gave besides the migration's.
agent_post host-a "$(jq -nc --arg id "$uid-migrate" --arg d "$dom" --argjson p "$prep" \
    '{id: $id, type: "migrate", domain: $d,
      migrate: {destLibvirtURI: $p.result.destLibvirtURI, migrationURI: $p.result.migrationURI,
                copyStorage: "incremental", disksPort: $p.result.disksPort}}')" >/dev/null
state=$(agent_wait host-a "$uid-migrate" 180) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
agent_job host-a "$uid-migrate" | jq -c '{state, result, error}'
e2e_check "the migrate job Succeeded (got $state)" [ "$state" = Succeeded ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
e2e_check "$dom runs on host-b and on no other host" on_one_host "$dom" host-b
e2e_check "it answers at $addr from host-b" lab_ping "$addr" 5
e2e_check "its console counter goes on past $before on host-b" \
    wait_console host-b "$dom" "orch-counter $((before + 3))([^0-9]|\$)" 30
e2e_check "and never restarted there" \
    sh -c "! grep -Eq 'orch-counter 1([^0-9]|\$)' '$(vm_console host-b "$dom")'"
e2e_check "host-a's copy of its files is gone" [ ! -e "$da" ]

e2e_step "stop it on host-b"
agent_post host-b "$(jq -nc --arg id "$uid-stop" --arg d "$dom" '{id: $id, type: "stop", domain: $d, stop: {gracePeriodS: 2}}')" >/dev/null
state=$(agent_wait host-b "$uid-stop" 60) || true
e2e_check "the stop job Succeeded (got $state)" [ "$state" = Succeeded ]
e2e_check "nothing of it is left on host-b" [ ! -e "$db" ]
