#!/bin/bash
# cancel-midflight-stays-on-source: orchestratord caps every migration at
# 1 MiB/s, so a VMIM of the running guest is caught in Running with data
# moving; DELETE of the VMIM then aborts it: the VMIM ends Failed with
# migrationState.abortStatus Succeeded and stays, and the guest still runs
# on host-a and only there, answering pings, its counter never restarted;
# the target's prepare is released (a release job, Succeeded on host-b).
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.53
export LAB_ORCHD_MIGRATIONS='bandwidth_per_migration = "1Mi";'
mig_setup host-a host-b
guest_up host-a "$vmi" "$addr"
before=$(lab_console_last "$vmi")

e2e_step "a VMIM of $vmi, caught in Running at 1 MiB/s"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
code=$(post_vmim slow "$vmi")
e2e_check "POST slow answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "slow is Running with data moving" wait_running slow 30
e2e_note "progress: $(vmim_field slow .status.progress | jq -c .)"
e2e_note "host-b holds it: $(lab_dom_state host-b "$vmi")"
e2e_check "$vmi still runs on host-a and runs nowhere else" runs_only_on "$vmi" host-a

e2e_step "DELETE the VMIM mid-flight"
code=$(delete_vmim slow)
e2e_check "DELETE slow is accepted (got $code: $(head -c 200 "$work/delete.out"))" [ "$code" = 200 -o "$code" = 202 ]
phase=$(wait_vmim slow 30) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
lab_api_get "$vmims/slow" | jq -c .status
e2e_check "slow ended Failed (got $phase)" [ "$phase" = Failed ]
e2e_check "its abortStatus is Succeeded" \
    [ "$(vmim_field slow .status.migrationState.abortStatus)" = Succeeded ]
e2e_check "its migrationState says failed" \
    [ "$(vmim_field slow .status.migrationState.failed)" = true ]
e2e_check "the VMIM record stays" vmim_field slow .metadata.name
released() { # JOURNAL: within 10 s the release job there ends Succeeded
    local _
    for _ in $(seq 100); do
        [ "$(jq -r '.job.state // empty' "$1" 2>/dev/null)" = Succeeded ] && return 0
        sleep 0.1
    done
    return 1
}
rel=$(lab_host_dir host-b)/agent/jobs/$(vmim_field slow .metadata.uid)-release.json
e2e_check "host-b's migrator released the prepare ($(basename "$rel"))" \
    released "$rel"
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-a "$before"
e2e_check "VMI $vmi's nodeName is still host-a" wait_nodename "$vmi" host-a 1
