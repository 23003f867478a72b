#!/usr/bin/env bash
# Issue 12, multi-GPU tuning. Run ON a lent GPU machine from the repository
# root, after scripts/device/prepare.sh staged .device/ here and the call
# carried it (carry: [".device"]):
#   scripts/device/multi_gpu.sh            # logs and a summary in $OUT
# On any GPU machine (one GPU is enough, under 90 s):
#   0. the index is not in the key: a small workload tuned with --devices
#      cuda:0; its stored keys name the GPU's model and properties and no
#      index; the same workload asked again with CUDA_VISIBLE_DEVICES set to
#      the GPU's UUID (so the index comes from another enumeration), through
#      --devices all and through the one-device path, is all cache hits:
#      nothing tuned.
# With several GPUs only (otherwise skipped, saying why):
#   1. spread: a workload of 32 distinct bf16 problems tuned cold with
#      --devices cuda:0, then with --devices all: the wall-time speed-up
#      (target >= 0.85 x N) and the selections (identical, or within the tie
#      rule: the differing rows are printed with both times);
#   2. sharing: that workload tuned into a cache on cuda:0, then asked on
#      cuda:1 and on physical GPU 1 seen as cuda:0 (CUDA_VISIBLE_DEVICES=1):
#      all cache hits when GPU 1 is the same model as GPU 0, none otherwise;
#   3. a worker killed mid-run: --devices all while the worker of cuda:1 is
#      SIGKILLed once: exit 0 and every problem tuned;
#   4. a device failing mid-run: every worker of cuda:1 is SIGKILLed as soon
#      as it appears: cuda:1 is reported failed and its problems are tuned on
#      the other GPUs (exit 0).
# MULTI_GPU_BACKENDS (default CUBLAS,CUBLASLT) picks the backends of parts
# 1-4. Exit 0 when every check that ran passed.
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
gemmtune=$root/.device/bin/gemmtune
[ -x "$gemmtune" ] || { echo "no .device/bin/gemmtune: run scripts/device/prepare.sh here and carry .device"; exit 2; }
nvidia-smi -L | tee "$out/multi_gpu.txt"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
[ "$gpus" -ge 1 ] || { echo "no GPU here: nothing run"; exit 2; }
echo "commit $(cat .device/commit 2>/dev/null || echo '?')" | tee -a "$out/multi_gpu.txt"

fail=0
check() { if [ "$2" = 0 ]; then echo "  ok: $1"; else echo "  FAILED: $1"; fail=1; fi; }
# hits NAME EXPECTED: checks that every (EXPECTED=all) or no (none) result of
# $out/NAME.json was a cache hit, and that every problem has a selection.
hits() {
  python3 - "$out/$1.json" "$2" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
hit = sum(1 for r in rows if r.get("cache_hit"))
chosen = sum(1 for r in rows if r.get("selected"))
print(f"  {sys.argv[1].rsplit('/', 1)[-1]}: {hit}/{len(rows)} cache hits, {chosen}/{len(rows)} selected")
want = len(rows) if sys.argv[2] == "all" else 0
sys.exit(0 if rows and hit == want and chosen == len(rows) else 1)
PY
}

echo "== 0. the device index is not in the results key (one GPU is enough)"
small=$out/multi_gpu_small.txt
printf '%s\n' "mm 64x1024x1024 --dtype bf16" "mm 256x1024x1024 --dtype bf16" "mm 1024x1024x1024 --dtype f16" \
  "addmm 128x2048x512 --dtype bf16 --layout nt" "mm 32x4096x1024 --dtype f32" "bmm 4x128x256x256 --dtype bf16" >"$small"
small_flags=(--backends CUBLAS,CUBLASLT --budget-ms 5 --quiet --json)
export GEMMTUNE_CACHE_DIR=$out/index_cache
rm -rf "$GEMMTUNE_CACHE_DIR"
uuid0=$(nvidia-smi --query-gpu=uuid --format=csv,noheader -i 0 | tr -d ' ')
start=$(date +%s)
"$gemmtune" tune --workload "$small" --devices cuda:0 "${small_flags[@]}" >"$out/index_tuned.json" 2>"$out/index_tuned.err"
check "tuned on cuda:0 (exit $?)" $?
hits index_tuned none; check "the first run tuned every problem" $?
"$gemmtune" cache list --json >"$out/index_keys.json" 2>>"$out/index_tuned.err"
python3 - "$out/index_keys.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
keys = [r["key"] for r in rows]
bad = [k for k in keys if "cuda:" in k or ";device=cuda|" not in k or "gpu=" not in k or ";sms=" not in k
       or ";mem=" not in k or ";clock=" not in k or ";driver=" not in k]
print(f"  {len(keys)} stored keys; e.g. {keys[0] if keys else None}")
for k in bad: print("  key with an index or without the device's properties:", k)
sys.exit(0 if keys and not bad else 1)
PY
check "stored keys name the model and properties, no index" $?
CUDA_VISIBLE_DEVICES=$uuid0 "$gemmtune" tune --workload "$small" --devices all "${small_flags[@]}" \
  >"$out/index_by_uuid.json" 2>"$out/index_by_uuid.err"
check "CUDA_VISIBLE_DEVICES=$uuid0 --devices all (exit $?)" $?
hits index_by_uuid all; check "remapped through its UUID, every problem came from the cache" $?
CUDA_VISIBLE_DEVICES=$uuid0 "$gemmtune" tune --workload "$small" --device cuda:0 "${small_flags[@]}" \
  >"$out/index_one_device.json" 2>"$out/index_one_device.err"
check "CUDA_VISIBLE_DEVICES=$uuid0 without --devices (exit $?)" $?
hits index_one_device all; check "the one-device path shares the records too" $?
if [ "$gpus" -ge 2 ]; then
  # Physical GPU 1 as cuda:0: the same index, another GPU. Identical GPUs
  # share; a different model (or clocks, memory) must tune afresh.
  same=none
  [ "$(nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader -i 0)" = \
    "$(nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader -i 1)" ] && same=all
  CUDA_VISIBLE_DEVICES=1 "$gemmtune" tune --workload "$small" --devices cuda:0 "${small_flags[@]}" \
    >"$out/index_gpu1.json" 2>"$out/index_gpu1.err"
  hits index_gpu1 $same; check "physical GPU 1 as cuda:0: cache hits: $same (GPU 1 is $([ $same = all ] && echo identical || echo different))" $?
fi
unset GEMMTUNE_CACHE_DIR
echo "  part 0 took $(( $(date +%s) - start )) s"

if [ "$gpus" -lt 2 ]; then
  echo
  echo "== 1-4 SKIPPED: this machine has $gpus GPU; the spread, the speed-up, sharing between two GPUs and a"
  echo "   GPU failing mid-run need at least 2 (nvidia-h100-x2 or larger)"
  echo "multi-GPU checks (part 0 only): $([ $fail = 0 ] && echo passed || echo FAILED) (logs in $out)"
  exit $fail
fi

work=$out/multi_gpu_workload.txt
: >"$work"
for layout in nt nn; do
  for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do
    n=${nk%x*}; k=${nk#*x}
    for m in 1 16 128 1024; do echo "mm ${m}x${n}x${k} --dtype bf16 --layout $layout" >>"$work"; done
  done
done
echo "workload: $(wc -l <"$work") problems"
flags=(--backends "${MULTI_GPU_BACKENDS:-CUBLAS,CUBLASLT}" --quiet --json)
timed() {  # timed NAME ARGS... : runs gemmtune, prints and stores its wall time
  local name=$1; shift
  local start=$(date +%s.%N)
  "$gemmtune" "$@" >"$out/$name.json" 2>"$out/$name.err"
  local rc=$?
  local end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" -v n="$name" -v rc="$rc" 'BEGIN {printf "%s: %.1f s (exit %d)\n", n, b - a, rc}' |
    tee -a "$out/multi_gpu_times.txt"
  return $rc
}

echo "== 1. spread"
: >"$out/multi_gpu_times.txt"
GEMMTUNE_CACHE_DIR=$out/c1 timed one_gpu tune --workload "$work" --devices cuda:0 --no-cache "${flags[@]}"
GEMMTUNE_CACHE_DIR=$out/c2 timed all_gpus tune --workload "$work" --devices all --no-cache "${flags[@]}"
python3 - "$out" "$gpus" <<'PY'
import json, re, sys
out, n = sys.argv[1], int(sys.argv[2])
times = dict(re.findall(r"^(\w+): ([\d.]+) s", open(f"{out}/multi_gpu_times.txt").read(), re.M))
one, all_ = float(times["one_gpu"]), float(times["all_gpus"])
print(f"  speed-up with {n} GPUs: x{one / all_:.2f} (target >= x{0.85 * n:.2f})")
a = json.load(open(f"{out}/one_gpu.json"))
b = json.load(open(f"{out}/all_gpus.json"))
diff = 0
for x, y in zip(a, b):
    wx, wy = x.get("selected") or {}, y.get("selected") or {}
    if (wx.get("backend"), wx.get("choice")) != (wy.get("backend"), wy.get("choice")):
        diff += 1
        print(f"  differs: {x['label']}: {wx.get('choice')} {wx.get('time_us')} us vs {wy.get('choice')} {wy.get('time_us')} us")
print(f"  selections identical on {len(a) - diff}/{len(a)} problems (the rest: see the tie rule)")
devices = {}
for y in b:
    d = y["label"].rsplit(" on ", 1)[-1]
    devices[d] = devices.get(d, 0) + 1
print(f"  problems per device: {devices}")
sys.exit(0 if one / all_ >= 0.85 * n and len(devices) == n else 1)
PY
check "speed-up >= 0.85 x $gpus and every GPU took problems" $?

echo "== 2. sharing between identical GPUs"
export GEMMTUNE_CACHE_DIR=$out/shared
"$gemmtune" tune --workload "$work" --devices cuda:0 "${flags[@]}" >"$out/share0.json" 2>"$out/share0.err"
"$gemmtune" tune --workload "$work" --devices cuda:1 "${flags[@]}" >"$out/share1.json" 2>"$out/share1.err"
CUDA_VISIBLE_DEVICES=1 "$gemmtune" tune --workload "$work" --devices cuda:0 "${flags[@]}" >"$out/share_remap.json" \
  2>"$out/share_remap.err"
same=none
[ "$(nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader -i 0)" = \
  "$(nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader -i 1)" ] && same=all
hits share1 $same; check "cuda:1 after cuda:0: cache hits: $same" $?
hits share_remap $same; check "physical GPU 1 as cuda:0: cache hits: $same" $?
unset GEMMTUNE_CACHE_DIR

# The measuring worker of cuda:1 among the children of gemmtune run $1.
worker_of() { pgrep -P "$1" -f -- "--gemmtune-worker.*--device cuda:1" | head -1; }

echo "== 3. a worker killed mid-run"
GEMMTUNE_CACHE_DIR=$out/c3 "$gemmtune" tune --workload "$work" --devices all --no-cache "${flags[@]}" \
  >"$out/killed.json" 2>"$out/killed.err" &
run=$!
for _ in $(seq 200); do w=$(worker_of $run); [ -n "$w" ] && break; sleep 0.1; done
sleep 2
w=$(worker_of $run)
if [ -n "$w" ]; then kill -9 "$w" && echo "  killed the worker of cuda:1 (pid $w)"; else echo "  (no worker of cuda:1 to kill)"; fi
wait $run; rc=$?
check "exit 0 after a worker was killed (got $rc)" $([ $rc = 0 ]; echo $?)
python3 -c "import json,sys; r=json.load(open('$out/killed.json')); t=sum(1 for x in r if x.get('selected')); print('  tuned:', t, '/', len(r)); sys.exit(t != len(r))"
check "every problem tuned" $?

echo "== 4. a device failing mid-run"
GEMMTUNE_CACHE_DIR=$out/c4 "$gemmtune" tune --workload "$work" --devices all --no-cache "${flags[@]}" \
  >"$out/failing.json" 2>"$out/failing.err" &
run=$!
sleep 3
while kill -0 $run 2>/dev/null; do w=$(worker_of $run); [ -n "$w" ] && kill -9 "$w" 2>/dev/null; sleep 0.05; done
wait $run; rc=$?
check "exit 0 with cuda:1 failing (got $rc)" $([ $rc = 0 ]; echo $?)
grep -m2 "cuda:1 failed" "$out/failing.err"; check "cuda:1 reported failed" $?
python3 - "$out" <<'PY'
import json, sys
r = json.load(open(f"{sys.argv[1]}/failing.json"))
tuned = sum(1 for x in r if x.get("selected"))
late = sum(1 for x in r if x["label"].endswith("on cuda:1"))
print(f"  tuned {tuned}/{len(r)}; {late} finished on cuda:1 before it failed")
sys.exit(0 if tuned == len(r) else 1)
PY
check "every problem tuned on the others" $?

echo
echo "===== summary ====="
cat "$out/multi_gpu_times.txt"
echo "multi-GPU checks: $([ $fail = 0 ] && echo passed || echo FAILED) (logs in $out)"
exit $fail
