#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test suite with ctest.
# GPU tests skip (saying why) on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@"
