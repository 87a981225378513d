#!/bin/bash
# The test lab: several libvirt/QEMU "hosts" on this machine, each a network
# namespace with a private mount namespace and its own libvirtd.  Needs root.
#
#   scripts/lab.sh up [N]          N hosts (default 2): host-a 198.18.0.11, ...
#   scripts/lab.sh status          one line per host: NAME ADDRESS LIBVIRT_URI
#   scripts/lab.sh exec HOST CMD.. run CMD on HOST (its network and mount
#                                  namespaces; LIBVIRT_DEFAULT_URI is set)
#   scripts/lab.sh down            remove every namespace, link, daemon, guest
#                                  and file of the lab
#   scripts/lab.sh guest           build the test guest (kernel + initramfs)
#   scripts/lab.sh guest-xml NAME ADDR [KERNEL-ARGS...]
#                                  print a test guest's domain XML
#
# Every command is idempotent: "up" keeps healthy hosts, restarts a dead
# libvirtd and rebuilds a broken host; "down" on nothing does nothing.
# Environment: LAB_DIR (run-time state, default /var/tmp/orchlab),
# LAB_GUEST_DIR (default $ORCH_BUILD/guest, else build/guest), LAB_LOCK.
# See scripts/lablib.sh for the layout.
set -euo pipefail

# shellcheck source=scripts/lablib.sh
. "$(dirname "$0")/lablib.sh"

usage() {
    sed -n '5,13s/^# \{0,1\}//p' "$0"
}

cmd=${1:-}
[ -n "$cmd" ] || {
    usage >&2
    exit 2
}
shift

case $cmd in
up | down)
    lab_require_root
    lab_lock_reexec "$0" "$cmd" "$@"
    "lab_$cmd" "$@"
    ;;
status)
    [ $# -eq 0 ] || lab_die "status takes no arguments"
    lab_status
    ;;
exec)
    [ $# -ge 2 ] || lab_die "usage: lab.sh exec HOST CMD..."
    lab_require_root
    LAB_EXEC_REPLACE=1 lab_exec "$@"
    ;;
guest)
    [ $# -eq 0 ] || lab_die "guest takes no arguments"
    lab_guest_build
    ;;
guest-xml)
    [ $# -ge 2 ] || lab_die "usage: lab.sh guest-xml NAME ADDR [KERNEL-ARGS...]"
    lab_guest_xml "$@"
    ;;
-h | --help | help) usage ;;
*)
    echo "lab: unknown command '$cmd'" >&2
    usage >&2
    exit 2
    ;;
esac
