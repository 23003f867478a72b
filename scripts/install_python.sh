#!/usr/bin/env bash
# Installs the gemmtune Python package (python/) with the C API library built
# by scripts/build.sh, offline: Debian's python3 and pip, nothing downloaded.
#
#   scripts/install_python.sh [VENV]      (default: build/python-venv)
#
# The virtual environment sees Debian's own packages (python3-numpy,
# python3-torch, python3-matplotlib, python3-pytest) through
# --system-site-packages, because Debian's pip will not install into the
# system Python (PEP 668). Use it as VENV/bin/python, or activate it.
#   GEMMTUNE_PYTHON  the interpreter to base it on (default /usr/bin/python3)
#   GEMMTUNE_C_LIB   the library to bundle (default build/src/capi/libgemmtune_c.so);
#                    gemmtune-worker and the C fast path _fastpath.abi3.so
#                    come from its folder (python/setup.py)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
venv=${1:-$build/python-venv}
python=${GEMMTUNE_PYTHON:-/usr/bin/python3}
lib=${GEMMTUNE_C_LIB:-$build/src/capi/libgemmtune_c.so}
if [ ! -f "$lib" ]; then
  echo "install_python: $lib not found: build first (scripts/build.sh)" >&2
  exit 2
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv --system-site-packages "$venv"
fi
# setuptools builds in python/build; a private copy keeps parallel installs
# (and the source tree) apart.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r python/pyproject.toml python/setup.py python/README.md python/gemmtune "$work/"
GEMMTUNE_C_LIB=$(realpath "$lib") "$venv/bin/python" -m pip install --quiet --no-build-isolation --no-deps \
  --no-index --force-reinstall --disable-pip-version-check "$work" >"$work/pip.log" 2>&1 || {
  cat "$work/pip.log" >&2
  exit 1
}
"$venv/bin/python" -c "import gemmtune, sys; print('install_python: gemmtune', gemmtune.__version__, 'for Python',
sys.version.split()[0], 'in', sys.prefix); print('install_python: fast path:', gemmtune.fast_path())"
