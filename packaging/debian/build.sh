#!/bin/sh
# Build the Debian package PKG (orchestratord, migrator or orchctl) into
# OUTDIR with dpkg-deb: `make install-PKG` into a staging root with the
# Debian layout, DEBIAN/control with the shared-library dependencies that
# dpkg-shlibdeps finds, conffiles, and the maintainer scripts of
# packaging/debian/.  Called by `make deb` with DEB_VERSION, DEB_ARCH,
# BUILD and MAKE in the environment.
set -eu
pkg=$1
mkdir -p "$2"
out=$(cd "$2" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
stage=$out/$pkg
deb=$out/${pkg}_${DEB_VERSION}_${DEB_ARCH}.deb

rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
$MAKE -s -C "$top" install-"$pkg" DESTDIR="$stage" PREFIX=/usr \
    UNITDIR=/lib/systemd/system BUILD="$BUILD" >/dev/null
# Debian policy: compressed man pages, a copyright file per package.
find "$stage/usr/share/man" -type f -exec gzip -9n {} +
mkdir -p "$stage/usr/share/doc/$pkg"
cp "$top/packaging/debian/copyright" "$stage/usr/share/doc/$pkg/copyright"

case $pkg in
orchestratord)
    summary="live-migration orchestrator for libvirt hosts (central daemon)"
    desc=" orchestratord serves a Kubernetes-shaped REST API for KubeVirt's
 VirtualMachineInstanceMigration and friends, keeps its records in SQLite
 and moves each migration through KubeVirt's phases by directing the
 migrator agent of the source and target hosts."
    extra_depends="adduser"
    ;;
migrator)
    summary="live-migration orchestrator for libvirt hosts (host agent)"
    desc=" migrator runs on each hypervisor host: it reports the host's
 inventory to orchestratord and prepares, runs and monitors peer-to-peer
 live migrations through the local libvirtd."
    extra_depends=""
    ;;
orchctl)
    summary="live-migration orchestrator for libvirt hosts (command-line client)"
    desc=" orchctl drives orchestratord in the habits of kubectl and virtctl:
 get, describe, apply, migrate --wait, drain, cordon."
    extra_depends=""
    ;;
*)
    echo "build.sh: unknown package '$pkg'" >&2
    exit 2
    ;;
esac

# dpkg-shlibdeps wants to run from a tree with debian/control.
shl=$out/.shlibdeps-$pkg
rm -rf "$shl"
mkdir -p "$shl/debian"
printf 'Source: orchestrator\n\nPackage: %s\nArchitecture: any\n' "$pkg" \
    >"$shl/debian/control"
bins=$(find "$stage/usr/bin" "$stage/usr/sbin" -type f 2>/dev/null || true)
# shellcheck disable=SC2086
shlibs=$(cd "$shl" && dpkg-shlibdeps -O $bins | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shl"
depends=$shlibs
[ -n "$extra_depends" ] && depends="$depends, $extra_depends"

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
{
    echo "Package: $pkg"
    echo "Version: $DEB_VERSION"
    echo "Architecture: $DEB_ARCH"
    echo "Maintainer: orchestrator developers <orchestrator@localhost>"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    [ "$pkg" = migrator ] && echo "Recommends: libvirt-daemon-system"
    echo "Section: admin"
    echo "Priority: optional"
    echo "Description: $summary"
    echo "$desc"
} >"$stage/DEBIAN/control"

# Files under /etc are conffiles: dpkg keeps the operator's edits.
(cd "$stage" && find etc -type f 2>/dev/null | sed 's|^|/|') \
    >"$stage/DEBIAN/conffiles"
[ -s "$stage/DEBIAN/conffiles" ] || rm -f "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
    if [ -f "$top/packaging/debian/$pkg.$s" ]; then
        install -m 0755 "$top/packaging/debian/$pkg.$s" "$stage/DEBIAN/$s"
    fi
done

dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "deb: $deb"
