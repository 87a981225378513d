#!/bin/bash
# make demo: the main job for real.  Two lab hosts with a migrator each,
# orchestratord in the root namespace (on every address, port 8080, with
# tokens), the test guest started on host-a as VMI default/vmi-fedora; the
# seed's migration.yaml is POSTed with curl and followed until Succeeded, and
# the guest answers on host-b.  Everything is left running, with a hint how to
# use orchctl on it; `make demo-down` (scripts/demo.sh down) removes it all.
set -euo pipefail

# shellcheck source=scripts/lablib.sh
. "$(dirname "$0")/lablib.sh"

lab_require_root
work=$LAB_DIR/demo
if [ "${1:-}" = down ]; then
    lab_lock_reexec "$0" "$@"
    if [ -f "$work/orchestratord.pid" ]; then
        kill "$(cat "$work/orchestratord.pid")" 2>/dev/null || true
    fi
    lab_down
    rm -rf "$work"
    exit 0
fi
lab_lock_reexec "$0" "$@"

vmi=vmi-fedora
addr=198.18.0.50
api=http://127.0.0.1:$LAB_ORCHD_PORT
ns_path=/apis/kubevirt.io/v1/namespaces/default

if [ -t 1 ]; then
    bold=$(printf '\033[1m') dim=$(printf '\033[2m') off=$(printf '\033[0m')
else
    bold='' dim='' off=''
fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
show() { sed "s/^/    /"; }
quiet() { "$@" 2>&1 | sed "s/^/    $dim/;s/\$/$off/"; }
field() { lab_api_get "$1" 2>/dev/null | jq -r "$2 // empty" 2>/dev/null || true; }

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ]; then
        printf '\n%sdemo failed (exit status %s); logs in %s and %s/hosts/*/log%s\n' \
            "$bold" "$rc" "$work" "$LAB_DIR" "$off" >&2
        printf 'remove it all with: make demo-down\n' >&2
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

cat <<TEXT
${bold}What this shows${off}: a running virtual machine moved live from one hypervisor
host to another by posting KubeVirt's VirtualMachineInstanceMigration to
orchestratord, while the guest keeps running and answering the network.  Both
hosts live on this machine (network namespaces, each with its own libvirtd, QEMU
and migrator); the guest is a tiny Linux that answers ping and counts on its
serial console.  It takes about a minute.
TEXT

say "Bringing up the lab: two hypervisor hosts, each a network namespace with its own libvirtd"
[ ! -f "$work/orchestratord.pid" ] || kill "$(cat "$work/orchestratord.pid")" 2>/dev/null || true
quiet lab_down
rm -rf "$work"
quiet lab_up 2
lab_status | show

say "Building the test guest (Debian cloud kernel + busybox initramfs; cached after the first run)"
quiet lab_guest_build

say "Starting orchestratord (port $LAB_ORCHD_PORT) and a migrator on each host"
LAB_ORCHD_LISTEN=0.0.0.0 lab_orchd_conf "$work" host-a host-b
lab_orchd_start "$work" || lab_die "orchestratord does not start (log: $work/orchestratord.log)"
echo "$LAB_STARTED_PID" >"$work/orchestratord.pid"
disown "$LAB_STARTED_PID" 2>/dev/null || true
for h in host-a host-b; do
    lab_migrator_start "$h" 10
    disown "$LAB_STARTED_PID" 2>/dev/null || true
done
for h in host-a host-b; do
    for i in $(seq 100); do
        [ "$(field "/api/v1/nodes/$h" '.status.conditions[]? | select(.type == "Ready") | .status')" = True ] && break
        sleep 0.1
    done
done
export ORCH_SERVER=$api ORCH_TOKEN=$LAB_ADMIN_TOKEN
"$LAB_BUILD/bin/orchctl" get nodes | show

say "Starting guest '$vmi' ($addr) on host-a with plain libvirt: it shows up as a VMI"
lab_guest_start host-a "$vmi" "$addr"
lab_wait_ping "$addr" 60 || lab_die "the guest does not answer ping"
lab_wait_counter "$vmi" 2 30 || lab_die "the guest's console counter does not rise"
"$LAB_BUILD/bin/orchctl" get vmi -o wide | show
before=$(lab_console_last "$vmi")

say "Posting the seed's migration.yaml with curl"
show <"$LAB_TOP/tests/data/migration.yaml"
echo "    curl -X POST -H 'Content-Type: application/yaml' --data-binary @tests/data/migration.yaml \\"
echo "        $api$ns_path/virtualmachineinstancemigrations"
ping -n -i 0.05 -W 1 "$addr" >"$work/ping" 2>&1 &
ping_pid=$!
curl -sf -o /dev/null -X POST -H "Authorization: Bearer $LAB_ADMIN_TOKEN" \
    -H 'Content-Type: application/yaml' --data-binary @"$LAB_TOP/tests/data/migration.yaml" \
    "$api$ns_path/virtualmachineinstancemigrations" || lab_die "the POST was refused"
last=
for i in $(seq 1800); do
    st=$(lab_api_get "$ns_path/virtualmachineinstancemigrations/migration-job" 2>/dev/null || true)
    phase=$(jq -r '.status.phase // "Pending"' <<<"$st" 2>/dev/null || echo "?")
    line=$(jq -r '"\(.status.phase // "Pending")  " +
        (if .status.migrationState.sourceNode then "\(.status.migrationState.sourceNode) -> \(.status.migrationState.targetNode // "?")" else "" end)' \
        <<<"$st" 2>/dev/null || true)
    if [ "$line" != "$last" ]; then
        echo "    $line"
        last=$line
    fi
    case $phase in Succeeded | Failed) break ;; esac
    sleep 0.1
done
kill -INT "$ping_pid" 2>/dev/null || true
wait "$ping_pid" 2>/dev/null || true
[ "$phase" = Succeeded ] || lab_die "the migration ended $phase: $(jq -c .status.migrationState <<<"$st")"

say "Result"
lab_wait_counter "$vmi" "$((before + 2))" 30 || lab_die "the counter does not rise after the migration"
state_a=$(lab_dom_state host-a "$vmi")
state_b=$(lab_dom_state host-b "$vmi")
printf '    %-28s %s\n' \
    "on host-a:" "${state_a:-not defined}" \
    "on host-b:" "${state_b:-not defined}" \
    "pings (every 50 ms):" "$(grep 'packets transmitted' "$work/ping" || true)" \
    "console counter:" "$before before, $(lab_console_last "$vmi") now"
lab_console_monotonic "$vmi" >/dev/null ||
    lab_die "the guest's counter started over: it was restarted, not migrated"
lab_ping "$addr" 3 || lab_die "the guest does not answer ping after the migration"
echo "    3 of 3 pings answered from host-b"
"$LAB_BUILD/bin/orchctl" get vmim | show

say "Done: '$vmi' now runs on host-b.  Everything is still running; try:"
cat <<TEXT
    export ORCH_SERVER=$api ORCH_TOKEN=$LAB_ADMIN_TOKEN
    build/bin/orchctl get nodes
    build/bin/orchctl get vmi -o wide
    build/bin/orchctl describe vmim migration-job
    build/bin/orchctl migrate $vmi --to host-a --wait
    make demo-down        # removes the lab, the migrators and orchestratord
TEXT
