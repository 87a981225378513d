#!/bin/bash
# seed-vmim-migrates-and-back: the product's main job on the real lab.  Two
# hosts with their migrators reporting to orchestratord; the test guest runs
# on host-a as VMI default/vmi-fedora.  The seed's migration.yaml is POSTed
# with curl: the VMIM goes through KubeVirt's phases to Succeeded, the guest
# then runs on host-b and on no other host, kept answering pings across the
# move, and its console counter never restarted.  A second VMIM (JSON) moves
# it back to host-a the same way.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"

vmi=vmi-fedora
addr=198.18.0.53
api=$(lab_orchd_url)
ns_path=/apis/kubevirt.io/v1/namespaces/default
work=$ORCH_BUILD/e2e/$e2e_name.work

post() { # CONTENT-TYPE FILE -> HTTP code, body in $work/post.out
    curl -s -o "$work/post.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H "Content-Type: $1" \
        --data-binary @"$2" "$api$ns_path/virtualmachineinstancemigrations"
}
field() { # PATH JQ -> value or nothing
    lab_api_get "$1" 2>/dev/null | jq -r "$2 // empty" 2>/dev/null || true
}
# wait_vmim NAME SECONDS: until the VMIM is final; prints the phases seen.
wait_vmim() {
    local i p last=
    for i in $(seq $(($2 * 10))); do
        p=$(field "$ns_path/virtualmachineinstancemigrations/$1" .status.phase)
        if [ -n "$p" ] && [ "$p" != "$last" ]; then
            echo "phase $p" >&2
            last=$p
        fi
        case $p in Succeeded | Failed) echo "$p"; return 0 ;; esac
        sleep 0.1
    done
    echo "$last"
    return 1
}
# on_one_host HOST: the guest runs on HOST and on no other lab host.
on_one_host() {
    local h
    for h in host-a host-b; do
        if [ "$h" = "$1" ]; then
            [ "$(lab_dom_state "$h" "$vmi")" = running ] || return 1
        else
            [ -z "$(lab_dom_state "$h" "$vmi")" ] || return 1
        fi
    done
}
# migrate NAME CONTENT-TYPE FILE FROM TO: post, wait, check.
migrate() {
    local name=$1 from=$4 to=$5 code phase before ping_pid
    before=$(lab_console_last "$vmi")
    ping -n -i 0.05 -W 1 "$addr" >"$work/ping-$name" 2>&1 &
    ping_pid=$!
    code=$(post "$2" "$3")
    e2e_check "POST $name answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
    phase=$(wait_vmim "$name" 180) || true
    kill -INT "$ping_pid" 2>/dev/null || true
    wait "$ping_pid" 2>/dev/null || true
    lab_api_get "$ns_path/virtualmachineinstancemigrations/$name" | jq -c .status
    e2e_check "$name Succeeded (got $phase)" [ "$phase" = Succeeded ]
    e2e_check "$name went through Running" \
        jq -e '[.status.phaseTransitionTimestamps[].phase] | index("Running")' \
        <<<"$(lab_api_get "$ns_path/virtualmachineinstancemigrations/$name")"
    e2e_check "$name's migrationState names $from -> $to" \
        [ "$(field "$ns_path/virtualmachineinstancemigrations/$name" \
            '.status.migrationState | "\(.sourceNode)->\(.targetNode)"')" = "$from->$to" ]
    e2e_check "the guest runs on $to and on no other host" on_one_host "$to"
    for i in $(seq 50); do
        [ "$(field "$ns_path/virtualmachineinstances/$vmi" .status.nodeName)" = "$to" ] && break
        sleep 0.1
    done
    e2e_check "VMI $vmi's nodeName is $to" \
        [ "$(field "$ns_path/virtualmachineinstances/$vmi" .status.nodeName)" = "$to" ]
    e2e_note "pings: $(grep 'packets transmitted' "$work/ping-$name" || true)"
    e2e_check "the guest answers pings on $to" lab_ping "$addr" 5
    e2e_check "its console counter goes on past $before" lab_wait_counter "$vmi" "$before" 30
    e2e_check "its console counter never restarted" lab_console_monotonic "$vmi"
}

e2e_lab 2
e2e_step "build the test guest"
lab_guest_build 2>&1
rm -rf "$work"
mkdir -p "$work"

e2e_step "orchestratord on $api, a migrator on each host"
lab_orchd_conf "$work" host-a host-b
lab_orchd_start "$work" || e2e_fail "orchestratord does not start"
e2e_pids+=("$LAB_STARTED_PID")
for h in host-a host-b; do
    lab_migrator_start "$h" 2
    e2e_pids+=("$LAB_STARTED_PID")
done

e2e_step "start the guest $vmi ($addr) on host-a"
lab_guest_start host-a "$vmi" "$addr"
lab_wait_ping "$addr" 60 || e2e_fail "$vmi does not answer ping"
for i in $(seq 100); do
    [ "$(field "$ns_path/virtualmachineinstances/$vmi" .status.phase)" = Running ] && break
    sleep 0.1
done
e2e_check "VMI $vmi is Running on host-a" \
    [ "$(field "$ns_path/virtualmachineinstances/$vmi" .status.nodeName)" = host-a ]
for h in host-a host-b; do
    for i in $(seq 100); do
        [ "$(field "/api/v1/nodes/$h" '.status.conditions[]? | select(.type == "Ready") | .status')" = True ] && break
        sleep 0.1
    done
done

e2e_step "POST the seed's migration.yaml: $vmi moves to host-b"
migrate migration-job application/yaml "$ORCH_TOP/tests/data/migration.yaml" host-a host-b

e2e_step "a second VMIM (JSON) moves it back to host-a"
printf '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstanceMigration","metadata":{"name":"migration-back"},"spec":{"vmiName":"%s"}}\n' \
    "$vmi" >"$work/back.json"
migrate migration-back application/json "$work/back.json" host-b host-a
