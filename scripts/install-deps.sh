#!/bin/sh
# Install every Debian package the build, the unit and end-to-end tests, the
# lab, the fuzzers, the benchmarks and the demo need, and create the system
# user and group that libvirt's qemu driver resolves before it reads qemu.conf.
#
# Idempotent and non-interactive: packages already present are skipped without
# touching apt, so a second run costs nothing.
set -eu

PACKAGES="
build-essential pkg-config clang clang-format libclang-rt-14-dev
libvirt-dev libsqlite3-dev libevent-dev libnl-3-dev libnl-route-3-dev
libconfig-dev libcmocka-dev libyaml-dev libjansson-dev libisofs-dev
libcurl4-openssl-dev libssl-dev libxml2-dev
libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
qemu-system-x86 qemu-utils
iproute2 iputils-ping cpio busybox-static kmod gzip util-linux procps psmisc
dnsmasq-base iptables
curl wrk sqlite3 xz-utils openssl ca-certificates libxml2-utils jq
python3 python3-kubernetes
linux-perf valgrind
python3 adduser systemd
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing; run as root to install them" >&2
    exit 1
fi

if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or stale on a fresh machine.
    apt-get update -qq
    # Daemon packages' maintainer scripts try to start services; on a
    # machine without systemd that fails harmlessly, but policy-rc.d keeps
    # them quiet and stops a half-started daemon from holding the sockets the
    # lab wants.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

# kubectl for the kubectl-verbs scenario: from the package archive when it
# offers one (the Kubernetes or Cloud SDK repository's "kubectl"); Debian's own
# kubernetes-client is 1.20, too old for OpenAPI v3, so it is not taken.
# Without it the scenario is skipped with a message.
if ! command -v kubectl >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] &&
        apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        echo "install-deps: installing kubectl"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends kubectl
    else
        echo "install-deps: no kubectl package in the archive; the" \
            "kubectl-verbs scenario will be skipped" >&2
    fi
fi

# libvirt's qemu driver parses its compiled-in default user before qemu.conf.
[ "$(id -u)" -eq 0 ] || exit 0
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
    useradd --system --gid libvirt-qemu --groups kvm --home-dir /var/lib/libvirt \
        --no-create-home --shell /usr/sbin/nologin libvirt-qemu
exit 0
