"""Copies libgemmtune_c.so into the package (gemmtune/lib/) while building,
with the gemmtune-worker executable built beside it (the library measures
choices in that worker process; it looks for it next to itself) and the C
fast path, _fastpath.abi3.so, also built beside it (python/fastpath; the
package looks for it next to the library it loaded). Without the fast path
the package still works, on its Python path, and says so: a build without
Python headers is warned about here, not refused.

The library comes from $GEMMTUNE_C_LIB, else the README's build folder
(../build/src/capi/libgemmtune_c.so). The package binds it through ctypes, so
one build serves every Python 3; the wheel is still marked as platform
specific because it carries a shared library.
"""

import os
import shutil
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def library_path():
    given = os.environ.get("GEMMTUNE_C_LIB")
    path = Path(given) if given else HERE.parent / "build" / "src" / "capi" / "libgemmtune_c.so"
    if not path.is_file():
        raise SystemExit(f"gemmtune: {path} not found: build the library first (cmake -S . -B build && "
                         "cmake --build build) or set GEMMTUNE_C_LIB to libgemmtune_c.so")
    return path


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "gemmtune" / "lib"
        target.mkdir(parents=True, exist_ok=True)
        library = library_path()
        shutil.copy2(library, target / "libgemmtune_c.so")
        worker = library.parent / "gemmtune-worker"
        if not worker.is_file():
            raise SystemExit(f"gemmtune: {worker} not found: it is built with the library (cmake --build build)")
        shutil.copy2(worker, target / "gemmtune-worker")
        fast_path = library.parent / "_fastpath.abi3.so"
        if fast_path.is_file():
            shutil.copy2(fast_path, target / fast_path.name)
        else:
            print(f"gemmtune: WARNING: {fast_path} not found (CMake builds it where Python >= 3.11 headers are "
                  "installed): the package will run its Python path; gemmtune.fast_path() says so")


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
