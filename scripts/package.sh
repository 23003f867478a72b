#!/usr/bin/env bash
# Builds the Debian package gemmtune_<version>_amd64.deb: configures
# build-deb/ (or $DEB_BUILD_DIR) for the prefix /usr, without tests and
# benchmarks, builds it and runs `cpack -G DEB` there. Extra arguments go to
# the CMake configure step. Prints the package's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${DEB_BUILD_DIR:-build-deb}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DGEMMTUNE_BUILD_TESTS=OFF -DGEMMTUNE_BUILD_BENCH=OFF "$@"
fi
cmake --build "$dir" --parallel "$(nproc)"
rm -f "$dir"/gemmtune_*.deb
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log"; exit 1; }
ls "$PWD/$dir"/gemmtune_*_*.deb
