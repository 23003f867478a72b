#!/usr/bin/env bash
# The main job: installs the dependencies, builds, and tunes the built-in
# workload (transformer-like projections in f32, bf16 and int8) on this CPU,
# ending with a summary table. Extra arguments go to `gemmtune tune`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec "${BUILD_DIR:-build}/tools/gemmtune/gemmtune" tune --workload "$@"
