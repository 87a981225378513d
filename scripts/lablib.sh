# shellcheck shell=bash
# The test lab's shell library: sourced by scripts/lab.sh (the command line),
# scripts/demo.sh and the end-to-end tests (tests/e2e/*.t.sh).  Bash only.
#
# A lab host is a network namespace "orchlab-host-X" holding a bridge br0
# (with the host's address, and its veth "eth0" to the root namespace) and a
# holder process: a "sleep infinity" in a private mount namespace where
# per-host directories are bind-mounted over /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt.  The host's
# libvirtd runs in the holder's namespaces, and so does every command run
# "on" the host (lab_exec).  The root namespace has the bridge orchlab0
# (198.18.0.1/15) with one veth per host, so guests bridged to br0 on any host
# share one L2 segment with each other and with the root namespace.
#
# Names, addresses and files:
#   host-a, host-b, ...      198.18.0.11, .12, ...   qemu+tcp://ADDR/system
#   root bridge orchlab0     198.18.0.1/15
#   guests                   any free address in 198.18.0.0/15, e.g. 198.18.0.50
#   $LAB_DIR                 run-time state (default /var/tmp/orchlab):
#                            hosts/NAME/{etc,run,lib,log,cache} (the bind
#                            mounts), console/DOMAIN.log (guest serial
#                            consoles, shared by all hosts so one file follows
#                            a guest across migrations), guests/DOMAIN.xml
#   $LAB_GUEST_DIR           the test guest (default $ORCH_BUILD/guest or
#                            build/guest): vmlinuz, initrd.gz, the kernel .deb
#   $LAB_CACHE_DIR           QEMU capabilities probed by the first libvirtd,
#                            given to later ones (default build/lab-cache;
#                            libvirt re-probes if they are stale)
#   $LAB_LOCK                /run/orchlab.lock, serialises whole lab users
#                            (the lab's names are machine-wide)
# Nothing is mounted in the root mount namespace: the bind mounts live and die
# with the holders.  Missing mount points (/var/lib/libvirt, ...) are created
# and, on down, removed again if the lab created them.

LAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${LAB_DIR:=/var/tmp/orchlab}"
LAB_BUILD=${ORCH_BUILD:-$LAB_TOP/build}
: "${LAB_GUEST_DIR:=$LAB_BUILD/guest}"
: "${LAB_CACHE_DIR:=$LAB_BUILD/lab-cache}"
: "${LAB_LOCK:=/run/orchlab.lock}"
LAB_PREFIX=orchlab
LAB_BRIDGE=orchlab0
LAB_NET=198.18.0
LAB_ROOT_ADDR=198.18.0.1
LAB_PLEN=15
LAB_MAX_HOSTS=26
LAB_MOUNTS="etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt"
# Modules the guest loads at boot (dependencies are resolved at build time),
# and modules only put into the initramfs for orch.modules= on the command line.
LAB_GUEST_MODULES="virtio_pci virtio_net"
# The seed's storage (virtio_blk, ata_piix, sr_mod, isofs) is loaded by the
# init itself when the machine has a seed (scripts/guest/init seed_modules).
: "${LAB_GUEST_EXTRA_MODULES:=virtio_blk virtio_scsi virtio_rng ata_piix sr_mod isofs}"
LAB_GUEST_MEMORY_MIB=192
# Bump when the guest build changes in a way the cache key below misses.
LAB_GUEST_RECIPE=2

lab_log() { echo "lab: $*" >&2; }
lab_die() {
    echo "lab: $*" >&2
    exit 1
}

# The first existing path among the arguments (unmatched globs stay literal).
lab_first() {
    local f
    for f in "$@"; do
        [ -e "$f" ] && { echo "$f"; return 0; }
    done
    return 0
}

lab_require_root() {
    [ "$(id -u)" -eq 0 ] || lab_die "the lab needs root (network and mount namespaces, libvirtd)"
}

# Run the rest of the calling script under the machine-wide lab lock: the
# script re-executes itself under flock(1), which does not hand the lock's
# file descriptor to the script (-o), so daemons it starts never hold it.
# While another run holds the lab this says so instead of hanging silently;
# after LAB_LOCK_WAIT seconds (default 1200) it gives up with status 75
# (EX_TEMPFAIL).  Usage: lab_lock_reexec "$0" "$@"
lab_lock_reexec() {
    local wait=${LAB_LOCK_WAIT:-1200}
    [ -n "${LAB_LOCK_HELD:-}" ] && return 0
    export LAB_LOCK_HELD=1
    if ! flock -n "$LAB_LOCK" true 2>/dev/null; then
        lab_log "another run is using the lab ($LAB_LOCK); waiting up to $wait s" \
            "(then giving up with exit status 75)"
    fi
    exec flock -o -w "$wait" -E 75 "$LAB_LOCK" "$@"
}

# --- names and addresses --------------------------------------------------

lab_host_name() { # INDEX (1-based)
    local letters=abcdefghijklmnopqrstuvwxyz
    echo "host-${letters:$(($1 - 1)):1}"
}

lab_host_index() { # NAME -> 1-based index, fails on a name that is not a host
    local letters=abcdefghijklmnopqrstuvwxyz l=${1#host-}
    [[ "$1" =~ ^host-[a-z]$ ]] || return 1
    local rest=${letters%%"$l"*}
    echo $((${#rest} + 1))
}

lab_host_addr() {
    local i
    i=$(lab_host_index "$1") || lab_die "'$1' is not a lab host name"
    echo "$LAB_NET.$((10 + i))"
}
lab_host_uri() { echo "qemu+tcp://$(lab_host_addr "$1")/system"; }
# A fixed MAC for each host's br0 (02:0c:4a:b0:00:INDEX, locally administered).
# A bridge left to choose takes the lowest MAC of its ports, so a guest's tap
# (libvirt gives it fe:54:00:... after the guest's 52:54:00:...) becomes
# br0's MAC whenever the veth's random MAC happens to be higher.  A migration
# then starts a tap with that same MAC on the target's br0, which from then
# on delivers the target's own packets for the source host locally: the two
# libvirtds stop hearing each other until the keepalive closes the migration
# ("client socket is closed", about 1 run in 12 before this).
lab_host_bridge_mac() {
    local i
    i=$(lab_host_index "$1") || lab_die "'$1' is not a lab host name"
    printf '02:0c:4a:b0:00:%02x\n' "$i"
}
lab_host_ns() { echo "$LAB_PREFIX-$1"; }
lab_host_veth() { echo "$LAB_PREFIX-$1"; }
lab_host_dir() { echo "$LAB_DIR/hosts/$1"; }

# Lab hosts whose namespace exists, sorted.
lab_hosts() {
    ip netns list 2>/dev/null | awk '{print $1}' |
        sed -n "s/^$LAB_PREFIX-\(host-[a-z]\)\$/\1/p" | sort
}

# --- processes -------------------------------------------------------------

lab_ns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null; }

# The holder's pid if it is alive and inside the host's network namespace.
lab_holder_pid() {
    local h=$1 pid ino
    pid=$(cat "$(lab_host_dir "$h")/holder.pid" 2>/dev/null) || return 1
    ino=$(lab_ns_inode "$(lab_host_ns "$h")") || return 1
    [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "net:[$ino]" ] || return 1
    echo "$pid"
}

lab_libvirtd_pid() {
    local pid
    pid=$(cat "$(lab_host_dir "$1")/run/libvirtd.pid" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    grep -qx libvirtd "/proc/$pid/comm" 2>/dev/null || return 1
    # A killed libvirtd stays a zombie until it is reaped.
    [ -n "$(lab_pids_left live "$pid")" ] || return 1
    echo "$pid"
}

lab_libvirtd_answers() { # HOST [TIMEOUT]
    timeout "${2:-10}" virsh -q -c "$(lab_host_uri "$1")" version >/dev/null 2>&1
}

# The pids among the arguments that still exist; with "live", not counting
# zombies.
lab_pids_left() { # live|any PID...
    local mode=$1 p st
    shift
    for p in "$@"; do
        st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || continue
        [ "$mode" = live ] && [ "$st" = Z ] && continue
        echo "$p"
    done
}

# Kill a list of pids: SIGTERM, up to 5 s of grace, then SIGKILL; then wait
# (up to 5 s) for the zombies to be reaped, so that ps shows nothing after.
lab_kill_pids() {
    local pids="$*" i left
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for i in $(seq 50); do
        # shellcheck disable=SC2086
        left=$(lab_pids_left live $pids)
        [ -n "$left" ] || break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
    for i in $(seq 50); do
        # shellcheck disable=SC2086
        [ -n "$(lab_pids_left any $pids)" ] || return 0
        sleep 0.1
    done
}

# Stop every process in the given network namespaces, all at once so that
# their reaping overlaps, plus the extra pids given after "--"; then delete
# the namespaces.
lab_netns_stop() { # NS... [-- PID...]
    local ns pids all='' nss=''
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        nss="$nss $1"
        shift
    done
    [ $# -eq 0 ] || shift
    for ns in $nss; do
        pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
        [ -z "$pids" ] || lab_log "stopping processes in $ns: $pids"
        all="$all $pids"
    done
    for pids in "$@"; do
        case " $all " in
        *" $pids "*) ;;
        *)
            lab_log "stopping leftover process $pids"
            all="$all $pids"
            ;;
        esac
    done
    # shellcheck disable=SC2086
    lab_kill_pids $all
    for ns in $nss; do
        ip netns del "$ns" 2>/dev/null || true
    done
}

# Pids of processes living in a lab host's private mount namespace, found by
# the bind mount of that host's lib directory: catches what is left of a host
# whose network namespace is already gone.
lab_mountns_pids() {
    local d pat
    d=$(realpath -m "$LAB_DIR")
    pat=" ${d}/hosts/host-[a-z]/lib /var/lib/libvirt "
    for m in /proc/[0-9]*/mountinfo; do
        grep -q -- "$pat" "$m" 2>/dev/null || continue
        d=${m#/proc/}
        echo "${d%/mountinfo}"
    done
}

# --- one host --------------------------------------------------------------

lab_write_conf() { # HOST
    local h=$1 d addr i
    d=$(lab_host_dir "$h")
    addr=$(lab_host_addr "$h")
    i=$(lab_host_index "$h")
    cat >"$d/etc/libvirtd.conf" <<EOF
# lab host $h (scripts/lablib.sh): TCP without authentication, lab only
listen_tcp = 1
listen_tls = 0
listen_addr = "$addr"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "0c4a1ab0-0000-4000-8000-$(printf '%012x' "$i")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
# Two minutes of keepalive tolerance, lab only: put in against migrations
# closed by "keepalive timeout" / "client socket is closed" whose cause
# turned out to be the bridge MAC (see lab_host_bridge_mac).
keepalive_interval = 5
keepalive_count = 24
EOF
    cat >"$d/etc/qemu.conf" <<EOF
# lab host $h (scripts/lablib.sh): no security driver, cgroups, virtlogd
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
stdio_handler = "file"
migration_address = "$addr"
migration_host = "$addr"
# The peer-to-peer migration connection's keepalive (see libvirtd.conf).
keepalive_interval = 5
keepalive_count = 24
EOF
}

lab_root_bridge_ensure() {
    if ! ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
        ip link add name "$LAB_BRIDGE" address 02:0c:4a:b0:00:00 \
            type bridge stp_state 0
    fi
    echo 1 >"/proc/sys/net/ipv6/conf/$LAB_BRIDGE/disable_ipv6" 2>/dev/null || true
    ip addr replace "$LAB_ROOT_ADDR/$LAB_PLEN" dev "$LAB_BRIDGE"
    ip link set "$LAB_BRIDGE" up
}

# Create the mount points the holders bind over, remembering which ones the
# lab made so that down removes exactly those.
lab_mountpoints_ensure() {
    local pair dst
    for pair in $LAB_MOUNTS; do
        dst=${pair#*:}
        [ -d "$dst" ] && continue
        mkdir -p "$dst"
        echo "$dst" >>"$LAB_DIR/mountpoints-created"
    done
}

lab_host_destroy() { # HOST
    local h=$1 ns
    ns=$(lab_host_ns "$h")
    [ ! -e "/run/netns/$ns" ] || lab_netns_stop "$ns"
    ip link del "$(lab_host_veth "$h")" 2>/dev/null || true
    rm -rf "$(lab_host_dir "$h")"
}

lab_host_create() { # HOST
    local h=$1 ns veth d addr pair i
    ns=$(lab_host_ns "$h")
    veth=$(lab_host_veth "$h")
    d=$(lab_host_dir "$h")
    addr=$(lab_host_addr "$h")
    lab_log "creating $h ($addr)"
    mkdir -p "$d"/{etc,run,lib,log,cache}
    lab_write_conf "$h"
    # Probing QEMU takes libvirtd seconds under TCG; the result is the same
    # for every host on this machine.
    if [ -n "$(lab_first "$LAB_CACHE_DIR"/qemu-capabilities/*.xml)" ]; then
        mkdir -p "$d/cache/qemu/capabilities"
        cp "$LAB_CACHE_DIR"/qemu-capabilities/*.xml "$d/cache/qemu/capabilities/"
    fi

    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$LAB_BRIDGE" up
    ip -n "$ns" link add name br0 address "$(lab_host_bridge_mac "$h")" \
        type bridge stp_state 0
    ip -n "$ns" link set eth0 master br0 up
    ip -n "$ns" addr add "$addr/$LAB_PLEN" dev br0
    ip -n "$ns" link set br0 up

    # The holder: its pid file appears once the bind mounts are in place.
    # shellcheck disable=SC2016 # expanded by the holder's shell
    local script='set -e; d=$1; shift
        for pair in "$@"; do mount --bind "$d/${pair%%:*}" "${pair#*:}"; done
        echo $$ >"$d/holder.pid"; exec sleep infinity'
    # shellcheck disable=SC2086
    setsid -f ip netns exec "$ns" unshare --mount --propagation private -- \
        /bin/sh -c "$script" holder "$d" $LAB_MOUNTS \
        </dev/null >"$d/holder.log" 2>&1
    for i in $(seq 100); do
        lab_holder_pid "$h" >/dev/null && return 0
        sleep 0.1
    done
    lab_die "$h: the namespace holder did not start: $(cat "$d/holder.log")"
}

lab_libvirtd_start() { # HOST
    local h=$1 pid
    pid=$(lab_holder_pid "$h") || lab_die "$h: no namespace holder"
    lab_log "starting libvirtd on $h"
    nsenter -t "$pid" -n -m -- libvirtd --daemon --listen \
        -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid \
        </dev/null >/dev/null 2>&1 ||
        lab_die "$h: libvirtd failed to start; see $(lab_host_dir "$h")/log/libvirtd.log"
}

lab_libvirtd_wait() { # HOST [SECONDS]
    local h=$1 i
    for i in $(seq "${2:-60}"); do
        lab_libvirtd_answers "$h" 5 && return 0
        lab_libvirtd_pid "$h" >/dev/null ||
            lab_die "$h: libvirtd died; see $(lab_host_dir "$h")/log/libvirtd.log"
        sleep 1
    done
    lab_die "$h: libvirtd does not answer on $(lab_host_uri "$h")"
}

# A host is kept by "up" when its namespace, holder, link to the root bridge
# and libvirtd are all there and libvirtd answers.
lab_host_state() { # HOST -> ok | nolibvirtd | broken
    local h=$1
    if ! lab_holder_pid "$h" >/dev/null ||
        ! ip link show "$(lab_host_veth "$h")" >/dev/null 2>&1; then
        echo broken
    elif ! lab_libvirtd_pid "$h" >/dev/null || ! lab_libvirtd_answers "$h" 5; then
        echo nolibvirtd
    else
        echo ok
    fi
}

# --- the lab ---------------------------------------------------------------

lab_check_deps() {
    local c
    for c in ip nsenter unshare setsid flock libvirtd virsh qemu-system-x86_64 \
        ping busybox cpio gzip depmod modprobe dpkg apt-get; do
        command -v "$c" >/dev/null 2>&1 ||
            lab_die "'$c' is missing; run scripts/install-deps.sh"
    done
    getent passwd libvirt-qemu >/dev/null ||
        lab_die "user 'libvirt-qemu' is missing; run scripts/install-deps.sh"
}

# Bring the lab to exactly N healthy hosts.  Healthy hosts are kept as they
# are (with their guests); a host whose libvirtd died gets a new libvirtd
# (which reconnects to its running guests, as after a real daemon crash); a
# broken host is rebuilt; hosts beyond N are removed.
lab_up() { # [N]
    local n=${1:-2} i h state pid started=
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt $LAB_MAX_HOSTS ]; then
        lab_die "up: host count must be 1..$LAB_MAX_HOSTS, not '$n'"
    fi
    lab_require_root
    lab_check_deps
    mkdir -p "$LAB_DIR/console" "$LAB_DIR/guests"
    touch "$LAB_DIR/.orchlab"
    lab_mountpoints_ensure
    lab_root_bridge_ensure

    for h in $(lab_hosts); do
        [ "$(lab_host_index "$h")" -le "$n" ] || {
            lab_log "removing $h"
            lab_host_destroy "$h"
        }
    done
    for i in $(seq "$n"); do
        h=$(lab_host_name "$i")
        state=$(lab_host_state "$h")
        case $state in
        ok) ;;
        nolibvirtd)
            # One that is there but does not answer is hung: replace it.
            pid=$(lab_libvirtd_pid "$h") && lab_kill_pids "$pid"
            lab_libvirtd_start "$h"
            started="$started $h"
            ;;
        broken)
            lab_host_destroy "$h"
            lab_host_create "$h"
            lab_libvirtd_start "$h"
            started="$started $h"
            ;;
        esac
        # A veth left detached by a deleted root bridge.
        ip link set "$(lab_host_veth "$h")" master "$LAB_BRIDGE" up
    done
    for i in $(seq "$n"); do
        lab_libvirtd_wait "$(lab_host_name "$i")"
    done
    h=$(lab_host_name 1)
    if [ -n "$(lab_first "$(lab_host_dir "$h")"/cache/qemu/capabilities/*.xml)" ]; then
        mkdir -p "$LAB_CACHE_DIR/qemu-capabilities"
        cp "$(lab_host_dir "$h")"/cache/qemu/capabilities/*.xml "$LAB_CACHE_DIR/qemu-capabilities/"
    fi
    lab_log "up: $n host(s)${started:+, started:$started}"
}

lab_down() {
    local h d
    lab_require_root
    # Every lab namespace, and whatever outlived its network namespace
    # (deleted by hand, say) in a host's mount namespace.
    # shellcheck disable=SC2046
    lab_netns_stop $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_PREFIX-") \
        -- $(lab_mountns_pids)
    for h in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' |
        sed 's/@.*//' | grep "^$LAB_PREFIX" || true); do
        ip link del "$h" 2>/dev/null || true
    done
    if [ -f "$LAB_DIR/mountpoints-created" ]; then
        while read -r d; do
            rmdir "$d" 2>/dev/null || true
        done <"$LAB_DIR/mountpoints-created"
    fi
    # Only a directory the lab made (it holds the marker) is removed whole.
    if [ -f "$LAB_DIR/.orchlab" ]; then
        rm -rf "$LAB_DIR"
    fi
}

lab_status() {
    local h
    for h in $(lab_hosts); do
        echo "$h $(lab_host_addr "$h") $(lab_host_uri "$h")"
    done
}

# Run a command on a lab host: in its network namespace and the mount
# namespace its libvirtd sees (so qemu:///system is that host's libvirtd,
# also set as LIBVIRT_DEFAULT_URI), in the current directory.  With
# LAB_EXEC_REPLACE=1 the calling shell is replaced by the command (lab.sh
# exec), so a caller's $! is the command's own pid.
lab_exec() { # HOST CMD...
    local h=$1 pid
    shift
    [ $# -gt 0 ] || lab_die "exec: no command"
    pid=$(lab_holder_pid "$h") || lab_die "exec: '$h' is not up"
    ${LAB_EXEC_REPLACE:+exec} nsenter -t "$pid" -n -m --wdns="$PWD" -- \
        env LIBVIRT_DEFAULT_URI=qemu:///system LAB_HOST="$h" "$@"
}

# --- the test guest --------------------------------------------------------

# The versioned package behind linux-image-cloud-amd64.
lab_guest_kernel_pkg() {
    local p
    p=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
    if [ -z "$p" ]; then
        lab_log "apt does not know linux-image-cloud-amd64; updating the package lists"
        apt-get update -qq >&2 || true
        p=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
    fi
    [ -n "$p" ] || lab_die "guest: cannot resolve linux-image-cloud-amd64"
    echo "$p"
}

# The module files (paths in TREE) MODULE needs, in load order.
lab_guest_modlist() { # TREE VERSION MODULE
    modprobe -d "$1" -S "$2" --show-depends "$3" | awk '$1 == "insmod" {print $2}'
}

# Build the test guest into $LAB_GUEST_DIR: vmlinuz and initrd.gz.  Cached:
# nothing is done while the kernel package and everything that goes into the
# initramfs are unchanged.
lab_guest_build() {
    local g=$LAB_GUEST_DIR pkg deb ver stage tree stamp m ko f
    mkdir -p "$g/cache"
    # The cache key: what went into the last build.
    stamp="$LAB_GUEST_RECIPE $(cat "$LAB_TOP/scripts/guest/init" "$LAB_TOP/scripts/guest/netcfg.awk" | md5sum | cut -d' ' -f1)"
    stamp="$stamp $LAB_GUEST_MODULES / $LAB_GUEST_EXTRA_MODULES"
    if [ -f "$g/vmlinuz" ] && [ -f "$g/initrd.gz" ] &&
        [ "$(cat "$g/stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    command -v busybox >/dev/null || lab_die "guest: busybox-static is missing; run scripts/install-deps.sh"
    deb=$(lab_first "$g"/cache/linux-image-*-cloud-amd64_*.deb)
    if [ -z "$deb" ]; then
        pkg=$(lab_guest_kernel_pkg)
        lab_log "guest: downloading $pkg"
        (cd "$g/cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
            lab_die "guest: apt-get download '$pkg' failed"
        deb=$(lab_first "$g"/cache/"${pkg}"_*.deb)
        [ -n "$deb" ] || lab_die "guest: apt-get download '$pkg' left no .deb"
    fi
    lab_log "guest: building from $(basename "$deb")"
    tree=$(mktemp -d "$g/kernel.XXXXXX")
    stage=$(mktemp -d "$g/initrd.XXXXXX")
    dpkg -x "$deb" "$tree"
    ver=$(lab_first "$tree"/lib/modules/*)
    ver=${ver##*/}
    if [ -z "$ver" ] || [ ! -f "$tree/boot/vmlinuz-$ver" ]; then
        lab_die "guest: no kernel in $deb"
    fi
    depmod -b "$tree" "$ver"

    mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules,www}
    cp /bin/busybox "$stage/bin/busybox"
    for f in $(busybox --list); do
        [ "$f" = busybox ] || ln -s busybox "$stage/bin/$f"
    done
    mknod "$stage/dev/console" c 5 1 2>/dev/null || true
    cp "$LAB_TOP/scripts/guest/init" "$stage/init"
    chmod 755 "$stage/init"
    cp "$LAB_TOP/scripts/guest/netcfg.awk" "$stage/lib/netcfg.awk"

    # One list per module, dependencies first, from the kernel's own
    # modules.dep; .ko.xz/.ko.zst are decompressed so busybox insmod loads them.
    : >"$stage/lib/modules/boot.list"
    for m in $LAB_GUEST_MODULES $LAB_GUEST_EXTRA_MODULES; do
        local list=$stage/lib/modules/$m.list
        : >"$list"
        for ko in $(lab_guest_modlist "$tree" "$ver" "$m"); do
            [ -n "$ko" ] || continue
            f=$(basename "$ko")
            case $f in
            *.ko.xz) xz -dc "$ko" >"$stage/lib/modules/${f%.xz}" && f=${f%.xz} ;;
            *.ko.zst) zstd -qdc "$ko" >"$stage/lib/modules/${f%.zst}" && f=${f%.zst} ;;
            *.ko.gz) gzip -dc "$ko" >"$stage/lib/modules/${f%.gz}" && f=${f%.gz} ;;
            *) cp "$ko" "$stage/lib/modules/$f" ;;
            esac
            echo "$f" >>"$list"
        done
        [ -s "$list" ] || lab_die "guest: module '$m' not found in $ver"
    done
    for m in $LAB_GUEST_MODULES; do
        cat "$stage/lib/modules/$m.list" >>"$stage/lib/modules/boot.list"
    done
    awk '!seen[$0]++' "$stage/lib/modules/boot.list" >"$stage/lib/modules/boot.tmp"
    mv "$stage/lib/modules/boot.tmp" "$stage/lib/modules/boot.list"

    (cd "$stage" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 >"$g/initrd.gz.new"
    cp "$tree/boot/vmlinuz-$ver" "$g/vmlinuz.new"
    mv "$g/initrd.gz.new" "$g/initrd.gz"
    mv "$g/vmlinuz.new" "$g/vmlinuz"
    echo "$ver" >"$g/kernel-version"
    echo "$stamp" >"$g/stamp"
    rm -rf "$tree" "$stage"
    lab_log "guest: built $g/vmlinuz ($ver) and $g/initrd.gz"
}

# A MAC derived from the guest's IPv4 address: 52:54:00 + its last 3 octets.
lab_guest_mac() { # ADDR
    local b c d
    IFS=. read -r _ b c d <<<"${1%/*}"
    printf '52:54:00:%02x:%02x:%02x\n' "$b" "$c" "$d"
}

lab_guest_console() { echo "$LAB_DIR/console/$1.log"; }

# Domain XML of a test guest: bridged to br0 with a fixed MAC, serial console
# appended to $LAB_DIR/console/NAME.log (a path every host sees, so the file
# follows the guest across migrations).  Extra kernel arguments may follow.
lab_guest_xml() { # NAME ADDR [CMDLINE-EXTRA...]
    local name=$1 addr=$2 mac
    shift 2
    mac=$(lab_guest_mac "$addr")
    cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$LAB_GUEST_MEMORY_MIB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$LAB_GUEST_DIR/vmlinuz</kernel>
    <initrd>$LAB_GUEST_DIR/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=4 orch.ip=$addr/$LAB_PLEN orch.mac=$mac${*:+ $*}</cmdline>
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <interface type='bridge'>
      <source bridge='br0'/>
      <mac address='$mac'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$(lab_guest_console "$name")' append='on'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='$(lab_guest_console "$name")' append='on'/>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# Define (persistently) and start a test guest on a host.
lab_guest_start() { # HOST NAME ADDR [CMDLINE-EXTRA...]
    local h=$1 name=$2 addr=$3 xml
    shift 3
    xml=$LAB_DIR/guests/$name.xml
    mkdir -p "$LAB_DIR/guests" "$LAB_DIR/console"
    lab_guest_xml "$name" "$addr" "$@" >"$xml"
    virsh -q -c "$(lab_host_uri "$h")" define "$xml" >/dev/null &&
        virsh -q -c "$(lab_host_uri "$h")" start "$name" >/dev/null
}

# Ping ADDR COUNT times (every 0.2 s) from the root namespace: succeeds when
# every ping was answered.
lab_ping() { # ADDR COUNT
    local out
    out=$(ping -n -q -c "$2" -i 0.2 -W 2 "$1" 2>&1) || true
    echo "$out" | grep -q " $2 received" || {
        echo "$out" | grep 'packets transmitted' >&2
        return 1
    }
}

# Wait until ADDR answers a ping from the root namespace.
lab_wait_ping() { # ADDR [SECONDS]
    local i
    for i in $(seq "${2:-60}"); do
        ping -q -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

# The guest's console counter values, one per line, oldest first.
lab_console_counters() { # NAME
    sed -n 's/.*orch-counter \([0-9][0-9]*\).*/\1/p' "$(lab_guest_console "$1")" 2>/dev/null || true
}
lab_console_last() { lab_console_counters "$1" | tail -1; }

# Wait until the guest's console counter goes past VALUE.
lab_wait_counter() { # NAME VALUE [SECONDS]
    local i c
    for i in $(seq $((${3:-30} * 4))); do
        c=$(lab_console_last "$1")
        [ -n "$c" ] && [ "$c" -gt "$2" ] && return 0
        sleep 0.25
    done
    return 1
}

# Check that the counter never went back: every value greater than the one
# before.  Prints the first offending pair.
lab_console_monotonic() { # NAME
    lab_console_counters "$1" | awk '
        NR > 1 && $1 <= prev { print "counter went from " prev " to " $1; bad = 1; exit }
        { prev = $1 }
        END { exit bad }'
}

# Where a domain runs: prints the state of NAME on HOST ("running", "shut
# off", ...) or nothing when HOST does not know it.
lab_dom_state() { # HOST NAME
    virsh -q -c "$(lab_host_uri "$1")" domstate "$2" 2>/dev/null | head -1 || true
}

# The QEMU processes running on a host (pids in its network namespace).
lab_host_qemu_pids() { # HOST
    local p
    for p in $(ip netns pids "$(lab_host_ns "$1")" 2>/dev/null); do
        case $(cat "/proc/$p/comm" 2>/dev/null) in qemu-system-*) echo "$p" ;; esac
    done
}

# Live peer-to-peer migration with plain virsh while pinging the guest every
# 10 ms from the root namespace.  Sets LAB_MIG_SECONDS (wall time of the
# virsh migrate call, connections and the target's QEMU start included),
# LAB_MIG_ELAPSED_MS and LAB_MIG_DOWNTIME_MS (from the source's job-completed
# event: the migration job itself and the guest's pause, empty if the event
# did not come), LAB_MIG_PINGS_SENT and LAB_MIG_PINGS_LOST (replies missing
# between the first and the last one answered).  Extra virsh migrate options
# (e.g. --verbose) may follow.  Returns virsh's status.
# shellcheck disable=SC2034 # the LAB_MIG_* results are for the caller
lab_migrate_raw() { # SRC DST NAME ADDR [VIRSH-OPTIONS...]
    local src=$1 dst=$2 name=$3 addr=$4 tmp ping_pid ev_pid t0 t1 rc=0
    shift 4
    tmp=$(mktemp -d)
    virsh -c "$(lab_host_uri "$src")" event --domain "$name" --event job-completed \
        --timeout 300 >"$tmp/event" 2>&1 &
    ev_pid=$!
    ping -n -i 0.01 -W 1 "$addr" >"$tmp/ping" 2>&1 &
    ping_pid=$!
    sleep 0.5
    t0=$(date +%s.%N)
    # (virsh ends the migration with an empty line on stdout.)
    virsh -c "$(lab_host_uri "$src")" migrate --live --p2p --persistent \
        --undefinesource "$@" "$name" "$(lab_host_uri "$dst")" >/dev/null || rc=$?
    t1=$(date +%s.%N)
    # Let the guest's announcements and the pings settle before counting.
    sleep 1
    kill -INT "$ping_pid" 2>/dev/null || true
    wait "$ping_pid" 2>/dev/null || true
    kill "$ev_pid" 2>/dev/null || true
    wait "$ev_pid" 2>/dev/null || true
    LAB_MIG_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    read -r LAB_MIG_PINGS_SENT LAB_MIG_PINGS_LOST < <(
        sed -n 's/.*icmp_seq=\([0-9][0-9]*\) .*time=.*/\1/p' "$tmp/ping" | sort -n -u |
            awk 'NR == 1 { lo = $1 } { hi = $1; n++ }
                 END { if (n) print hi - lo + 1, hi - lo + 1 - n; else print 0, 0 }')
    LAB_MIG_DOWNTIME_MS=$(sed -n 's/^[[:space:]]*downtime: \([0-9]*\)$/\1/p' "$tmp/event")
    LAB_MIG_ELAPSED_MS=$(sed -n 's/^[[:space:]]*time_elapsed: \([0-9]*\)$/\1/p' "$tmp/event")
    rm -rf "$tmp"
    return $rc
}

# --- orchestratord and migrators on the lab ---------------------------------
#
# orchestratord runs in the root namespace on the lab bridge
# ($LAB_ROOT_ADDR:$LAB_ORCHD_PORT) with an admin token and one node token per
# host; each host's migrator listens on ADDR:$LAB_AGENT_PORT in its namespace
# and reports to it.  Files go under a work directory the caller chooses.
# LAB_ORCHD_LISTEN (an address, e.g. 0.0.0.0 for the demo) changes where
# orchestratord listens; the migrators still reach it on the lab bridge.

: "${LAB_ORCHD_PORT:=8080}"
LAB_AGENT_PORT=8081
LAB_ADMIN_TOKEN=lab-admin-token-0123456789abcdef
LAB_AGENT_TOKEN=lab-agent-token-0123456789abcdef

lab_node_token() { echo "lab-node-$1-0123456789abcdef"; } # HOST
lab_orchd_url() { echo "http://$LAB_ROOT_ADDR:$LAB_ORCHD_PORT"; }

# Write WORK/orchestratord.conf for HOSTS; EXTRA lines (libconfig settings)
# may follow the hosts after "--".  LAB_ORCHD_MIGRATIONS (libconfig settings,
# e.g. 'bandwidth_per_migration = "1Mi";') goes inside the migrations group;
# LAB_ORCHD_CONF (top-level settings, e.g. 'node_monitor_grace_period_s =
# 8;') is appended, for callers that cannot pass "--" (mig_setup).
lab_orchd_conf() { # WORK HOST... [-- SETTING...]
    local work=$1 h
    shift
    mkdir -p "$work"
    {
        echo "listen = \"${LAB_ORCHD_LISTEN:-$LAB_ROOT_ADDR}:$LAB_ORCHD_PORT\";"
        echo "database = \"$work/orch.db\";"
        echo "agent_token = \"$LAB_AGENT_TOKEN\";"
        # The lab's libvirtds have no TLS certificates for migration streams.
        echo "migrations = { disable_tls = true; ${LAB_ORCHD_MIGRATIONS:-}};"
        echo "tokens = ("
        echo "  { name = \"lab-admin\"; token = \"$LAB_ADMIN_TOKEN\"; role = \"admin\"; }"
        while [ $# -gt 0 ] && [ "$1" != -- ]; do
            echo "  , { name = \"$1\"; token = \"$(lab_node_token "$1")\"; role = \"node\"; }"
            shift
        done
        echo ");"
        [ $# -eq 0 ] || shift
        for h in "$@"; do echo "$h"; done
        [ -z "${LAB_ORCHD_CONF:-}" ] || echo "$LAB_ORCHD_CONF"
    } >"$work/orchestratord.conf"
}

# Which orchestratord lab_orchd_start started last on the lab's port, and
# from which shell: "PID START OWNER OWNER_START" (START: lab_proc_start).
# Under /run beside the lab lock, as LAB_DIR goes with every lab_down.
: "${LAB_ORCHD_RECORD:=/run/orchlab-orchd.$LAB_ORCHD_PORT}"

# The start time of PID (field 22 of /proc/PID/stat, clock ticks since
# boot): with the pid it names one process, even after pids wrap.
lab_proc_start() { # PID
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) } # after "PID (COMM) ": COMM may hold spaces and parentheses
    # shellcheck disable=SC2086 # split into fields on purpose
    set -- $s
    echo "${20}"
}

# The pids listening on TCP port PORT in the root namespace.
lab_port_pids() { # PORT
    ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

# Free the lab's orchestratord port before a start.  A process holding it
# is killed only when it is provably a lab orchestratord left over from a
# run that has ended: the one LAB_ORCHD_RECORD names (same pid and start
# time, so not a reused pid), whose starting shell is gone.  Anything else
# - another program, an orchestratord this lab did not record, or one whose
# run is still going - is named (pid and command line) and refused: it
# would answer this run's requests (a leftover answered a later run's POSTs
# with 507 from its own full disk).  Returns 0 when the port is free.
lab_orchd_port_free() {
    local pids p rec_pid rec_start owner owner_start cmd
    pids=$(lab_port_pids "$LAB_ORCHD_PORT")
    [ -n "$pids" ] || return 0
    read -r rec_pid rec_start owner owner_start <"$LAB_ORCHD_RECORD" 2>/dev/null || true
    for p in $pids; do
        cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
        cmd=${cmd% }
        if [ "$p" != "${rec_pid:-}" ] ||
            [ "$(lab_proc_start "$p")" != "${rec_start:-}" ] ||
            ! grep -qx orchestratord "/proc/$p/comm" 2>/dev/null; then
            lab_log "port $LAB_ORCHD_PORT is taken by pid $p ($cmd), not an orchestratord" \
                "this lab started (record $LAB_ORCHD_RECORD); not starting another"
            return 1
        fi
        if [ "$(lab_proc_start "$owner" 2>/dev/null)" = "${owner_start:-}" ]; then
            lab_log "port $LAB_ORCHD_PORT is taken by the lab's orchestratord $p ($cmd)," \
                "started by shell $owner, which still runs; not starting another"
            return 1
        fi
        lab_log "killing the lab's leftover orchestratord $p ($cmd) on port" \
            "$LAB_ORCHD_PORT: the run that started it (shell $owner) has ended"
        lab_kill_pids "$p"
    done
    for p in $(seq 50); do
        [ -n "$(lab_port_pids "$LAB_ORCHD_PORT")" ] || return 0
        sleep 0.1
    done
    lab_log "port $LAB_ORCHD_PORT is still taken by pid(s)" \
        "$(lab_port_pids "$LAB_ORCHD_PORT" | tr '\n' ' ')after the kill"
    return 1
}

# Start orchestratord from WORK/orchestratord.conf in the background (its
# log appended to WORK/orchestratord.log) and wait until it answers.  Its
# pid is left in LAB_STARTED_PID (a child of the caller's shell: call this
# directly, not in $(...), to be able to wait for it).  The port must be
# free first (lab_orchd_port_free: a leftover of an ended run is killed,
# anything else refused), and the one answering must be this process.
lab_orchd_start() { # WORK
    local pid i
    lab_orchd_port_free || return 1
    "$LAB_BUILD/bin/orchestratord" -f "$1/orchestratord.conf" \
        2>>"$1/orchestratord.log" </dev/null >/dev/null &
    pid=$!
    echo "$pid $(lab_proc_start "$pid") $$ $(lab_proc_start $$)" >"$LAB_ORCHD_RECORD" ||
        lab_log "cannot write $LAB_ORCHD_RECORD: a leftover of this run will not be recognised"
    for i in $(seq 100); do
        if curl -sf --max-time 1 "$(lab_orchd_url)/healthz" >/dev/null 2>&1; then
            if ! lab_port_pids "$LAB_ORCHD_PORT" | grep -qx "$pid"; then
                lab_log "port $LAB_ORCHD_PORT answers, but not from orchestratord $pid"
                break
            fi
            LAB_STARTED_PID=$pid
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$1/orchestratord.log" >&2
    # One that never answered is not left behind to hold the port.
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
}

# Start HOST's migrator in the background, reporting to orchestratord every
# INTERVAL seconds (default 10); its configuration and log in the host's
# directory.  Its pid (the migrator's own: lab.sh exec execs it) is left in
# LAB_STARTED_PID, as lab_orchd_start does.  LAB_MIGRATOR_STATE_DIR
# replaces its state_dir (a path inside the host's own /var/lib/libvirt is
# the same path on every host with each host's own files, as VMs made from
# manifests need); LAB_MIGRATOR_CONF (libconfig settings, e.g. the output of
# lab_sriov_conf) is appended to its configuration.
lab_migrator_start() { # HOST [INTERVAL]
    local h=$1 dir
    dir=$(lab_host_dir "$h")
    mkdir -p "$dir/agent" "$dir/log"
    cat >"$dir/agent/migrator.conf" <<CONF
orchestrator = "$(lab_orchd_url)";
orchestrator_token = "$(lab_node_token "$h")";
agent_token = "$LAB_AGENT_TOKEN";
state_dir = "${LAB_MIGRATOR_STATE_DIR:-$dir/agent}";
report_interval_s = ${2:-10};
labels = [ "lab=orchlab" ];
${LAB_MIGRATOR_CONF:-}
CONF
    "$LAB_TOP/scripts/lab.sh" exec "$h" "$LAB_BUILD/bin/migrator" \
        -f "$dir/agent/migrator.conf" --name "$h" \
        --listen "$(lab_host_addr "$h"):$LAB_AGENT_PORT" --libvirt qemu:///system \
        2>>"$dir/log/migrator.log" </dev/null >/dev/null &
    LAB_STARTED_PID=$!
}

# GET PATH from orchestratord as the lab's admin.
lab_api_get() { # PATH
    curl -sf --max-time 5 -H "Authorization: Bearer $LAB_ADMIN_TOKEN" "$(lab_orchd_url)$1"
}

# --- SR-IOV stand-ins ------------------------------------------------------
# There is no SR-IOV hardware here (LAB.md): a "VF" is a veth netdev on the
# host named like a VF (PFvN, or PREFIX N), its peer PFpN in the host's br0
# so a guest's macvtap passthrough on it reaches the lab's segment, and the
# PF/VF topology comes from a fixture sysfs tree in the host's directory
# (lab_sriov_root), laid out as the kernel's (class/net/PF ->
# devices/.../net/PF, device/sriov_totalvfs, sriov_numvfs, virtfnN ->
# ../0000:BB:02.N, the VF's net/NETDEV and driver -> iavf).  The PF itself is
# a veth (peer PFpf; the lab's kernel has no dummy driver), so netlink finds
# it and reports no VFs; programming a VF on it fails (EOPNOTSUPP).  Each host gets
# its own PCI bus number, so VF addresses differ between hosts as they would.

lab_sriov_root() { echo "$(lab_host_dir "$1")/sysfs"; } # HOST

# Create PF with NVFS stand-in VFs on HOST (again: replaced).  VF netdevs
# are PREFIX0.. (default PFv0..).
lab_sriov_standin() { # HOST PF NVFS [PREFIX]
    local h=$1 pf=$2 n=$3 prefix=${4:-$2v} root bus idx i base dev vf netdev
    root=$(lab_sriov_root "$h")
    idx=$(lab_host_index "$h")
    # One bus per host and PF: 0x30 + 16 * host index + a hash of the name.
    bus=$(printf '%02x' $(((0x30 + 16 * idx + $(printf '%s' "$pf" | cksum | cut -d' ' -f1) % 16) % 256)))
    base=devices/pci0000:00/0000:00:00.0
    dev=$root/$base/0000:$bus:00.0
    [ "${#prefix}" -le 12 ] || lab_die "sriov: VF prefix '$prefix' too long"
    lab_log "$h: SR-IOV stand-in $pf with $n VFs (${prefix}0..)"
    rm -rf "$dev" "$root/class/net/$pf"
    for i in "$root/$base/0000:$bus:"*; do rm -rf "$i"; done
    mkdir -p "$dev/net/$pf" "$root/class/net" "$root/bus/pci/drivers/iavf"
    ln -sfn "../../$base/0000:$bus:00.0/net/$pf" "$root/class/net/$pf"
    ln -sfn "../../../0000:$bus:00.0" "$dev/net/$pf/device"
    echo "$n" >"$dev/sriov_totalvfs"
    echo "$n" >"$dev/sriov_numvfs"
    # A macvtap's character device is /dev/tapIFINDEX in the one devtmpfs
    # every lab host shares, and interface indexes count per namespace: two
    # hosts built alike give their macvtaps the same index, and the target
    # of a migration then opens the source's /dev/tapN (its guest's NIC
    # dead once the source's macvtap goes).  Each host's counter is moved
    # on by 100 per host index (the kernel hands out the next index after
    # the last one it gave).
    if [ "$idx" -gt 0 ] && ! lab_exec "$h" ip link show orch-ifx >/dev/null 2>&1; then
        for i in $(seq $((50 * idx))); do
            printf 'link add orch-ifx%d type veth peer name orch-ify%d\nlink del orch-ifx%d\n' "$i" "$i" "$i"
        done | lab_exec "$h" ip -batch - ||
            lab_die "$h: cannot move the interface index counter on"
        # Marks the host as done (and takes two more indexes).
        lab_exec "$h" ip link add orch-ifx type veth peer name orch-ify
    fi
    lab_exec "$h" ip link del "$pf" 2>/dev/null || true
    lab_exec "$h" ip link add "$pf" type veth peer name "${pf}pf" ||
        lab_die "$h: cannot create the stand-in PF $pf"
    lab_exec "$h" ip link set "$pf" up
    for i in $(seq 0 $((n - 1))); do
        vf=0000:$bus:$(printf '%02x' $((2 + i / 8))).$((i % 8))
        netdev=$prefix$i
        mkdir -p "$root/$base/$vf/net/$netdev"
        ln -sfn "../$vf" "$dev/virtfn$i"
        ln -sfn "../0000:$bus:00.0" "$root/$base/$vf/physfn"
        ln -sfn ../../../bus/pci/drivers/iavf "$root/$base/$vf/driver"
        lab_exec "$h" ip link del "$netdev" 2>/dev/null || true
        lab_exec "$h" ip link add "$netdev" type veth peer name "${pf}p$i" ||
            lab_die "$h: cannot create the stand-in VF $netdev"
        lab_exec "$h" ip link set "${pf}p$i" master br0 up
        lab_exec "$h" ip link set "$netdev" up
    done
}

# The migrator settings for stand-in VFs: sysfs_root, no VF programming
# (a veth is no VF) and the networks ("NAME:PF:MODE[:VLAN]"...), for
# LAB_MIGRATOR_CONF.
lab_sriov_conf() { # HOST NET...
    local h=$1 spec name pf mode vlan sep=""
    shift
    echo "sysfs_root = \"$(lab_sriov_root "$h")\";"
    echo "sriov_program_vfs = false;"
    printf 'networks = ('
    for spec in "$@"; do
        IFS=: read -r name pf mode vlan <<<"$spec"
        printf '%s\n  { name = "%s"; pf = "%s"; mode = "%s"; vlan = %d; }' \
            "$sep" "$name" "$pf" "${mode:-macvtap}" "${vlan:-0}"
        sep=,
    done
    printf '\n);\n'
}
