#!/usr/bin/env bash
# Run ON the GPU machine after scripts/device/prepare.sh staged .device/:
# Nsight Compute on chosen CUDA-backend choices of one problem, so a slow
# template is explained by counters, not guessed at. Each choice runs in its
# own cuda_probe process; ncu profiles one launch of the GEMM kernel (after
# the reference and warm-up launches) with the sections that tell compute,
# memory and stall time apart. Text reports under $OUT (one file per choice).
#
#   scripts/device/profile.sh "OP BxMxNxK LAYOUT DTYPE [flags]" PATTERN...
#   PATTERN: an extended regex over the problem's choice names (cuda_probe --list),
#            or =NAME for one choice by name, offered in the standard space or not
#   PROFILE_KERNEL  regex of the kernel to profile (default: gt_)
#   PROFILE_SKIP    launches of that kernel to skip first (default: 2)
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
[ $# -ge 2 ] || { echo "usage: profile.sh \"OP BxMxNxK LAYOUT DTYPE [flags]\" PATTERN..."; exit 2; }
bin=$root/.device/bin
export GEMMTUNE_CACHE_DIR=${GEMMTUNE_CACHE_DIR:-$(mktemp -d /tmp/gemmtune-profile-XXXXXX)}
problem=$1
shift
# shellcheck disable=SC2086
timeout 300 "$bin/cuda_probe" $problem --prepare >/dev/null
# shellcheck disable=SC2086
names=$(timeout 60 "$bin/cuda_probe" $problem --list) || { echo "profile: cannot list the choices of $problem"; exit 1; }
for pattern in "$@"; do
  # "=NAME": that choice itself, offered in this space or not.
  if [[ $pattern == =* ]]; then matched=${pattern#=}; else matched=$(echo "$names" | grep -E "$pattern" | head -3); fi
  for name in $matched; do
    report="$out/ncu-$name.txt"
    echo "== $name"
    # shellcheck disable=SC2086
    timeout 120 ncu --kernel-name "regex:${PROFILE_KERNEL:-gt_}" --launch-skip "${PROFILE_SKIP:-2}" --launch-count 1 \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
      --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
      "$bin/cuda_probe" $problem --choice "$name" >"$report" 2>&1
    echo "   ncu exit $?"
    grep -E "^  *(Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Registers Per Thread|Achieved Occupancy|Grid Size|Block Size|Dynamic Shared|Stall|Warp Cycles Per Issued|Issued Warp|L2 Hit|No Eligible)" "$report" | head -20
    grep -E " ok |WRONG" "$report" | head -2
  done
done
