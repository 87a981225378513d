#!/bin/bash
# orchestratord-disk-full: orchestratord's database lives on a small tmpfs.
# Filled to the last byte, writes are refused with a 5xx Status
# (InsufficientStorage) while reads go on and
# the guest is untouched; a VMIM is refused the same way, nothing
# half-stored.  When space returns the next write succeeds, /readyz is
# ready again, every object answered 201 before is there (also after a
# restart, and SQLite's integrity check passes), and a migration of the
# guest then runs to Succeeded.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.62
state=$ORCH_BUILD/e2e/$e2e_name.state
policies=/apis/migrations.kubevirt.io/v1alpha1/migrationpolicies
umount -l "$state" 2>/dev/null || true
# api_ok PATH: GET PATH answers 2xx (the body is not shown).
api_ok() { lab_api_get "$1" >/dev/null; }
mig_setup host-a host-b
# shellcheck source=tests/e2e/restartlib.sh
. "$ORCH_TOP/tests/e2e/restartlib.sh"
# On the way out orchestratord goes first, by SIGKILL, then the tmpfs, then
# e2e_teardown with the scenario's status.  set +e first: under lib.sh's
# set -e a failing command here (wait's 137, the (exit 1) handing on a
# failure) ended the trap before e2e_teardown, leaving orchestratord
# behind to answer the next run's health check on the lab's port.
trap 'rc=$?; set +e; kill -KILL "$orchd_pid" 2>/dev/null; wait "$orchd_pid" 2>/dev/null; umount -l "$state" 2>/dev/null; (exit $rc); e2e_teardown' EXIT

e2e_step "orchestratord's database moved onto a 4 MiB tmpfs"
orchd_kill
mkdir -p "$state"
mount -t tmpfs -o size=4m orchlab-state "$state"
cp "$work"/orch.db* "$state/"
sed -i "s|^database = .*|database = \"$state/orch.db\";|" "$work/orchestratord.conf"
orchd_restart
e2e_check "orchestratord answers on the tmpfs database" api_ok /readyz
guest_up host-a "$vmi" "$addr"
before=$(lab_console_last "$vmi")

# post_policy NAME -> HTTP code, body in $work/policy.out
post_policy() {
    curl -s -o "$work/policy.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H "Content-Type: application/json" \
        --data-binary "{\"apiVersion\":\"migrations.kubevirt.io/v1alpha1\",\"kind\":\"MigrationPolicy\",\"metadata\":{\"name\":\"$1\",\"annotations\":{\"pad\":\"$pad\"}},\"spec\":{\"selectors\":{}}}" \
        "$api$policies"
}
# Each a few KiB, so the WAL outgrows its file soon after the disk fills.
pad=$(head -c 4000 /dev/zero | tr '\0' x)
acked=()
for i in $(seq 5); do
    [ "$(post_policy "before-$i")" = 201 ] && acked+=("before-$i")
done
e2e_check "5 policies stored before the disk fills (got ${#acked[@]})" [ ${#acked[@]} = 5 ]

e2e_step "fill the tmpfs to the last byte"
dd if=/dev/zero of="$state/fill" bs=4k 2>/dev/null || true
e2e_note "$(df -h "$state" | tail -1)"
refused=
for i in $(seq 300); do
    code=$(post_policy "full-$i")
    if [ "$code" = 201 ]; then
        acked+=("full-$i") # room left in the WAL file: still stored
        continue
    fi
    refused=$code
    break
done
e2e_note "after ${#acked[@]} stored, POST full-$i answered $refused: $(head -c 300 "$work/policy.out")"
e2e_check "a write is refused with a 5xx (got ${refused:-none})" [ "${refused:-0}" -ge 500 ]
e2e_check "as a Status InsufficientStorage" \
    [ "$(jq -r '"\(.kind) \(.reason)"' "$work/policy.out")" = "Status InsufficientStorage" ]
# /readyz turns not ready on a full-disk failure and ready again on the next
# write that succeeds; a node's heartbeat may still fit in the WAL file, so
# it is shown, not checked.
e2e_note "/readyz now: $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$api/readyz")"
e2e_check "reads go on: GET the policies" api_ok "$policies"
code=$(post_vmim mig "$vmi")
e2e_note "POST mig answered $code: $(head -c 200 "$work/post.out")"
e2e_check "a VMIM is refused with a 5xx too (got $code)" [ "$code" -ge 500 ]
e2e_check "and was not stored" [ -z "$(vmim_field mig .metadata.name)" ]
e2e_check "$vmi still runs on host-a and only there" on_one_host "$vmi" host-a

e2e_step "space returns"
rm -f "$state/fill"
code=
for _ in $(seq 50); do
    code=$(post_policy after-1)
    [ "$code" = 201 ] && break
    sleep 0.2
done
e2e_check "the next write succeeds (got $code: $(head -c 200 "$work/policy.out"))" [ "$code" = 201 ]
acked+=(after-1)
e2e_check "/readyz is ready again" api_ok /readyz
have=$(lab_api_get "$policies" | jq -r '.items[].metadata.name' | sort)
missing=0
for n in "${acked[@]}"; do
    grep -qx "$n" <<<"$have" || { e2e_note "lost: $n"; missing=$((missing + 1)); }
done
e2e_check "all ${#acked[@]} policies answered 201 are there ($missing lost)" [ "$missing" = 0 ]

e2e_step "restart orchestratord: the database is whole"
kill -TERM "$orchd_pid"
wait "$orchd_pid" 2>/dev/null || true
e2e_check "orchestratord stopped on SIGTERM" sh -c "! kill -0 $orchd_pid 2>/dev/null"
ok=$(sqlite3 "$state/orch.db" 'PRAGMA integrity_check' 2>&1)
e2e_check "SQLite's integrity check passes (got '$ok')" [ "$ok" = ok ]
orchd_restart
have=$(lab_api_get "$policies" | jq -r '.items[].metadata.name' | sort)
missing=0
for n in "${acked[@]}"; do
    grep -qx "$n" <<<"$have" || missing=$((missing + 1))
done
e2e_check "all ${#acked[@]} are there after the restart ($missing lost)" [ "$missing" = 0 ]

e2e_step "a migration after the recovery"
code=$(post_vmim mig "$vmi")
e2e_check "POST mig answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim mig 60) || true
lab_api_get "$vmims/mig" | jq -c .status.migrationState
e2e_check "mig ended Succeeded (got $phase)" [ "$phase" = Succeeded ]
check_guest "$vmi" "$addr" host-b "$before"
e2e_check "VMI $vmi's nodeName is host-b" wait_nodename "$vmi" host-b 10
