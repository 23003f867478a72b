#!/usr/bin/env bash
# Run ON the GPU machine after scripts/device/prepare.sh staged .device/ and
# the call carried it: every GPU check of the project in one call, in
# priority order, each step under its own time limit inside a total budget
# (device time is scarce: one call should bring back everything). Full logs
# under $OUT; a summary is printed last.
#
#   ROUND_SECONDS   total budget (default 560)
#   ROUND_STEPS     space-separated subset of: bench epilogue tests probe tunetime breakdown isolation python multi profile torchprof capi
#                   (all of them need two calls: round 3 on an H100 found bench ~200 s, epilogue
#                   > 60 s, tests > 120 s; see src/backends/cuda/NOTES.md for the split)
#   ROUND_TEST_FILTER  a gtest filter for the GPU tests (default: all)
#   ROUND_LIMITS    per-step limits that replace the defaults, e.g. "tests=240 python=200"
#   ROUND_EPILOGUE  arguments of bench_epilogue.py (default: 2048x14336x4096, bias/gelu/gelu_tanh, default backends)
#   ROUND_BENCH     arguments of bench_vs_torch.py (default: quick suite, nt and nn, CUDA alone)
#   ROUND_TORCH_PROFILE  ';'-separated "M N K LAYOUT" of torch's kernels for torchprof
#                   (default: 128 4096 4096 nt; 4096 4096 4096 nt)
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
export GEMMTUNE_CACHE_DIR=${GEMMTUNE_CACHE_DIR:-$(mktemp -d /tmp/gemmtune-round-XXXXXX)}
export GEMMTUNE_C_LIB=$root/.device/lib/libgemmtune_c.so
budget=${ROUND_SECONDS:-560}
steps=${ROUND_STEPS:-bench epilogue tests probe tunetime breakdown isolation python multi profile torchprof capi}
start=$SECONDS
summary=()

run_step() {  # name limit command...
  local name=$1 limit=$2 pair
  shift 2
  case " $steps " in *" $name "*) ;; *) return ;; esac
  for pair in ${ROUND_LIMITS:-}; do
    [ "${pair%%=*}" = "$name" ] && limit=${pair#*=}
  done
  local left=$((budget - (SECONDS - start)))
  if [ "$left" -lt 20 ]; then
    summary+=("$name: skipped, the budget is spent")
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  summary+=("$name: exit $rc in $((SECONDS - t0)) s$([ $rc -eq 124 ] && echo ' (TIMED OUT)')")
}

{
  git rev-parse --short HEAD 2>/dev/null || cat .device/commit
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
} 2>&1 | tee "$out/gpu.txt"

# Most wanted first: the benchmarks against torch, then correctness, then
# the probe's per-choice detail.
# shellcheck disable=SC2086
run_step bench 200 python3 bench/gpu/bench_vs_torch.py --out "$out" \
  ${ROUND_BENCH:---suite quick --layouts nt,nn --backends CUDA --reps 30 --max-reps 80 --no-control}
if [ -f bench/gpu/bench_epilogue.py ]; then
  # shellcheck disable=SC2086
  run_step epilogue 120 python3 bench/gpu/bench_epilogue.py --out "$out/epilogue" \
    ${ROUND_EPILOGUE:---suite quick --shapes 2048x14336x4096 --acts bias,gelu,gelu_tanh --reps 30}
fi
# shellcheck disable=SC2086
# Line-buffered and not brief: round 4's binary died of a signal and its
# buffered output went with it; now the last "[ RUN" line names the test.
run_step tests 200 stdbuf -oL -eL .device/bin/gemmtune_gpu_tests ${ROUND_TEST_FILTER:+--gtest_filter=$ROUND_TEST_FILTER}
CUDA_PROBE_TIMEOUT=20 run_step probe 50 scripts/device/cuda_probe.sh
run_step tunetime 60 scripts/device/tuning_time.sh
run_step breakdown 60 scripts/device/tuning_breakdown.sh
[ -x scripts/device/isolation_gpu.sh ] &&
  GEMMTUNE_ISOLATION_SUITE=quick GEMMTUNE_BENCH_TIMEOUT=60 run_step isolation 70 scripts/device/isolation_gpu.sh
[ -x scripts/device/python_suite.sh ] && run_step python 110 scripts/device/python_suite.sh
[ -x scripts/device/multi_gpu.sh ] && run_step multi 60 scripts/device/multi_gpu.sh
# Counters for the slowest open question (NOTES.md): the fused addmm + gelu.
# shellcheck disable=SC2086
run_step profile 60 scripts/device/profile.sh "${ROUND_PROFILE_PROBLEM:-addmm 1x2048x14336x4096 nt bf16 --act gelu}" \
  ${ROUND_PROFILE_CHOICES:-'128x256_s4_c1_k1$' '128x128_s6_c1_k1$' '64x256_s5_c1_k1$'}
# The library's kernels for the same shapes, to read our profile against.
IFS=';' read -r -a torch_shapes <<<"${ROUND_TORCH_PROFILE:-128 4096 4096 nt;4096 4096 4096 nt}"
run_step torchprof 90 scripts/device/torch_profile.sh "${torch_shapes[@]}"
run_step capi 20 .device/bin/gemmtune_c_api_tests --gtest_brief=1
echo
echo "===== summary ($((SECONDS - start)) s) ====="
printf '%s\n' "${summary[@]}"
[ -f "$out/probe.log" ] && grep -E "^probe:|prepared" "$out/probe.log" | tail -12
[ -f "$out/probe.log" ] && grep -E "WRONG|HANG|CRASH|BUILD|RUN |TIMING" "$out/probe.log" | head -12
[ -f "$out/tunetime.log" ] && cat "$out/tunetime.log"
[ -f "$out/breakdown.log" ] && grep -E "s in all$" "$out/breakdown.log"
[ -f "$out/tests.log" ] && grep -E "^\[  (PASSED|FAILED) |FAILED TEST|tests ran" "$out/tests.log" | head -25
[ -f "$out/tests.log" ] && echo "last test started: $(grep -E '^\[ RUN' "$out/tests.log" | tail -1)"
[ -f "$out/capi.log" ] && grep -E "^\[  (PASSED|FAILED) " "$out/capi.log"
[ -f "$out/bench.log" ] && grep -E "^ *[0-9]+x|^card |^below|WRONG" "$out/bench.log" | cut -c1-160
[ -f "$out/epilogue.log" ] && grep -E "^epilogue|WRONG|x[0-9]" "$out/epilogue.log" | tail -12 | cut -c1-160
[ -f "$out/isolation.log" ] && grep -E "ok:|FAILED|overhead|agree|summary|fault" "$out/isolation.log" | head -14
[ -f "$out/python.log" ] && tail -8 "$out/python.log"
[ -f "$out/multi.log" ] && tail -6 "$out/multi.log"
[ -f "$out/profile.log" ] && cat "$out/profile.log"
[ -f "$out/torchprof.log" ] && cat "$out/torchprof.log"
# The device tool brings back at most 8 files: pack every log and output into
# one archive beside the summary.
printf '%s\n' "${summary[@]}" >"$out/summary.txt"
tar czf /tmp/round.tgz -C "$out" . && find "$out" -mindepth 1 -delete && mv /tmp/round.tgz "$out/round.tgz"
