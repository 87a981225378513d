# shellcheck shell=bash
# Sourced by the orchestratord fault scenarios (after lib.sh and miglib.sh,
# after mig_setup): SIGKILL and restart orchestratord, read a migrator's
# jobs through its agent API, steer a running migration with virsh on the
# source, cut a host off the lab bridge and back.

# (miglib.sh sets work.)
# shellcheck disable=SC2154
# orchestratord's pid, as mig_setup started it (the first of e2e_pids).
orchd_pid=${e2e_pids[0]}
# lab_orchd_start trusts whoever answers /healthz on the lab's port: make
# sure it is ours.
orchd_alive() {
    sleep 0.3
    kill -0 "$orchd_pid" 2>/dev/null ||
        e2e_fail "orchestratord $orchd_pid exited (another process on port $LAB_ORCHD_PORT?)"
}
orchd_alive
# orchd_kill: SIGKILL orchestratord and reap it.
orchd_kill() {
    kill -KILL "$orchd_pid"
    wait "$orchd_pid" 2>/dev/null || true
}
# orchd_restart: the same configuration and database again.
orchd_restart() {
    lab_orchd_start "$work" || e2e_fail "orchestratord does not start again"
    e2e_pids+=("$LAB_STARTED_PID")
    orchd_pid=$LAB_STARTED_PID
    orchd_alive
}
# rs_agent_get HOST PATH: GET PATH from HOST's migrator's agent API.
rs_agent_get() {
    curl -sf --max-time 5 -H "Authorization: Bearer $LAB_AGENT_TOKEN" \
        "http://$(lab_host_addr "$1"):$LAB_AGENT_PORT$2" 2>/dev/null || true
}
# rs_wait_job HOST ID JQ-CONDITION SECONDS
rs_wait_job() {
    local _
    for _ in $(seq $(($4 * 10))); do
        rs_agent_get "$1" "/v1/jobs/$2" | jq -e "$3" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
# rs_jobs_of HOST UID TYPE: how many jobs of TYPE HOST has for migration UID.
rs_jobs_of() {
    rs_agent_get "$1" /v1/jobs |
        jq --arg u "$2" --arg t "$3" '[.items[] | select(.migration.uid == $u and .type == $t)] | length'
}
# rs_set_speed HOST VMI MIBPS: the running migration's bandwidth.
rs_set_speed() {
    "$ORCH_TOP/scripts/lab.sh" exec "$1" virsh migrate-setspeed "$2" "$3"
}
# rs_cut HOST PEER add|del: cut (add) or restore (del) the IP path between
# two hosts with a blackhole route in each: their libvirtds' RPC and the
# migration stream see silence, as on a broken link, while both stay on the
# lab bridge (reports, agent calls, guests' L2 traffic go on).  Taking a
# veth down instead drops its carrier, and then host-b's libvirtd stayed
# stuck until the 2-minute keepalive even after the link came back.
rs_cut() {
    ip -n "$(lab_host_ns "$1")" route "$3" blackhole "$(lab_host_addr "$2")/32"
    ip -n "$(lab_host_ns "$2")" route "$3" blackhole "$(lab_host_addr "$1")/32"
}
# rs_outcome_condition NAME: the VMIM's OutcomeUnknown condition, compact.
rs_outcome_condition() {
    vmim_field "$1" '.status.conditions[]? | select(.type == "OutcomeUnknown") | "\(.status) \(.reason)"'
}
