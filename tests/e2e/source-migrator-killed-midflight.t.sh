#!/bin/bash
# source-migrator-killed-midflight: orchestratord caps the migration at
# 1 MiB/s; once the VMIM is Running with data moving, the source host's
# migrator (libvirt's client) is SIGKILLed.  libvirtd carries the
# peer-to-peer migration on without it (its job keeps moving data); the
# restarted migrator reads its journal back and re-attaches to the job
# (Running, "reattached": true, progress from libvirt), the migration is
# let go at full speed, and the VMIM reaches the real outcome: Succeeded,
# the guest on host-b and only there, answering pings, its counter never
# restarted.  Then back to host-a, and this time the migration ends while
# host-b's migrator is down: the restarted migrator finds the outcome from
# where the domain runs (gone from host-b, running on host-a): Succeeded.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/faultlib.sh
. "$ORCH_TOP/tests/e2e/faultlib.sh"

vmi=vmi-fedora
addr=198.18.0.55
export LAB_ORCHD_MIGRATIONS='bandwidth_per_migration = "1Mi";'
mig_setup host-a host-b
fault_init host-a host-b
guest_up host-a "$vmi" "$addr"
before=$(lab_console_last "$vmi")

e2e_step "a VMIM of $vmi, caught in Running at 1 MiB/s"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
code=$(post_vmim mig "$vmi")
e2e_check "POST mig answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "mig is Running with data moving" wait_running mig 30
job=$(vmim_field mig .metadata.uid)-migrate

e2e_step "SIGKILL host-a's migrator mid-flight"
kill_migrator host-a
d1=$(libvirt_processed host-a "$vmi")
sleep 2
d2=$(libvirt_processed host-a "$vmi")
e2e_note "libvirt on host-a without its client: job $(libvirt_job host-a "$vmi"), data processed $d1 -> $d2 bytes"
e2e_check "libvirtd carries the migration on (job $(libvirt_job host-a "$vmi"))" \
    [ "$(libvirt_job host-a "$vmi")" = Unbounded ]
e2e_check "and keeps moving data ($d1 -> $d2)" [ "${d2:-0}" -gt "${d1:-0}" ]
e2e_check "$vmi still runs on host-a and runs nowhere else" runs_only_on "$vmi" host-a

e2e_step "restart host-a's migrator: it re-attaches to libvirt's job"
restart_migrator host-a
e2e_check "job $job is Running and reattached" \
    wait_agent_job host-a "$job" '.state == "Running" and .reattached == true' 15
e2e_check "its progress comes from libvirt" \
    wait_agent_job host-a "$job" '.progress.dataProcessed > 0' 5
agent_job host-a "$job" | jq -c '{state, reattached, progress}'
e2e_check "the VMIM is still Running" [ "$(vmim_field mig .status.phase)" = Running ]

e2e_step "let the migration go at full speed"
set_speed host-a "$vmi" 1000
phase=$(wait_vmim mig 60) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
lab_api_get "$vmims/mig" | jq -c .status
agent_job host-a "$job" | jq -c '{state, reattached, result, error}'
e2e_check "mig ended Succeeded (got $phase)" [ "$phase" = Succeeded ]
e2e_check "the migrate job Succeeded, reattached" \
    wait_agent_job host-a "$job" '.state == "Succeeded" and .reattached == true' 5
e2e_check "host-a's migrator logged the re-attachment" \
    grep -q "1 migrations re-attached" "$(lab_host_dir host-a)/log/migrator.log"
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-b "$before"
e2e_check "VMI $vmi's nodeName is host-b" wait_nodename "$vmi" host-b 10

e2e_step "back to host-a: host-b's migrator is SIGKILLed and the migration ends while it is down"
before=$(lab_console_last "$vmi")
ping -n -i 0.05 -W 1 "$addr" >"$work/ping2" 2>&1 &
ping_pid=$!
code=$(post_vmim back "$vmi")
e2e_check "POST back answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "back is Running with data moving" wait_running back 30
job=$(vmim_field back .metadata.uid)-migrate
kill_migrator host-b
set_speed host-b "$vmi" 1000
gone_from_b() { [ -z "$(lab_dom_state host-b "$vmi")" ]; }
settle() { # CMD... within 30 s
    local _
    for _ in $(seq 60); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}
e2e_check "libvirt finishes it without the migrator: $vmi gone from host-b" settle gone_from_b
e2e_check "$vmi runs on host-a" [ "$(lab_dom_state host-a "$vmi")" = running ]
e2e_check "the VMIM does not know yet: still Running" [ "$(vmim_field back .status.phase)" = Running ]
restart_migrator host-b
phase=$(wait_vmim back 60) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
lab_api_get "$vmims/back" | jq -c .status
agent_job host-b "$job" | jq -c '{state, reattached, result, error}'
e2e_check "back ended Succeeded (got $phase), from where the domain runs" [ "$phase" = Succeeded ]
e2e_check "host-b's migrate job Succeeded, reattached" \
    wait_agent_job host-b "$job" '.state == "Succeeded" and .reattached == true' 5
e2e_note "pings: $(grep 'packets transmitted' "$work/ping2" || true)"
check_guest "$vmi" "$addr" host-a "$before"
e2e_check "VMI $vmi's nodeName is host-a" wait_nodename "$vmi" host-a 10
lab_status
