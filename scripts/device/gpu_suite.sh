#!/usr/bin/env bash
# Run ON the lent GPU machine, from the repository root, after
# scripts/device/prepare.sh staged .device/ here and the call carried it:
# the GPU line, the GPU test suite, the C API tests, then the GPU benchmark
# (gemmtune's selection vs torch.mm). Full logs go to $OUT; a short summary
# is printed last.
#
#   GEMMTUNE_TEST_FILTER  gtest filter for the GPU suite (default: all)
#   GEMMTUNE_BENCH_ARGS   arguments of bench/gpu/bench_vs_torch.py (default: --suite all)
#   GEMMTUNE_SKIP_TESTS=1 / GEMMTUNE_SKIP_BENCH=1
#   GEMMTUNE_EPILOGUE_BENCH=1  also bench/gpu/bench_epilogue.py (addmm + bias +
#                         activation vs torch, and the epilogue passes' bandwidth
#                         vs a copy), logs and epilogue.json/.md in $OUT/epilogue
#   GEMMTUNE_EPILOGUE_BENCH_ARGS  its arguments (default: --suite quick)
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
bin=$root/.device/bin
[ -x "$bin/gemmtune_gpu_tests" ] || { echo "no .device/bin: run scripts/device/prepare.sh here and carry .device"; exit 2; }

{
  echo "commit $(cat .device/commit 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
    --format=csv,noheader 2>&1
} | tee "$out/gpu.txt"
missing=$(ldd "$bin/gemmtune_gpu_tests" "$root/.device/lib/libgemmtune_c.so" | grep "not found" || true)
[ -n "$missing" ] && echo "MISSING LIBRARIES: $missing"

tests_rc=skipped
capi_rc=skipped
if [ "${GEMMTUNE_SKIP_TESTS:-0}" != 1 ]; then
  start=$SECONDS
  timeout "${GEMMTUNE_TEST_TIMEOUT:-300}" stdbuf -oL -eL "$bin/gemmtune_gpu_tests" --gtest_filter="${GEMMTUNE_TEST_FILTER:-*}" \
    >"$out/gpu_tests.log" 2>&1
  tests_rc=$?
  echo "GPU tests: exit $tests_rc in $((SECONDS - start)) s"
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[==========\] .* ran" "$out/gpu_tests.log" | head -40
  grep -E "^\[ (device|timing|graph|winner|counts|workspace|rejects) " "$out/gpu_tests.log" | head -60
  timeout 120 "$bin/gemmtune_c_api_tests" >"$out/c_api_tests.log" 2>&1
  capi_rc=$?
  echo "C API tests: exit $capi_rc"
fi

bench_rc=skipped
if [ "${GEMMTUNE_SKIP_BENCH:-0}" != 1 ]; then
  start=$SECONDS
  # shellcheck disable=SC2086
  GEMMTUNE_C_LIB=$root/.device/lib/libgemmtune_c.so timeout "${GEMMTUNE_BENCH_TIMEOUT:-360}" \
    python3 bench/gpu/bench_vs_torch.py --out "$out" ${GEMMTUNE_BENCH_ARGS:---suite all} >"$out/bench.log" 2>&1
  bench_rc=$?
  echo "benchmark: exit $bench_rc in $((SECONDS - start)) s"
fi

epilogue_rc=skipped
if [ "${GEMMTUNE_EPILOGUE_BENCH:-0}" = 1 ]; then
  start=$SECONDS
  mkdir -p "$out/epilogue"
  # shellcheck disable=SC2086
  GEMMTUNE_C_LIB=$root/.device/lib/libgemmtune_c.so timeout "${GEMMTUNE_EPILOGUE_BENCH_TIMEOUT:-420}" \
    python3 bench/gpu/bench_epilogue.py --out "$out/epilogue" ${GEMMTUNE_EPILOGUE_BENCH_ARGS:---suite quick} \
    >"$out/epilogue/bench_epilogue.log" 2>&1
  epilogue_rc=$?
  echo "epilogue benchmark: exit $epilogue_rc in $((SECONDS - start)) s"
fi

echo
echo "===== summary ====="
[ -f "$out/gpu_tests.log" ] && grep -E "^\[  (PASSED|FAILED) |FAILED TEST" "$out/gpu_tests.log" | head -30
[ -f "$out/bench.log" ] && grep -E "^ *[0-9]+x|^card |^below|WRONG|could not" "$out/bench.log"
[ -f "$out/epilogue/bench_epilogue.log" ] && grep -E "^ *[0-9]+x|^card |^epilogue |WRONG|could not|needs|no CUDA" \
  "$out/epilogue/bench_epilogue.log"
echo "tests: $tests_rc, C API tests: $capi_rc, benchmark: $bench_rc, epilogue benchmark: $epilogue_rc (logs in $out)"
