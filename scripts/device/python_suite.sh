#!/usr/bin/env bash
# Run ON the lent GPU machine, from the repository root, after
# scripts/device/prepare.sh staged .device/ here and the call carried it:
# the Python package (python/, no install needed) against .device/lib's
# libgemmtune_c.so with the machine's torch: python/tests/gpu_check.py (ops on
# CUDA tensors, streams, typed errors, autograd, the MLP block eager and under
# torch.compile against torch, capture, the Inductor bridge), the CPU/GPU
# pytest suite when pytest is there, then the per-call overhead benchmark.
#   GEMMTUNE_PY_BUDGET_MS  timing budget per choice while tuning (default 10)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/.device-out}
mkdir -p "$out"
[ -f .device/lib/libgemmtune_c.so ] || { echo "no .device/lib: run scripts/device/prepare.sh here and carry .device"; exit 2; }
export GEMMTUNE_C_LIB=$root/.device/lib/libgemmtune_c.so
export PYTHONPATH=$root/python${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
cache=$(mktemp -d)
export GEMMTUNE_CACHE_DIR=$cache
trap 'rm -rf "$cache"' EXIT

python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"
# The ops' C fast path (.device/lib/_fastpath.abi3.so, built here for the stable ABI) must load in this Python.
python3 -c "import gemmtune; print('fast path:', gemmtune.fast_path())"
start=$SECONDS
timeout "${GEMMTUNE_PY_TIMEOUT:-360}" python3 python/tests/gpu_check.py --out "$out" 2>&1 | tee "$out/python_gpu.log"
check_rc=${PIPESTATUS[0]}
echo "gpu_check: exit $check_rc in $((SECONDS - start)) s"

pytest_rc=skipped
if python3 -c "import pytest" 2>/dev/null; then
  timeout 300 python3 -m pytest -q -rs -p no:cacheprovider python/tests/test_options.py python/tests/test_torch_cpu.py \
    python/tests/test_fastpath.py \
    >"$out/python_pytest.log" 2>&1
  pytest_rc=$?
  tail -5 "$out/python_pytest.log"
fi

timeout 240 python3 bench/python/overhead.py --device cuda --shapes 8x8x8,16x1024x1024,128x4096x4096 \
  2>&1 | tee "$out/python_overhead.log"
# The same calls on the ops' Python path, for the C fast path's gain on this machine.
timeout 120 python3 bench/python/overhead.py --device cuda --shapes 8x8x8,16x1024x1024 --python-path \
  2>&1 | tee -a "$out/python_overhead.log"
timeout 120 python3 bench/python/overhead.py --device cpu --backends BLAS,CPP 2>&1 | tee -a "$out/python_overhead.log"
echo "python suite: gpu_check $check_rc, pytest $pytest_rc (logs in $out)"
[ "$check_rc" = 0 ]
