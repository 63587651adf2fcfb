#!/usr/bin/env bash
# `make install` / `make uninstall` / `make deb` (issue 10, acceptance 1),
# through the scripts they run (tools/install.sh, tools/make_deb.sh) on the
# tar Bazel built (//lib:dist):
#  * an install with DESTDIR holds exactly expected_files.txt, with the
#    library links and a .pc naming the prefix;
#  * uninstall leaves DESTDIR empty; files that were there before the
#    install (and their directories) stay; installing twice changes nothing;
#  * the .deb holds the same files (less the manifest) and depends on
#    Debian's gRPC, protobuf and Abseil packages.
set -uo pipefail
WORK_PREFIX=sp-tree
# shellcheck source=tests/install/testlib.sh
source "${TEST_SRCDIR:?run me with bazel test}/shmport/tests/install/testlib.sh"
EXPECTED="$RUNFILES/tests/install/expected_files.txt"

files_under() {  # every file and link under $1, as absolute paths below it
  (cd "$1" && find . -mindepth 1 \( -type f -o -type l \) | sed 's|^\.||' | sort)
}

# --- install, the file list, the links, the .pc --------------------------------
root="$WORK/root"
bash "$INSTALL_SH" install --dist "$DIST" --prefix /usr --destdir "$root" >/dev/null ||
  fail "install failed"
files_under "$root" >"$WORK/installed"
diff -u "$EXPECTED" "$WORK/installed" || fail "installed files differ from expected_files.txt"
[[ $(readlink "$root/usr/lib/libshmport.so") == libshmport.so.0 ]] || fail "libshmport.so link"
[[ $(readlink "$root/usr/lib/libshmport.so.0") == libshmport.so.0.1.0 ]] || fail "libshmport.so.0 link"
grep -qx 'prefix=/usr' "$root/usr/lib/pkgconfig/shmport.pc" || fail "shmport.pc does not name the prefix"
# One version everywhere: the library's real name, the .pc, the headers.
grep -q 'kClientVersion\[\] = "libshmport/0.1.0"' "$root/usr/include/shmport/session.h" ||
  fail "session.h's kClientVersion is not 0.1.0 (bazel/version.bzl)"
grep -qx 'Version: 0.1.0' "$root/usr/lib/pkgconfig/shmport.pc" || fail "shmport.pc version"
# Only the public headers: none of them names gRPC or protobuf.
if grep -l -E 'grpc|google/protobuf|\.pb\.h' "$root"/usr/include/shmport/*.h; then
  fail "an installed header includes gRPC or protobuf"
fi

# The units and the example config ship; ExecStart names the prefix's daemon.
grep -qx 'ExecStart=/usr/bin/shmportd --config=/etc/shmport/shmportd.textproto' \
  "$root/usr/lib/systemd/system/shmportd.service" || fail "shmportd.service ExecStart"
grep -q '^metrics {' "$root/usr/share/shmport/shmportd.textproto" ||
  fail "the example config has no metrics section"
local_root="$WORK/local"
bash "$INSTALL_SH" install --dist "$DIST" --prefix /usr/local --destdir "$local_root" >/dev/null ||
  fail "install under /usr/local failed"
for unit in system/shmportd.service user/shmportd.service; do
  grep -q '^ExecStart=/usr/local/bin/shmportd' "$local_root/usr/local/lib/systemd/$unit" ||
    fail "$unit under /usr/local does not run /usr/local/bin/shmportd"
  grep -q '^Documentation=file:///usr/local/share/doc/shmport/operations.md$' \
    "$local_root/usr/local/lib/systemd/$unit" || fail "$unit under /usr/local: Documentation="
done

# --- installing again changes nothing; uninstall leaves nothing -------------
bash "$INSTALL_SH" install --dist "$DIST" --prefix /usr --destdir "$root" >/dev/null ||
  fail "second install failed"
files_under "$root" | diff -q - "$WORK/installed" >/dev/null || fail "a second install changed the file list"
bash "$INSTALL_SH" uninstall --prefix /usr --destdir "$root" >/dev/null || fail "uninstall failed"
left=$(cd "$root" && find . -mindepth 1)
[[ -z $left ]] || fail "uninstall left: $left"

# --- uninstall removes nothing it did not install --------------------------------
mkdir -p "$root/usr/lib/pkgconfig" "$root/usr/share/doc/other"
echo keep >"$root/usr/lib/pkgconfig/other.pc"
echo keep >"$root/usr/share/doc/other/README"
find "$root" | sort >"$WORK/before"
bash "$INSTALL_SH" install --dist "$DIST" --prefix /usr --destdir "$root" >/dev/null
bash "$INSTALL_SH" uninstall --prefix /usr --destdir "$root" >/dev/null
find "$root" | sort | diff -u "$WORK/before" - || fail "uninstall did not restore the tree it found"
bash "$INSTALL_SH" uninstall --prefix /usr --destdir "$root" 2>"$WORK/err" &&
  fail "a second uninstall succeeded"
grep -q 'not installed under' "$WORK/err" || fail "a second uninstall does not say why it fails"

# --- the Debian package ------------------------------------------------------------
deb=$(bash "$RUNFILES/tools/make_deb.sh" --dist "$DIST" --out "$WORK/deb") || fail "make_deb failed"
[[ $(basename "$deb") == shmport_0.1.0_amd64.deb ]] || fail "package named '$deb'"
dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\.||' | sort >"$WORK/packaged"
grep -v '/install-manifest$' "$EXPECTED" | diff -u - "$WORK/packaged" ||
  fail "the package's files differ from an install's"
depends=$(dpkg-deb --field "$deb" Depends)
for package in libgrpc++1.51 libprotobuf32 libabsl20220623 libc6 libstdc++6 python3; do
  [[ $depends == *"$package "* ]] || fail "Depends lacks $package: $depends"
done
echo "Depends: $depends"

finish "install, uninstall and the package hold the same $(wc -l <"$EXPECTED") files"
