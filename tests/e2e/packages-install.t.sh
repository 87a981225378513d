#!/bin/bash
# make install lays out what it should, and the Debian packages (make deb)
# install, run and purge cleanly (issue 13.2).
#
# No systemd runs as PID 1 here, and debootstrap would need the network, so
# the scratch root is this machine's own root seen through an overlay: in a
# private mount and network namespace, / is the overlay's lower layer and a
# temporary directory its upper, so dpkg in the chroot installs into the
# overlay and the machine is never touched.  There:
#   1. dpkg -i the three packages (maintainer scripts run: the orchestrator
#      user is made, the units are enabled);
#   2. systemd-analyze verify the installed units;
#   3. the daemons are started as their units say - orchestratord as user
#      orchestrator with its StateDirectory, migrator as root, each with
#      the shipped configuration (the migrator's edited to use libvirt's
#      test driver: there is no libvirtd in the scratch root) - and a fake
#      service manager's NOTIFY_SOCKET must get READY=1 from both;
#   4. `orchctl get nodes` (the installed one, the default server
#      http://127.0.0.1:8080 of the packaged configuration) lists the node;
#      the man pages and the bash completion are in place;
#   5. SIGTERM (STOPPING=1), dpkg --purge: no file of the packages, no user,
#      no state, no enablement symlink is left.
# Needs root; the lab is not used.
. "$ORCH_TOP/tests/e2e/lib.sh"

debs=$ORCH_BUILD/deb
work=$(mktemp -d /var/tmp/orch-pkg-e2e.XXXXXX)
cleanup() {
    rc=$?
    # The namespaces die with the unshare'd shell; only files are left.
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

e2e_step "make install DESTDIR=... PREFIX=/usr/local"
dest=$work/destdir
make_install() {
    make -s -C "$ORCH_TOP" install DESTDIR="$dest" BUILD="${ORCH_BUILD#"$ORCH_TOP"/}" \
        >"$work/install.log" 2>&1 || { cat "$work/install.log"; return 1; }
}
e2e_check "make install" make_install
for f in usr/local/sbin/orchestratord usr/local/sbin/migrator usr/local/bin/orchctl \
    usr/local/lib/systemd/system/orchestratord.service \
    usr/local/lib/systemd/system/migrator.service \
    usr/local/share/man/man1/orchctl.1 usr/local/share/man/man8/orchestratord.8 \
    usr/local/share/man/man8/migrator.8 usr/local/share/man/man5/orchestratord.conf.5 \
    usr/local/share/man/man5/migrator.conf.5 \
    usr/local/share/bash-completion/completions/orchctl \
    usr/local/share/orchestrator/cron-drain.sh \
    etc/orchestrator/orchestratord.conf etc/orchestrator/migrator.conf; do
    [ -f "$dest/$f" ] || e2e_fail "make install did not install /$f"
done
e2e_check "the units run the installed daemons" \
    grep -q '^ExecStart=/usr/local/sbin/orchestratord ' \
    "$dest/usr/local/lib/systemd/system/orchestratord.service"
echo "# an operator's edit" >>"$dest/etc/orchestrator/orchestratord.conf"
make_install
e2e_check "a second make install keeps the configuration, the example beside it" \
    grep -q "an operator's edit" "$dest/etc/orchestrator/orchestratord.conf"
e2e_check "orchestratord.conf.example installed" \
    test -f "$dest/etc/orchestrator/orchestratord.conf.example"

e2e_step "make deb"
make_deb() {
    make -s -C "$ORCH_TOP" deb BUILD="${ORCH_BUILD#"$ORCH_TOP"/}" >"$work/make.log" 2>&1 ||
        { cat "$work/make.log"; return 1; }
}
e2e_check "make deb" make_deb
ls "$debs"/*.deb
for p in orchestratord migrator orchctl; do
    e2e_check "package $p exists" test -f "$(ls "$debs"/${p}_*.deb)"
done

mkdir -p "$work/upper" "$work/work" "$work/root" "$work/pkgs"
cp "$debs"/*.deb "$work/pkgs/"

e2e_step "install, run and purge in an overlay of / (private mount and network namespaces)"
# The inner script runs in the namespaces; it prints "ok: ..." lines and
# exits non-zero at the first failure.
cat >"$work/inner.sh" <<'INNER'
set -euo pipefail
w=$1
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
# Whatever happens, the daemons and the fake manager end with this shell
# (they would hold the output pipe open).
trap 'j=$(jobs -p); [ -z "$j" ] || kill $j 2>/dev/null || true; wait 2>/dev/null || true' EXIT
mount -t overlay overlay -o "lowerdir=/,upperdir=$w/upper,workdir=$w/work" "$w/root"
r=$w/root
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount --rbind /sys "$r/sys"
mount -t tmpfs tmpfs "$r/run"
mount -t tmpfs tmpfs "$r/tmp"
mkdir -p "$r/pkgs"
mount --bind "$w/pkgs" "$r/pkgs"
ip link set lo up
in_root() { chroot "$r" "$@"; }

in_root getent passwd orchestrator >/dev/null && fail "user orchestrator exists before the install"
in_root sh -c 'dpkg -i /pkgs/orchestratord_*.deb /pkgs/migrator_*.deb /pkgs/orchctl_*.deb'
for p in orchestratord migrator orchctl; do
    in_root dpkg-query -W -f='${Status}\n' "$p" | grep -q 'install ok installed' ||
        fail "$p is not installed"
done
ok "dpkg -i of the three packages"
in_root getent passwd orchestrator >/dev/null || fail "postinst made no user orchestrator"
[ "$(in_root stat -c '%U:%G %a' /etc/orchestrator/orchestratord.conf)" = "root:orchestrator 640" ] ||
    fail "orchestratord.conf is $(in_root stat -c '%U:%G %a' /etc/orchestrator/orchestratord.conf)"
[ "$(in_root stat -c '%a' /etc/orchestrator/migrator.conf)" = 600 ] || fail "migrator.conf is not 0600"
ok "postinst: system user orchestrator, configurations readable by their daemon only"
for u in orchestratord migrator; do
    [ -L "$r/etc/systemd/system/multi-user.target.wants/$u.service" ] ||
        fail "$u.service is not enabled"
done
ok "both units enabled (multi-user.target.wants)"
in_root systemd-analyze verify /lib/systemd/system/orchestratord.service \
    /lib/systemd/system/migrator.service 2>&1 | tee "$w/verify.log"
grep -v -e '^$' "$w/verify.log" | grep . && fail "systemd-analyze verify complained"
ok "systemd-analyze verify of the installed units"
for m in man1/orchctl.1 man8/orchestratord.8 man8/migrator.8 \
    man5/orchestratord.conf.5 man5/migrator.conf.5; do
    [ -f "$r/usr/share/man/$m.gz" ] || fail "no man page $m"
done
in_root bash -c '. /usr/share/bash-completion/completions/orchctl && complete -p orchctl' |
    grep -q _orchctl || fail "the bash completion does not register"
[ -x "$r/usr/share/orchestrator/cron-drain.sh" ] || fail "no cron-drain.sh"
ok "man pages, bash completion and the cron example installed"

# The units' ExecStart lines, run as systemd would run them.
exec_start() {
    sed -n 's/^ExecStart=//p' "$r/lib/systemd/system/$1.service"
}
[ "$(exec_start orchestratord)" = "/usr/sbin/orchestratord -f /etc/orchestrator/orchestratord.conf" ] ||
    fail "orchestratord's ExecStart is '$(exec_start orchestratord)'"
# A fake service manager: a datagram socket that writes what it receives.
python3 - "$r/run/notify.sock" >"$w/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
# Writable by the daemon's user, as systemd's own notification socket is.
os.chmod(sys.argv[1], 0o777)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " "), flush=True)
PY
notify_pid=$!
for i in $(seq 50); do [ -S "$r/run/notify.sock" ] && break; sleep 0.1; done
wait_notify() {
    for i in $(seq 100); do
        [ "$(grep -c "$1" "$w/notify.log")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "no $1 (#$2) on NOTIFY_SOCKET; got: $(cat "$w/notify.log")"
}
# StateDirectory=orchestrator, User=orchestrator.
in_root install -d -o orchestrator -g orchestrator -m 0750 /var/lib/orchestrator
chroot --userspec=orchestrator:orchestrator "$r" env NOTIFY_SOCKET=/run/notify.sock \
    $(exec_start orchestratord) 2>"$w/orchestratord.log" &
orchd_pid=$!
wait_notify READY=1 1
ok "orchestratord, as user orchestrator, told the service manager READY=1"
in_root sed -i -e 's|^libvirt_uri = .*|libvirt_uri = "test:///default";|' \
    -e 's|^# name = .*|name = "pkg-host";|' /etc/orchestrator/migrator.conf
in_root migrator -n -f /etc/orchestrator/migrator.conf
in_root install -d -m 0700 /var/lib/migrator
chroot "$r" env NOTIFY_SOCKET=/run/notify.sock $(exec_start migrator) \
    2>"$w/migrator.log" &
migr_pid=$!
wait_notify READY=1 2
ok "migrator told the service manager READY=1"

nodes=""
for i in $(seq 100); do
    nodes=$(in_root orchctl get nodes 2>&1) || true
    echo "$nodes" | grep -q '^pkg-host ' && break
    sleep 0.2
done
echo "$nodes"
echo "$nodes" | grep -q '^pkg-host  *Ready ' || fail "orchctl get nodes does not list pkg-host Ready"
[ "$(in_root orchctl get nodes -o 'jsonpath={.items[*].metadata.name}')" = pkg-host ] ||
    fail "orchctl get nodes -o jsonpath"
ok "the installed orchctl lists the node of the installed migrator"
grep -q '^orchestratord: ' "$w/orchestratord.log" || fail "no log lines from orchestratord"

kill -TERM "$migr_pid" "$orchd_pid"
wait "$migr_pid" || fail "migrator exited $? after SIGTERM"
wait "$orchd_pid" || fail "orchestratord exited $? after SIGTERM"
wait_notify STOPPING=1 2
ok "SIGTERM: STOPPING=1 from both, exit 0"
kill "$notify_pid" 2>/dev/null || true

in_root dpkg --purge orchctl migrator orchestratord
for p in orchestratord migrator orchctl; do
    in_root dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q installed &&
        fail "$p is still installed"
done
in_root getent passwd orchestrator >/dev/null && fail "user orchestrator is left"
in_root getent group orchestrator >/dev/null && fail "group orchestrator is left"
for f in /usr/sbin/orchestratord /usr/sbin/migrator /usr/bin/orchctl /etc/orchestrator \
    /var/lib/orchestrator /var/lib/migrator /lib/systemd/system/orchestratord.service \
    /usr/share/orchestrator \
    /lib/systemd/system/migrator.service /usr/share/bash-completion/completions/orchctl \
    /etc/systemd/system/multi-user.target.wants/orchestratord.service \
    /etc/systemd/system/multi-user.target.wants/migrator.service; do
    [ -e "$r$f" ] || [ -L "$r$f" ] && fail "$f is left after the purge"
done
# What the overlay's upper layer holds is every file written since the
# install; dpkg's log and man-db's cache of formatted pages (made when
# systemd-analyze verify checked the units' Documentation= pages; man-db
# drops them itself) are not the packages' files.
left=$(cd "$w/upper" && find . \( -name '*orchestrat*' -o -name 'migrator*' -o -name 'orchctl*' \) \
    ! -path './var/log/*' ! -path './pkgs*' ! -path './var/cache/man/*' | head)
[ -z "$left" ] || fail "left after the purge: $left"
ok "dpkg --purge: no file, user, state or unit enablement left"
INNER

unshare --mount --propagation private --net bash "$work/inner.sh" "$work" 2>&1 |
    tee "$work/inner.log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    for f in orchestratord.log migrator.log notify.log; do
        [ -f "$work/$f" ] && { echo "== $f"; cat "$work/$f"; }
    done
    e2e_fail "the install scenario failed (exit $rc)"
fi
echo "packages install, start, answer orchctl get nodes and purge cleanly"
