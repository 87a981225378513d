#!/bin/sh
# Live-migrate every running VM away from HOST, one at a time, with
# `orchctl migrate VM --wait`.  Meant for cron (see cron-drain.example):
# prints one line per VM and exits 0 when all of them moved, 1 when one
# or more did not, 2 on a usage error.
#
#   cron-drain.sh HOST [TIMEOUT-PER-VM]       (default 30m)
#
# The server and token come from orchctl's usual places: --server/--token
# in ORCHCTL_FLAGS, ORCH_SERVER/ORCH_TOKEN, or ~/.config/orchctl/config.
set -u

ORCHCTL=${ORCHCTL:-orchctl}
ORCHCTL_FLAGS=${ORCHCTL_FLAGS:-}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 HOST [TIMEOUT-PER-VM]" >&2
    exit 2
fi
host=$1
timeout=${2:-30m}

# NAMESPACE NAME NODE PHASE of every VMI, from the JSON list.  jq is not
# required: orchctl's table output is parsed instead (-A adds NAMESPACE).
vms=$($ORCHCTL $ORCHCTL_FLAGS get vmi -A) || exit 1
failed=0
moved=0
# Columns: NAMESPACE NAME AGE PHASE IP NODENAME READY; IP may be empty, so
# read NODENAME as the second-to-last field and PHASE as the fourth.
echo "$vms" | awk -v host="$host" \
    'NR > 1 && $4 == "Running" && $(NF-1) == host { print $1, $2 }' |
{
    while read -r ns vm; do
        echo "$(date -u +%FT%TZ) migrating $ns/$vm away from $host"
        if $ORCHCTL $ORCHCTL_FLAGS -n "$ns" migrate "$vm" --wait \
            --timeout "$timeout"; then
            moved=$((moved + 1))
        else
            echo "$(date -u +%FT%TZ) $ns/$vm did not migrate" >&2
            failed=$((failed + 1))
        fi
    done
    echo "$(date -u +%FT%TZ) $host: $moved moved, $failed failed"
    [ "$failed" -eq 0 ]
}
