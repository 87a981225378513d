#!/bin/bash
# second-vmim-conflict: while a migration of the guest is in flight (capped
# at 1 MiB/s by orchestratord's migrations group), a second VMIM for the same
# VMI is refused with 409 and KubeVirt's "in-flight migration detected"
# message, and is not stored; the first is then cancelled cleanly (Failed,
# abortStatus Succeeded) and the guest stays on host-a only, answering
# pings, its counter never restarted.
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

e2e_step "a first VMIM of $vmi, in flight at 1 MiB/s"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
code=$(post_vmim first "$vmi")
e2e_check "POST first answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
e2e_check "first is Running with data moving" wait_running first 30

e2e_step "a second VMIM for the same VMI"
code=$(post_vmim second "$vmi")
e2e_note "second: $code $(head -c 400 "$work/post.out")"
e2e_check "POST second answers 409 (got $code)" [ "$code" = 409 ]
e2e_check "its message is KubeVirt's in-flight one naming first" \
    jq -e '(.message | test("in-flight migration detected")) and (.message | test("first")) and .code == 409 and .kind == "Status"' "$work/post.out"
e2e_check "second was not stored" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$vmims/second")" = 404 ]
e2e_check "first is still in flight" [ "$(vmim_field first .status.phase)" = Running ]
e2e_check "$vmi still runs on host-a and runs nowhere else" runs_only_on "$vmi" host-a

e2e_step "cancel the first"
code=$(delete_vmim first)
e2e_check "DELETE first is accepted (got $code)" [ "$code" = 200 -o "$code" = 202 ]
phase=$(wait_vmim first 30) || true
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
e2e_note "first: $(vmim_field first .status.migrationState | jq -c '{abortStatus, failureReason}')"
e2e_check "first ended Failed (got $phase)" [ "$phase" = Failed ]
e2e_check "first's abortStatus is Succeeded" \
    [ "$(vmim_field first .status.migrationState.abortStatus)" = Succeeded ]
e2e_note "pings: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-a "$before"
e2e_check "VMI $vmi's nodeName is still host-a" wait_nodename "$vmi" host-a 1
