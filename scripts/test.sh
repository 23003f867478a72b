#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test suite with ctest;
# then builds the Debian package and checks it (tests/install/deb_test.sh:
# control data, and install/run/purge in a scratch root, not on this
# machine; GEMMTUNE_SKIP_PACKAGE=1 leaves that out). GPU tests skip (saying
# why) on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@")
if [ "${GEMMTUNE_SKIP_PACKAGE:-0}" != 1 ]; then
  deb=$(scripts/package.sh | tail -1)
  tests/install/deb_test.sh "$deb"
fi
