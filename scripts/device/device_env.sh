# Sourced (never run) by the scripts that run ON the GPU machine: strict
# mode, the repository root as the working folder, $out for logs ($OUT, which
# the device tool brings back, else .device-out) and the staged libraries
# (.device/lib, from prepare.sh) on the loader's path.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=${OUT:-$root/.device-out}
mkdir -p "$out"
export LD_LIBRARY_PATH=$root/.device/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
