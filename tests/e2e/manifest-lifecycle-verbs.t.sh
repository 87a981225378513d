#!/bin/bash
# manifest-lifecycle-verbs: a VirtualMachine manifest (kernel boot of the lab guest,
# bridged on the multus network lab-net = br0, a static MAC and address)
# posted with orchctl create runs on a host chosen by orchestratord; its VM
# shows Running and the guest answers pings; orchctl stop shuts it down and
# removes the domain and the VMI; orchctl start brings it back; restart
# gives a new VMI; a second create changes nothing; delete -f removes the
# domain.  Needs the migrator's start and stop jobs (migrator/vmhost.c).
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

addr=198.18.0.71
mac=$(lab_guest_mac "$addr")
vm="vm-lab"
vms=$ns_path/virtualmachines
orchctl=$ORCH_BUILD/bin/orchctl

start_migrator() { # HOST
    local h=$1 dir
    dir=$(lab_host_dir "$h")
    mkdir -p "$dir/agent" "$dir/log"
    cat >"$dir/agent/migrator.conf" <<CONF
orchestrator = "$(lab_orchd_url)";
orchestrator_token = "$(lab_node_token "$h")";
agent_token = "$LAB_AGENT_TOKEN";
state_dir = "$dir/agent";
report_interval_s = 2;
labels = [ "lab=orchlab" ];
networks = ( { name = "lab-net"; bridge = "br0"; } );
image_dir = "$dir/agent";
domain_type = "qemu";
CONF
    "$LAB_TOP/scripts/lab.sh" exec "$h" "$LAB_BUILD/bin/migrator" \
        -f "$dir/agent/migrator.conf" --name "$h" \
        --listen "$(lab_host_addr "$h"):$LAB_AGENT_PORT" --libvirt qemu:///system \
        2>>"$dir/log/migrator.log" </dev/null >/dev/null &
    e2e_pids+=("$!")
}

e2e_lab 2
e2e_step "build the test guest"
lab_guest_build 2>&1
rm -rf "$work"
mkdir -p "$work"
lab_orchd_conf "$work" host-a host-b
lab_orchd_start "$work" || e2e_fail "orchestratord does not start"
e2e_pids+=("$LAB_STARTED_PID")
start_migrator host-a
start_migrator host-b
for h in host-a host-b; do
    for _ in $(seq 150); do
        [ "$(field "/api/v1/nodes/$h" '.status.conditions[]? | select(.type == "Ready") | .status')" = True ] && break
        sleep 0.1
    done
done

cat >"$work/vm.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $vm
spec:
  running: true
  template:
    metadata:
      labels: {app: lab}
    spec:
      terminationGracePeriodSeconds: 5
      domain:
        cpu: {cores: 1}
        firmware:
          kernelBoot:
            kernelArgs: "console=ttyS0 panic=-1 loglevel=4 orch.ip=$addr/$LAB_PLEN orch.mac=$mac"
            container:
              image: lab/guest:latest
              kernelPath: $LAB_GUEST_DIR/vmlinuz
              initrdPath: $LAB_GUEST_DIR/initrd.gz
        devices:
          interfaces:
          - name: lab
            bridge: {}
            macAddress: "$mac"
        resources:
          requests:
            memory: ${LAB_GUEST_MEMORY_MIB}Mi
      networks:
      - name: lab
        multus: {networkName: lab-net}
YAML

vm_field() { field "$vms/$vm" "$1"; }
wait_vm_status() { # STATUS SECONDS
    local _ s last=
    for _ in $(seq $(($2 * 10))); do
        s=$(vm_field .status.printableStatus)
        [ "$s" != "$last" ] && { echo "$vm: $s" >&2; last=$s; }
        [ "$s" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
where() { # -> the host the domain runs on
    local h
    for h in host-a host-b; do
        if [ "$(lab_dom_state "$h" default_$vm)" = running ]; then echo "$h"; fi
    done
}

e2e_step "orchctl create -f vm.yaml"
"$orchctl" create -f "$work/vm.yaml"
e2e_check "the VM shows Running" wait_vm_status Running 60
lab_api_get "$vms/$vm" | jq -c .status
lab_api_get "$ns_path/virtualmachineinstances/$vm" | jq -c '{metadata: .metadata | {uid, ownerReferences, labels}, status: .status | {phase, nodeName}}'
host=$(where)
e2e_note "runs on: $host"
e2e_check "the domain runs on exactly one host" [ "$(echo "$host" | wc -w)" = 1 ]
e2e_check "the VMI's nodeName is that host" wait_nodename "$vm" "$host" 5
virsh -c "$(lab_host_uri "$host")" dumpxml "default_$vm" >"$work/dom.xml" || true
if ! lab_wait_ping "$addr" 60; then
    cat "$work/dom.xml"
    tail -40 "$(lab_host_dir "$host")/agent/vms/default_$vm/console.log" || true
    ls -la "$(lab_host_dir "$host")/agent/vms/default_$vm/" || true
    e2e_fail "the guest does not answer at $addr"
fi
uid1=$(field "$ns_path/virtualmachineinstances/$vm" .metadata.uid)

e2e_step "create again: AlreadyExists, nothing changes"
rc=0
"$orchctl" create -f "$work/vm.yaml" 2>"$work/create2.err" || rc=$?
cat "$work/create2.err"
e2e_check "exit 1" [ "$rc" = 1 ]
e2e_check "AlreadyExists" grep -q AlreadyExists "$work/create2.err"
e2e_check "same VMI" [ "$(field "$ns_path/virtualmachineinstances/$vm" .metadata.uid)" = "$uid1" ]

e2e_step "orchctl stop"
"$orchctl" stop "$vm"
e2e_check "the VM shows Stopped" wait_vm_status Stopped 60
e2e_check "no domain on any host" [ -z "$(lab_dom_state host-a default_$vm)$(lab_dom_state host-b default_$vm)" ]
e2e_check "the VMI is gone" [ -z "$(field "$ns_path/virtualmachineinstances/$vm" .metadata.uid)" ]

e2e_step "orchctl start"
"$orchctl" start "$vm"
e2e_check "the VM shows Running" wait_vm_status Running 60
e2e_check "the guest answers at $addr" lab_wait_ping "$addr" 60

e2e_step "orchctl restart"
uid2=$(field "$ns_path/virtualmachineinstances/$vm" .metadata.uid)
"$orchctl" restart "$vm"
for _ in $(seq 600); do
    u=$(field "$ns_path/virtualmachineinstances/$vm" .metadata.uid)
    [ -n "$u" ] && [ "$u" != "$uid2" ] && break
    sleep 0.1
done
e2e_check "a new VMI" [ -n "$u" ] && [ "$u" != "$uid2" ]
e2e_check "the VM shows Running" wait_vm_status Running 60
e2e_check "the guest answers at $addr" lab_wait_ping "$addr" 60

e2e_step "orchctl delete -f vm.yaml"
"$orchctl" delete -f "$work/vm.yaml"
for _ in $(seq 300); do
    [ -z "$(lab_dom_state host-a default_$vm)$(lab_dom_state host-b default_$vm)" ] &&
        [ -z "$(field "$ns_path/virtualmachineinstances/$vm" .metadata.uid)" ] && break
    sleep 0.1
done
e2e_check "no domain on any host" [ -z "$(lab_dom_state host-a default_$vm)$(lab_dom_state host-b default_$vm)" ]
e2e_check "the VMI is gone" [ -z "$(field "$ns_path/virtualmachineinstances/$vm" .metadata.uid)" ]
