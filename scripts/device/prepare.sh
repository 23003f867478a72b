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
targets=(gemmtune_gpu_tests gemmtune_c_api_tests gemmtune_c cuda_probe)
# The CLI too, when its sources are complete (useful for ad-hoc runs there).
if cmake --build "$build" --target help | grep -q '^gemmtune_cli:'; then targets+=(gemmtune_cli); fi
cmake --build "$build" --target "${targets[@]}" -j"$jobs"

stage=$root/.device
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"
cp "$build/tests/gpu/gemmtune_gpu_tests" "$build/tests/gpu/gemmtune_c_api_tests" "$build/tests/gpu/cuda_probe" "$stage/bin/"
[ -x "$build/tools/gemmtune/gemmtune" ] && cp "$build/tools/gemmtune/gemmtune" "$stage/bin/"
cp "$build/src/capi/libgemmtune_c.so" "$stage/lib/"
strip --strip-unneeded "$stage"/bin/* "$stage"/lib/*.so
git -C "$root" rev-parse --short HEAD > "$stage/commit" 2>/dev/null || true

# A machine without a GPU must see the GPU backends unavailable, cleanly.
LD_LIBRARY_PATH=$stage/lib "$stage/bin/gemmtune_c_api_tests" --gtest_brief=1 >/dev/null
echo "staged in $stage ($(du -sh "$stage" | cut -f1)):"
ls -la "$stage/bin" "$stage/lib"
