#!/bin/bash
# make chaos (CHAOS_ROUNDS=N, default 10; not part of make test or make e2e):
# three lab hosts, three guests, one running on each.  Each round migrates
# one guest (orchestratord picks the target) and injects one fault at a
# random moment 0-3 s after the POST, or none: orchestratord SIGKILLed and
# restarted, the source's or the target's migrator SIGKILLed and restarted,
# the path between source and target cut for 5 s, the target's libvirtd
# SIGKILLed (started again once the VMIM ended, as its service manager
# would), or orchestratord's disk full for 5 s (its database is on a tmpfs,
# filled to the last byte, then emptied).  Then, whatever happened, the
# invariants: the VMIM ends (Succeeded or Failed) within 150 s, the guest
# runs on exactly one host, the one the record names (the target when
# Succeeded, the source when Failed), the VMI says so, the guest answers
# pings, and no VMIM answered 201 is ever missing.  At the end every
# guest's console counter never restarted and orchestratord's database
# passes SQLite's integrity check after a clean stop.  Prints
#   chaos: migrations=N faults=N succeeded=N failed=N invariant_violations=N lost_records=N
# and exits non-zero on any violation or lost record.  CHAOS_FAULTS="F ..."
# draws the faults from those named only.
set -uo pipefail
: "${ORCH_TOP:?run through make chaos}"
# shellcheck source=scripts/lablib.sh
. "$ORCH_TOP/scripts/lablib.sh"
lab_lock_reexec "$0" "$@"
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"
set +e # the rounds count failures instead of stopping at the first
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

rounds=${CHAOS_ROUNDS:-10}
hosts=(host-a host-b host-c)
guests=(chaos-g1 chaos-g2 chaos-g3)
declare -A gaddr=([chaos-g1]=198.18.0.70 [chaos-g2]=198.18.0.71 [chaos-g3]=198.18.0.72)
export LAB_ORCHD_MIGRATIONS='bandwidth_per_migration = "8Mi";'
mig_setup "${hosts[@]}"
# shellcheck source=tests/e2e/restartlib.sh
. "$ORCH_TOP/tests/e2e/restartlib.sh"
declare -A mpid
for i in 0 1 2; do mpid[${hosts[$i]}]=${e2e_pids[$((i + 1))]}; done
cut=
# orchestratord's database on a tmpfs of its own, for the disk-full fault
# (as in orchestratord-disk-full.t.sh).  128 MiB so that rounds alone never
# fill it: the store checkpoints its WAL only past 40 MB, and a 32 MiB tmpfs
# filled up with WAL after about 15 rounds, after which every write was
# refused 507 for good (the checkpoint that would empty the WAL needs room
# in the database file too).  On the way out orchestratord goes first, then
# the tmpfs.
state=$ORCH_BUILD/e2e/chaos.state
umount -l "$state" 2>/dev/null
trap 'rc=$?; set +e; [ -z "$cut" ] || rs_cut $cut del 2>/dev/null; kill -KILL "$orchd_pid" 2>/dev/null; wait "$orchd_pid" 2>/dev/null; umount -l "$state" 2>/dev/null; (exit $rc); e2e_teardown' EXIT
orchd_kill
mkdir -p "$state"
mount -t tmpfs -o size=128m orchlab-chaos "$state" || e2e_fail "cannot mount a tmpfs on $state"
cp "$work"/orch.db* "$state/"
sed -i "s|^database = .*|database = \"$state/orch.db\";|" "$work/orchestratord.conf"
orchd_restart
for i in 0 1 2; do
    set -e
    guest_up "${hosts[$i]}" "${guests[$i]}" "${gaddr[${guests[$i]}]}"
    set +e
done

migrator_restart() { # HOST
    kill -KILL "${mpid[$1]}" 2>/dev/null
    wait "${mpid[$1]}" 2>/dev/null
    sleep 1
    lab_migrator_start "$1" 2
    e2e_pids+=("$LAB_STARTED_PID")
    mpid[$1]=$LAB_STARTED_PID
}

# target_libvirtd_restart HOST: start HOST's libvirtd again after the
# fault killed it (a subshell: lablib's lab_die must not end the run).
target_libvirtd_restart() {
    (
        lab_libvirtd_pid "$1" >/dev/null || lab_libvirtd_start "$1"
        lab_libvirtd_wait "$1" 30
    )
}
# until_true SECONDS CMD...: CMD holds within SECONDS (checked every 0.5 s).
until_true() {
    local _ n=$(($1 * 2))
    shift
    for _ in $(seq "$n"); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

migrations=0 faults=0 succeeded=0 failed=0 violations=0 lost=0
posted=()
violation() {
    echo "VIOLATION (round $r, $g, fault $fault): $*"
    violations=$((violations + 1))
}
for r in $(seq "$rounds"); do
    t0=$SECONDS
    g=${guests[$((RANDOM % 3))]}
    src=$(field "$ns_path/virtualmachineinstances/$g" .status.nodeName)
    name=chaos-$r
    code=$(post_vmim "$name" "$g")
    if [ "$code" != 201 ]; then
        echo "round $r: POST $name for $g answered $code: $(head -c 200 "$work/post.out")"
        continue
    fi
    migrations=$((migrations + 1))
    posted+=("$name")
    # CHAOS_FAULTS (words of this list) narrows the draw, e.g. to try one.
    # shellcheck disable=SC2206 # split on purpose
    faults_all=(${CHAOS_FAULTS:-none orchestratord source-migrator
        target-migrator network-cut target-libvirtd disk-full})
    fault=${faults_all[$((RANDOM % ${#faults_all[@]}))]}
    killed_libvirtd=
    sleep "$((RANDOM % 4)).$((RANDOM % 10))"
    tgt=$(vmim_field "$name" .status.migrationState.targetNode)
    case $fault in
    orchestratord)
        orchd_kill
        sleep 1
        orchd_restart
        ;;
    source-migrator) migrator_restart "$src" ;;
    target-migrator)
        if [ -n "$tgt" ]; then migrator_restart "$tgt"; else fault=none; fi
        ;;
    network-cut)
        if [ -n "$tgt" ]; then
            cut="$src $tgt"
            rs_cut "$src" "$tgt" add
            sleep 5
            rs_cut "$src" "$tgt" del
            cut=
        else
            fault=none
        fi
        ;;
    target-libvirtd)
        if [ -n "$tgt" ] && pid=$(lab_libvirtd_pid "$tgt"); then
            kill -KILL "$pid"
            killed_libvirtd=$tgt
        else
            fault=none
        fi
        ;;
    disk-full)
        dd if=/dev/zero of="$state/fill" bs=64k 2>/dev/null
        sleep 5
        rm -f "$state/fill"
        ;;
    esac
    [ "$fault" = none ] || faults=$((faults + 1))
    phase=$(wait_vmim "$name" 150 2>/dev/null)
    if [ -n "$killed_libvirtd" ]; then
        target_libvirtd_restart "$killed_libvirtd" ||
            violation "$killed_libvirtd's libvirtd does not come back"
    fi
    tgt=$(vmim_field "$name" .status.migrationState.targetNode)
    echo "round $r: $g $src -> ${tgt:-?}, fault $fault, $name ${phase:-missing} ($((SECONDS - t0)) s)"
    case $phase in
    Succeeded) succeeded=$((succeeded + 1)) where=$tgt ;;
    Failed)
        failed=$((failed + 1)) where=$src
        echo "  failureReason: $(vmim_field "$name" .status.migrationState.failureReason | head -c 300)"
        ;;
    *)
        if [ -z "$(vmim_field "$name" .metadata.name)" ]; then
            echo "LOST: $name"
            lost=$((lost + 1))
        else
            violation "$name did not end within 150 s (phase '$phase')"
        fi
        continue
        ;;
    esac
    [ -n "$where" ] || { violation "$name $phase names no host"; continue; }
    # A restarted libvirtd first re-attaches to the half-migrated QEMU it
    # had started, then removes it (target-libvirtd-killed-midflight.t.sh:
    # within 15 s); meanwhile the guest may run nowhere but WHERE.
    if [ -n "$killed_libvirtd" ]; then
        runs_only_on "$g" "$where" || violation "$g does not run on $where alone: $(for h in "${hosts[@]}"; do printf '%s=%s ' "$h" "$(lab_dom_state "$h" "$g")"; done)"
        until_true 15 on_one_host "$g" "$where"
    fi
    on_one_host "$g" "$where" || violation "$g is not on $where alone: $(for h in "${hosts[@]}"; do printf '%s=%s ' "$h" "$(lab_dom_state "$h" "$g")"; done)"
    wait_nodename "$g" "$where" 60 || violation "VMI $g says $(field "$ns_path/virtualmachineinstances/$g" .status.nodeName), not $where"
    lab_ping "${gaddr[$g]}" 3 >/dev/null 2>&1 || violation "$g does not answer pings"
done
for n in "${posted[@]}"; do
    [ -n "$(vmim_field "$n" .metadata.name)" ] || { echo "LOST: $n"; lost=$((lost + 1)); }
done
for g in "${guests[@]}"; do
    lab_console_monotonic "$g" || { r=end fault=none; violation "$g's console counter restarted"; }
done
# A clean stop, then SQLite's own check of the database every fault wrote
# through.
kill -TERM "$orchd_pid"
wait "$orchd_pid" 2>/dev/null
ok=$(sqlite3 "$state/orch.db" 'PRAGMA integrity_check' 2>&1)
[ "$ok" = ok ] || { r=end fault=none; violation "orchestratord's database: integrity_check says '$ok'"; }
echo "chaos: migrations=$migrations faults=$faults succeeded=$succeeded failed=$failed invariant_violations=$violations lost_records=$lost"
[ "$violations" -eq 0 ] && [ "$lost" -eq 0 ]
