# shellcheck shell=bash
# Sourced by the fault scenarios (after lib.sh and miglib.sh, after
# mig_setup): kill and restart a host's migrator or libvirtd mid-flight,
# read a migrator's jobs through its agent API, and steer a running
# migration with virsh on the source host.

# The migrators' pids, as mig_setup started them (orchestratord first).
declare -A mig_pid
fault_init() { # HOST... (as given to mig_setup)
    local i=1 h
    for h in "$@"; do
        mig_pid[$h]=${e2e_pids[$i]}
        i=$((i + 1))
    done
}
# kill_migrator HOST: SIGKILL that host's migrator and reap it.
kill_migrator() {
    kill -KILL "${mig_pid[$1]}"
    wait "${mig_pid[$1]}" 2>/dev/null || true
}
# restart_migrator HOST: the same configuration and state_dir again.
restart_migrator() {
    lab_migrator_start "$1" 2
    e2e_pids+=("$LAB_STARTED_PID")
    mig_pid[$1]=$LAB_STARTED_PID
}
# kill_libvirtd HOST: SIGKILL that host's libvirtd (its QEMUs live on).
kill_libvirtd() {
    local pid
    pid=$(lab_libvirtd_pid "$1") || return 1
    kill -KILL "$pid"
}
# agent_job HOST ID: the job object from HOST's migrator (nothing if none).
agent_job() {
    curl -sf --max-time 5 -H "Authorization: Bearer $LAB_AGENT_TOKEN" \
        "http://$(lab_host_addr "$1"):$LAB_AGENT_PORT/v1/jobs/$2" 2>/dev/null || true
}
# wait_agent_job HOST ID JQ-CONDITION SECONDS
wait_agent_job() {
    local _
    for _ in $(seq $(($4 * 10))); do
        agent_job "$1" "$2" | jq -e "$3" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
# libvirt_job HOST VMI: libvirt's job on the domain ("Unbounded" while a
# migration runs, "None" when none, nothing when the domain is not there).
libvirt_job() {
    "$ORCH_TOP/scripts/lab.sh" exec "$1" virsh domjobinfo "$2" 2>/dev/null |
        sed -n 's/^Job type: *\([A-Za-z]*\).*/\1/p' || true
}
# libvirt_processed HOST VMI: bytes libvirt says the running job moved.
libvirt_processed() {
    "$ORCH_TOP/scripts/lab.sh" exec "$1" virsh domjobinfo --rawstats "$2" 2>/dev/null |
        sed -n 's/.*data_processed[:=] *\([0-9][0-9]*\).*/\1/p' | head -1 || true
}
# set_speed HOST VMI MIBPS: the running migration's bandwidth.
set_speed() {
    "$ORCH_TOP/scripts/lab.sh" exec "$1" virsh migrate-setspeed "$2" "$3"
}
