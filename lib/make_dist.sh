#!/usr/bin/env bash
# Lays out everything `make install` and `make deb` ship, relative to the
# install prefix, and packs it into one tar (//lib:dist). tools/install.sh
# unpacks it into $DESTDIR$PREFIX: it fills in @PREFIX@ and places python/
# where the prefix's python3 looks.
#
#   make_dist.sh OUT.tar VERSION SOVERSION --bin F... --lib F... \
#     --include F... --template F... [--python F...] [--systemd F...] \
#     [--systemd-user F...] [--share F...] [--doc F...]
# (--systemd: system units, lib/systemd/system; --systemd-user: user units,
# lib/systemd/user; --share: share/shmport, the example config; --doc:
# share/doc/shmport, what the units' Documentation= names.)
set -euo pipefail
out=$1 version=$2 soversion=$3
shift 3
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/{bin,lib/pkgconfig,lib/cmake/shmport,include/shmport,meta}

place() {  # place KIND FILE
  local kind=$1 file=$2 name
  name=$(basename "$file")
  case $kind in
    bin) install -m 0755 "$file" "$tree/bin/$name" ;;
    lib) install -m 0644 "$file" "$tree/lib/$name" ;;
    include) install -m 0644 "$file" "$tree/include/shmport/$name" ;;
    python) mkdir -p "$tree/python/shmport" && install -m 0644 "$file" "$tree/python/shmport/$name" ;;
    systemd) install -D -m 0644 "$file" "$tree/lib/systemd/system/$name" ;;
    systemd-user) install -D -m 0644 "$file" "$tree/lib/systemd/user/$name" ;;
    share) install -D -m 0644 "$file" "$tree/share/shmport/$name" ;;
    doc) install -D -m 0644 "$file" "$tree/share/doc/shmport/$name" ;;
    template)
      local dir=lib/cmake/shmport
      [[ $name == *.pc.in ]] && dir=lib/pkgconfig
      sed -e "s/@VERSION@/$version/g" -e "s/@SOVERSION@/$soversion/g" "$file" \
        >"$tree/$dir/${name%.in}"
      chmod 0644 "$tree/$dir/${name%.in}"
      ;;
  esac
}

kind=""
for arg in "$@"; do
  case $arg in
    --bin | --lib | --include | --template | --python | --systemd | --systemd-user | \
      --share | --doc) kind=${arg#--} ;;
    *) place "$kind" "$arg" ;;
  esac
done

# The shared library's real name, and its two links.
real="libshmport.so.$version"
[[ -f "$tree/lib/$real" ]] || { echo "make_dist: no lib/$real" >&2; exit 1; }
chmod 0755 "$tree/lib/$real"
ln -s "$real" "$tree/lib/libshmport.so.$soversion"
ln -s "libshmport.so.$soversion" "$tree/lib/libshmport.so"
echo "$version" >"$tree/meta/version"
[[ -d "$tree/python" ]] || echo "no Python package in this build" >"$tree/meta/no-python"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  -C "$tree" -cf "$out" .
