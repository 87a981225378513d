#!/bin/bash
# postcopy-completes: the guest keeps rewriting 48 MiB of its memory
# (orch.dirty=48) while orchestratord caps every migration at 8 MiB/s with a
# completion timeout of 25 s per GB (the guest's 192 MiB count as 1 GB) and
# allows post-copy, allow_workload_disruption left out so that it follows
# allow_post_copy (KubeVirt's fallback): at the completion timeout the
# source migrator switches to post-copy instead of aborting, as KubeVirt's
# monitor does, and the migration completes.  The VMIM ends Succeeded with
# migrationState.mode PostCopy, and the guest runs on host-b and only there,
# answering pings, its counter never restarted.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.54
export LAB_ORCHD_MIGRATIONS='bandwidth_per_migration = "8Mi"; completion_timeout_per_gib = 25; allow_post_copy = true;'
mig_setup host-a host-b
guest_up host-a "$vmi" "$addr" orch.dirty=48
e2e_check "$vmi's memory workload runs" wait_dirty "$vmi" 60
before=$(lab_console_last "$vmi")

e2e_step "a VMIM of $vmi that cannot converge at 8 MiB/s, post-copy allowed"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
t0=$(date +%s)
code=$(post_vmim pc "$vmi")
e2e_check "POST pc answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "pc is Running with data moving" wait_running pc 30
phase=$(wait_vmim pc 60) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
e2e_note "pc ended after $(($(date +%s) - t0)) s"
lab_api_get "$vmims/pc" | jq -c .status
grep 'orch-dirty' "$(lab_guest_console "$vmi")" | tail -3
e2e_check "pc ended Succeeded (got $phase)" [ "$phase" = Succeeded ]
e2e_check "its migrationState.mode is PostCopy (got '$(vmim_field pc .status.migrationState.mode)')" \
    [ "$(vmim_field pc .status.migrationState.mode)" = PostCopy ]
e2e_check "its migrationState says completed" \
    [ "$(vmim_field pc .status.migrationState.completed)" = true ]
left=$(vmim_field pc .status.progress.dataRemainingBytes)
e2e_check "its progress ends with nothing remaining, not at a pre-copy sample (dataRemainingBytes ${left:-none})" \
    [ "${left:-x}" = 0 ]
it=$(vmim_field pc .status.progress.iteration)
e2e_check "the first pass had ended (progress.iteration ${it:-none}, wanted >= 2)" [ "${it:-0}" -ge 2 ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-b "$before"
e2e_check "VMI $vmi's nodeName is host-b" wait_nodename "$vmi" host-b 10
