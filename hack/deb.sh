#!/usr/bin/env bash
# Builds the Debian package of bosun from the tree with dpkg-deb, from a binary
# already built (make deb builds it first):
#   hack/deb.sh [BINARY] [OUTDIR]     (default: bin/bosun and bin)
# and prints the package's path: OUTDIR/bosun_<version>_<arch>.deb. The files
# are make install's with PREFIX=/usr (zsh's completion in Debian's
# vendor-completions), owned by root. The version is the binary's own (a
# git describe), made a Debian version: a leading "v" dropped, "-" made "+",
# and "0~" in front when it does not start with a digit (an untagged tree).
# DEB_ARCH (default: dpkg's architecture) and DEB_MAINTAINER override those
# fields. Nothing is started or enabled on install: the unit says how.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${1:-$ROOT/bin/bosun}")
OUT=$(realpath "${2:-$ROOT/bin}")
ARCH=${DEB_ARCH:-$(dpkg --print-architecture)}
MAINTAINER=${DEB_MAINTAINER:-bosun maintainers <maintainers@bosun.invalid>}

# deb_version makes a Debian version of bosun's version string.
deb_version() {
	local v=${1#v}
	v=${v//-/+}
	[[ $v =~ ^[0-9] ]] || v="0~$v"
	echo "$v"
}

read -r name version < <("$BIN" version)
[[ $name == bosun && -n $version ]] || { echo "deb.sh: $BIN version said \"$name $version\"" >&2; exit 1; }
VERSION=$(deb_version "$version")

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/bosun
make -s -C "$ROOT" install-files DESTDIR="$PKG" PREFIX=/usr BOSUN_BIN="$BIN" \
	ZSHCOMPDIR=/usr/share/zsh/vendor-completions >/dev/null
install -d -m 0755 "$PKG/DEBIAN" "$PKG/usr/share/doc/bosun"
install -m 0644 "$ROOT/LICENSE" "$PKG/usr/share/doc/bosun/copyright"
SIZE=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat >"$PKG/DEBIAN/control" <<CONTROL
Package: bosun
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $SIZE
Recommends: containerd
Section: admin
Priority: optional
Homepage: https://github.com/bosun-sh/bosun
Description: runs Kubernetes static pods on containerd, without a kubelet
 bosun keeps the pods of a directory of static pod manifests running on a
 CRI runtime (containerd), as the kubelet does for a kubeadm control plane.
 The systemd unit bosun.service is installed but neither enabled nor
 started; /usr/share/bosun/10-kubeadm.conf makes it read kubeadm's files.
CONTROL
chmod 0644 "$PKG/DEBIAN/control"
mkdir -p "$OUT"
DEB=$OUT/bosun_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zgzip --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
