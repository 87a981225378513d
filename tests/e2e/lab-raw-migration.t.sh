#!/bin/bash
# lab-raw-migration: the lab itself, with no project code.  Two hosts; the
# test guest started on host-a with plain libvirt, pinged from the root
# namespace, migrated live peer-to-peer to host-b with plain virsh while being
# pinged every 10 ms, pinged again; it must run on host-b only, and its own
# console counter must keep rising without ever starting over.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"

dom=e2e-raw
addr=198.18.0.50

e2e_lab 2
e2e_step "build the test guest"
lab_guest_build 2>&1

e2e_step "start $dom ($addr) on host-a"
lab_guest_start host-a "$dom" "$addr"
e2e_check "$dom is running on host-a" [ "$(lab_dom_state host-a "$dom")" = running ]
e2e_check "$dom answers ping before the migration" lab_wait_ping "$addr" 60
e2e_check "the console counter rises on host-a" lab_wait_counter "$dom" 2 30
http=$(curl -s --max-time 5 "http://$addr/counter" || true)
e2e_check "the guest serves its counter over TCP (got '$http')" \
    test -n "$http" -a "$http" -ge 1
before=$(lab_console_last "$dom")

e2e_step "migrate $dom host-a -> host-b (virsh migrate --live --p2p)"
lab_migrate_raw host-a host-b "$dom" "$addr" || e2e_fail "virsh migrate failed"
echo "migration: ${LAB_MIG_SECONDS} s for virsh migrate," \
    "libvirt job ${LAB_MIG_ELAPSED_MS:-?} ms, downtime ${LAB_MIG_DOWNTIME_MS:-?} ms," \
    "pings lost ${LAB_MIG_PINGS_LOST} of ${LAB_MIG_PINGS_SENT} (every 10 ms)"

e2e_step "check the result"
e2e_check "$dom is running on host-b" [ "$(lab_dom_state host-b "$dom")" = running ]
e2e_check "host-a no longer knows $dom" [ -z "$(lab_dom_state host-a "$dom")" ]
e2e_check "no QEMU left on host-a" [ -z "$(lab_host_qemu_pids host-a)" ]
e2e_check "one QEMU on host-b" [ "$(lab_host_qemu_pids host-b | wc -l)" -eq 1 ]
e2e_check "the pings ran during the migration" [ "$LAB_MIG_PINGS_SENT" -gt 50 ]
e2e_check "fewer than 300 pings (3 s) lost" [ "$LAB_MIG_PINGS_LOST" -lt 300 ]
e2e_check "$dom answers ping after the migration" lab_ping "$addr" 3
after=$(lab_console_last "$dom")
e2e_check "the console counter rises on host-b (past $after)" \
    lab_wait_counter "$dom" "$((after + 1))" 30
e2e_check "the counter went on from $before, never starting over" lab_console_monotonic "$dom"
e2e_check "the guest booted once" \
    [ "$(grep -c orch-ready "$(lab_guest_console "$dom")")" -eq 1 ]
e2e_note "counter: $before before the migration, $(lab_console_last "$dom") now"
