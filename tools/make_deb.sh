#!/usr/bin/env bash
# `make deb`: a Debian package of the tree `make install` installs, with
# PREFIX=/usr, built by dpkg-deb. Depends lists the Debian packages that
# hold the shared libraries its programs and libraries need (DT_NEEDED,
# found with ldconfig and dpkg -S), at least at the installed versions.
#
#   tools/make_deb.sh --dist bazel-bin/lib/shmport-dist.tar --out DIR
#
# Prints the path of DIR/shmport_<version>_amd64.deb.
set -euo pipefail


die() {
  echo "make_deb.sh: $*" >&2
  exit 1
}

dist="" out=.
while (($#)); do
  case $1 in
    --dist) dist=$2 && shift ;;
    --out) out=$2 && shift ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done
[[ -f $dist ]] || die "no dist tar at '$dist' (bazel build //lib:dist)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"

stage=$(mktemp -d /tmp/shmport-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
"$(dirname "$0")/install.sh" install --dist "$dist" --prefix /usr --destdir "$stage" \
  --no-manifest >/dev/null
version=$(tar -xOf "$dist" ./meta/version)
arch=$(dpkg --print-architecture)

# The Debian packages that hold the shared libraries the staged ELF files
# need, as "name (>= installed version)", comma-separated. One dpkg -S for
# all of them (it is slow); with merged /usr a library may be registered
# under /lib or /usr/lib, so both names are asked.
depends() {
  local sonames soname path paths=()
  sonames=$(find "$stage" -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
    xargs -0 -r readelf -d 2>/dev/null |
    sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v '^libshmport\.so' | sort -u)
  for soname in $sonames; do
    path=$(ldconfig -p | awk -v l="$soname" '$1 == l && /x86-64/ { print $NF; exit }')
    [[ -n $path ]] || die "no $soname on this system (ldconfig -p)"
    path=$(readlink -f "$path")
    paths+=("$path" "${path#/usr}")
  done
  local owners
  owners=$(dpkg -S "${paths[@]}" 2>/dev/null | cut -d: -f1 | sort -u)
  [[ -n $owners ]] || die "dpkg -S found no package for $sonames"
  local package
  for package in $owners; do
    local installed
    installed=$(dpkg-query -W -f='${Version}' "$package")
    echo "$package (>= ${installed%-*})"
  done | paste -sd, | sed 's/,/, /g'
}

deps=$(depends)
if [[ -d "$stage/usr/lib/python3/dist-packages/shmport" ]]; then
  python=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  deps="$deps, python3 (>= $python), python3 (<< ${python%.*}.$((${python#*.} + 1)))"
fi
size=$(du -sk "$stage" | cut -f1)
mkdir -p "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<EOF
Package: shmport
Version: $version
Architecture: $arch
Maintainer: shmport developers <shmport@localhost>
Installed-Size: $size
Depends: $deps
Recommends: python3-numpy
Section: net
Priority: optional
Homepage: https://localhost/shmport
Description: zero-copy messages between processes through shared memory
 shmport moves data between processes on one Linux host through sealed
 memfd shared memory, under the gRPC daemon shmportd. This package holds
 shmportd, shmportctl, libshmport (shared and static, C ABI and C++20 API,
 pkg-config and CMake files) and the Python package.
EOF
# A new SONAME in /usr/lib: let ldconfig refresh its cache.
echo "activate-noawait ldconfig" >"$stage/DEBIAN/triggers"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/triggers"

mkdir -p "$out"
deb="$out/shmport_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
echo "$deb"
