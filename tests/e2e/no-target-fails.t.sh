#!/bin/bash
# no-target-fails: a VMIM whose spec.addedNodeSelector no host matches
# (lab-zone=nowhere) ends Failed with a failureReason naming the selector
# each other host did not match; no migration was started, and the guest
# runs on host-a untouched, answering pings, its counter never restarted.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.53
mig_setup host-a host-b
guest_up host-a "$vmi" "$addr"
before=$(lab_console_last "$vmi")

e2e_step "a VMIM of $vmi to a node labelled lab-zone=nowhere"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
code=$(post_vmim nowhere "$vmi" '{"addedNodeSelector":{"lab-zone":"nowhere"}}')
e2e_check "POST nowhere answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim nowhere 30) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
lab_api_get "$vmims/nowhere" | jq -c .status
reason=$(vmim_field nowhere .status.migrationState.failureReason)
e2e_note "failureReason: $reason"
e2e_check "nowhere ended Failed (got $phase)" [ "$phase" = Failed ]
e2e_check "it never ran" \
    jq -e '[.status.phaseTransitionTimestamps[].phase] | (index("Running") == null and index("PreparingTarget") == null)' \
    <<<"$(lab_api_get "$vmims/nowhere")"
e2e_check "its failureReason names host-b and the addedNodeSelector it misses" \
    grep -q 'host-b.*addedNodeSelector' <<<"$reason"
e2e_check "host-b never saw the guest" [ -z "$(lab_dom_state host-b "$vmi")" ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
e2e_check "no ping was lost" grep -q ' 0% packet loss' "$work/ping"
check_guest "$vmi" "$addr" host-a "$before"
e2e_check "VMI $vmi's nodeName is still host-a" wait_nodename "$vmi" host-a 1
