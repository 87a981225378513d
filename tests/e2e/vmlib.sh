# shellcheck shell=bash
# Sourced by the vm-* scenarios (after lib.sh and miglib.sh): lab migrators
# set up to run VMs made from manifests, and helpers around them.
#
# Each host's migrator keeps its state (and so each VM's seed, overlay and
# console under vms/NS_NAME) in /var/lib/libvirt/orch-migrator: the same path
# on every host, each host's own directory (the lab bind-mounts a per-host
# directory over /var/lib/libvirt), as a migration needs.  containerDisk
# images are in $LAB_DIR/images, seen by every host.  The multus network
# "lab-net" is each host's br0.

# (miglib.sh, sourced first, sets work.)
# shellcheck disable=SC2154
vm_state=/var/lib/libvirt/orch-migrator
vm_images=$LAB_DIR/images
export LAB_MIGRATOR_STATE_DIR=$vm_state
export LAB_MIGRATOR_CONF="image_dir = \"$vm_images\";
domain_type = \"qemu\";
networks = ( { name = \"lab-net\"; bridge = \"br0\"; } );"

# The test guest's disk image as containerDisk "lab/guest-disk:1".
vm_image_make() {
    mkdir -p "$vm_images"
    [ -f "$vm_images/lab_guest-disk_1.qcow2" ] ||
        qemu-img create -q -f qcow2 "$vm_images/lab_guest-disk_1.qcow2" 16M
}

# Where a host keeps VM NS_NAME's files, seen from the root namespace.
vm_dir() { echo "$(lab_host_dir "$1")/lib/orch-migrator/vms/$2"; } # HOST DOMAIN

# The guest's console on HOST.
vm_console() { echo "$(vm_dir "$1" "$2")/console.log"; } # HOST DOMAIN

# wait_console HOST DOMAIN REGEX SECONDS
wait_console() {
    local _
    for _ in $(seq $(($4 * 4))); do
        grep -Eq "$3" "$(vm_console "$1" "$2")" 2>/dev/null && return 0
        sleep 0.25
    done
    echo "--- last lines of $2's console on $1:"
    tail -n 40 "$(vm_console "$1" "$2")" 2>&1 || true
    return 1
}
# overlay_backing FILE: the backing file qemu-img reads in FILE's header (-U:
# QEMU holds the image open).
overlay_backing() {
    qemu-img info -U --output=json "$1" | jq -r '."backing-filename" // empty'
}

# vmi_json NAME UID ADDR MAC [CDROM]: a VirtualMachineInstance in the seed's
# shape (tests/data/vm-sriov.yaml) for the lab: kernel boot of the test guest
# instead of a bootable container image, the containerDisk, the
# cloudInitNoCloud seed with a static network-config v2 for MAC (set-name
# lab0), a bridge binding on lab-net with that MAC, rng.  With CDROM the
# seed volume has no disk (the migrator puts it on an IDE CD-ROM), else a
# virtio disk as in the seed.
vmi_json() {
    local nd disk
    nd=$(printf 'version: 2\nethernets:\n  lab:\n    match:\n      macAddress: "%s"\n    set-name: lab0\n    addresses:\n    - %s/15\n    nameservers:\n      addresses:\n      - 198.18.0.1\n' "$4" "$3")
    if [ -n "${5:-}" ]; then
        disk='[]'
    else
        disk='[{"name":"cloudinitdisk","disk":{"bus":"virtio"}}]'
    fi
    jq -nc --arg name "$1" --arg uid "$2" --arg mac "$4" --arg nd "$nd" \
        --arg k "$LAB_GUEST_DIR/vmlinuz" --arg i "$LAB_GUEST_DIR/initrd.gz" \
        --argjson seeddisk "$disk" '{
      apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance",
      metadata: {name: $name, namespace: "default", uid: $uid,
                 labels: {special: "vmi-lab-network"}},
      spec: {
        domain: {
          cpu: {cores: 1},
          firmware: {kernelBoot: {kernelArgs: "console=ttyS0 panic=-1 loglevel=4",
                     container: {image: "lab/guest:latest", kernelPath: $k, initrdPath: $i}}},
          devices: {
            disks: ([{name: "containerdisk", disk: {bus: "virtio"}}] + $seeddisk),
            interfaces: [{name: "lab-net", bridge: {}, macAddress: $mac}],
            rng: {}},
          resources: {requests: {memory: "192Mi"}}},
        networks: [{name: "lab-net", multus: {networkName: "lab-net"}}],
        volumes: [
          {name: "containerdisk", containerDisk: {image: "lab/guest-disk:1"}},
          {name: "cloudinitdisk", cloudInitNoCloud: {networkData: $nd,
            userData: "#!/bin/sh\necho lab\n"}}]}}'
}

# agent_post HOST JSON -> HTTP code, body in $work/agent.out
agent_post() {
    curl -s -o "$work/agent.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_AGENT_TOKEN" -H 'Content-Type: application/json' \
        --data-binary "$2" "http://$(lab_host_addr "$1"):$LAB_AGENT_PORT/v1/jobs"
}
# agent_job HOST ID -> the job object
agent_job() {
    curl -sf --max-time 5 -H "Authorization: Bearer $LAB_AGENT_TOKEN" \
        "http://$(lab_host_addr "$1"):$LAB_AGENT_PORT/v1/jobs/$2"
}
# agent_wait HOST ID SECONDS: until the job is final; prints its state.
agent_wait() {
    local _ s=
    for _ in $(seq $(($3 * 10))); do
        s=$(agent_job "$1" "$2" 2>/dev/null | jq -r '.state // empty' 2>/dev/null || true)
        case $s in Succeeded | Failed) echo "$s"; return 0 ;; esac
        sleep 0.1
    done
    echo "$s"
    return 1
}

# vm_yaml NAME ADDR MAC: a VirtualMachine manifest in the seed's shape
# (tests/data/vm-sriov.yaml: labels, running, a containerDisk and the
# cloudInitNoCloud disk on virtio, a static MAC, rng, networkData v2 with
# set-name, a static address, gateway and nameservers) for the lab: kernel
# boot of the test guest instead of the container image, the lab's address,
# a bridge binding on the lab's multus network (no SR-IOV in the lab).
vm_yaml() {
    cat <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  labels:
    special: vmi-lab-network
  name: $1
spec:
  running: true
  template:
    metadata:
      labels:
        kubevirt.io/size: small
        kubevirt.io/domain: lab
    spec:
      domain:
        cpu:
          cores: 1
        firmware:
          kernelBoot:
            kernelArgs: console=ttyS0 panic=-1 loglevel=4
            container:
              image: lab/guest:latest
              kernelPath: $LAB_GUEST_DIR/vmlinuz
              initrdPath: $LAB_GUEST_DIR/initrd.gz
        devices:
          disks:
          - name: containerdisk
            disk:
              bus: virtio
          - name: cloudinitdisk
            disk:
              bus: virtio
          interfaces:
          - macAddress: "$3"
            name: lab-net
            bridge: {}
          rng: {}
        resources:
          requests:
            memory: 192Mi
      networks:
      - multus:
          networkName: lab-net
        name: lab-net
      volumes:
      - containerDisk:
          image: lab/guest-disk:1
        name: containerdisk
      - cloudInitNoCloud:
          networkData: |
            ethernets:
              lab-net:
                addresses:
                - $2/15
                gateway: 198.18.0.1
                match:
                  macAddress: "$3"
                nameservers:
                  addresses:
                  - 198.18.0.1
                  search:
                  - default.svc.cluster.local
                set-name: lab0
            version: 2
          userData: |-
            #!/bin/sh
            echo lab
        name: cloudinitdisk
YAML
}

vms=$ns_path/virtualmachines
vmis=$ns_path/virtualmachineinstances

# post_vm FILE -> HTTP code, body in $work/post.out
post_vm() {
    curl -s -o "$work/post.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H 'Content-Type: application/yaml' \
        --data-binary @"$1" "$api$vms"
}
# wait_vmi_running NAME SECONDS: until VMI NAME is Running; prints its node.
wait_vmi_running() {
    local _
    for _ in $(seq $(($2 * 10))); do
        if [ "$(field "$vmis/$1" .status.phase)" = Running ]; then
            field "$vmis/$1" .status.nodeName
            return 0
        fi
        sleep 0.1
    done
    lab_api_get "$vmis/$1" | jq -c .status >&2 || true
    lab_api_get "$vms/$1" | jq -c .status >&2 || true
    return 1
}
# gone_everywhere DOMAIN: no lab host knows it.
gone_everywhere() {
    local h
    for h in $(lab_hosts); do
        [ -z "$(lab_dom_state "$h" "$1")" ] || return 1
    done
}
# wait_gone DOMAIN SECONDS
wait_gone() {
    local _
    for _ in $(seq $(($2 * 4))); do
        gone_everywhere "$1" && return 0
        sleep 0.25
    done
    return 1
}

# A masquerade interface is on libvirt's NAT network, which libvirtd starts
# with dnsmasq and iptables (scripts/install-deps.sh installs both): without
# them the scenario is skipped, never passed.
vm_need_nat_tools() {
    local t
    for t in dnsmasq iptables; do
        command -v "$t" >/dev/null || {
            echo "skip: no $t here (libvirt's NAT network needs it)"
            exit 77
        }
    done
}
