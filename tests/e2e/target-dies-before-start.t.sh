#!/bin/bash
# target-dies-before-start: host-b, the only possible target, loses its
# migrator and its libvirtd (both SIGKILLed) right before a VMIM of the
# guest is posted, while orchestratord still holds host-b Ready (its last
# report is recent).  The VMIM is scheduled to host-b, the prepare job
# cannot reach it, and the VMIM ends Failed with a reason that names
# host-b, before any migration started: the guest is untouched on host-a,
# answering pings, its counter never restarted, and nothing of it is on
# host-b once host-b's libvirtd is back.  The VMIM fails as soon as
# orchestratord turns host-b Unknown (its migrator fell silent past the
# grace period), not after the controller's 120 s of retrying an agent: the
# grace period here is 8 s, four of mig_setup's 2 s reports, as
# Kubernetes' 40 s is four of 10 s.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/faultlib.sh
. "$ORCH_TOP/tests/e2e/faultlib.sh"

vmi=vmi-fedora
addr=198.18.0.58
grace=8
LAB_ORCHD_CONF="node_monitor_grace_period_s = $grace;" mig_setup host-a host-b
fault_init host-a host-b
guest_up host-a "$vmi" "$addr"
before=$(lab_console_last "$vmi")

e2e_step "host-b's migrator and libvirtd die; a VMIM of $vmi right after"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
kill_migrator host-b
e2e_check "host-b's libvirtd is killed" kill_libvirtd host-b
t0=$(date +%s)
code=$(post_vmim mig "$vmi")
e2e_check "POST mig answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim mig 60) || true
took=$(($(date +%s) - t0))
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
e2e_note "mig ended $took s after the POST"
lab_api_get "$vmims/mig" | jq -c .status
e2e_check "mig was scheduled to host-b" [ "$(vmim_field mig .status.migrationState.targetNode)" = host-b ]
e2e_check "mig ended Failed (got $phase)" [ "$phase" = Failed ]
reason=$(vmim_field mig .status.migrationState.failureReason)
# shellcheck disable=SC2016 # $1 is sh -c's
e2e_check "its failureReason names host-b (got '$reason')" \
    sh -c 'echo "$1" | grep -q host-b' _ "$reason"
# shellcheck disable=SC2016 # $1 is sh -c's
e2e_check "it says host-b is not Ready (got '$reason')" \
    sh -c 'echo "$1" | grep -q "not Ready (Unknown"' _ "$reason"
e2e_check "it ended within the grace period and a little ($took s <= $((grace + 12)) s)" \
    [ "$took" -le $((grace + 12)) ]
e2e_check "no migration was started on host-a" \
    [ -z "$(agent_job host-a "$(vmim_field mig .metadata.uid)-migrate")" ]

e2e_step "host-b's libvirtd back"
lab_libvirtd_start host-b
lab_libvirtd_wait host-b 30
e2e_check "no QEMU is on host-b" [ -z "$(lab_host_qemu_pids host-b)" ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-a "$before"
e2e_check "VMI $vmi's nodeName is still host-a" wait_nodename "$vmi" host-a 1
lab_status
