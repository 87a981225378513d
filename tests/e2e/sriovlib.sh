# shellcheck shell=bash
# Sourced by the sriov-vm-* scenarios (after lib.sh, miglib.sh and
# vmlib.sh): two hosts with stand-in VFs (scripts/lablib.sh
# lab_sriov_standin: veth "VFs" whose peers are in br0, the PF/VF topology
# from a fixture sysfs tree per host), migrators configured for VMs from
# manifests plus the macvtap network "sriov-net1" on PF ens1f0, and helpers
# that read the VFs from the node records.
#
# host-a's VF netdevs are ens1f0v0.., host-b's enp134s0f0v0..: the same PF
# name (how a VF is matched) with other netdev names, so a migration that
# did not retarget its destination XML to the target's VF would fail.

# (vmlib.sh, sourced first, sets vm_state and vm_images; miglib.sh work.)
# shellcheck disable=SC2154

# The migrator's configuration on HOST: vmlib's and the SR-IOV settings.
# SRIOV_MIGRATION (unset: the default, in place) is sriov-net1's
# "migration": "unplug" or "in-place".
sriov_conf() { # HOST
    cat <<CONF
image_dir = "$vm_images";
domain_type = "qemu";
sysfs_root = "$(lab_sriov_root "$1")";
sriov_program_vfs = false;
networks = ( { name = "lab-net"; bridge = "br0"; },
  { name = "sriov-net1"; pf = "ens1f0"; mode = "macvtap";${SRIOV_MIGRATION:+ migration = \"$SRIOV_MIGRATION\";} } );
CONF
}

# sriov_setup NVFS-A NVFS-B: a fresh 2-host lab, the stand-in VFs,
# orchestratord and both migrators Ready with ens1f0 reported.
sriov_setup() {
    local h _
    e2e_lab 2
    e2e_step "build the test guest"
    lab_guest_build 2>&1
    rm -rf "$work"
    mkdir -p "$work"
    e2e_step "stand-in VFs: host-a ens1f0 x$1 (ens1f0vN), host-b ens1f0 x$2 (enp134s0f0vN)"
    lab_sriov_standin host-a ens1f0 "$1"
    lab_sriov_standin host-b ens1f0 "$2" enp134s0f0v
    e2e_step "orchestratord and the migrators"
    lab_orchd_conf "$work" host-a host-b
    lab_orchd_start "$work" || e2e_fail "orchestratord does not start"
    e2e_pids+=("$LAB_STARTED_PID")
    for h in host-a host-b; do
        LAB_MIGRATOR_CONF=$(sriov_conf "$h") lab_migrator_start "$h" 2
        e2e_pids+=("$LAB_STARTED_PID")
    done
    for h in host-a host-b; do
        for _ in $(seq 150); do
            [ "$(field "/api/v1/nodes/$h" '.status.conditions[]? | select(.type == "Ready") | .status')" = True ] &&
                [ "$(pf "$h" ens1f0 .name)" = ens1f0 ] && break
            sleep 0.1
        done
        [ "$(pf "$h" ens1f0 .name)" = ens1f0 ] || {
            tail -n 20 "$(lab_host_dir "$h")/log/migrator.log"
            e2e_fail "$h does not report PF ens1f0"
        }
    done
}

# pf HOST PF JQ: JQ on HOST's status.sriov.pfs entry PF.
pf() {
    lab_api_get "/api/v1/nodes/$1" 2>/dev/null |
        jq -r --arg pf "$2" ".status.sriov.pfs[]? | select(.name == \$pf) | $3" 2>/dev/null || true
}
# wait_pf SECONDS HOST PF JQ WANT: until pf HOST PF JQ prints WANT.
wait_pf() {
    local _
    for _ in $(seq $(($1 * 10))); do
        [ "$(pf "$2" "$3" "$4")" = "$5" ] && return 0
        sleep 0.1
    done
    echo "pf $2 $3 '$4': '$(pf "$2" "$3" "$4")', not '$5'"
    return 1
}
# vf_of HOST DOMAIN: the netdevs of HOST's ens1f0 VFs DOMAIN uses, by commas.
vf_of() { pf "$1" ens1f0 "[.vfs[] | select(.usedBy == \"$2\") | .netdev] | join(\",\")"; }

# sriov_vm_yaml NAME ADDR MAC: vm_yaml (the seed's shape for the lab) with
# the seed's SR-IOV interface: "sriov-net1", bound with sriov on the multus
# network sriov-net1, the static MAC and address as before.
sriov_vm_yaml() {
    vm_yaml "$@" | sed -E -e 's/lab-net([^a-z]|$)/sriov-net1\1/g' -e 's/bridge: \{\}/sriov: {}/'
}

# The other lab host.
other_host() { if [ "$1" = host-a ]; then echo host-b; else echo host-a; fi; }

# sriov_vm_up NAME ADDR MAC: POST the SR-IOV VM (sriov_vm_yaml) and check
# that it runs with a stand-in VF of ens1f0 as a macvtap passthrough and
# answers at ADDR.  Sets from (its host), to (the other), from_vf and
# to_vf (each host's first VF netdev: the one a VM takes on a host whose
# VFs are all free).
# shellcheck disable=SC2034 # from, to, from_vf, to_vf: for the scenario
sriov_vm_up() {
    local code
    sriov_vm_yaml "$1" "$2" "$3" >"$work/vm.yaml"
    e2e_step "POST the SR-IOV VirtualMachine $1"
    code=$(post_vm "$work/vm.yaml")
    e2e_check "POST answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
    from=$(wait_vmi_running "$1" 120) || e2e_fail "VMI $1 is not Running"
    to=$(other_host "$from")
    if [ "$from" = host-a ]; then from_vf=ens1f0v0 to_vf=enp134s0f0v0; else from_vf=enp134s0f0v0 to_vf=ens1f0v0; fi
    e2e_check "default_$1's interface is a macvtap passthrough on $from_vf" \
        sriov_iface_on "$from" "default_$1" "$from_vf"
    e2e_check "the guest configured lab0 from its seed on $from" \
        wait_console "$from" "default_$1" "orch-net lab0 $2/15 $3" 60
    e2e_check "$1 answers at $2 through the VF" lab_wait_ping "$2" 30
    e2e_check "$from's VF $from_vf is in use by default_$1" wait_pf 15 "$from" ens1f0 \
        "[.vfs[] | select(.usedBy == \"default_$1\") | .netdev] | join(\",\")" "$from_vf"
}

# sriov_migrator_restart HOST: SIGKILL HOST's migrator (sriov_setup started
# host-a's second, host-b's third) and start it again; returns once the node
# record carries the new run's boot id (until then it shows the old run's
# VFs).
sriov_migrator_restart() {
    local i _ b boot0
    if [ "$1" = host-a ]; then i=1; else i=2; fi
    boot0=$(field "/api/v1/nodes/$1" '.metadata.annotations["orchestrator.io/agent-boot-id"]')
    kill -KILL "${e2e_pids[$i]}"
    wait "${e2e_pids[$i]}" 2>/dev/null || true
    LAB_MIGRATOR_CONF=$(sriov_conf "$1") lab_migrator_start "$1" 2
    e2e_pids[i]=$LAB_STARTED_PID
    for _ in $(seq 150); do
        b=$(field "/api/v1/nodes/$1" '.metadata.annotations["orchestrator.io/agent-boot-id"]')
        [ -n "$b" ] && [ "$b" != "$boot0" ] && return 0
        sleep 0.1
    done
    echo "$1's boot id is still $boot0"
    return 1
}

# sriov_iface_on HOST DOMAIN NETDEV: DOMAIN's XML on HOST has a direct
# passthrough interface on NETDEV. The XML is read whole first: under
# pipefail, grep -q leaving early can kill virsh with SIGPIPE mid-write and
# fail the check although the interface is there (seen once in CI).
sriov_iface_on() {
    local xml
    xml=$(virsh -c "$(lab_host_uri "$1")" dumpxml "$2") || return
    grep -q "<source dev='$3' mode='passthrough'/>" <<<"$xml" && return
    echo "$2 on $1 has these interfaces:" >&2
    sed -n '/<interface/,/<\/interface>/p' <<<"$xml" >&2
    return 1
}

# console_counter HOST DOMAIN: the guest's last counter in its console there.
console_counter() {
    sed -n 's/.*orch-counter \([0-9]*\).*/\1/p' "$(vm_console "$1" "$2")" | tail -1
}
# wait_counter_past HOST DOMAIN N SECONDS: until the guest's counter in its
# console on HOST is past N (a console there may begin later than N + 1,
# after a slow migration).
wait_counter_past() {
    local _
    for _ in $(seq $(($4 * 4))); do
        [ "$(console_counter "$1" "$2" 2>/dev/null)" -gt "$3" ] 2>/dev/null && return 0
        sleep 0.25
    done
    echo "$2's counter on $1 is '$(console_counter "$1" "$2" 2>/dev/null)', not past $3"
    return 1
}

# squat_vf HOST NETDEV N: a paused guest (no disk, nothing to boot) holding
# NETDEV with a macvtap passthrough interface: a VF in use by someone else.
squat_vf() {
    local x=$work/squat-$3.xml
    cat >"$x" <<XML
<domain type='qemu'>
  <name>vf-squatter-$3</name>
  <memory unit='MiB'>16</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <interface type='direct'>
      <mac address='02:00:c6:12:00:9$3'/>
      <source dev='$2' mode='passthrough'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
XML
    virsh -q -c "$(lab_host_uri "$1")" create --paused "$x" >/dev/null
}

# sriov_diag HOST... MAC NETDEV: what the hosts' bridges and links say about
# a guest on a stand-in VF, for a failure's log.
sriov_diag() {
    local mac=${*: -2:1} nd=${*: -1} h
    for h in "${@:1:$#-2}"; do
        echo "--- $h: links"
        lab_exec "$h" ip -br link 2>&1 | grep -Ev '^(lo|vnet)' || true
        lab_exec "$h" ip -d link show "$nd" 2>&1 | head -3 || true
        echo "--- $h: br0 fdb for $mac"
        lab_exec "$h" bridge fdb show br br0 2>&1 | grep -i "$mac" || true
        lab_exec "$h" bridge link show 2>&1 | grep -E 'ens1f0p|enp' || true
        for d in macvtap0 "$nd" ens1f0p0 ens1f0v0; do
            lab_exec "$h" ip -s link show dev "$d" 2>/dev/null | sed -n '1p;4p;6p' || true
        done
    done
    echo "--- root: fdb and neighbour"
    bridge fdb show 2>&1 | grep -i "$mac" || true
    ip neigh 2>&1 | grep -i "$mac" || true
}
