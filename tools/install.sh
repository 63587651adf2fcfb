#!/usr/bin/env bash
# Installs shmport from the tar //lib:dist builds (bazel-bin/lib/
# shmport-dist.tar) into $DESTDIR$PREFIX, and uninstalls it again. `make
# install`, `make uninstall` and `make deb` (tools/make_deb.sh) call it.
#
#   tools/install.sh install --dist TAR [--prefix P] [--destdir D]
#                            [--no-manifest]
#   tools/install.sh uninstall [--prefix P] [--destdir D]
#
# The manifest, $PREFIX/share/shmport/install-manifest, lists every file
# and link installed and every directory the install created. uninstall
# removes exactly those files and links, then the created directories that
# are empty, and nothing else. --no-manifest (a package's staging tree)
# writes none and skips ldconfig.
#
# Python: the package goes where Debian's /usr/bin/python3 (the one the
# extension is built for) looks under the prefix:
# $PREFIX/lib/python3/dist-packages for /usr (Debian's own packages), else
# $PREFIX/lib/python3.X/dist-packages (Debian's python3 reads
# /usr/local/lib/python3.X/dist-packages).
set -euo pipefail

die() {
  echo "install.sh: $*" >&2
  exit 1
}

action=${1:-}
shift || true
dist="" prefix=/usr/local destdir="" manifest_wanted=1
while (($#)); do
  case $1 in
    --dist) dist=$2 && shift ;;
    --prefix) prefix=$2 && shift ;;
    --destdir) destdir=$2 && shift ;;
    --no-manifest) manifest_wanted=0 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done
[[ $prefix == /* ]] || die "PREFIX must be an absolute path, not '$prefix'"
prefix=${prefix%/}
[[ -n $prefix ]] || prefix=/
root="$destdir$prefix"
manifest_path=share/shmport/install-manifest

python_dir() {
  if [[ $prefix == /usr ]]; then
    echo lib/python3/dist-packages
  else
    /usr/bin/python3 -c 'import sys; print("lib/python%d.%d/dist-packages" % sys.version_info[:2])'
  fi
}

# Records in $entries every directory above `dir` that does not exist yet
# (as "d PATH", PATH without $destdir), then creates them.
make_dirs() {
  local dir=$1 missing=()
  while [[ $dir != / && ! -d "$destdir$dir" ]]; do
    missing+=("$dir")
    dir=$(dirname "$dir")
  done
  local i
  for ((i = ${#missing[@]} - 1; i >= 0; i--)); do
    mkdir -m 0755 "$destdir${missing[i]}"
    entries+=("d ${missing[i]}")
  done
}

# Copies the unpacked tree's `rel` (file or link) to `dest` (a path under
# the prefix, without $destdir) and records it.
put() {
  local src=$1 dest=$2
  make_dirs "$(dirname "$dest")"
  rm -f "$destdir$dest"
  if [[ -L $src ]]; then
    cp -P "$src" "$destdir$dest"
    entries+=("l $dest")
  else
    cp -p "$src" "$destdir$dest"
    entries+=("f $dest")
  fi
}

do_install() {
  [[ -f $dist ]] || die "no dist tar at '$dist' (bazel build //lib:dist)"
  local tree
  tree=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: $tree is local
  trap "rm -rf '$tree'" EXIT
  tar -C "$tree" -xf "$dist"
  sed -i "s|@PREFIX@|$prefix|g" "$tree/lib/pkgconfig/shmport.pc"
  # The units name /usr/bin/shmportd and /usr/share/doc/shmport: this prefix's.
  if [[ -d $tree/lib/systemd && $prefix != /usr ]]; then
    find "$tree/lib/systemd" -type f -exec sed -i \
      -e "s|/usr/bin/shmportd|$prefix/bin/shmportd|g" \
      -e "s|/usr/share/doc/shmport|$prefix/share/doc/shmport|g" {} +
  fi

  # $DESTDIR is a staging area, not part of the install.
  [[ -z $destdir ]] || mkdir -p "$destdir"
  entries=()
  local previous="$root/$manifest_path"
  if ((manifest_wanted)) && [[ -f $previous ]]; then
    # Installed before: keep its record (the directories it created, and
    # files an older version shipped).
    mapfile -t entries <"$previous"
  fi
  local rel
  while IFS= read -r rel; do
    put "$tree/$rel" "$prefix/$rel"
  done < <(cd "$tree" && find bin include lib share \( -type f -o -type l \) 2>/dev/null | sort)
  if [[ -d $tree/python ]]; then
    local pydir
    pydir=$(python_dir)
    while IFS= read -r rel; do
      put "$tree/python/$rel" "$prefix/$pydir/$rel"
    done < <(cd "$tree/python" && find . -type f | sed 's|^\./||' | sort)
  else
    echo "install.sh: note: $(cat "$tree/meta/no-python"); skipping it" >&2
  fi

  if ((manifest_wanted)); then
    make_dirs "$prefix/$(dirname "$manifest_path")"
    printf '%s\n' "${entries[@]}" | sort -u -k2 >"$root/$manifest_path"
    chmod 0644 "$root/$manifest_path"
    # A new SONAME under /usr/local/lib is found through ld.so's cache
    # (other prefixes: LD_LIBRARY_PATH, or the rpath CMake sets).
    if [[ -z $destdir && ($prefix == /usr/local || $prefix == /usr) && $(id -u) == 0 ]]; then
      ldconfig || echo "install.sh: warning: ldconfig failed; run it as root" >&2
    fi
  fi
  echo "installed shmport $(cat "$tree/meta/version") into $root"
}

do_uninstall() {
  local manifest="$root/$manifest_path"
  [[ -f $manifest ]] || die "no $manifest: shmport is not installed under $root"
  local kind path dirs=()
  while read -r kind path; do
    case $kind in
      f | l) rm -f "$destdir$path" ;;
      d) dirs+=("$path") ;;
    esac
  done <"$manifest"
  rm -f "$manifest"
  # Deepest first, and only those now empty.
  while read -r path; do
    [[ -n $path ]] && { rmdir "$destdir$path" 2>/dev/null || true; }
  done < <(printf '%s\n' "${dirs[@]}" | sort -r)
  echo "uninstalled shmport from $root"
}

case $action in
  install) do_install ;;
  uninstall) do_uninstall ;;
  *) die "usage: install.sh install|uninstall [--dist TAR] [--prefix P] [--destdir D]" ;;
esac
