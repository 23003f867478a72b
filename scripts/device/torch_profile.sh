#!/usr/bin/env bash
# Run ON the GPU machine: Nsight Compute on torch's own kernels for one GEMM,
# so a gap to torch is read off the library's kernel (its name tells the
# tile, cluster and split; grid, duration and DRAM throughput beside ours
# from profile.sh), not guessed. One report per problem under $OUT.
#
#   scripts/device/torch_profile.sh "M N K LAYOUT" ...   (LAYOUT nt: x @ W.T, nn: x @ W; bf16)
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
[ $# -ge 1 ] || { echo "usage: torch_profile.sh \"M N K LAYOUT\"..."; exit 2; }
for spec in "$@"; do
  read -r m n k layout <<<"$spec"
  report="$out/ncu-torch-${m}x${n}x${k}-${layout}.txt"
  echo "== torch ${m}x${n}x${k} $layout"
  # Three calls; ncu profiles every GEMM-like launch (a split-K reduce kernel too).
  timeout 120 ncu --kernel-name "regex:gemm|nvjet|xmma|cutlass|splitK|reduce" --launch-count 6 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats --section Occupancy \
    python3 - "$m" "$n" "$k" "$layout" >"$report" 2>&1 <<'PY'
import sys, torch
m, n, k, layout = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) if layout == "nt" else \
    torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
for _ in range(3):
    y = x @ w.t() if layout == "nt" else x @ w
torch.cuda.synchronize()
PY
  echo "   ncu exit $?"
  grep -E "^  [a-zA-Z_0-9]+.*\(|^  *(Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Registers Per Thread|Grid Size|Block Size|Cluster Size|Dynamic Shared|Achieved Occupancy|L2 Hit)" "$report" | head -40
done
