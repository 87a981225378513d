#!/bin/bash
# orchestratord-killed-midflight: a VMIM of the running guest is caught in
# Running at 1 MiB/s and orchestratord is SIGKILLed.  The migration goes on
# without it (the source migrator's job).  Restarted, orchestratord finds
# the job by its id (asks, never submits it again) and the record stays
# Running with no OutcomeUnknown.  Killed a second time, the migration is
# let go at full speed and ends while orchestratord is down; restarted
# again, the record reaches the real outcome: Succeeded, the VMI on host-b,
# the guest there and only there, answering pings, its counter never
# restarted.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.60
export LAB_ORCHD_MIGRATIONS='bandwidth_per_migration = "1Mi";'
mig_setup host-a host-b
# shellcheck source=tests/e2e/restartlib.sh
. "$ORCH_TOP/tests/e2e/restartlib.sh"
guest_up host-a "$vmi" "$addr"
before=$(lab_console_last "$vmi")

e2e_step "a VMIM of $vmi, caught in Running at 1 MiB/s"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
code=$(post_vmim mig "$vmi")
e2e_check "POST mig answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "mig is Running with data moving" wait_running mig 30
uid=$(vmim_field mig .metadata.uid)
job=$uid-migrate

e2e_step "SIGKILL orchestratord mid-flight"
orchd_kill
e2e_check "the migrate job runs on without orchestratord" \
    rs_wait_job host-a "$job" '.state == "Running"' 5
e2e_check "$vmi still runs on host-a and runs nowhere else" runs_only_on "$vmi" host-a

e2e_step "restart orchestratord while the migration runs"
orchd_restart
sleep 3
e2e_check "mig is still Running (got $(vmim_field mig .status.phase))" \
    [ "$(vmim_field mig .status.phase)" = Running ]
e2e_check "with no OutcomeUnknown (got '$(rs_outcome_condition mig)')" \
    [ -z "$(rs_outcome_condition mig)" ]
e2e_check "host-a has one migrate job for mig (got $(rs_jobs_of host-a "$uid" migrate))" \
    [ "$(rs_jobs_of host-a "$uid" migrate)" = 1 ]
e2e_check "host-b has one prepare job for mig (got $(rs_jobs_of host-b "$uid" prepare))" \
    [ "$(rs_jobs_of host-b "$uid" prepare)" = 1 ]
grep -E 'controller|resum|error' "$work/orchestratord.log" | tail -5 || true

e2e_step "SIGKILL it again; the migration ends while it is down"
orchd_kill
rs_set_speed host-a "$vmi" 1000
e2e_check "the migrate job Succeeded without orchestratord" \
    rs_wait_job host-a "$job" '.state == "Succeeded"' 60
stored=$(sqlite3 "$work/orch.db" "select phase from migrations where name = 'mig'" 2>&1 || true)
e2e_check "mig's stored record still says Running (got '$stored')" [ "$stored" = Running ]

e2e_step "restart orchestratord: the record reaches the real outcome"
orchd_restart
phase=$(wait_vmim mig 30) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
lab_api_get "$vmims/mig" | jq -c .status
e2e_check "mig ended Succeeded (got $phase)" [ "$phase" = Succeeded ]
e2e_check "its migrationState says completed" \
    [ "$(vmim_field mig .status.migrationState.completed)" = true ]
e2e_check "with no OutcomeUnknown (got '$(rs_outcome_condition mig)')" \
    [ -z "$(rs_outcome_condition mig)" ]
e2e_check "host-a still has one migrate job for mig" \
    [ "$(rs_jobs_of host-a "$uid" migrate)" = 1 ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-b "$before"
e2e_check "VMI $vmi's nodeName is host-b" wait_nodename "$vmi" host-b 10
