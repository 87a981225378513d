#!/bin/bash
# agent-inventory: the migrator agent on real lab hosts.  Two hosts; the test
# guest started on host-a with plain libvirt; build/bin/migrator started on
# host-a and host-b (their namespaces, qemu:///system, a bearer token) and
# their /v1/inventory read from the root namespace with curl: the guest runs
# on host-a and is unknown to host-b.  The guest is then migrated with plain
# virsh; both inventories must flip (host-b running it, host-a not listing
# it) within the agents' refresh.  SIGTERM stops both agents with exit 0.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"

dom=e2e-inv
addr=198.18.0.51
port=8081
token=e2e-agent-token-0123456789
interval=2

# agent_get HOST PATH [TOKEN]: the body of a GET to HOST's agent; fails on
# an HTTP error.
agent_get() {
    curl -sf --max-time 5 -H "Authorization: Bearer ${3:-$token}" \
        "http://$(lab_host_addr "$1"):$port$2"
}

# The agent's JSON is compact and its keys are in a fixed order
# ("name","uuid","state",... for a domain), so sed finds the fields.
# inv_dom_state JSON NAME: the domain's state, or nothing when not listed.
inv_dom_state() {
    printf '%s' "$1" |
        grep -o "{\"name\":\"$2\",\"uuid\":\"[^\"]*\",\"state\":\"[^\"]*\"" |
        sed 's/.*"state":"\([^"]*\)"$/\1/' || true
}
inv_field() { # JSON KEY: a top-level or nested string/number field, first one
    printf '%s' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|[0-9]*\)" | head -1 |
        sed 's/^"[^"]*"://; s/"//g' || true
}

# wait_inventory HOST WANT SECONDS: until HOST's agent lists $dom in state
# WANT ("" for not listed).
wait_inventory() {
    local i inv
    for i in $(seq $(($3 * 10))); do
        if inv=$(agent_get "$1" /v1/inventory) &&
            [ "$(inv_dom_state "$inv" "$dom")" = "$2" ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

e2e_lab 2
e2e_step "build the test guest"
lab_guest_build 2>&1

e2e_step "start $dom ($addr) on host-a"
lab_guest_start host-a "$dom" "$addr"
e2e_check "$dom is running on host-a" [ "$(lab_dom_state host-a "$dom")" = running ]

e2e_step "start the migrator agents on host-a and host-b"
declare -A agent_pid agent_log
for h in host-a host-b; do
    dir=$(lab_host_dir "$h")
    mkdir -p "$dir/agent" "$dir/log"
    # Not the default /etc path: each host has its own file.
    cat >"$dir/agent/migrator.conf" <<EOF
agent_token = "$token";
state_dir = "$dir/agent";
report_interval_s = $interval;
labels = [ "lab=orchlab", "host=$h" ];
networks = ( { name = "sriov-net1"; pf = "ens1f0"; mode = "macvtap"; } );
EOF
    agent_log[$h]=$dir/log/migrator.log
    e2e_spawn "$ORCH_TOP/scripts/lab.sh" exec "$h" "$ORCH_BUILD/bin/migrator" \
        -f "$dir/agent/migrator.conf" --name "$h" \
        --listen "$(lab_host_addr "$h"):$port" --libvirt qemu:///system \
        2>"${agent_log[$h]}"
    agent_pid[$h]=$!
done
for h in host-a host-b; do
    for i in $(seq 100); do
        grep -q "serving HTTP" "${agent_log[$h]}" && break
        kill -0 "${agent_pid[$h]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "${agent_log[$h]}"
    e2e_check "the agent on $h serves" grep -q "serving HTTP on $(lab_host_addr "$h"):$port" "${agent_log[$h]}"
    e2e_check "$h answers /healthz without a token" \
        [ "$(curl -s --max-time 5 "http://$(lab_host_addr "$h"):$port/healthz")" = ok ]
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        "http://$(lab_host_addr "$h"):$port/v1/inventory")
    e2e_check "$h refuses /v1/inventory without the token (got $code)" [ "$code" = 401 ]
done

e2e_step "read both inventories"
for h in host-a host-b; do
    for i in $(seq 50); do
        agent_get "$h" /v1/inventory >/dev/null 2>&1 && break
        sleep 0.1
    done
done
inv_a=$(agent_get host-a /v1/inventory) || e2e_fail "GET /v1/inventory on host-a"
inv_b=$(agent_get host-b /v1/inventory) || e2e_fail "GET /v1/inventory on host-b"
e2e_note "host-a: $inv_a"
e2e_note "host-b: $inv_b"
e2e_check "host-a's inventory names host-a" [ "$(inv_field "$inv_a" name)" = host-a ]
e2e_check "host-a lists its address 198.18.0.11" grep -q '"address":"198.18.0.11"' <<<"$inv_a"
e2e_check "host-a reports the labels" grep -q '"labels":{"lab":"orchlab","host":"host-a"}' <<<"$inv_a"
e2e_check "host-a reports libvirt's qemu:///system" grep -q '"uri":"qemu:///system"' <<<"$inv_a"
uuid_a=$(inv_field "$inv_a" hostUUID)
uuid_b=$(inv_field "$inv_b" hostUUID)
e2e_check "the hosts report distinct host UUIDs ($uuid_a, $uuid_b)" \
    [ -n "$uuid_a" -a -n "$uuid_b" -a "$uuid_a" != "$uuid_b" ]
e2e_check "host-a reports its capacity" grep -q '"capacity":{"cpus":[1-9][0-9]*,"memoryKiB":[1-9][0-9]*}' <<<"$inv_a"
e2e_check "the missing PF ens1f0 is reported, not fatal" \
    grep -q '"pf":"ens1f0","mode":"macvtap","vlan":0,"trust":null,"spoofchk":null,"error":"no such interface"' <<<"$inv_a"
e2e_check "$dom is running in host-a's inventory" [ "$(inv_dom_state "$inv_a" "$dom")" = running ]
e2e_check "$dom is not in host-b's inventory" [ -z "$(inv_dom_state "$inv_b" "$dom")" ]
e2e_check "host-a lists $dom booted, with the guest's memory (192 MiB)" \
    grep -q "{\"name\":\"$dom\",\"uuid\":\"[^\"]*\",\"state\":\"running\",\"stateReason\":\"booted\",\"id\":[0-9]*,\"persistent\":true,\"migrating\":false,\"memoryKiB\":196608,\"vcpus\":1," <<<"$inv_a"
# (host-a runs $dom alone.)
e2e_check "host-a reports $dom's ACPI (a destroy is then Failed, not Succeeded)" \
    grep -q '"hostdevs":0,"acpi":true}' <<<"$inv_a"
e2e_check "host-a reports its nodeInfo" \
    grep -q '"nodeInfo":{"kernelVersion":"[^"]*","osImage":"[^"]*","arch":"x86_64","libvirtVersion":"[^"]*","hypervisorVersion":"[^"]*"' <<<"$inv_a"

e2e_step "migrate $dom host-a -> host-b (virsh migrate --live --p2p)"
lab_wait_ping "$addr" 60 || e2e_fail "$dom does not answer ping"
lab_migrate_raw host-a host-b "$dom" "$addr" || e2e_fail "virsh migrate failed"
t0=$(date +%s.%N)
e2e_check "$dom is running on host-b (virsh)" [ "$(lab_dom_state host-b "$dom")" = running ]

e2e_step "the inventories follow"
e2e_check "host-b's agent lists $dom running" wait_inventory host-b running $((interval * 3))
e2e_check "host-a's agent no longer lists $dom" wait_inventory host-a "" $((interval * 3))
e2e_note "both inventories flipped $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s" \
    "after the migration's settle (refresh every $interval s, and on libvirt events)"
inv_b=$(agent_get host-b /v1/inventory)
e2e_check "host-b's inventory has moved on (generation $(inv_field "$inv_b" generation))" \
    [ "$(inv_field "$inv_b" generation)" -gt 1 ]
e2e_check "host-b says $dom came by migration" \
    grep -q "{\"name\":\"$dom\",\"uuid\":\"[^\"]*\",\"state\":\"running\",\"stateReason\":\"migrated\"" <<<"$inv_b"

e2e_step "stop the agents (SIGTERM)"
for h in host-a host-b; do
    kill -TERM "${agent_pid[$h]}"
    rc=0
    wait "${agent_pid[$h]}" || rc=$?
    e2e_check "the agent on $h exited 0 (got $rc)" [ "$rc" -eq 0 ]
    e2e_check "the agent on $h logged its stop" grep -q "migrator: info: stopped" "${agent_log[$h]}"
done
