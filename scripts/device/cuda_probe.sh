#!/usr/bin/env bash
# Run ON the GPU machine after scripts/device/prepare.sh staged .device/:
# every choice of the CUDA backend for a list of problems, each choice in its
# own process under a time limit (a template that hangs or faults costs one
# line), with the compiled-kernel cache shared through GEMMTUNE_CACHE_DIR.
#   CUDA_PROBE_PROBLEMS  file with one "OP BxMxNxK LAYOUT DTYPE [flags]" per line
#                        (default: the list below); a line may end with
#                        " :: NAME..." to run those choices of that problem
#                        (as CUDA_PROBE_CHOICES does for every line)
#   CUDA_PROBE_LOG       a GEMMTUNE_LOG level for the probe's processes
#   CUDA_PROBE_TIMEOUT   seconds per choice (default 10; kernels are compiled
#                        beforehand by --prepare, so a choice needs well under 1 s)
#   CUDA_PROBE_CHOICES   choice names to run instead of the problem's space
#                        (offered or not, e.g. exhaustive-only clusters), each
#                        built alone: no --prepare of the whole space
#   CUDA_PROBE_MATCH     an extended regex: only the choices whose names match
#                        are run (the space is still compiled first by --prepare:
#                        the backend compiles every sibling choice whenever one
#                        must be compiled, so skipping --prepare only moved that
#                        work into the first choice's time limit — round 4)
# After two hangs or crashes of one family (the name's first two fields) on a
# problem, that family's other choices on that problem are skipped, so a
# broken template costs seconds, not its whole search space in timeouts.
# shellcheck source=scripts/device/device_env.sh
source "$(dirname "$0")/device_env.sh"
bin=$root/.device/bin
export GEMMTUNE_CACHE_DIR=${GEMMTUNE_CACHE_DIR:-$(mktemp -d /tmp/gemmtune-probe-XXXXXX)}
limit=${CUDA_PROBE_TIMEOUT:-10}
# CUDA_PROBE_LOG=debug: the backend's debug lines (grids, occupancy) beside each choice.
[ -n "${CUDA_PROBE_LOG:-}" ] && export GEMMTUNE_LOG=$CUDA_PROBE_LOG
default_problems="mm 1x4096x4096x4096 nt bf16
mm 1x1024x4096x4096 nn bf16
mm 1x128x4096x4096 nt bf16
mm 1x200x328x136 tt f16 --out-f32
addmm 1x2048x14336x4096 nt bf16 --act gelu
bmm 6x260x200x136 tn bf16"
problems=${CUDA_PROBE_PROBLEMS:+$(cat "$CUDA_PROBE_PROBLEMS")}
problems=${problems:-$default_problems}
fails=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  echo "== $line"
  if [[ $line == *" :: "* ]]; then
    names=${line#* :: }
    line=${line%% :: *}
  elif [ -n "${CUDA_PROBE_CHOICES:-}" ]; then
    names=$CUDA_PROBE_CHOICES
  else
    # shellcheck disable=SC2086
    timeout 300 "$bin/cuda_probe" $line --prepare
    # shellcheck disable=SC2086
    names=$(timeout 60 "$bin/cuda_probe" $line --list) || { echo "   list failed"; fails=$((fails + 1)); continue; }
  fi
  [ -n "${CUDA_PROBE_MATCH:-}" ] && names=$(echo "$names" | grep -E "$CUDA_PROBE_MATCH")
  declare -A broken=()
  for name in $names; do
    family=$(echo "$name" | cut -d_ -f1-2)
    if [ "${broken[$family]:-0}" -ge 2 ]; then
      echo "$name SKIPPED (family $family hung or crashed twice on this problem)"
      continue
    fi
    # shellcheck disable=SC2086
    timeout "$limit" "$bin/cuda_probe" $line --choice "$name"
    rc=$?
    if [ $rc -ne 0 ]; then
      fails=$((fails + 1))
      if [ $rc -eq 124 ] || [ $rc -gt 128 ]; then
        broken[$family]=$(( ${broken[$family]:-0} + 1 ))
        [ $rc -eq 124 ] && echo "$name HANG (killed after ${limit}s)"
        [ $rc -gt 128 ] && echo "$name CRASH (exit $rc)"
      fi
    fi
  done
  unset broken
done <<< "$problems" 2>&1 | tee "$out/cuda_probe.log"
echo "probe: $(grep -c ' ok ' "$out/cuda_probe.log") ok, $(grep -cE 'WRONG|HANG|CRASH|BUILD|RUN |TIMING' "$out/cuda_probe.log") failed, $(grep -c SKIPPED "$out/cuda_probe.log") skipped"
