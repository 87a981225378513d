#!/bin/bash
# progress-timeout-aborts: the guest keeps rewriting 48 MiB of its memory
# (orch.dirty=48) while orchestratord caps every migration at 8 MiB/s with a
# progress timeout of 3 s: the first pass ends, but every later pass has
# more to send than the last best dataRemaining, so the source migrator
# aborts for want of progress - even with post-copy and workload disruption
# allowed, which KubeVirt's monitor uses only at the completion timeout.  The VMIM ends Failed with a
# failureReason naming the progress timeout, and the guest still runs on
# host-a and only there, answering pings, its counter never restarted.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.54
export LAB_ORCHD_MIGRATIONS='bandwidth_per_migration = "8Mi"; progress_timeout = 3; allow_post_copy = true; allow_workload_disruption = true;'
mig_setup host-a host-b
guest_up host-a "$vmi" "$addr" orch.dirty=48
e2e_check "$vmi's memory workload runs" wait_dirty "$vmi" 60
before=$(lab_console_last "$vmi")

e2e_step "a VMIM of $vmi that cannot converge at 8 MiB/s"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
t0=$(date +%s)
code=$(post_vmim stuck "$vmi")
e2e_check "POST stuck answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "stuck is Running with data moving" wait_running stuck 30
phase=$(wait_vmim stuck 60) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
e2e_note "stuck ended after $(($(date +%s) - t0)) s"
lab_api_get "$vmims/stuck" | jq -c .status
grep 'orch-dirty' "$(lab_guest_console "$vmi")" | tail -3
e2e_check "stuck ended Failed (got $phase)" [ "$phase" = Failed ]
reason=$(vmim_field stuck .status.migrationState.failureReason)
# shellcheck disable=SC2016 # $1 is sh -c's
e2e_check "its failureReason says the progress timeout (got '$reason')" \
    sh -c 'echo "$1" | grep -Eqi "progress ?timeout|no progress"' _ "$reason"
e2e_check "its migrationState says failed" \
    [ "$(vmim_field stuck .status.migrationState.failed)" = true ]
e2e_check "its mode is not PostCopy" \
    [ "$(vmim_field stuck .status.migrationState.mode)" != PostCopy ]
it=$(vmim_field stuck .status.progress.iteration)
e2e_check "the first pass had ended (progress.iteration ${it:-none}, wanted >= 2)" [ "${it:-0}" -ge 2 ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-a "$before"
e2e_check "VMI $vmi's nodeName is still host-a" wait_nodename "$vmi" host-a 1
