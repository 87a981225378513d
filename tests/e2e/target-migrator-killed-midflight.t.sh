#!/bin/bash
# target-migrator-killed-midflight: orchestratord caps the migration at
# 1 MiB/s; once the VMIM is Running with data moving, the target host's
# migrator is SIGKILLed.  A peer-to-peer migration runs between the two
# libvirtds and QEMUs, so nothing of it depends on the target's migrator:
# the migration goes on; the restarted migrator serves its prepare job as
# it ended (from its journal), and the VMIM Succeeds with the guest on
# host-b and only there, answering pings, its counter never restarted.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/faultlib.sh
. "$ORCH_TOP/tests/e2e/faultlib.sh"

vmi=vmi-fedora
addr=198.18.0.56
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
uid=$(vmim_field mig .metadata.uid)
e2e_check "host-b's prepare job Succeeded" \
    wait_agent_job host-b "$uid-prepare" '.state == "Succeeded"' 5

e2e_step "SIGKILL host-b's migrator mid-flight"
e2e_note "host-b's migrator: pid ${mig_pid[host-b]} ($(cat "/proc/${mig_pid[host-b]}/comm"))"
kill_migrator host-b
d1=$(libvirt_processed host-a "$vmi")
sleep 2
d2=$(libvirt_processed host-a "$vmi")
e2e_note "libvirt on host-a: job $(libvirt_job host-a "$vmi"), data processed $d1 -> $d2 bytes"
e2e_check "the migration goes on ($d1 -> $d2 bytes)" [ "${d2:-0}" -gt "${d1:-0}" ]
e2e_check "the VMIM is still Running" [ "$(vmim_field mig .status.phase)" = Running ]

e2e_step "restart host-b's migrator"
restart_migrator host-b
e2e_check "host-b's prepare job is served as it ended, from the journal" \
    wait_agent_job host-b "$uid-prepare" '.state == "Succeeded" and .result.port > 0' 15
logged() {
    local _
    for _ in $(seq 50); do
        grep -q "jobs: journal read: 1 finished" "$(lab_host_dir host-b)/log/migrator.log" && return 0
        sleep 0.1
    done
    return 1
}
e2e_check "host-b's migrator logged the journal it read" logged

e2e_step "let the migration go at full speed"
set_speed host-a "$vmi" 1000
phase=$(wait_vmim mig 60) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
lab_api_get "$vmims/mig" | jq -c .status
e2e_check "mig ended Succeeded (got $phase)" [ "$phase" = Succeeded ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-b "$before"
e2e_check "VMI $vmi's nodeName is host-b" wait_nodename "$vmi" host-b 10
lab_status
