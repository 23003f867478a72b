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
  libhiredis-dev         # the remote cache's Redis protocol
  redis-server           # the remote cache's tests start their own server
  libgtest-dev libgmock-dev googletest
  python3 python3-numpy  # CLI tests check `gemmtune run` against NumPy
  # The Python package: installed with Debian's pip into a venv
  # (scripts/install_python.sh), tested with pytest; reports use matplotlib
  # and are checked in a headless chromium.
  python3-pip python3-venv python3-setuptools python3-wheel python3-pytest python3-matplotlib chromium
  python3-dev            # headers of the package's C fast path (python/fastpath, stable ABI)
  dpkg-dev               # the .deb: dpkg-shlibdeps computes its Depends (scripts/package.sh)
)
# Debian's torch (1.13) runs the torch integration's CPU tests in CI: custom
# ops through torch.library, meta kernels, autograd, the drop-in Linear and
# workload capture (torch.compile is 2.x only and is tested on the GPU
# machine's torch 2.11). It is large (~160 packages); GEMMTUNE_SETUP_TORCH=0
# leaves it out and those tests skip, saying so.
if [ "${GEMMTUNE_SETUP_TORCH:-1}" != 0 ]; then
  packages+=(python3-torch)
fi

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
