#!/usr/bin/env bash
# Run HERE (no GPU needed): builds the GPU test suite and the C API library
# for the lent GPU machine and stages them in .device/ (git-ignored), which
# the device tool carries with `carry: [".device"]`.
#
# The device machine has CUDA 13, python3 with torch, libsqlite3, libopenblas
# and libgomp at run time, but no oneDNN and no development headers, so the
# build happens here with ONEDNN off; CUDA itself is only dlopen'ed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${GEMMTUNE_DEVICE_BUILD:-$root/build-device}
jobs=${JOBS:-2}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGEMMTUNE_WITH_ONEDNN=OFF -DGEMMTUNE_WITH_CUDA=ON -DGEMMTUNE_BUILD_BENCH=OFF >/dev/null
# The CLI always: `gemmtune` on the GPU machine, as the README says. (Asking
# `--target help | grep -q` first failed under pipefail: grep exits at the
# first match and cmake dies of SIGPIPE, so the CLI was never staged.)
targets=(gemmtune_gpu_tests gemmtune_c_api_tests gemmtune_c gemmtune_cli gemmtune_worker cuda_probe gemmtune_fastpath)
cmake --build "$build" --target "${targets[@]}" -j"$jobs"

stage=$root/.device
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"
cp "$build/tests/gpu/gemmtune_gpu_tests" "$build/tests/gpu/gemmtune_c_api_tests" "$build/tests/gpu/cuda_probe" "$stage/bin/"
[ -x "$build/tools/gemmtune/gemmtune" ] && cp "$build/tools/gemmtune/gemmtune" "$stage/bin/"
# The library under its SONAME (what the tests' NEEDED entry names) and the
# plain name that Python's ctypes loader is given.
soname=$(objdump -p "$build/src/capi/libgemmtune_c.so" | awk '$1 == "SONAME" { print $2 }')
cp -L "$build/src/capi/libgemmtune_c.so" "$stage/lib/$soname"
ln -s "$soname" "$stage/lib/libgemmtune_c.so"
# hiredis (the remote cache's client) is not on the GPU machine: its
# library travels with ours (the binaries' RUNPATH does not matter, the
# device scripts set LD_LIBRARY_PATH to .device/lib).
cp -L "$(ldd "$build/src/capi/libgemmtune_c.so" | awk '$1 ~ /^libhiredis/ { print $3 }')" "$stage/lib/"
# The measuring worker, beside the library that looks for it there.
cp "$build/src/capi/gemmtune-worker" "$stage/lib/"
# The Python ops' C fast path (stable ABI: built here against Debian's 3.11
# headers, it loads in the GPU machine's Python 3.12), beside the library the
# package loads from .device/lib.
cp "$build/src/capi/_fastpath.abi3.so" "$stage/lib/"
strip --strip-unneeded "$stage"/bin/* "$stage/lib/$soname" "$stage/lib/gemmtune-worker" "$stage/lib/_fastpath.abi3.so"
git -C "$root" rev-parse --short HEAD > "$stage/commit" 2>/dev/null || true

# A machine without a GPU must see the GPU backends unavailable, cleanly;
# and the staged CLI must run.
LD_LIBRARY_PATH=$stage/lib "$stage/bin/gemmtune_c_api_tests" --gtest_brief=1 >/dev/null
"$stage/bin/gemmtune" backends >/dev/null
# The staged C fast path loads beside the staged library (the same file
# loads in the GPU machine's Python 3.12: stable ABI).
GEMMTUNE_C_LIB=$stage/lib/libgemmtune_c.so PYTHONPATH=$root/python LD_LIBRARY_PATH=$stage/lib /usr/bin/python3 -c \
  'import gemmtune; path = gemmtune.fast_path(); assert path.native, path'
echo "staged in $stage ($(du -sh "$stage" | cut -f1)):"
ls -la "$stage/bin" "$stage/lib"
