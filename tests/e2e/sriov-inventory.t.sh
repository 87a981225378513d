#!/bin/bash
# sriov-inventory: the SR-IOV inventory of real migrators on stand-in VFs
# (scripts/lablib.sh lab_sriov_standin: veth "VFs" under a dummy PF, the
# topology from a fixture sysfs tree per host).  host-a has PF ens1f0 with 4
# VFs (ens1f0v0..3), host-b the same PF name with 2 VFs whose netdevs are
# named otherwise (enp134s0f0v0..1) and no ens2f0, which its config names.
# A guest on host-a with a macvtap passthrough interface on ens1f0v1 makes
# that VF in use.  Checked through orchestratord's node records
# (status.sriov.pfs, status.sriovNetworks) and `orchctl describe node`: the
# VFs with PCI address and netdev, the one in use named with its domain,
# the free counts, the missing PF said; destroying the guest frees the VF.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"

dom=sriov-inv
addr=198.18.0.57
api=$(lab_orchd_url)
interval=2
orchctl=$ORCH_BUILD/bin/orchctl
export ORCH_SERVER=$api ORCH_TOKEN=$LAB_ADMIN_TOKEN

get() { curl -sf --max-time 5 -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$1"; }
node() { get "/api/v1/nodes/$1" 2>/dev/null || true; }
# pf HOST PF JQ: JQ on HOST's status.sriov.pfs entry PF.
pf() { node "$1" | jq -r --arg pf "$2" ".status.sriov.pfs[]? | select(.name == \$pf) | $3" 2>/dev/null || true; }
# wait_pf SECONDS HOST PF JQ WANT: until pf HOST PF JQ prints WANT.
wait_pf() {
    local i
    for i in $(seq $(($1 * 10))); do
        [ "$(pf "$2" "$3" "$4")" = "$5" ] && return 0
        sleep 0.1
    done
    return 1
}

e2e_lab 2
e2e_step "build the test guest"
lab_guest_build 2>&1

work=$ORCH_BUILD/e2e/$e2e_name.work
rm -rf "$work"
mkdir -p "$work"

e2e_step "stand-in VFs: host-a ens1f0 x4, host-b ens1f0 x2 (other netdev names)"
lab_sriov_standin host-a ens1f0 4
lab_sriov_standin host-b ens1f0 2 enp134s0f0v
e2e_check "host-a has the VF netdev ens1f0v3" lab_exec host-a ip link show ens1f0v3
e2e_check "host-b has the VF netdev enp134s0f0v1" lab_exec host-b ip link show enp134s0f0v1

e2e_step "start orchestratord and the migrators"
lab_orchd_conf "$work" host-a host-b
lab_orchd_start "$work" || e2e_fail "orchestratord does not answer /healthz"
e2e_pids+=("$LAB_STARTED_PID")
for h in host-a host-b; do
    LAB_MIGRATOR_CONF=$(lab_sriov_conf "$h" sriov-net1:ens1f0:macvtap:100 sriov-net2:ens2f0:hostdev) \
        lab_migrator_start "$h" "$interval"
    e2e_pids+=("$LAB_STARTED_PID")
done
for h in host-a host-b; do
    wait_pf 10 "$h" ens1f0 .name ens1f0 ||
        { cat "$(lab_host_dir "$h")/log/migrator.log" "$work/orchestratord.log"; e2e_fail "$h reports no PF ens1f0"; }
done
n=$(node host-a)
e2e_note "host-a status.sriov: $(jq -c .status.sriov <<<"$n")"

e2e_step "the node records"
e2e_check "host-a: ens1f0 has 4 VFs, 4 free" [ "$(pf host-a ens1f0 '"\(.vfs | length) \(.vfsFree)"')" = "4 4" ]
e2e_check "host-a: ens1f0 carries sriov-net1" [ "$(pf host-a ens1f0 '.networks | join(",")')" = sriov-net1 ]
e2e_check "host-a: VF3 is ens1f0v3 at a PCI address" \
    [ "$(pf host-a ens1f0 '.vfs[3] | "\(.netdev) \(.pci | test("^0000:[0-9a-f]{2}:02\\.3$"))"')" = "ens1f0v3 true" ]
e2e_check "host-b: ens1f0 has 2 VFs named enp134s0f0v*" \
    [ "$(pf host-b ens1f0 '[.vfs[].netdev] | join(",")')" = enp134s0f0v0,enp134s0f0v1 ]
e2e_check "the PCI addresses differ between the hosts" \
    [ "$(pf host-a ens1f0 '.vfs[0].pci')" != "$(pf host-b ens1f0 '.vfs[0].pci')" ]
e2e_check "host-b: ens2f0 is reported missing" [ "$(pf host-b ens2f0 .error)" = "no such interface" ]
e2e_check "host-b: sriov-net2 says so too" \
    [ "$(node host-b | jq -r '.status.sriovNetworks[] | select(.name == "sriov-net2") | .error')" = "no such interface" ]
e2e_check "host-a: sriov-net1 is macvtap, VLAN 100, 4 free" \
    [ "$(node host-a | jq -r '.status.sriovNetworks[] | select(.name == "sriov-net1") | "\(.mode) \(.vlan) \(.vfsFree)"')" = "macvtap 100 4" ]
e2e_check "no netlink error on the stand-in PF" [ "$(pf host-a ens1f0 '.linkError // "none"')" = none ]

e2e_step "a guest on host-a with a macvtap passthrough interface on ens1f0v1"
mkdir -p "$LAB_DIR/guests" "$LAB_DIR/console"
lab_guest_xml "$dom" "$addr" |
    sed "s|</devices>|<interface type='direct'><mac address='02:00:c6:12:00:99'/><source dev='ens1f0v1' mode='passthrough'/><model type='virtio'/></interface></devices>|" \
        >"$LAB_DIR/guests/$dom.xml"
virsh -q -c "$(lab_host_uri host-a)" create "$LAB_DIR/guests/$dom.xml" >/dev/null ||
    e2e_fail "cannot start $dom with a direct interface on ens1f0v1"
e2e_check "$dom runs on host-a" [ "$(lab_dom_state host-a "$dom")" = running ]
wait_pf 10 host-a ens1f0 '.vfs[1].usedBy' "$dom" ||
    e2e_fail "VF1 not in use by $dom: $(pf host-a ens1f0 '.vfs[1]')"
e2e_check "host-a: VF1 is in use, not reserved" \
    [ "$(pf host-a ens1f0 '.vfs[1] | "\(.inUse) \(.reserved)"')" = "true false" ]
e2e_check "host-a: 3 free, 1 in use" [ "$(pf host-a ens1f0 '"\(.vfsFree) \(.vfsInUse)"')" = "3 1" ]

e2e_step "orchctl describe node host-a"
out=$("$orchctl" describe node host-a 2>&1) || e2e_fail "orchctl describe node failed: $out"
sed -n '/^SR-IOV Networks:/,/^Non-terminated/p' <<<"$out"
e2e_check "describe lists sriov-net1 on ens1f0 with 3 free" \
    grep -Eq '^  sriov-net1 +ens1f0 +macvtap +100 +.* 3$' <<<"$out"
e2e_check "describe shows sriov-net2's error" grep -Eq '^  sriov-net2 +ens2f0 +hostdev +0 .*<error>$' <<<"$out"
e2e_check "describe counts ens1f0's VFs" grep -q '4 of 4 (1 in use, 0 reserved, 3 free)' <<<"$out"
e2e_check "describe shows VF1 in use by $dom" grep -Eq "^    1 +0000:[0-9a-f:.]+ +ens1f0v1 .* in use +$dom\$" <<<"$out"

e2e_step "destroy $dom: VF1 free again"
virsh -q -c "$(lab_host_uri host-a)" destroy "$dom" >/dev/null
wait_pf 10 host-a ens1f0 .vfsFree 4 || e2e_fail "VF1 not free after the guest went: $(pf host-a ens1f0 '.vfs[1]')"
e2e_check "host-a: VF1 has no user" [ "$(pf host-a ens1f0 '.vfs[1].usedBy')" = null ]
e2e_note "ok"
