#!/usr/bin/env bash
# Installs everything gemmtune needs to build and test on Debian 12 (bookworm).
# Safe to run again: apt-get skips what is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-dev        # BLAS backend (the CPU library backend)
  libdnnl-dev            # ONEDNN backend
  libsqlite3-dev sqlite3 # results database
  nlohmann-json3-dev     # JSON for records, export files and --json
  libgtest-dev libgmock-dev googletest
  python3 python3-numpy  # CLI tests check `gemmtune run` against NumPy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: dependencies present"
