#!/usr/bin/env bash
# Run ON the GPU machine after scripts/device/prepare.sh staged .device/:
# where the time of one warm tuning process goes (issue 8's <= 0.5 s goal
# with the compiled-kernel cache filled). One problem, the kernel cache
# filled by a first run, then variants of the same `gemmtune tune` process,
# each line of its stderr (progress, debug log) stamped with the seconds
# since the process started:
#   hit       a stored result (the process, the database and CUDA's start: the floor)
#   warm      --no-cache: tunes again, kernels from the disk cache
#   noearly   the same with --early-stop 0 (every choice timed for the whole budget)
#   inproc    the same with --isolation none (no worker process)
#   budget15  the same with --budget-ms 15 (a quarter of the timing)
#   BREAKDOWN_PROBLEM  the problem (default "mm 4096x4096x4096")
#   BREAKDOWN_ARGS     extra flags for every variant
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
bin=$root/.device/bin/gemmtune
problem=${BREAKDOWN_PROBLEM:-mm 4096x4096x4096}
dir=$(mktemp -d /tmp/gemmtune-bd-XXXXXX)
trap 'rm -rf "$dir"' EXIT

stamp() {  # label flags...: runs one tune, stamps its stderr lines
  local label=$1
  shift
  echo "== $label"
  local t0
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  GEMMTUNE_LOG=${BREAKDOWN_LOG:-debug} "$bin" tune $problem --dtype bf16 --layout nt --device cuda --backends CUDA \
    --cache-dir "$dir" ${BREAKDOWN_ARGS:-} "$@" 2>&1 >/dev/null |
    python3 -u -c 'import sys, time
t0 = float(sys.argv[1])
for line in sys.stdin:
    print("%7.3f %s" % (time.time() - t0, line.rstrip()[:200]))' "$t0"
  echo "$label: $(python3 -c "import time; print('%.3f' % (time.time() - $t0))") s in all"
}

stamp fill "--quiet" >/dev/null  # compiles and stores the kernels and the result
stamp hit
stamp warm --no-cache
stamp noearly --no-cache --early-stop 0
stamp inproc --no-cache --isolation none
stamp budget15 --no-cache --budget-ms 15
