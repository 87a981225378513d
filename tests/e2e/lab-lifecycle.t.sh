#!/bin/bash
# lab-lifecycle: scripts/lab.sh is idempotent and cleans up after itself.
# down on nothing; up twice (the second keeps the hosts); up after libvirtd
# was killed (a new libvirtd, same host); up after every process of the lab
# was killed (the hosts are rebuilt); up with fewer hosts; exec reaches the
# host's own libvirtd; and after down nothing of the lab is left: no
# namespace, link, process or state directory.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"

lab=$ORCH_TOP/scripts/lab.sh
trap e2e_teardown EXIT
trap 'exit 143' TERM

nothing_left() {
    local what
    what=$(ip netns list | grep "^$LAB_PREFIX-" || true)
    [ -z "$what" ] || { echo "namespaces left: $what"; return 1; }
    what=$(ip -o link show | grep -o "${LAB_PREFIX}[^:@]*" || true)
    [ -z "$what" ] || { echo "links left: $what"; return 1; }
    what=$(lab_mountns_pids)
    [ -z "$what" ] || { echo "processes left: $what"; return 1; }
    [ ! -e "$LAB_DIR" ] || { echo "$LAB_DIR is left"; return 1; }
}

# The pids in the hosts' pid files (libvirtd's have no final newline).
pids_of() {
    local f
    for f in "$LAB_DIR"/hosts/*/"$1"; do printf '%s ' "$(cat "$f")"; done
}
holders() { pids_of holder.pid; }
libvirtds() { pids_of run/libvirtd.pid; }
link_gone() { ! ip link show "$1" >/dev/null 2>&1; }
all_answer() {
    local h
    for h in "$@"; do
        lab_libvirtd_answers "$h" || { echo "$h: libvirtd does not answer"; return 1; }
    done
}

e2e_step "down on nothing"
"$lab" down
"$lab" down
e2e_check "nothing of the lab exists" nothing_left

e2e_step "up, then up again"
"$lab" up
e2e_check "two hosts answer" all_answer host-a host-b
e2e_check "status lists them" [ "$("$lab" status)" = "host-a 198.18.0.11 qemu+tcp://198.18.0.11/system
host-b 198.18.0.12 qemu+tcp://198.18.0.12/system" ]
h1=$(holders) l1=$(libvirtds)
out=$("$lab" up 2>&1)
echo "$out"
e2e_check "the second up keeps the hosts and their libvirtds" \
    [ "$(holders)/$(libvirtds)" = "$h1/$l1" ]
e2e_check "and says it started nothing" [ "$out" = "lab: up: 2 host(s)" ]

e2e_step "exec on a host"
out=$("$lab" exec host-b sh -c 'ip -4 -o addr show dev br0; virsh -q uri; virsh -q hostname >/dev/null && echo unix-ok')
echo "$out"
e2e_check "exec runs in host-b's network namespace" grep -q "inet 198.18.0.12/15" <<<"$out"
e2e_check "exec sees host-b's libvirtd on qemu:///system" grep -qx unix-ok <<<"$out"
e2e_check "host-b's libvirtd socket is its own" \
    [ "$("$lab" exec host-b cat /run/libvirt/libvirtd.pid)" = "$(cat "$LAB_DIR/hosts/host-b/run/libvirtd.pid")" ]
e2e_check "the root namespace reaches both hosts" lab_ping 198.18.0.11 2
e2e_check "host-a reaches host-b" \
    "$lab" exec host-a sh -c 'ping -q -c 2 -i 0.2 -W 2 198.18.0.12 >/dev/null'

e2e_step "kill -9 both libvirtds, then up"
for p in $l1; do kill -9 "$p"; done
"$lab" up
e2e_check "both answer again" all_answer host-a host-b
e2e_check "with new libvirtds" [ "$(libvirtds)" != "$l1" ]
e2e_check "in the same hosts" [ "$(holders)" = "$h1" ]

e2e_step "kill -9 every process of the lab (a crashed run), then up"
# shellcheck disable=SC2046
kill -9 $(ip netns pids "$LAB_PREFIX-host-a") $(ip netns pids "$LAB_PREFIX-host-b")
sleep 0.5
"$lab" up
e2e_check "both answer again" all_answer host-a host-b
e2e_check "in rebuilt hosts" [ "$(holders)" != "$h1" ]

e2e_step "up 3, then up 1"
"$lab" up 3
e2e_check "three hosts answer" all_answer host-a host-b host-c
"$lab" up 1
e2e_check "one host is left" [ "$(lab_hosts)" = host-a ]
e2e_check "host-c's link is gone" link_gone "$LAB_PREFIX-host-c"

e2e_step "down"
"$lab" down
e2e_check "nothing of the lab is left" nothing_left
e2e_check "no libvirtd or QEMU of the lab runs" \
    [ -z "$(pgrep -f -- "^libvirtd --daemon --listen -f /etc/libvirt/libvirtd.conf|qemu-system.*$LAB_GUEST_DIR" || true)" ]
