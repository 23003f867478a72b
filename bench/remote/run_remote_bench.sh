#!/usr/bin/env bash
# The remote cache's benchmark, against a redis-server of its own on a free
# 127.0.0.1 port in a temporary folder (nothing persisted; stopped on exit):
#
#  1. gemmtune_remote_bench: remote hit latency and lease overhead.
#  2. A distributed workload: the same workload file tuned by 1 process and
#     by 4 processes sharing the Redis, each with its own local cache folder
#     (as on separate machines), side by side in one run, twice:
#       budget: REFERENCE with --budget-ms 500 (REMOTE_BENCH_BUDGET_MS)
#               --threads 1 and no practical repeat cap: each problem's
#               tuning lasts its time budget and a little more (the kernel
#               is re-run until that much run time is spent; the default
#               1000-repeat cap would end these small problems first), as
#               a GPU tuning does;
#       work:   REFERENCE with a budget it never reaches, so each problem
#               runs its kernel the maximum 1000 times: a fixed amount of
#               single-threaded CPU work per problem.
#     On a machine with fewer cores than processes the "work" speed-up is
#     capped by the cores; the "budget" one shows what the coordination
#     costs when each member has its own machine (or GPU).
#
# usage: bench/remote/run_remote_bench.sh [BUILD_DIR] [PROBLEMS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
problems=${2:-32}
gemmtune=$build/tools/gemmtune/gemmtune
bench=$build/bench/remote/gemmtune_remote_bench
for f in "$gemmtune" "$bench"; do
  [ -x "$f" ] || { echo "run_remote_bench: $f is not built (scripts/build.sh)"; exit 2; }
done
command -v redis-server >/dev/null || { echo "run_remote_bench: redis-server missing (scripts/setup.sh)"; exit 2; }
python=/usr/bin/python3
[ -x $python ] || python=python3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gemmtune-remote-bench-XXXXXX")
port=$($python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$tmp" \
  --logfile "$tmp/redis.log" &
redis_pid=$!
cleanup() {
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do
  [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.05
done
url=redis://127.0.0.1:$port

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "redis: $(redis-server --version | cut -d' ' -f3) on $url"
echo
"$bench" --url "$url"
echo

# One run of the workload by N processes; prints "WALL_SECONDS TUNED_TOTAL MAX_TUNED_PER_PROBLEM".
fleet() {
  local n=$1 tag=$2
  shift 2
  redis-cli -p "$port" flushall >/dev/null
  local start end pids=()
  start=$(date +%s.%N)
  for i in $(seq "$n"); do
    GEMMTUNE_CACHE_DIR="$tmp/$tag-$n/$i" GEMMTUNE_REMOTE_CACHE="$url" \
      "$gemmtune" tune --workload "$tmp/$tag.txt" --quiet --json "$@" >"$tmp/$tag-$n-$i.json" 2>"$tmp/$tag-$n-$i.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "a member failed:"; cat "$tmp"/$tag-$n-*.err; exit 1; }; done
  end=$(date +%s.%N)
  $python - "$start" "$end" "$tmp"/$tag-$n-*.json <<'EOF'
import json, sys, collections
start, end, files = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
tuned = collections.Counter()
seconds = []
for f in files:
    for r in json.load(open(f)):
        if r["source"] == "tuned":
            tuned[r["problem"]["text"]] += 1
            seconds.append(r["tuning_seconds"])
print(f"{end - start:.2f} {sum(tuned.values())} {max(tuned.values())} {min(seconds):.2f} {sum(seconds)/len(seconds):.2f}")
EOF
}

printf "distributed workload: %d problems, 1 process vs 4 processes sharing Redis\n" "$problems"
printf "  %-8s %9s %9s %9s  %s\n" variant "1 proc s" "4 procs s" speed-up "checks"
for variant in budget work; do
  : >"$tmp/$variant.txt"
  for i in $(seq 0 $((problems - 1))); do
    if [ $variant = budget ]; then
      echo "mm $((32 + i))x32x32 --backends REFERENCE --budget-ms ${REMOTE_BENCH_BUDGET_MS:-500} --max-repeats 1000000 --threads 1" >>"$tmp/$variant.txt"
    else
      echo "mm 26x26x$((26 + i)) --backends REFERENCE --budget-ms 1000000 --threads 1" >>"$tmp/$variant.txt"
    fi
  done
  read -r one one_tuned one_max one_min one_mean <<<"$(fleet 1 $variant)"
  read -r four four_tuned four_max four_min four_mean <<<"$(fleet 4 $variant)"
  speedup=$($python -c "print(f'{$one / $four:.2f}')")
  printf "  %-8s %9s %9s %8sx  1 proc: %s tuned, min %s s, mean %s s each; 4 procs: %s tuned (at most %s per problem), mean %s s each\n" \
    $variant "$one" "$four" "$speedup" "$one_tuned" "$one_min" "$one_mean" "$four_tuned" "$four_max" "$four_mean"
done
