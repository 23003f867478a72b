#!/usr/bin/env bash
# Checks the Debian package built by scripts/package.sh:
#
#   deb_test.sh path/to/gemmtune_<version>_amd64.deb [--system]
#
# Always, without touching the machine's own package database or /usr:
#  - the control data: name, version, architecture, and Depends naming the
#    Debian runtime package of every shared library the package's binaries
#    need (never a -dev package);
#  - apt resolves those dependencies on this machine (apt-get --simulate);
#  - a scratch root (dpkg --root on an empty database): the package installs,
#    its CLI runs, a CMake and a pkg-config consumer build against the
#    unpacked /usr tree and run, and purging it leaves no file behind. The
#    maintainer scripts (ldconfig after installing and removing) run outside
#    a chroot with a stand-in ldconfig first in PATH, which records its call
#    and leaves the machine's library cache alone.
# With --system (for a disposable Debian 12 machine or container, as root):
# `apt-get install ./PACKAGE`, then `gemmtune backends`, `gemmtune tune`,
# consumers built against /usr with CMake and pkg-config, then `apt-get
# purge` and a check that none of the package's files is left.
set -euo pipefail
unset LD_LIBRARY_PATH
deb=$(realpath "$1")
system=0
[ "${2:-}" = --system ] && system=1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gemmtune-deb-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

version=$(sed -n 's/^project(gemmtune VERSION \([0-9.]*\).*/\1/p' "$here/../../CMakeLists.txt")
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "gemmtune_${version}_${arch}.deb" ] || fail "package file name $(basename "$deb")"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = gemmtune ] && [ "$(field Version)" = "$version" ] && [ "$(field Architecture)" = "$arch" ] ||
  fail "control: $(field Package) $(field Version) $(field Architecture)"
depends=$(field Depends)
ok "gemmtune_${version}_${arch}.deb, Depends: $depends"
case ", $depends," in *-dev[,\ ]*) fail "Depends names a development package: $depends";; esac

# Every NEEDED library of the package's ELF files is provided by a package
# that Depends names (directly or as an alternative).
mkdir "$work/unpacked"
dpkg-deb -x "$deb" "$work/unpacked"
elves=$(find "$work/unpacked" -type f \( -name '*.so.*' -o -path '*/bin/*' -o -path '*/libexec/*' \))
[ -n "$elves" ] || fail "no binaries in the package"
# shellcheck disable=SC2086
needed=$(readelf -d $elves 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
ldconfig -p >"$work/ldcache"
for soname in $needed; do
  case $soname in libgemmtune*) continue;; esac
  path=$(awk -v n="$soname" '$1 == n && /x86-64/ && !found { print $NF; found = 1 }' "$work/ldcache")
  [ -n "$path" ] || fail "$soname (needed by the package) is not on this machine"
  # dpkg knows a file by the path its package ships (/lib/... on a merged
  # /usr), a link by its own path or by what it resolves to.
  owner=
  real=$(realpath "$path")
  for candidate in "$path" "$real" "${real#/usr}" "/usr$path"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1 || true)
    [ -n "$owner" ] && break
  done
  [ -n "$owner" ] || fail "no package owns $path ($soname)"
  # The owner may be an implementation of a virtual dependency
  # (libopenblas0-pthread provides what `libopenblas0` names).
  provided=$(dpkg-query -W -f='${Package} ${Provides}\n' "$owner" | tr ',' ' ' | sed 's/([^)]*)//g')
  found=0
  for name in $provided; do
    case ", $depends," in *", $name "* | *", $name,"* | *"| $name "* | *"| $name,"*) found=1;; esac
    # Package names also appear in Depends through their base package:
    # libopenblas0 depends on one of libopenblas0-{pthread,openmp,serial}.
  done
  if [ $found = 0 ]; then
    for name in $(echo "$depends" | tr ',|' '  ' | sed 's/([^)]*)//g'); do
      dpkg-query -W -f='${Depends}\n' "$name" 2>/dev/null | grep -qw -- "$owner" && found=1
    done
  fi
  [ $found = 1 ] || fail "$soname comes from $owner, which Depends does not name: $depends"
done
ok "Depends covers every library the binaries need: $(echo "$needed" | grep -v libgemmtune | tr '\n' ' ')"

if command -v apt-get >/dev/null; then
  apt-get install --simulate --no-install-recommends "$deb" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log"; fail "apt-get cannot resolve the package's dependencies here"; }
  grep -q '^Inst gemmtune' "$work/apt.log" || { cat "$work/apt.log"; fail "apt-get would not install gemmtune"; }
  ok "apt-get resolves the dependencies on this machine (simulated)"
fi

consumers() {  # consumers ROOT_PREFIX(e.g. $root/usr) LABEL [pkg-config environment...]
  local usr=$1 label=$2; shift 2
  rm -rf "$work/consumer" "$work/cache"
  mkdir -p "$work/cache"
  cmake -S "$here/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$usr" >"$work/consumer.log" 2>&1 &&
    cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 || { cat "$work/consumer.log"; fail "$label: CMake consumer"; }
  "$work/consumer/tune_cpp" "$work/cache" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "$label: tune_cpp"; }
  "$work/consumer/tune_c" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "$label: tune_c"; }
  ok "$label: C++ and C consumers built with find_package(gemmtune) run"
  # shellcheck disable=SC2046
  env "$@" sh -c 'cc -o "$1/tune_c_pc" "$2/consumer/tune.c" $(pkg-config --cflags --libs gemmtune-c) -lm &&
      c++ -std=c++20 -o "$1/tune_cpp_pc" "$2/consumer/tune.cpp" $(pkg-config --cflags --libs gemmtune)' \
    _ "$work" "$here" || fail "$label: pkg-config consumers"
}

# ---- scratch root ----------------------------------------------------------
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
mkdir "$work/bin"
printf '#!/bin/sh\necho "ldconfig DPKG_ROOT=$DPKG_ROOT" >>"%s"\n' "$work/ldconfig.log" >"$work/bin/ldconfig"
chmod +x "$work/bin/ldconfig"
dpkg_root=(env PATH="$work/bin:$PATH" dpkg --root="$root" --force-depends --force-script-chrootless --log=/dev/null)
[ "$(id -u)" = 0 ] || dpkg_root+=(--force-not-root)
"${dpkg_root[@]}" -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --root -i"; }
grep -qx "ldconfig DPKG_ROOT=$root" "$work/ldconfig.log" || fail "the package's postinst did not run ldconfig"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' gemmtune | grep -q "install ok installed" ||
  fail "dpkg does not record gemmtune as installed in the scratch root"
files=$(dpkg-query --admindir="$root/var/lib/dpkg" -L gemmtune | while read -r f; do [ -f "$root$f" ] && echo "$f"; done | wc -l)
ok "installed into a scratch root: $files files"
"$root/usr/bin/gemmtune" backends >"$work/cli.log" 2>&1 || { cat "$work/cli.log"; fail "gemmtune backends"; }
GEMMTUNE_CACHE_DIR=$work/cli_cache "$root/usr/bin/gemmtune" tune mm 32x32x32 --backends BLAS --quiet >"$work/cli.log" 2>&1 ||
  { cat "$work/cli.log"; fail "gemmtune tune"; }
ok "the packaged CLI: gemmtune backends, gemmtune tune"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
# The .pc files say prefix=/usr, the system's; point pkg-config at the
# scratch root instead (a system install needs none of this).
consumers "$root/usr" "scratch root" PKG_CONFIG_SYSROOT_DIR="$root" \
  PKG_CONFIG_LIBDIR="$root/usr/lib/$multiarch/pkgconfig" PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
LD_LIBRARY_PATH=$root/usr/lib/$multiarch "$work/tune_c_pc" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "tune_c_pc"; }
rm -rf "$work/cache" && mkdir "$work/cache"
LD_LIBRARY_PATH=$root/usr/lib/$multiarch "$work/tune_cpp_pc" "$work/cache" >"$work/run.log" 2>&1 ||
  { cat "$work/run.log"; fail "tune_cpp_pc"; }
ok "scratch root: C and C++ consumers built with pkg-config run"
# The Python package, as root: Python leaves __pycache__ folders behind,
# which the package's prerm must clear for the purge below to leave nothing.
python_check() {  # python_check LABEL EXPECTED_LIBRARY_PREFIX [PYTHONPATH]
  GEMMTUNE_CACHE_DIR=$work/python_cache PYTHONPATH=${3:-} /usr/bin/python3 -c '
import sys, gemmtune, gemmtune._capi as capi
assert capi.path.startswith(sys.argv[1]), (capi.path, sys.argv[1])
assert ("BLAS", True) in [(n, a) for n, a, _ in gemmtune.backends()]
fast = gemmtune.fast_path()
assert fast.native and fast.detail.startswith(sys.argv[1]), fast
print(gemmtune.version())' "$2" >"$work/python.log" 2>&1 || { cat "$work/python.log"; fail "$1: import gemmtune"; }
  ok "$1: import gemmtune loads the packaged libgemmtune_c and its C fast path ($(cat "$work/python.log"))"
}
if [ -x /usr/bin/python3 ]; then
  python_check "scratch root" "$root/usr/lib/python3/dist-packages/gemmtune/lib/" "$root/usr/lib/python3/dist-packages"
else
  echo "skipped: the Python package (no /usr/bin/python3 here)"
fi
"${dpkg_root[@]}" --purge gemmtune >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --root --purge"; }
left=$(cd "$root" && find . -mindepth 1 -not -path './var' -not -path './var/lib' -not -path './var/lib/dpkg' \
  -not -path './var/lib/dpkg/*')
[ -z "$left" ] || fail "purging left files in the scratch root: $left"
ok "purged from the scratch root: nothing left"

# ---- the machine itself (opt-in) ---------------------------------------------
if [ $system = 1 ]; then
  [ "$(id -u)" = 0 ] || fail "--system needs root"
  dpkg-query -W -f='${Status}' gemmtune 2>/dev/null | grep -q installed && fail "gemmtune is already installed here"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log"; fail "apt-get install $deb"; }
  dpkg-query -L gemmtune >"$work/files"
  gemmtune backends >"$work/cli.log" 2>&1 || { cat "$work/cli.log"; fail "gemmtune backends"; }
  GEMMTUNE_CACHE_DIR=$work/cli_cache gemmtune tune mm 32x32x32 --backends BLAS --quiet >"$work/cli.log" 2>&1 ||
    { cat "$work/cli.log"; fail "gemmtune tune"; }
  man -w gemmtune >/dev/null 2>&1 || [ -f /usr/share/man/man1/gemmtune.1.gz ] || fail "no man page"
  ok "system install: gemmtune backends, gemmtune tune"
  consumers /usr "system install"
  "$work/tune_c_pc" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "tune_c_pc"; }
  rm -rf "$work/cache" && mkdir "$work/cache"
  "$work/tune_cpp_pc" "$work/cache" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "tune_cpp_pc"; }
  ok "system install: pkg-config consumers run without LD_LIBRARY_PATH"
  if [ -x /usr/bin/python3 ]; then
    python_check "system install" /usr/lib/python3/dist-packages/gemmtune/lib/
  else
    echo "skipped: the Python package (no /usr/bin/python3 here)"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get purge -y gemmtune >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get purge"; }
  # Files and links of the package, and its own folders (those named after
  # it; /usr/lib and the like belong to the system).
  left=$(while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then echo "$f"; fi
    case $f in *gemmtune*) [ -d "$f" ] && echo "$f/";; esac
  done <"$work/files" || true)
  [ -z "$left" ] || fail "apt-get purge left files: $left"
  ok "apt-get purge removed every file of the package"
fi
echo "deb_test: all checks passed"
