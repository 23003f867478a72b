#!/usr/bin/env bash
# Cold tuning time of the built-in CPU workload (`gemmtune tune --workload`,
# no cache) measured in process and in workers, interleaved (none, process,
# none, ...) so that both see the same machine; prints each run and the
# ratio of the medians. Usage:
#   bench/isolation/isolation_overhead.sh [ROUNDS] [extra gemmtune flags...]
set -euo pipefail
cd "$(dirname "$0")/../.."
gemmtune=${GEMMTUNE:-build/tools/gemmtune/gemmtune}
rounds=${1:-3}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A times
for ((r = 1; r <= rounds; r++)); do
  for mode in none process; do
    start=$(date +%s.%N)
    GEMMTUNE_CACHE_DIR="$tmp/cache" "$gemmtune" tune --workload --no-cache --quiet --isolation "$mode" "$@" \
      >"$tmp/out.$mode.$r" 2>"$tmp/err.$mode.$r" || { cat "$tmp/err.$mode.$r"; exit 1; }
    end=$(date +%s.%N)
    t=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')
    times[$mode]+="$t "
    printf 'round %d  isolation %-8s %7.2f s\n' "$r" "$mode" "$t"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
none=$(echo "${times[none]}" | median)
process=$(echo "${times[process]}" | median)
awk -v n="$none" -v p="$process" \
  'BEGIN {printf "\nmedian: in process %.2f s, isolated %.2f s, overhead %+.1f%%\n", n, p, (p / n - 1) * 100}'
