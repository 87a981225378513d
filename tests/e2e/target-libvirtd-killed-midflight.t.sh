#!/bin/bash
# target-libvirtd-killed-midflight: orchestratord caps the migration at
# 1 MiB/s; once the VMIM is Running with data moving, the target host's
# libvirtd is SIGKILLed.  The source libvirtd loses its connection to the
# destination and fails the migration; the source migrator's job ends
# Failed and so does the VMIM, with a reason, while the guest goes on
# running on host-a, answering pings, its counter never restarted.  Once
# host-b's libvirtd is back, it has not kept the half-migrated guest: the
# domain runs on host-a only and no QEMU is left on host-b.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/faultlib.sh
. "$ORCH_TOP/tests/e2e/faultlib.sh"

vmi=vmi-fedora
addr=198.18.0.57
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

e2e_step "SIGKILL host-b's libvirtd mid-flight"
t0=$(date +%s)
e2e_check "host-b's libvirtd is killed" kill_libvirtd host-b
phase=$(wait_vmim mig 60) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
e2e_note "mig ended $(($(date +%s) - t0)) s after the kill"
lab_api_get "$vmims/mig" | jq -c .status
agent_job host-a "$uid-migrate" | jq -c '{state, error}'
e2e_note "libvirt on host-a: job $(libvirt_job host-a "$vmi")"
e2e_check "mig ended Failed (got $phase)" [ "$phase" = Failed ]
reason=$(vmim_field mig .status.migrationState.failureReason)
e2e_check "its failureReason says why (got '$reason')" [ -n "$reason" ]
e2e_check "the source's migrate job Failed with MigrationFailed" \
    wait_agent_job host-a "$uid-migrate" '.state == "Failed" and .error.reason == "MigrationFailed"' 5
e2e_note "QEMU left on host-b while its libvirtd is down: $(lab_host_qemu_pids host-b | tr '\n' ' ')"

e2e_step "host-b's libvirtd back"
lab_libvirtd_start host-b
lab_libvirtd_wait host-b 30
no_qemu_on_b() { [ -z "$(lab_host_qemu_pids host-b)" ]; }
settle() { # CMD... within 15 s
    local _
    for _ in $(seq 30); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}
e2e_note "host-b's libvirtd says: $(virsh -q -c "$(lab_host_uri host-b)" list --all 2>&1 | tr '\n' ' ')"
e2e_check "no QEMU is left on host-b" settle no_qemu_on_b
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-a "$before"
e2e_check "VMI $vmi's nodeName is still host-a" wait_nodename "$vmi" host-a 1
lab_status
