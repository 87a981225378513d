#!/bin/bash
# Run the end-to-end scenarios against the real lab and print TAP.
#
#   tests/e2e/run.sh [NAME...]    NAME is a scenario file tests/e2e/NAME.t.sh;
#                                 without names, every scenario runs
#
# Each scenario is a bash script run on its own (it brings the lab up and
# tears it down, also when it fails); exit status 0 is a pass, 77 a skip
# (the scenario cannot run here, e.g. a tool is missing; never a pass).  Its output is
# shown as TAP comments and kept in $ORCH_BUILD/e2e/NAME.log.  The last line
# is always "N passed, N failed".  A scenario that was not run is never "ok":
# without root every scenario is reported "not ok" with the reason.
#
# Environment: ORCH_TOP and ORCH_BUILD (set by make e2e), E2E_TIMEOUT (seconds
# per scenario, default 600), E2E_KEEP_LAB=1 (leave the lab up after the last
# scenario, for a look around; then run scripts/lab.sh down).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export ORCH_TOP=${ORCH_TOP:-$(cd "$here/../.." && pwd)}
export ORCH_BUILD=${ORCH_BUILD:-$ORCH_TOP/build}
timeout_s=${E2E_TIMEOUT:-600}

scenarios=()
if [ $# -gt 0 ]; then
    for n in "$@"; do
        n=${n%.t.sh}
        n=${n##*/}
        if [ ! -f "$here/$n.t.sh" ]; then
            echo "e2e: no scenario '$n' ($here/$n.t.sh)" >&2
            exit 2
        fi
        scenarios+=("$here/$n.t.sh")
    done
else
    for f in "$here"/*.t.sh; do
        [ -f "$f" ] && scenarios+=("$f")
    done
fi

passed=0
failed=0
skipped=0
summary() {
    echo "$passed passed, $failed failed$([ "$skipped" -eq 0 ] || echo ", $skipped skipped")"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

if [ "$(id -u)" -ne 0 ]; then
    echo "e2e: the end-to-end tests need root (network namespaces, libvirtd); not running them" >&2
    echo "1..${#scenarios[@]}"
    i=0
    for f in "${scenarios[@]}"; do
        i=$((i + 1))
        echo "not ok $i - $(basename "$f" .t.sh) # not run: needs root"
        failed=$((failed + 1))
    done
    summary
fi

# One lab per machine: wait for any other user of it (another tree's e2e run
# or demo) to finish.
# shellcheck source=scripts/lablib.sh
. "$ORCH_TOP/scripts/lablib.sh"
lab_lock_reexec "$0" "$@"

mkdir -p "$ORCH_BUILD/e2e"
# On INT or TERM the running scenario gets TERM (its trap tears the lab down),
# and the scenarios after it are reported as not run.
tpid=
interrupted=
trap 'interrupted=1; [ -z "$tpid" ] || kill -TERM "$tpid" 2>/dev/null' INT TERM

echo "1..${#scenarios[@]}"
i=0
for f in "${scenarios[@]}"; do
    i=$((i + 1))
    name=$(basename "$f" .t.sh)
    if [ -n "$interrupted" ]; then
        echo "not ok $i - $name # not run: interrupted"
        failed=$((failed + 1))
        continue
    fi
    log=$ORCH_BUILD/e2e/$name.log
    : >"$log"
    t0=$(date +%s)
    # The scenario runs in timeout's own process group: a timeout signals
    # all of it, and its trap still tears the lab down; KILL follows 60 s
    # later if that hangs.  Its output goes to the log, shown as it grows
    # by a follower that ignores INT so that nothing is lost on ^C.
    timeout -k 60 "$timeout_s" bash "$f" </dev/null >"$log" 2>&1 &
    tpid=$!
    (
        trap '' INT TERM
        exec tail -n +1 -s 0.2 -f --pid="$tpid" "$log"
    ) | sed -u 's/^/# /' &
    fpid=$!
    rc=
    while [ -z "$rc" ]; do
        wait "$tpid" && rc=0 || rc=$?
        # A trapped signal ends wait early while the scenario still runs.
        ! kill -0 "$tpid" 2>/dev/null || rc=
    done
    tpid=
    wait "$fpid" 2>/dev/null
    t=$(($(date +%s) - t0))
    if [ "$rc" -eq 0 ]; then
        echo "ok $i - $name"
        passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then
        # A scenario that cannot run here (a tool missing) says why on its
        # last line; it is skipped, not passed.
        echo "ok $i - $name # SKIP $(tail -n 1 "$log")"
        skipped=$((skipped + 1))
    else
        case $rc in
        124 | 137) why="timed out after $timeout_s s" ;;
        *) why="exit status $rc" ;;
        esac
        [ -z "$interrupted" ] || why="interrupted"
        echo "not ok $i - $name # $why, log in $log"
        failed=$((failed + 1))
    fi
    echo "# $name took $t s"
    # A scenario that died without its trap must not leave the lab to the next.
    if [ -z "${E2E_KEEP_LAB:-}" ] && [ -n "$(lab_hosts)" ]; then
        (lab_down) 2>&1 | sed 's/^/# /'
    fi
done
summary
