#!/usr/bin/env bash
# Checks an installed gemmtune the way an embedder meets it: a fresh prefix
# from `cmake --install`, consumer projects outside the tree, no
# LD_LIBRARY_PATH. One check per ctest test (tests/install/CMakeLists.txt):
#
#   install_test.sh BUILD_DIR WORK_DIR CHECK
#
# CHECK is one of: prefix, headers, symbols, cmake_consumer, static_consumer,
# pkgconfig_consumers, version_file, cli, python. `prefix` installs into
# WORK_DIR/prefix (the fixture of the others) and checks the layout.
set -euo pipefail
unset LD_LIBRARY_PATH
build=$(cd "$1" && pwd)
work=$2
check=$3
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix
mkdir -p "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# The library folder (lib or lib/<multiarch>) as installed.
libdir() { dirname "$(find "$prefix" -name 'libgemmtune.so' | head -1)"; }
version() { sed -n 's/^project(gemmtune VERSION \([0-9.]*\).*/\1/p' "$here/../../CMakeLists.txt"; }

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

# A consumer project configured and built in its own folder under $work.
build_consumer() {
  local name=$1 prefix_path=$2; shift 2
  rm -rf "${work:?}/$name"
  cmake -S "$here/consumer" -B "$work/$name" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix_path" "$@" >"$work/$name.configure.log" 2>&1 ||
    { cat "$work/$name.configure.log"; fail "configuring the consumer ($name)"; }
  cmake --build "$work/$name" >"$work/$name.build.log" 2>&1 ||
    { cat "$work/$name.build.log"; fail "building the consumer ($name)"; }
}

run_program() {
  local what=$1; shift
  local log=$work/$check.run.log
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  [ $rc = 0 ] || { cat "$log"; fail "$what: $* exited $rc"; }
  grep -q "all checks passed" "$log" || { cat "$log"; fail "$what did not finish its checks"; }
  ok "$what ($(grep -c '^ok:' "$log") checks)"
}

case $check in
prefix)
  rm -rf "$prefix"
  cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
  v=$(version)
  so=${v%.*}  # 0.1.0 -> 0.1 while 0.x
  lib=$(libdir)
  for f in bin/gemmtune include/gemmtune/gemmtune.h include/gemmtune/c_api.h share/man/man1/gemmtune.1.gz \
           share/doc/gemmtune/README.md share/doc/gemmtune/LICENSE; do
    [ -f "$prefix/$f" ] || fail "$f is not installed"
  done
  for f in "libgemmtune.so.$v" "libgemmtune_c.so.$v" libgemmtune.a cmake/gemmtune/gemmtuneConfig.cmake \
           cmake/gemmtune/gemmtuneConfigVersion.cmake pkgconfig/gemmtune.pc pkgconfig/gemmtune-c.pc; do
    [ -f "$lib/$f" ] || fail "$lib/$f is not installed"
  done
  [ -x "$prefix/libexec/gemmtune/gemmtune-worker" ] || fail "libexec/gemmtune/gemmtune-worker is not installed"
  ok "layout: bin, $(realpath --relative-to="$prefix" "$lib"), libexec/gemmtune, include/gemmtune, man page, docs"
  for name in gemmtune gemmtune_c; do
    soname=$(readelf -d "$lib/lib$name.so.$v" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "lib$name.so.$so" ] || fail "lib$name's SONAME is '$soname', expected lib$name.so.$so"
    [ "$(readlink "$lib/lib$name.so.$so")" = "lib$name.so.$v" ] || fail "lib$name.so.$so does not link to lib$name.so.$v"
    [ "$(readlink "$lib/lib$name.so")" = "lib$name.so.$so" ] || fail "lib$name.so does not link to lib$name.so.$so"
    ok "lib$name.so.$v: SONAME $soname and its links"
  done
  src=$(cd "$here/../.." && pwd)
  for f in "$prefix/bin/gemmtune" "$prefix/libexec/gemmtune/gemmtune-worker" "$lib/libgemmtune.so.$v" \
           "$lib/libgemmtune_c.so.$v"; do
    paths=$(readelf -d "$f" | grep -E 'R(UN)?PATH' || true)
    [ -z "$paths" ] || fail "$f keeps a run path: $paths"
    ! grep -qa -- "$build" "$f" || fail "$f contains the build folder's path"
  done
  ok "no RPATH/RUNPATH, no build-folder path in the installed binaries"
  grep -rqa -- "$build\|$src" "$lib/cmake" && fail "the CMake package names the build or source folder"
  ok "the CMake package names neither the build nor the source folder"
  zcat "$prefix/share/man/man1/gemmtune.1.gz" | grep -q '^\.SH COMMANDS' || fail "the man page has no COMMANDS section"
  ok "man page"
  ;;

headers)
  # Every public header compiles on its own against the prefix alone, warning
  # free, and includes nothing but the standard library and gemmtune/.
  for h in "$prefix"/include/gemmtune/*.h; do
    name=gemmtune/$(basename "$h")
    bad=$(grep -E '^\s*#\s*include\s*"' "$h" | grep -v '"gemmtune/' || true)
    [ -z "$bad" ] && bad=$(grep -E '^\s*#\s*include\s*<' "$h" | grep -E '<(src|core|store|util|measure|runtime|backends)/' || true)
    [ -z "$bad" ] || fail "$name includes a private file: $bad"
    if [ "$name" = gemmtune/c_api.h ]; then
      printf '#include <%s>\nint main(void) { return 0; }\n' "$name" >"$work/header.c"
      cc -std=c99 -Wall -Wextra -Wpedantic -Werror -I"$prefix/include" -c "$work/header.c" -o "$work/header.o" ||
        fail "$name does not compile as C99"
      cp "$work/header.c" "$work/header.cpp"
    else
      printf '#include <%s>\nint main() { return 0; }\n' "$name" >"$work/header.cpp"
    fi
    c++ -std=c++20 -Wall -Wextra -Wpedantic -Werror -I"$prefix/include" -c "$work/header.cpp" -o "$work/header.o" ||
      fail "$name does not compile on its own"
  done
  printf '#include <gemmtune/tuner.h>\n' >"$work/header.cpp"
  if c++ -std=c++17 -I"$prefix/include" -c "$work/header.cpp" -o "$work/header.o" 2>"$work/header.log"; then
    fail "the C++ API compiled as C++17"
  fi
  grep -q 'needs C++20' "$work/header.log" || { cat "$work/header.log"; fail "C++17 gets no clear message"; }
  ok "$(ls "$prefix"/include/gemmtune/*.h | wc -l) public headers compile alone (C++20; c_api.h also as C99) and include nothing private; C++17 is told it needs C++20"
  ;;

symbols)
  lib=$(libdir)
  # libgemmtune.so exports gemmtune's public API and nothing of its inside
  # (internal namespaces are lower-case: gemmtune::store::, gemmtune::core::).
  nm -DC --defined-only "$lib/libgemmtune.so" | awk '{ $1 = ""; $2 = ""; print }' | sed 's/^ *//' >"$work/symbols.txt"
  total=$(wc -l <"$work/symbols.txt")
  [ "$total" -gt 20 ] || fail "libgemmtune.so exports only $total symbols"
  leaked=$(grep -vE '^(gemmtune::|typeinfo (name )?for gemmtune::|vtable for gemmtune::|VTT for gemmtune::)' "$work/symbols.txt" || true)
  [ -z "$leaked" ] || fail "libgemmtune.so exports symbols outside gemmtune's API: $(echo "$leaked" | head -5)"
  internal=$(grep -E 'gemmtune::[a-z_0-9]+::|::Impl::' "$work/symbols.txt" || true)
  [ -z "$internal" ] || fail "libgemmtune.so exports internals: $(echo "$internal" | head -5)"
  for api in 'gemmtune::Tuner::select' 'gemmtune::Catalogue::open' 'gemmtune::record_to_json' \
             'typeinfo for gemmtune::NoValidChoicesError' 'typeinfo for gemmtune::Backend'; do
    grep -qF "$api" "$work/symbols.txt" || fail "libgemmtune.so does not export $api"
  done
  ok "libgemmtune.so exports $total symbols, all of gemmtune's public API"
  nm -D --defined-only "$lib/libgemmtune_c.so" | awk '{ print $3 }' >"$work/symbols_c.txt"
  leaked=$(grep -v '^gemmtune_' "$work/symbols_c.txt" || true)
  [ -z "$leaked" ] || fail "libgemmtune_c.so exports more than gemmtune_*: $(echo "$leaked" | head -5)"
  ok "libgemmtune_c.so exports $(wc -l <"$work/symbols_c.txt") symbols, all gemmtune_*"
  ;;

cmake_consumer)
  # Installed prefixes can be moved: build against a copy, with the original
  # hidden from the consumer (nothing may point back at it).
  rm -rf "$work/moved"
  mkdir -p "$work/moved"
  cp -a "$prefix" "$work/moved/gemmtune"
  build_consumer cmake_consumer "$work/moved/gemmtune"
  for exe in tune_cpp tune_c; do
    runpath=$(readelf -d "$work/cmake_consumer/$exe" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')
    case $runpath in *"$work/moved/gemmtune"*) ;; *) fail "$exe's run path '$runpath' is not the moved prefix";; esac
  done
  mkdir -p "$work/cache_cmake"
  rm -rf "${work:?}/cache_cmake/"*
  run_program "C++ program via find_package(gemmtune) and gemmtune::gemmtune" "$work/cmake_consumer/tune_cpp" "$work/cache_cmake"
  run_program "C program via gemmtune::c" "$work/cmake_consumer/tune_c"
  # The moved prefix's worker measured the choices (isolation, the default):
  # the library found it in PREFIX/libexec/gemmtune from where it was loaded.
  if grep -q "without isolation" "$work/cmake_consumer.run.log" 2>/dev/null ||
     grep -q "without isolation" "$work/$check.run.log"; then
    cat "$work/$check.run.log"; fail "the installed library did not find its measuring worker"
  fi
  ok "the installed library found its measuring worker (no in-process fallback warning)"
  ;;

static_consumer)
  build_consumer static_consumer "$prefix" -DWITH_STATIC=ON
  needed=$(readelf -d "$work/static_consumer/tune_static" | grep NEEDED || true)
  ! echo "$needed" | grep -q 'libgemmtune\.so' || fail "tune_static needs libgemmtune.so"
  mkdir -p "$work/cache_static"
  rm -rf "${work:?}/cache_static/"*
  run_program "C++ program via COMPONENTS static and gemmtune::gemmtune_static" \
    "$work/static_consumer/tune_static" "$work/cache_static"
  # The prefix is not where the build was configured to install: the worker
  # comes from the tree the program was built against, which the CMake
  # package wrote into it (util/install_layout.h, rule 3), not from nowhere
  # (measuring in process, with a warning). From a moved copy too.
  ! grep -q "without isolation" "$work/$check.run.log" ||
    { cat "$work/$check.run.log"; fail "the static program did not find its tree's measuring worker"; }
  rm -rf "$work/moved_static"
  mkdir -p "$work/moved_static"
  cp -a "$prefix" "$work/moved_static/gemmtune"
  build_consumer static_consumer_moved "$work/moved_static/gemmtune" -DWITH_STATIC=ON
  rm -rf "${work:?}/cache_static/"*
  GEMMTUNE_ISOLATION=process run_program "C++ program via gemmtune::gemmtune_static from a moved prefix" \
    "$work/static_consumer_moved/tune_static" "$work/cache_static"
  ok "static programs find the measuring worker of the tree they were built against"
  ;;

pkgconfig_consumers)
  export PKG_CONFIG_PATH
  PKG_CONFIG_PATH=$(libdir)/pkgconfig
  [ "$(pkg-config --modversion gemmtune)" = "$(version)" ] || fail "pkg-config --modversion gemmtune"
  out=$work/pkgconfig_consumers
  rm -rf "$out" && mkdir -p "$out"
  # shellcheck disable=SC2046
  cc -o "$out/tune_c" "$here/consumer/tune.c" $(pkg-config --cflags --libs gemmtune-c) -lm ||
    fail "building the C program with pkg-config gemmtune-c"
  # shellcheck disable=SC2046
  c++ -std=c++20 -o "$out/tune_cpp" "$here/consumer/tune.cpp" $(pkg-config --cflags --libs gemmtune) ||
    fail "building the C++ program with pkg-config gemmtune"
  run_program "C program via pkg-config gemmtune-c" "$out/tune_c"
  mkdir -p "$out/cache"
  run_program "C++ program via pkg-config gemmtune" "$out/tune_cpp" "$out/cache"
  pkg-config --static --libs gemmtune | grep -q -- '-lsqlite3' || fail "pkg-config --static --libs gemmtune lacks the private libraries"
  ok "pkg-config --static --libs gemmtune: $(pkg-config --static --libs gemmtune)"
  # A moved copy's .pc files name the copy (pcfiledir), not the original.
  rm -rf "$work/moved_pc"
  mkdir -p "$work/moved_pc"
  cp -a "$prefix" "$work/moved_pc/gemmtune"
  moved_libs=$(PKG_CONFIG_PATH=$work/moved_pc/gemmtune/${PKG_CONFIG_PATH#"$prefix"/} pkg-config --libs gemmtune-c)
  case $moved_libs in *"$work/moved_pc/gemmtune/"*) ;; *) fail "pkg-config of a moved prefix: '$moved_libs'";; esac
  case $moved_libs in *"$prefix/"*) fail "pkg-config of a moved prefix names the original: '$moved_libs'";; esac
  # shellcheck disable=SC2046
  cc -o "$out/tune_c_moved" "$here/consumer/tune.c" \
    $(PKG_CONFIG_PATH=$work/moved_pc/gemmtune/${PKG_CONFIG_PATH#"$prefix"/} pkg-config --cflags --libs gemmtune-c) -lm ||
    fail "building the C program with pkg-config gemmtune-c of a moved prefix"
  run_program "C program via pkg-config gemmtune-c of a moved prefix" "$out/tune_c_moved"
  ;;

version_file)
  v=$(version)
  major=${v%%.*}
  rest=${v#*.}
  minor=${rest%%.*}
  probe() {  # probe REQUEST EXPECTED(1|0) [COMPONENTS...]
    local request=$1 expected=$2; shift 2
    rm -rf "$work/probe"
    mkdir -p "$work/probe"
    cat >"$work/probe/CMakeLists.txt" <<PROBE
cmake_minimum_required(VERSION 3.22)
project(probe LANGUAGES NONE)
find_package(gemmtune $request QUIET $*)
file(WRITE "\${CMAKE_BINARY_DIR}/found" "\${gemmtune_FOUND}")
PROBE
    cmake -S "$work/probe" -B "$work/probe/build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/probe.log" 2>&1 ||
      { cat "$work/probe.log"; fail "probing find_package(gemmtune $request $*)"; }
    local found
    found=$(cat "$work/probe/build/found")
    if [ "$expected" = 1 ]; then
      [ "$found" = 1 ] || fail "find_package(gemmtune $request $*) refused installed $v"
      ok "find_package(gemmtune $request $*) accepts $v"
    else
      [ "$found" != 1 ] || fail "find_package(gemmtune $request $*) accepted installed $v"
      ok "find_package(gemmtune $request $*) refuses $v"
    fi
  }
  probe "$major.$minor" 1
  probe "$v" 1
  probe "$major.$minor...$major.$((minor + 2))" 1
  probe "$major.$((minor + 1))...$major.$((minor + 2))" 0
  probe "$major.0...<$major.$minor" 0
  probe "$major.0...<$major.$((minor + 1))" 1
  probe "$major.$((minor + 1))" 0
  probe "$((major + 1)).0" 0
  probe "$major.$minor.$((${v##*.} + 1))" 0
  [ "$minor" -gt 0 ] && probe "$major.$((minor - 1))" "$([ "$major" = 0 ] && echo 0 || echo 1)"
  probe "$major.$minor" 0 COMPONENTS no_such_component
  ;;

cli)
  "$prefix/bin/gemmtune" backends >"$work/cli.log" 2>&1 || { cat "$work/cli.log"; fail "gemmtune backends"; }
  grep -q BLAS "$work/cli.log" || fail "gemmtune backends does not list BLAS"
  GEMMTUNE_CACHE_DIR=$work/cli_cache "$prefix/bin/gemmtune" tune mm 24x40x16 --backends BLAS --json --quiet \
    >"$work/cli.json" 2>"$work/cli.err" || { cat "$work/cli.err"; fail "gemmtune tune"; }
  grep -q '"backend": "BLAS"' "$work/cli.json" || fail "gemmtune tune did not select BLAS"
  [ "$("$prefix/bin/gemmtune" --version)" = "gemmtune $(version)" ] || fail "gemmtune --version"
  ok "the installed CLI lists backends, tunes, and says its version"
  ;;

python)
  # The package from a moved copy of the prefix loads that copy's C library
  # through its relative link, with Debian's python3.
  [ -d "$here/../../python/gemmtune" ] || { echo "no python/ in this tree: nothing to check"; exit 0; }
  rm -rf "$work/moved_python"
  mkdir -p "$work/moved_python"
  cp -a "$prefix" "$work/moved_python/gemmtune"
  site=$work/moved_python/gemmtune/lib/python3/dist-packages
  link=$site/gemmtune/lib/libgemmtune_c.so
  [ -L "$link" ] || fail "$link is not a link"
  case $(readlink "$link") in /*) fail "$link is absolute: $(readlink "$link")";; esac
  [ -f "$link" ] || fail "$link does not resolve in the moved prefix"
  GEMMTUNE_CACHE_DIR=$work/python_cache PYTHONPATH=$site /usr/bin/python3 -c '
import sys, numpy as np, gemmtune, gemmtune._capi as capi
want = sys.argv[1]
assert capi.path.startswith(want), (capi.path, want)
assert ("BLAS", True) in [(name, available) for name, available, _ in gemmtune.backends()]
a = np.arange(12, dtype=np.float32).reshape(3, 4); b = np.ones((4, 5), dtype=np.float32)
c = gemmtune.mm(a, b)
assert np.array_equal(c, a @ b), c
fast = gemmtune.fast_path()
assert fast.native and fast.detail.startswith(want), fast
print("python ok:", capi.path)' "$work/moved_python/gemmtune/" >"$work/python.log" 2>&1 ||
    { cat "$work/python.log"; fail "import gemmtune from the moved prefix"; }
  ok "the Python package of a moved prefix loads its own libgemmtune_c and C fast path, and computes mm ($(tail -1 "$work/python.log"))"
  ;;

*)
  fail "unknown check '$check'"
  ;;
esac
