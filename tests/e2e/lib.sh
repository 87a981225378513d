# shellcheck shell=bash
# Sourced by every end-to-end scenario (tests/e2e/*.t.sh): strict mode, the
# lab library, and helpers that make a failure say what broke.  Scenarios print
# plain text; run.sh turns it into TAP comments.
set -euo pipefail

: "${ORCH_TOP:?run the scenarios through tests/e2e/run.sh (make e2e)}"
# shellcheck source=scripts/lablib.sh
. "$ORCH_TOP/scripts/lablib.sh"

e2e_name=$(basename "$0" .t.sh)

e2e_step() { echo "-- $*"; }
e2e_note() { echo "$*"; }
e2e_fail() {
    echo "FAIL: $*"
    exit 1
}

# e2e_check DESCRIPTION CMD...: run CMD; fail the scenario naming DESCRIPTION
# unless it succeeds.
e2e_check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
    else
        e2e_fail "$what"
    fi
}

# e2e_spawn CMD...: start CMD in the background (e.g. a daemon in the root
# namespace); it is killed when the scenario ends.  Its pid is in $!.
# (Processes on lab hosts die with the lab anyway.)
e2e_pids=()
e2e_spawn() {
    "$@" &
    e2e_pids+=($!)
}

# On the way out, pass or fail: show what the lab saw when the scenario
# failed, keep the logs in $ORCH_BUILD/e2e/NAME-logs, and tear the lab down.
e2e_teardown() {
    local rc=$? f
    trap - EXIT INT TERM
    if [ ${#e2e_pids[@]} -gt 0 ]; then
        kill -TERM "${e2e_pids[@]}" 2>/dev/null || true
        for f in $(seq 50); do
            [ -n "$(lab_pids_left live "${e2e_pids[@]}")" ] || break
            sleep 0.1
        done
        # shellcheck disable=SC2046
        kill -KILL $(lab_pids_left live "${e2e_pids[@]}") 2>/dev/null || true
        wait "${e2e_pids[@]}" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -d "$LAB_DIR" ]; then
        local keep=$ORCH_BUILD/e2e/$e2e_name-logs
        rm -rf "$keep"
        mkdir -p "$keep"
        cp -r "$LAB_DIR/console" "$keep/" 2>/dev/null || true
        for f in "$LAB_DIR"/hosts/*/log; do
            [ -d "$f" ] || continue
            cp -r "$f" "$keep/$(basename "$(dirname "$f")")" 2>/dev/null || true
        done
        for f in "$LAB_DIR"/console/*.log "$LAB_DIR"/hosts/*/log/qemu/*.log; do
            [ -f "$f" ] || continue
            echo "--- last lines of $f"
            tail -n 8 "$f"
        done
        echo "--- logs kept in $keep"
    fi
    if [ -n "${E2E_KEEP_LAB:-}" ]; then
        echo "E2E_KEEP_LAB set: the lab stays up (scripts/lab.sh down)"
    else
        lab_down 2>&1 || true
    fi
    exit "$rc"
}

# A fresh lab of N hosts for this scenario, torn down when it ends however it
# ends.
e2e_lab() { # N
    trap e2e_teardown EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    lab_down 2>&1
    lab_up "$1" 2>&1
    lab_status
}
