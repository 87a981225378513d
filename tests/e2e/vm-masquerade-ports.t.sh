#!/bin/bash
# vm-masquerade-ports: a VM on the pod network with a masquerade binding and
# `ports` gets them forwarded from its host's address to the guest, as
# KubeVirt forwards them from the pod's (migrator/podnat.h).  The guest asks
# DHCP for its address on the host's NAT network (no network-config: the
# lab guest's cloud-init fallback) and gets the one the migrator reserved
# for its MAC; an HTTP GET of the host's address, port 80, reaches the
# guest's own web server.  Migrated, the forward moves with it: the target's
# address answers, with the guest's counter gone on (the same guest), and
# the source keeps no rule of it.  (That 49152/49153 are never forwarded is
# checked by vm-not-migratable-reasons: a VM listing them cannot migrate.)
# The VM also has a containerDisk, which the guest writes every second
# (orch.disk=vda: it reads back what the previous second wrote, and says
# "orch-disk-broken" when that is not there): the writes made on the source
# are on the target's copy after the migration (a block migration of the
# overlay), and no tick on either host found its disk behind.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"
# shellcheck source=tests/e2e/vmlib.sh
. "$ORCH_TOP/tests/e2e/vmlib.sh"

vm_need_nat_tools

name=vm-web
dom=default_$name
mac=02:00:c6:12:00:61

# counter_at ADDR: the guest's counter through ADDR:80, or nothing.
counter_at() {
    curl -sf --max-time 2 "http://$1:80/counter" 2>/dev/null || true
}
# wait_counter_at ADDR SECONDS: until ADDR:80 answers with a counter.
wait_counter_at() {
    local _ c
    for _ in $(seq "$2"); do
        c=$(counter_at "$1")
        [ -n "$c" ] && { echo "$c"; return 0; }
        sleep 1
    done
    return 1
}
# rules_on HOST [PATTERN]: how many of the host's iptables rules are the
# VM's (and match PATTERN).
rules_on() {
    lab_exec "$1" iptables-save 2>/dev/null | grep "orch-pod:$dom" |
        grep -c -e "${2:-.}" || true
}
# wait_no_rules HOST SECONDS
wait_no_rules() {
    local _
    for _ in $(seq $(($2 * 4))); do
        [ "$(rules_on "$1")" = 0 ] && return 0
        sleep 0.25
    done
    return 1
}

mig_setup host-a host-b
vm_image_make

e2e_step "POST a VM with a masquerade interface forwarding 80"
jq -nc --arg n "$name" --arg mac "$mac" \
    --arg k "$LAB_GUEST_DIR/vmlinuz" --arg i "$LAB_GUEST_DIR/initrd.gz" '{
  apiVersion: "kubevirt.io/v1", kind: "VirtualMachine", metadata: {name: $n},
  spec: {running: true, template: {spec: {
    domain: {cpu: {cores: 1},
      firmware: {kernelBoot: {kernelArgs: "console=ttyS0 panic=-1 loglevel=4 orch.disk=vda",
        container: {image: "lab/guest:latest", kernelPath: $k, initrdPath: $i}}},
      devices: {disks: [{name: "containerdisk", disk: {bus: "virtio"}}],
        interfaces: [{name: "default", masquerade: {}, macAddress: $mac,
        ports: [{name: "http", port: 80}]}]},
      resources: {requests: {memory: "192Mi"}}},
    networks: [{name: "default", pod: {}}],
    volumes: [{name: "containerdisk", containerDisk: {image: "lab/guest-disk:1"}}]}}}}' >"$work/vm.json"
code=$(post_vm "$work/vm.json")
e2e_check "POST answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
src=$(wait_vmi_running "$name" 60) || e2e_fail "VMI $name is not Running"
dst=host-a
[ "$src" != host-a ] || dst=host-b
e2e_note "VMI $name runs on $src"
read -r rmac addr <"$(vm_dir "$src" "$dom")/podnat" || true
e2e_check "the migrator reserved an address for the VM's MAC ($rmac)" [ "$rmac" = "$mac" ]
e2e_check "on its NAT network ($addr)" [ "${addr%.*}" = 10.0.2 ]
e2e_check "the guest got $addr by DHCP" wait_console "$src" "$dom" "orch-dhcp eth0 $addr/24" 40

e2e_step "port 80 of $src's address reaches the guest"
c1=$(wait_counter_at "$(lab_host_addr "$src")" 30) || c1=
e2e_check "GET http://$(lab_host_addr "$src"):80/counter answers the guest's counter (got '$c1')" \
    [ -n "$c1" ]
e2e_check "$dst's address does not ($(counter_at "$(lab_host_addr "$dst")"))" \
    [ -z "$(counter_at "$(lab_host_addr "$dst")")" ]
n=$(rules_on "$src")
e2e_check "$src has the VM's rules: 2 DNAT and 1 FORWARD for port 80 (got $n)" [ "$n" = 3 ]

e2e_check "the guest writes its disk on $src" wait_console "$src" "$dom" "^orch-disk [0-9]+" 20

e2e_step "migrate $name to $dst: the forward moves with it, and the disk's writes"
cp "$(vm_console "$src" "$dom")" "$work/src-console.log"
code=$(post_vmim mig-web "$name")
e2e_check "the VMIM is admitted (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
phase=$(wait_vmim mig-web 60) || true
e2e_check "mig-web ended Succeeded (got $phase: $(vmim_field mig-web .status.migrationState.failureReason))" \
    [ "$phase" = Succeeded ]
e2e_check "$dom runs on $dst only" on_one_host "$dom" "$dst"
c2=$(wait_counter_at "$(lab_host_addr "$dst")" 30) || c2=
e2e_check "GET http://$(lab_host_addr "$dst"):80/counter answers (got '$c2')" [ -n "$c2" ]
e2e_check "with the same guest's counter, gone on ($c1 -> $c2)" [ "${c2:-0}" -gt "${c1:-0}" ]
e2e_check "$src keeps no rule of $dom" wait_no_rules "$src" 10
e2e_check "$src's address no longer answers on 80" [ -z "$(counter_at "$(lab_host_addr "$src")")" ]
e2e_check "the guest writes its disk on $dst" wait_console "$dst" "$dom" "^orch-disk [0-9]+" 20
e2e_check "and read back there what it wrote on $src (no orch-disk-broken)" \
    sh -c "! grep -h orch-disk-broken '$(vm_console "$dst" "$dom")' '$work/src-console.log'"

e2e_step "DELETE the VM: its rules go with it"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE \
    -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$vms/$name")
e2e_check "DELETE answers 200 (got $code)" [ "$code" = 200 ]
e2e_check "$dom is gone from every host" wait_gone "$dom" 60
e2e_check "$dst keeps no rule of $dom" wait_no_rules "$dst" 10
