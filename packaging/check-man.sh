#!/bin/sh
# Every configuration key of conf/'s schema tables ('.path = "KEY"') must be
# documented in its man page as a tagged key (".B KEY", ".SS KEY" or "\fBKEY"), so a
# key added to the code without documentation fails `make check`.
set -eu
top=$(dirname "$0")/..
status=0
for pair in orchestratord:orchestratord.conf.5 migrator:migrator.conf.5; do
    src=$top/conf/conf_${pair%%:*}.c
    man=$top/packaging/man/${pair#*:}
    for key in $(sed -n 's/.*\.path = "\([^"]*\)".*/\1/p' "$src"); do
        if ! grep -Eq "(^\.B |^\.SS |\\\\fB)$(echo "$key" | sed 's/\./\\./g')(\\\\f|\$| )" "$man"; then
            echo "check-man: '$key' ($src) is not documented in $man" >&2
            status=1
        fi
    done
done
[ $status -eq 0 ] && echo "check-man: every configuration key is documented"
exit $status
