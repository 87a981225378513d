#!/bin/bash
# vm-migrate-subresource: the user's two other ways to a migration, against
# the real controller.  The guest runs on host-a with a VirtualMachine record
# of its name; PUT of the VM's migrate subresource (what virtctl migrate
# calls) makes a VMIM that moves it to host-b; then scripts/cron-drain.sh
# host-b, as cron would run it (orchctl migrate --wait for each VM there),
# brings it back.  Each ends Succeeded; the guest answers pings throughout
# and runs on one host only, its console counter never restarted.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.55
sub=/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines
mig_setup host-a host-b
guest_up host-a "$vmi" "$addr"
before=$(lab_console_last "$vmi")
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!

e2e_step "a VirtualMachine $vmi for the running guest, then PUT its migrate subresource"
cat >"$work/vm.json" <<EOF
{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"$vmi"},
 "spec":{"running":true,"template":{"spec":{"domain":{"devices":{},"memory":{"guest":"192Mi"}}}}}}
EOF
code=$(curl -s -o "$work/vm.out" -w '%{http_code}' --max-time 10 -X POST \
    -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H "Content-Type: application/json" \
    --data-binary @"$work/vm.json" "$api$ns_path/virtualmachines")
e2e_check "POST of the VM answers 201 (got $code: $(head -c 200 "$work/vm.out"))" [ "$code" = 201 ]
code=$(curl -s -o "$work/migrate.out" -w '%{http_code}' --max-time 10 -X PUT \
    -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$sub/$vmi/migrate")
e2e_check "PUT .../virtualmachines/$vmi/migrate answers 202 (got $code: $(head -c 300 "$work/migrate.out"))" \
    [ "$code" = 202 ]
name=$(jq -r '.metadata.name // empty' "$work/migrate.out")
e2e_check "it made a VMIM (${name:-none}) for $vmi" \
    [ -n "$name" ] && [ "$(vmim_field "$name" .spec.vmiName)" = "$vmi" ]
phase=$(wait_vmim "$name" 60) || true
e2e_check "$name ended Succeeded (got $phase)" [ "$phase" = Succeeded ]
peer=$(field /api/v1/nodes/host-a '.metadata.annotations["orchestrator.io/libvirt-peer-uri"]')
e2e_check "host-a says where its libvirt is (libvirt-peer-uri '$peer')" \
    [ "$peer" = qemu+tcp://198.18.0.11/system ]
prep=$(lab_host_dir host-b)/agent/jobs/$(vmim_field "$name" .metadata.uid)-prepare.json
e2e_check "host-b's prepare checked the guest against that libvirt" \
    [ "$(jq -r '.request.prepare.sourceLibvirtURI // empty' "$prep")" = "$peer" ]
e2e_check "VMI $vmi's nodeName is host-b" wait_nodename "$vmi" host-b 10
e2e_check "$vmi runs on host-b and on no other host" on_one_host "$vmi" host-b
e2e_check "$vmi answers pings on host-b" lab_ping "$addr" 5

e2e_step "scripts/cron-drain.sh host-b (orchctl migrate --wait per VM)"
ORCHCTL=$ORCH_BUILD/bin/orchctl sh "$ORCH_TOP/scripts/cron-drain.sh" host-b 2m \
    >"$work/drain.out" 2>&1
rc=$?
sed 's/^/# /' "$work/drain.out"
e2e_check "cron-drain.sh exits 0 (got $rc)" [ "$rc" = 0 ]
e2e_check "it says 1 moved, 0 failed" grep -q 'host-b: 1 moved, 0 failed' "$work/drain.out"
e2e_check "VMI $vmi's nodeName is host-a again" wait_nodename "$vmi" host-a 10
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
e2e_note "pings across both moves: $(grep 'packets transmitted' "$work/ping" || true)"
check_guest "$vmi" "$addr" host-a "$before"
