#!/usr/bin/env bash
# Run ON the lent GPU machine, from the repository root, after
# scripts/device/prepare.sh staged .device/ here and the call carried it:
# worker isolation on the GPU (issue 9).
#   1. faults in workers on cuda:0, through failpoints in real choices: an
#      illegal address (a GPU kernel writing through an unmapped pointer: the
#      worker's CUDA context is lost) must be a `run` rejection naming
#      CUDA_ERROR_ILLEGAL_ADDRESS, a crash a `crash` rejection naming SIGSEGV,
#      a hang a `timeout` rejection; the next choices still measure (in new
#      workers) and gemmtune exits 0 with a verified winner;
#   2. the GPU benchmark suite tuned cold by an isolated and an in-process
#      tuner side by side (bench/gpu/isolation_overhead.py): the isolation
#      overhead on tuning time (target <= 15%), the per-choice timing
#      agreement and the selections.
# Logs go to $OUT; a summary is printed last.
#   GEMMTUNE_ISOLATION_SUITE  all (default) or quick
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
gemmtune=$root/.device/bin/gemmtune
[ -x "$gemmtune" ] || { echo "no .device/bin/gemmtune: run scripts/device/prepare.sh here and carry .device"; exit 2; }
[ -x "$root/.device/lib/gemmtune-worker" ] || echo "WARNING: no .device/lib/gemmtune-worker: the C API measures in process"
export GEMMTUNE_CACHE_DIR=$out/cache
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | tee "$out/isolation_gpu.txt"
echo "commit $(cat .device/commit 2>/dev/null || echo '?')" | tee -a "$out/isolation_gpu.txt"

fail=0
check() {  # check NAME CONDITION-EXIT-CODE
  if [ "$2" = 0 ]; then echo "  ok: $1"; else echo "  FAILED: $1"; fail=1; fi
}

problem=(mm 128x4096x4096 --dtype bf16 --layout nt --device cuda)
choices=$("$gemmtune" explain "${problem[@]}" --backends CUBLASLT --json |
  python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["choices"]))')
read -r -a names <<<"$choices"
echo "CUBLASLT offers ${#names[@]} choices; faults go into the first three"
if [ "${#names[@]}" -lt 4 ]; then echo "FAILED: too few CUBLASLT choices to test"; exit 1; fi
faults="CUBLASLT/${names[0]}=illegal_address;CUBLASLT/${names[1]}=crash;CUBLASLT/${names[2]}=hang"
start=$SECONDS
GEMMTUNE_FAILPOINTS=$faults GEMMTUNE_LOG=info "$gemmtune" tune "${problem[@]}" --backends CUBLAS,CUBLASLT \
  --no-cache --json --choice-timeout 10 >"$out/faults.json" 2>"$out/faults.err"
rc=$?
echo "faults: exit $rc in $((SECONDS - start)) s; workers started: $(grep -c 'started measuring worker' "$out/faults.err")"
check "exit code 0 with faulty choices" $([ $rc = 0 ]; echo $?)
python3 - "$out/faults.json" "${names[0]}" "${names[1]}" "${names[2]}" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
rows = {c["name"]: c for c in r["choices"]}
def show(name):
    c = rows[name]
    print(f"  {name}: {c['status']} {c.get('stage')}/{c.get('reason')}: {c.get('message')}")
    return c
bad = 0
c = show(sys.argv[2]); bad |= not (c["stage"] == "run" and "ILLEGAL_ADDRESS" in (c["message"] or ""))
c = show(sys.argv[3]); bad |= not (c["stage"] == "crash" and "SIGSEGV" in (c["message"] or ""))
c = show(sys.argv[4]); bad |= not (c["stage"] == "timeout")
ok_after = [c for c in r["choices"] if c["name"] not in sys.argv[2:5] and c["status"] == "ok"]
print(f"  {len(ok_after)} other choices verified and timed; selected {r['selected']['backend']}/{r['selected']['choice']}")
bad |= len(ok_after) == 0 or r["selected"]["choice"] in sys.argv[2:5]
print("  ok: each fault rejected at its stage, tuning went on" if not bad else "  FAILED: fault rejections")
sys.exit(1 if bad else 0)
PY

echo "isolation on the GPU benchmark suite (cold tuning, isolated vs in process):"
GEMMTUNE_C_LIB=$root/.device/lib/libgemmtune_c.so timeout "${GEMMTUNE_BENCH_TIMEOUT:-540}" \
  python3 bench/gpu/isolation_overhead.py --suite "${GEMMTUNE_ISOLATION_SUITE:-all}" --out "$out" \
  >"$out/isolation_overhead.log" 2>&1
bench_rc=$?
tail -4 "$out/isolation_overhead.log"
check "isolation_overhead.py ran" $bench_rc

echo
echo "===== summary ====="
echo "fault tests: $([ $fail = 0 ] && echo passed || echo FAILED); benchmark exit $bench_rc (logs in $out)"
exit $fail
