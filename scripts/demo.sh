#!/bin/bash
# make demo: the main job, shown step by step on the lab.  For now (before the
# orchestrator can migrate) it is the raw libvirt migration the e2e scenario
# lab-raw-migration checks: two hosts, a guest started on host-a, migrated
# live to host-b with plain virsh while it is pinged, then the lab is torn
# down.  DEMO_KEEP=1 leaves the lab up afterwards (scripts/lab.sh down).
set -euo pipefail

# shellcheck source=scripts/lablib.sh
. "$(dirname "$0")/lablib.sh"

lab_require_root
lab_lock_reexec "$0" "$@"

dom=demo
addr=198.18.0.50

if [ -t 1 ]; then
    bold=$(printf '\033[1m') dim=$(printf '\033[2m') off=$(printf '\033[0m')
else
    bold='' dim='' off=''
fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
show() { sed "s/^/    /"; }
quiet() { "$@" 2>&1 | sed "s/^/    $dim/;s/\$/$off/"; }

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "${DEMO_KEEP:-}" ]; then
        say "DEMO_KEEP is set: the lab stays up (scripts/lab.sh status, scripts/lab.sh down)"
    else
        say "Tearing the lab down"
        quiet lab_down || true
    fi
    [ "$rc" -eq 0 ] || printf '\n%sdemo failed (exit status %s)%s\n' "$bold" "$rc" "$off" >&2
    exit "$rc"
}
trap finish EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

cat <<EOF
${bold}What this shows${off}: a running virtual machine moved live from one hypervisor
host to another while it keeps running and answering the network.  Both hosts
live on this machine (network namespaces, each with its own libvirtd and QEMU);
the guest is a tiny Linux that answers ping and counts on its serial console.
For now the move is made with plain libvirt (virsh migrate); orchestratord will
drive the same move once migrations land.  It takes about a minute.
EOF

say "Bringing up the lab: two hypervisor hosts, each a network namespace with its own libvirtd"
quiet lab_down
quiet lab_up 2
lab_status | show

say "Building the test guest (Debian cloud kernel + busybox initramfs; cached after the first run)"
quiet lab_guest_build
echo "    $LAB_GUEST_DIR/vmlinuz ($(cat "$LAB_GUEST_DIR/kernel-version")), initrd.gz" \
    "$(du -h "$LAB_GUEST_DIR/initrd.gz" | cut -f1)"

say "Starting guest '$dom' ($addr, ${LAB_GUEST_MEMORY_MIB} MiB, TCG) on host-a with plain libvirt"
lab_guest_start host-a "$dom" "$addr"
printf '    waiting for it to answer ping '
lab_wait_ping "$addr" 60 || {
    echo
    lab_die "the guest does not answer ping"
}
echo "... it does"
lab_wait_counter "$dom" 2 30 || lab_die "the guest's console counter does not rise"
echo "    its serial console ($(lab_guest_console "$dom")):"
tail -n 3 "$(lab_guest_console "$dom")" | show
echo "    virsh list on each host:"
for h in host-a host-b; do
    printf '      %s: %s\n' "$h" "$(virsh -q -c "$(lab_host_uri "$h")" list --all --name | tr '\n' ' ')"
done
before=$(lab_console_last "$dom")

say "Live-migrating '$dom' host-a -> host-b (peer-to-peer) while pinging it every 10 ms"
echo "    virsh -c $(lab_host_uri host-a) migrate --live --p2p --persistent --undefinesource $dom $(lab_host_uri host-b)"
printf '    '
lab_migrate_raw host-a host-b "$dom" "$addr" --verbose || lab_die "the migration failed"
echo

say "Result"
lab_wait_counter "$dom" "$((before + 2))" 30 || lab_die "the counter does not rise after the migration"
state_a=$(lab_dom_state host-a "$dom")
state_b=$(lab_dom_state host-b "$dom")
[ "$state_b" = running ] || lab_die "'$dom' is not running on host-b (state: '${state_b:-not defined}')"
printf '    %-28s %s\n' \
    "on host-a:" "${state_a:-not defined}" \
    "on host-b:" "${state_b:-not defined}" \
    "virsh migrate took:" "$LAB_MIG_SECONDS s" \
    "libvirt migration job:" "${LAB_MIG_ELAPSED_MS:-?} ms" \
    "guest paused (downtime):" "${LAB_MIG_DOWNTIME_MS:-?} ms" \
    "pings lost (10 ms apart):" "$LAB_MIG_PINGS_LOST of $LAB_MIG_PINGS_SENT" \
    "console counter:" "$before before, $(lab_console_last "$dom") now"
lab_console_monotonic "$dom" >/dev/null ||
    lab_die "the guest's counter started over: it was restarted, not migrated"
echo "    the guest kept running: its counter went on from where it was, and it answers ping:"
lab_ping "$addr" 3 || lab_die "the guest does not answer ping after the migration"
echo "    3 of 3 pings answered from host-b"
tail -n 3 "$(lab_guest_console "$dom")" | show
say "Done: '$dom' now runs on host-b, moved live (paused ${LAB_MIG_DOWNTIME_MS:-?} ms), never restarted"
