#!/bin/bash
# kubectl-verbs: the real, unmodified kubectl (1.32) against a real
# orchestratord, as a user drives a KubeVirt cluster, without
# --validate=false: create -f, apply -f (create, then update through the
# last-applied annotation; --server-side refused with a Status), get with
# KubeVirt's printer columns (Tables), get -w, -o yaml|json|jsonpath,
# describe with its Events, edit, label, annotate, patch --type
# merge|json|strategic, delete (and --dry-run=server), wait
# --for=jsonpath='{.status.phase}'=Succeeded, explain; query parameters
# the client libraries send, read as the API server reads them.  First over
# plain HTTP on loopback (no tokens: kubectl sends no bearer token over
# plain HTTP), then over TLS with a bearer token.
#
# No lab hosts: orchestratord runs on loopback, two nodes report through the
# node-report API as migrators do, and their agent URL is tests/e2e/
# stub-agent.py, which answers the job API (a migration is Running for 2 s,
# then Succeeded).  What is under test is the REST side.
#
# Needs kubectl >= 1.27 (OpenAPI v3 for validation and explain), python3 and
# python3-kubernetes (Debian's client library, driven by tests/e2e/
# kubeclient.py as automation would); without them the scenario is skipped
# (exit 77), never passed.
# shellcheck source=tests/e2e/lib.sh
. "$ORCH_TOP/tests/e2e/lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}

K=${KUBECTL:-}
if [ -z "$K" ]; then
    # The Cloud SDK's kubectl is a dispatcher that picks a client by the
    # server's version; take its 1.32 client directly when it is there.
    for k in /usr/lib/google-cloud-sdk/bin/kubectl.1.32 kubectl; do
        if command -v "$k" >/dev/null 2>&1; then
            K=$(command -v "$k")
            break
        fi
    done
fi
[ -n "$K" ] || skip "no kubectl (scripts/install-deps.sh installs it where the package archive offers it)"
minor=$("$K" version --client -o json 2>/dev/null | jq -r .clientVersion.minor 2>/dev/null | tr -dc 0-9 || true)
[ "${minor:-0}" -ge 27 ] || skip "kubectl $K: $("$K" version --client 2>&1 | head -1 || true): not 1.27 or later (OpenAPI v3 is needed)"
command -v python3 >/dev/null || skip "no python3 for tests/e2e/stub-agent.py"
# Debian's client library, for the automation part; the python3 on PATH may
# be another installation than Debian's.
pyclient=
for py in /usr/bin/python3 python3; do
    if "$py" -c 'import kubernetes' 2>/dev/null; then
        pyclient=$py
        break
    fi
done
[ -n "$pyclient" ] || skip "no python3-kubernetes (scripts/install-deps.sh installs it)"
command -v openssl >/dev/null || skip "no openssl for the TLS part"
e2e_note "kubectl: $K ($("$K" version --client 2>/dev/null | head -1))"

work=$ORCH_BUILD/e2e/$e2e_name.work
rm -rf "$work"
mkdir -p "$work"
# No lab here: the teardown only stops what this scenario started (lib.sh's
# e2e_teardown would also take the machine's lab down).
teardown() {
    local rc=$?
    trap - EXIT
    [ ${#e2e_pids[@]} -eq 0 ] || kill -TERM "${e2e_pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    if [ "$rc" -ne 0 ]; then
        for f in "$work"/*.log; do
            echo "--- last lines of $f"
            tail -n 15 "$f"
        done
    fi
    exit "$rc"
}
trap teardown EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
export HOME=$work # kubectl's discovery cache, nowhere else
mig=$ORCH_TOP/tests/data/migration.yaml

# start_orchd NAME CONF-LINES...: orchestratord on loopback (a free port)
# from WORK/NAME.conf; sets $url.
start_orchd() {
    local name=$1 port i
    shift
    printf '%s\n' 'listen = "127.0.0.1:0";' "database = \"$work/$name.db\";" \
        'log_level = "debug";' "$@" >"$work/$name.conf"
    e2e_spawn "$ORCH_BUILD/bin/orchestratord" -f "$work/$name.conf" 2>"$work/$name.log"
    for i in $(seq 100); do
        port=$(sed -n 's/.*serving HTTPS\{0,1\} on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/$name.log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || e2e_fail "orchestratord $name did not start: $(cat "$work/$name.log")"
    case "$*" in *tls*) url=https://127.0.0.1:$port ;; *) url=http://127.0.0.1:$port ;; esac
}

# report NODE [DOMAIN] [TOKEN]: a node report as a migrator sends it.
report() {
    local doms='[]' auth=()
    [ -z "${2:-}" ] || doms=$(jq -nc --arg d "$2" '[{name:$d, uuid:"0b5c2b52-47d6-4a76-8a55-3a3e0bd2b0d1",
        state:"running", stateReason:"booted", id:1, persistent:true, memoryKiB:262144, vcpus:1,
        migrating:false, acpi:true, hostdevs:0, interfaces:[], disks:[]}]')
    [ -z "${3:-}" ] || auth=(-H "Authorization: Bearer $3")
    jq -nc --arg n "$1" --arg a "http://127.0.0.1:$agent_port" --argjson d "$doms" \
        '{name:$n, addresses:[{type:"InternalIP", address:"127.0.0.1"}],
          capacity:{cpus:8, memoryKiB:16777216},
          agent:{url:$a, version:"v0.1.0", bootId:"b0"}, domains:$d}' |
        curl -sf -o /dev/null --cacert "$work/ca.pem" "${auth[@]}" -X PUT \
            -H 'Content-Type: application/json' --data-binary @- \
            "$url/apis/agent.orchestrator.io/v1/nodereports/$1"
}

# kubeconfig FILE SERVER [TOKEN]
kubeconfig() {
    {
        echo "apiVersion: v1"
        echo "kind: Config"
        echo "clusters: [{name: orch, cluster: {server: \"$2\"$([ -z "${3:-}" ] || echo ", certificate-authority: \"$work/ca.pem\"")}}]"
        echo "contexts: [{name: orch, context: {cluster: orch, user: u, namespace: default}}]"
        echo "current-context: orch"
        echo "users: [{name: u, user: {$([ -z "${3:-}" ] || echo "token: \"$3\"")}}]"
    } >"$1"
}

kc() { "$K" --request-timeout=20s "$@"; }
has() { grep -q -- "$1" "$work/out"; } # PATTERN: in the last output
out() { # CMD...: output to $work/out, exit status in $rc
    rc=0
    "$@" >"$work/out" 2>&1 || rc=$?
}
show() { sed 's/^/    /' "$work/out"; }

e2e_step "stub agent and a TLS certificate"
python3 "$ORCH_TOP/tests/e2e/stub-agent.py" 0 >"$work/agent.port" 2>"$work/agent.log" &
e2e_pids+=($!)
for _ in $(seq 50); do
    agent_port=$(head -1 "$work/agent.port")
    [ -n "$agent_port" ] && break
    sleep 0.1
done
[ -n "$agent_port" ] || e2e_fail "stub agent did not start: $(cat "$work/agent.log")"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/ca.pem" 2>/dev/null ||
    e2e_fail "openssl could not make a certificate"

e2e_step "plain HTTP on loopback, no tokens"
start_orchd plain
export KUBECONFIG=$work/plain.kubeconfig
kubeconfig "$KUBECONFIG" "$url"
report host-a default_vmi-fedora
report host-b
e2e_note "orchestratord at $url"

out kc version
e2e_check "kubectl version shows the server's" has "Server Version: v0.1.0"
out kc api-resources
e2e_check "api-resources lists vmim and events" \
    grep -Eq '^virtualmachineinstancemigrations +vmim.*kubevirt.io/v1 +true +VirtualMachineInstanceMigration' "$work/out"
has '^events .*ev .*v1 .*true .*Event' || e2e_fail "api-resources has no events: $(show)"

out kc explain vmim
show
e2e_check "explain vmim names the kind" has "KIND: *VirtualMachineInstanceMigration"
e2e_check "explain vmim says spec is required" has "spec.*<Object> -required-"
out kc explain vmim.spec.vmiName
e2e_check "explain vmim.spec.vmiName is a string" has "vmiName.*<string>"
out kc explain vmim.status.phase
e2e_check "explain names the phases from api/" has "PreparingTarget"

e2e_step "create -f (validated, no --validate=false), get, wait"
out kc create -f "$mig"
show
e2e_check "create -f migration.yaml" has "virtualmachineinstancemigration.kubevirt.io/migration-job created"
out kc create -f "$mig"
e2e_check "a second create while it is in flight: KubeVirt's webhook refusal" has 'Conflict.*in-flight migration detected'
sed 's/vmiName: vmi-fedora/vmiName: vmi-fedora\n  bogus: 1/' "$mig" | sed 's/name: migration-job/name: strict/' >"$work/bad.yaml"
out kc create -f "$work/bad.yaml"
show
e2e_check "an unknown field is refused (server-side strict validation)" has 'unknown field "spec.bogus"'
out kc get vmim
show
e2e_check "get vmim: KubeVirt's columns NAME PHASE VMI" grep -Eq '^NAME +PHASE +VMI$' "$work/out"
out kc wait --for=jsonpath='{.status.phase}'=Succeeded vmim/migration-job --timeout=60s
show
e2e_check "wait --for=jsonpath={.status.phase}=Succeeded" has "condition met"
out kc create -f "$work/bad.yaml" --validate=false --dry-run=server
show
e2e_check "--validate=false (fieldValidation=Ignore) drops it instead" has "strict created (server dry run)"
out kc create -f "$work/bad.yaml" --validate=warn --dry-run=server
show
e2e_check "--validate=warn (fieldValidation=Warn) drops it with a warning" has 'Warning: unknown field "spec.bogus"'
e2e_check "and creates the rest" has "strict created (server dry run)"
out kc create -f "$mig"
e2e_check "a second create once it ended is AlreadyExists" has 'AlreadyExists.*"migration-job" already exists'
out kc get vmim migration-job -o jsonpath='{.status.phase}'
e2e_check "-o jsonpath says Succeeded" [ "$(cat "$work/out")" = Succeeded ]
out kc get vmim migration-job -o json
e2e_check "-o json is the object" [ "$(jq -r .kind "$work/out")" = VirtualMachineInstanceMigration ]
out kc get vmim migration-job -o yaml
e2e_check "-o yaml is the object" has "^kind: VirtualMachineInstanceMigration"
out kc get vmi
show
e2e_check "get vmi: NAME AGE PHASE IP NODENAME READY" grep -Eq '^NAME +AGE +PHASE +IP +NODENAME +READY$' "$work/out"
e2e_check "the VMI runs on host-b now" grep -Eq '^vmi-fedora .* Running +host-b +True' "$work/out"
out kc get nodes
show
e2e_check "get nodes: NAME STATUS ROLES AGE VERSION" grep -Eq '^NAME +STATUS +ROLES +AGE +VERSION$' "$work/out"

e2e_step "VMs: create -f, KubeVirt's columns, delete"
out kc create -f "$ORCH_TOP/tests/data/vm-sriov.yaml"
show
e2e_check "create -f a VirtualMachine manifest" has "virtualmachine.kubevirt.io/vmi-sriov-test-vm created"
out kc get vm
show
e2e_check "get vm: NAME AGE STATUS READY" grep -Eq '^NAME +AGE +STATUS +READY$' "$work/out"
out kc delete vm vmi-sriov-test-vm
e2e_check "delete vm" has '"vmi-sriov-test-vm" deleted'

e2e_step "describe and events"
out kc describe vmim migration-job
show
e2e_check "describe vmim shows its events" has "Normal  *Migrated .*orchestratord  *The VirtualMachineInstance migrated to node host-b"
e2e_check "describe shows the phases as events" has "Normal  *PreparingTarget"
out kc get events --field-selector involvedObject.kind=VirtualMachineInstance,involvedObject.name=vmi-fedora
show
e2e_check "get events --field-selector involvedObject.*" grep -Eq 'Normal +Migrated +virtualmachineinstance/vmi-fedora' "$work/out"
out kc describe node host-a
e2e_check "describe node (no pods here: an empty list)" has "Non-terminated Pods: *(0 in total)"
out kc get events --field-selector involvedObject.nope=x
e2e_check "an unknown event field selector is refused" has 'is not a known field selector'

e2e_step "apply, label, annotate, patch, edit"
sed 's/^metadata:/metadata:\n  labels: {team: blue}/' "$mig" >"$work/m.yaml"
out kc apply -f "$work/m.yaml"
show
e2e_check "apply -f on the existing object (client-side, merge patch)" has "migration-job configured"
out kc get vmim migration-job -o jsonpath='{.metadata.labels.team}'
e2e_check "apply set the label" [ "$(cat "$work/out")" = blue ]
out kc get vmim migration-job -o jsonpath='{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}'
e2e_check "the last-applied annotation holds the manifest" jq -e '.metadata.labels.team == "blue"' "$work/out"
sed 's/team: blue/team: green/' "$work/m.yaml" >"$work/m2.yaml"
out kc apply -f "$work/m2.yaml"
out kc get vmim migration-job -o jsonpath='{.metadata.labels.team}'
e2e_check "a second apply updates it" [ "$(cat "$work/out")" = green ]
out kc apply --server-side -f "$work/m2.yaml"
show
e2e_check "apply --server-side is refused with a clear Status" has "server-side apply (application/apply-patch+yaml) is not supported by orchestratord"
out kc label vmim migration-job tier=web
e2e_check "label" has "migration-job labeled"
out kc annotate vmim migration-job note=checked
e2e_check "annotate" has "migration-job annotated"
out kc patch vmim migration-job --type merge -p '{"metadata":{"labels":{"m":"1"}}}'
e2e_check "patch --type merge" has "migration-job patched"
out kc patch vmim migration-job --type json -p '[{"op":"add","path":"/metadata/labels/j","value":"2"},{"op":"test","path":"/spec/vmiName","value":"vmi-fedora"}]'
e2e_check "patch --type json" has "migration-job patched"
out kc patch vmim migration-job --type json -p '[{"op":"test","path":"/spec/vmiName","value":"nope"}]'
show
e2e_check "a failing JSON patch test is refused" has "test operation failed"
out kc patch vmim migration-job --type strategic -p '{"metadata":{"labels":{"s":"3"}}}'
show
e2e_check "patch --type strategic of a KubeVirt kind: 415 as for a custom resource" has "accepted media types include: application/json-patch+json, application/merge-patch+json"
out kc patch vmim migration-job --type merge -p '{"spec":{"vmiName":"other"}}'
show
e2e_check "the spec is immutable (KubeVirt's update admitter)" has "update of Migration object's spec is restricted"
out kc get vmim migration-job -o jsonpath='{.metadata.labels.tier}{.metadata.labels.m}{.metadata.labels.j}{.metadata.annotations.note}'
e2e_check "label, annotate and patches all landed" [ "$(cat "$work/out")" = web12checked ]
printf '#!/bin/sh\nsed -i "s/^    team: green$/    team: edited/" "$1"\n' >"$work/editor.sh"
chmod +x "$work/editor.sh"
out env EDITOR="$work/editor.sh" "$K" edit vmim migration-job
show
e2e_check "edit" has "migration-job edited"
out kc get vmim migration-job -o jsonpath='{.metadata.labels.team}'
e2e_check "edit changed the label" [ "$(cat "$work/out")" = edited ]
out kc label node host-a rack=r9
show
e2e_check "label node (a strategic merge patch of a core kind)" has "node/host-a labeled"
out kc get node host-a -o jsonpath='{.metadata.labels.rack}'
e2e_check "the node has the label" [ "$(cat "$work/out")" = r9 ]

e2e_step "get -w"
timeout 6 "$K" get vmim -w >"$work/watch.out" 2>"$work/watch.err" &
wpid=$!
sleep 2
kc label vmim migration-job watched=yes >/dev/null
wait "$wpid" || true
sed 's/^/    /' "$work/watch.out" "$work/watch.err"
watch_rows() {
    [ "$(grep -c '^NAME' "$work/watch.out")" = 1 ] &&
        [ "$(grep -c '^migration-job  *Succeeded  *vmi-fedora' "$work/watch.out")" -ge 2 ]
}
e2e_check "get -w prints the header once and the change as a row" watch_rows
not_has_fallback() { ! grep -q "Unable to decode" "$work/watch.err"; }
e2e_check "get -w got Tables (no fallback)" not_has_fallback

e2e_step "query parameters, as the API server reads them"
vmims=$url/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations
code=$(curl -s -o "$work/out" -w '%{http_code}' "$vmims?watch=true&sendInitialEvents=true")
e2e_check "sendInitialEvents is refused clearly (422)" [ "$code" = 422 ]
has "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled" || e2e_fail "$(show)"
code=$(curl -s -o "$work/out" -w '%{http_code}' "$vmims?watch=0")
e2e_check "watch=0 is a list (only 0 and false are false)" jq -e '.kind == "VirtualMachineInstanceMigrationList"' "$work/out"
code=$(curl -s -o "$work/out" -w '%{http_code}' --max-time 2 "$vmims?watch=yes&timeoutSeconds=1")
e2e_check "watch=yes is a watch" jq -se '.[0].type == "ADDED"' "$work/out"
code=$(curl -s -o "$work/out" -w '%{http_code}' -X POST -H 'Content-Type: application/yaml' --data-binary @"$mig" "$vmims?dryRun=Some")
e2e_check "dryRun=Some is refused (422)" [ "$code" = 422 ]
code=$(curl -s -o "$work/out" -w '%{http_code}' "$vmims?resourceVersionMatch=NotOlderThan")
e2e_check "resourceVersionMatch without resourceVersion is refused (422)" [ "$code" = 422 ]
code=$(curl -s -o "$work/out" -w '%{http_code}' "$vmims/migration-job?pretty=true")
e2e_check "pretty=true indents" grep -q '^  "kind": "VirtualMachineInstanceMigration"' "$work/out"
code=$(curl -s -o "$work/out" -w '%{http_code}' -X PATCH -H 'Content-Type: application/json' --data '{}' "$vmims/migration-job")
e2e_check "PATCH with application/json is 415" [ "$code" = 415 ]
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf' "$url/openapi/v2")
e2e_check "OpenAPI v2 as protobuf: 406 (kubectl then does without)" [ "$code" = 406 ]
curl -s -o "$work/out" "$url/openapi/v2"
e2e_check "OpenAPI v2 as JSON carries the GVK" jq -e '.definitions["io.kubevirt.v1.VirtualMachineInstanceMigration"]["x-kubernetes-group-version-kind"][0].kind == "VirtualMachineInstanceMigration"' "$work/out"

e2e_step "delete"
out kc delete vmim migration-job --dry-run=server
e2e_check "delete --dry-run=server says so" has "deleted (server dry run)"
out kc get vmim migration-job -o name
e2e_check "and the object is still there" has "migration-job"
out kc delete vmim migration-job
e2e_check "delete" has '"migration-job" deleted'
out kc get vmim migration-job
e2e_check "then it is NotFound" has 'NotFound.*"migration-job" not found'

e2e_step "TLS with a bearer token"
tok=kubectl-e2e-admin-0123456789abcdef
start_orchd tls "tls = { certificate = \"$work/ca.pem\"; key = \"$work/key.pem\"; };" \
    "tokens = ( { name = \"ops\"; token = \"$tok\"; role = \"admin\"; }," \
    "  { name = \"host-a\"; token = \"node-a-0123456789abcdef\"; role = \"node\"; }," \
    "  { name = \"host-b\"; token = \"node-b-0123456789abcdef\"; role = \"node\"; } );"
export KUBECONFIG=$work/tls.kubeconfig
kubeconfig "$KUBECONFIG" "$url" "$tok"
report host-a default_vmi-fedora node-a-0123456789abcdef
report host-b "" node-b-0123456789abcdef
e2e_note "orchestratord at $url"
out kc get nodes
show
e2e_check "get nodes over TLS with the token" grep -Eq '^host-a +Ready' "$work/out"
timeout 8 "$K" get events -w >"$work/events-watch.out" 2>&1 &
wpid=$!
sleep 1
out kc apply -f "$mig"
e2e_check "apply -f over TLS creates" has "migration-job created"
out kc wait --for=jsonpath='{.status.phase}'=Succeeded vmim/migration-job --timeout=60s
e2e_check "wait for Succeeded over TLS" has "condition met"
wait "$wpid" || true
sed 's/^/    /' "$work/events-watch.out"
e2e_check "get events -w showed the migration as it went" \
    grep -Eq 'Normal +Migrated +virtualmachineinstancemigration/migration-job' "$work/events-watch.out"
out kc label vmim migration-job over=tls
e2e_check "label over TLS" has "labeled"
out kc describe vmim migration-job
e2e_check "describe over TLS shows the events" has "Migrated"
out kc delete vmim migration-job
e2e_check "delete over TLS" has "deleted"
e2e_step "Debian's client library (python3-kubernetes) over TLS"
out "$pyclient" "$ORCH_TOP/tests/e2e/kubeclient.py" "$KUBECONFIG" vmi-fedora
show
e2e_check "python3-kubernetes: typed and custom-object calls, watch, patches, dry runs" \
    [ "$rc" -eq 0 ]

out "$K" --request-timeout=5s --token wrong-token-0123456789abcdef get vmim
e2e_check "a wrong token is Unauthorized" has "Unauthorized\|provide credentials"

echo "kubectl-verbs: every verb passed"
