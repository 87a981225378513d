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
# shellcheck source=tests/e2e/miglib.sh
. "$ORCH_TOP/tests/e2e/miglib.sh"

vmi=vmi-fedora
addr=198.18.0.53

# migrate NAME FROM TO POST-CMD...: run POST-CMD (it prints the HTTP code),
# follow the VMIM to its end while pinging the guest, check the record and
# the invariant.
migrate() {
    local name=$1 from=$2 to=$3 code phase before ping_pid
    shift 3
    before=$(lab_console_last "$vmi")
    ping -n -i 0.05 -W 1 "$addr" >"$work/ping-$name" 2>&1 &
    ping_pid=$!
    code=$("$@")
    e2e_check "POST $name answers 201 (got $code: $(head -c 300 "$work/post.out"))" [ "$code" = 201 ]
    phase=$(wait_vmim "$name" 180) || true
    kill -INT "$ping_pid" 2>/dev/null || true
    wait "$ping_pid" 2>/dev/null || true
    lab_api_get "$vmims/$name" | jq -c .status
    e2e_check "$name Succeeded (got $phase)" [ "$phase" = Succeeded ]
    e2e_check "$name went through Running" \
        jq -e '[.status.phaseTransitionTimestamps[].phase] | index("Running")' \
        <<<"$(lab_api_get "$vmims/$name")"
    e2e_check "$name's migrationState names $from -> $to" \
        [ "$(vmim_field "$name" '.status.migrationState | "\(.sourceNode)->\(.targetNode)"')" = "$from->$to" ]
    e2e_check "VMI $vmi's nodeName is $to" wait_nodename "$vmi" "$to" 5
    e2e_note "pings: $(grep 'packets transmitted' "$work/ping-$name" || true)"
    check_guest "$vmi" "$addr" "$to" "$before"
}
# The seed's manifest as it is, in YAML.
post_seed() {
    curl -s -o "$work/post.out" -w '%{http_code}' --max-time 10 -X POST \
        -H "Authorization: Bearer $LAB_ADMIN_TOKEN" -H 'Content-Type: application/yaml' \
        --data-binary @"$ORCH_TOP/tests/data/migration.yaml" "$api$vmims"
}

mig_setup host-a host-b
guest_up host-a "$vmi" "$addr"

e2e_step "POST the seed's migration.yaml: $vmi moves to host-b"
migrate migration-job host-a host-b post_seed

e2e_step "a second VMIM (JSON) moves it back to host-a"
migrate migration-back host-b host-a post_vmim migration-back "$vmi"
