# shellcheck shell=bash
# Sourced by the migration scenarios (after lib.sh): orchestratord and a
# migrator per host on a fresh lab, VMIMs posted and followed through the
# API, and the invariant every scenario checks: the guest runs on exactly
# one host, answers pings, and its console counter never restarted.

# (lib.sh, sourced first, sets e2e_name.)
# shellcheck disable=SC2154
api=$(lab_orchd_url)
ns_path=/apis/kubevirt.io/v1/namespaces/default
vmims=$ns_path/virtualmachineinstancemigrations
work=$ORCH_BUILD/e2e/$e2e_name.work
export ORCH_SERVER=$api ORCH_TOKEN=$LAB_ADMIN_TOKEN

# post_vmim NAME VMI [SPEC-EXTRA-JSON] -> HTTP code, body in $work/post.out
post_vmim() {
    local spec x=${3:-}
    [ -n "$x" ] || x='{}'
    spec=$(jq -nc --arg v "$2" --argjson x "$x" '{vmiName: $v} + $x')
    printf '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"%s"},"spec":%s}\n' \
        "$1" "$spec" >"$work/vmim-$1.json"
    curl -s -o "$work/post.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H "Content-Type: application/json" \
        --data-binary @"$work/vmim-$1.json" "$api$vmims"
}
# delete_vmim NAME -> HTTP code
delete_vmim() {
    curl -s -o "$work/delete.out" -w '%{http_code}' --max-time 10 -X DELETE \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$api$vmims/$1"
}
field() { # PATH JQ -> value or nothing
    lab_api_get "$1" 2>/dev/null | jq -r "$2 // empty" 2>/dev/null || true
}
vmim_field() { field "$vmims/$1" "$2"; } # NAME JQ
# wait_vmim NAME SECONDS: until the VMIM is final; prints the final phase.
wait_vmim() {
    local _ p last=
    for _ in $(seq $(($2 * 10))); do
        p=$(vmim_field "$1" .status.phase)
        if [ -n "$p" ] && [ "$p" != "$last" ]; then
            echo "$1: phase $p" >&2
            last=$p
        fi
        case $p in Succeeded | Failed) echo "$p"; return 0 ;; esac
        sleep 0.1
    done
    echo "$last"
    return 1
}
# wait_running NAME SECONDS: until the VMIM is Running and has moved some data.
wait_running() {
    local _ p d
    for _ in $(seq $(($2 * 10))); do
        p=$(vmim_field "$1" .status.phase)
        d=$(vmim_field "$1" .status.progress.dataProcessedBytes)
        case $p in Succeeded | Failed) return 1 ;; esac
        [ "$p" = Running ] && [ "${d:-0}" -gt 0 ] && return 0
        sleep 0.1
    done
    return 1
}
# on_one_host VMI HOST: the guest runs on HOST and on no other lab host.
on_one_host() {
    local h
    for h in $(lab_hosts); do
        if [ "$h" = "$2" ]; then
            [ "$(lab_dom_state "$h" "$1")" = running ] || return 1
        else
            [ -z "$(lab_dom_state "$h" "$1")" ] || return 1
        fi
    done
}
# runs_only_on VMI HOST: mid-flight, the guest runs on HOST and runs nowhere
# else (a migration's target may hold it paused, waiting for the memory).
runs_only_on() {
    local h
    for h in $(lab_hosts); do
        if [ "$h" = "$2" ]; then
            [ "$(lab_dom_state "$h" "$1")" = running ] || return 1
        else
            [ "$(lab_dom_state "$h" "$1")" != running ] || return 1
        fi
    done
}
# check_guest VMI ADDR HOST BEFORE: the invariant, after the fact.
check_guest() {
    e2e_check "$1 runs on $3 and on no other host" on_one_host "$1" "$3"
    e2e_check "$1 answers pings ($2)" lab_ping "$2" 5
    e2e_check "$1's console counter goes on past $4" lab_wait_counter "$1" "$4" 30
    e2e_check "$1's console counter never restarted" lab_console_monotonic "$1"
}
# wait_dirty VMI SECONDS: until the guest's orch.dirty workload has filled
# its memory and started rewriting it (scripts/guest/init).
wait_dirty() {
    local _ f
    f=$(lab_guest_console "$1")
    for _ in $(seq $(($2 * 4))); do
        grep -q 'orch-dirty [0-9]* MiB rounds' "$f" 2>/dev/null && return 0
        sleep 0.25
    done
    return 1
}
# wait_nodename VMI HOST [SECONDS]
wait_nodename() {
    local _
    for _ in $(seq $((${3:-10} * 10))); do
        [ "$(field "$ns_path/virtualmachineinstances/$1" .status.nodeName)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# mig_setup HOST...: a fresh lab with orchestratord (its migrations group
# extended by LAB_ORCHD_MIGRATIONS) and a migrator on each host, all Ready.
mig_setup() {
    local h _
    e2e_lab $#
    e2e_step "build the test guest"
    lab_guest_build 2>&1
    rm -rf "$work"
    mkdir -p "$work"
    e2e_step "orchestratord on $api (migrations: ${LAB_ORCHD_MIGRATIONS:-defaults}), a migrator on each host"
    lab_orchd_conf "$work" "$@"
    lab_orchd_start "$work" || e2e_fail "orchestratord does not start"
    e2e_pids+=("$LAB_STARTED_PID")
    for h in "$@"; do
        lab_migrator_start "$h" 2
        e2e_pids+=("$LAB_STARTED_PID")
    done
    for h in "$@"; do
        for _ in $(seq 150); do
            [ "$(field "/api/v1/nodes/$h" '.status.conditions[]? | select(.type == "Ready") | .status')" = True ] && break
            sleep 0.1
        done
    done
}
# guest_up HOST VMI ADDR [CMDLINE-EXTRA...]: start the guest (extra kernel
# arguments, e.g. orch.dirty=48) and wait for it to answer and for its VMI
# to be Running on HOST.
guest_up() {
    local _
    e2e_step "start the guest $2 ($3${4:+, ${*:4}}) on $1"
    lab_guest_start "$@"
    lab_wait_ping "$3" 60 || e2e_fail "$2 does not answer ping"
    for _ in $(seq 150); do
        [ "$(field "$ns_path/virtualmachineinstances/$2" .status.phase)" = Running ] && break
        sleep 0.1
    done
    e2e_check "VMI $2 is Running on $1" wait_nodename "$2" "$1" 5
}
