"""The C API (include/gemmtune/c_api.h) through ctypes, and the C fast path.

Binding over the C ABI keeps one package usable by every Python 3 (3.11
here, 3.12 on the GPU machine) and by any NumPy or torch. The one compiled
Python piece, the ops' per-call fast path (`_fastpath.abi3.so`, built from
python/fastpath/), keeps that promise: it is written against the limited API
of Python 3.11 (the stable ABI), so one build loads on every CPython 3.11 or
later, and it links against neither torch nor libgemmtune_c (ops.py hands it
the loaded library's run function). It is optional: where it is absent or
cannot load (an older Python, a free-threaded one, a build without Python
headers), the ops run the same algorithm in Python, and gemmtune.fast_path()
says which path runs and why.

The shared library is looked for, in order, at $GEMMTUNE_C_LIB, inside the
installed package (gemmtune/lib/, where `pip install ./python` copies it),
in the source tree's build folders, then by the dynamic loader's search. The
fast path is looked for beside the library that loaded (the folder of the
path it was loaded by, then that of the file the path resolves to).
"""

import ctypes
import importlib.util
import json
import os
import sys
import sysconfig
from pathlib import Path

from . import errors

# The C ABI this module was written for (GEMMTUNE_C_ABI_VERSION).
ABI_VERSION = 2

OK, ERROR, INVALID, NO_VALID_CHOICES = 0, 1, 2, 3

_LIBRARY_NAME = "libgemmtune_c.so"
_FAST_PATH_NAME = "_fastpath.abi3.so"
# What the package expects of the extension (its PROTOCOL constant): the
# memo entry's layout and bind()'s arguments. Both sides change it together.
FAST_PATH_PROTOCOL = 1


class Matrix(ctypes.Structure):
    _fields_ = [
        ("dtype", ctypes.c_char_p),
        ("rows", ctypes.c_int64),
        ("cols", ctypes.c_int64),
        ("row_stride", ctypes.c_int64),
        ("col_stride", ctypes.c_int64),
        ("batch_stride", ctypes.c_int64),
    ]


class Problem(ctypes.Structure):
    _fields_ = [
        ("op", ctypes.c_char_p),
        ("batch", ctypes.c_int64),
        ("m", ctypes.c_int64),
        ("n", ctypes.c_int64),
        ("k", ctypes.c_int64),
        ("a", Matrix),
        ("b", Matrix),
        ("c", Matrix),
        ("bias_kind", ctypes.c_char_p),
        ("bias", Matrix),
        ("alpha", ctypes.c_double),
        ("beta", ctypes.c_double),
        ("activation", ctypes.c_char_p),
        ("scale_a", ctypes.c_char_p),
        ("scale_b", ctypes.c_char_p),
        ("allow_tf32", ctypes.c_int),
        ("alignment", ctypes.c_int),
        ("device", ctypes.c_char_p),
    ]


def _candidates():
    env = os.environ.get("GEMMTUNE_C_LIB")
    if env:
        # An explicit choice is the only one tried: a wrong path must not
        # quietly load some other copy.
        yield env
        return
    here = Path(__file__).resolve().parent
    yield str(here / "lib" / _LIBRARY_NAME)
    root = here.parent.parent
    for relative in (".device/lib", "build/src/capi", "build-device/src/capi"):
        yield str(root / relative / _LIBRARY_NAME)
    yield _LIBRARY_NAME


def _load():
    tried = []
    for candidate in _candidates():
        if os.sep in candidate and not os.path.exists(candidate):
            tried.append(f"{candidate}: no such file")
            continue
        try:
            return ctypes.CDLL(candidate, mode=ctypes.RTLD_LOCAL), candidate
        except OSError as e:
            tried.append(f"{candidate}: {e}")
    raise ImportError(
        "gemmtune: cannot load " + _LIBRARY_NAME + " (build it with the README's commands, install the package "
        "with scripts/install_python.sh, or set GEMMTUNE_C_LIB to its path); tried: " + "; ".join(tried))


def _declare(lib):
    c_char_p, c_void_p, c_int, c_double = ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_double
    P = ctypes.POINTER
    signatures = {
        "gemmtune_version": (c_char_p, []),
        "gemmtune_abi_version": (c_int, []),
        "gemmtune_last_error": (c_char_p, []),
        "gemmtune_last_error_json": (c_char_p, []),
        "gemmtune_backends": (c_char_p, []),
        "gemmtune_option_table": (c_char_p, []),
        "gemmtune_options_create": (c_void_p, []),
        "gemmtune_options_set": (c_int, [c_void_p, c_char_p, c_char_p]),
        "gemmtune_options_destroy": (None, [c_void_p]),
        "gemmtune_tuner_create_with_options": (c_void_p, [c_void_p]),
        "gemmtune_tuner_destroy": (None, [c_void_p]),
        "gemmtune_tuner_enabled": (c_char_p, [c_void_p]),
        "gemmtune_tuner_db_path": (c_char_p, [c_void_p]),
        "gemmtune_problem_init": (None, [P(Problem)]),
        "gemmtune_problem_dense": (c_int, [P(Problem), c_char_p, c_char_p]),
        "gemmtune_select": (c_int, [c_void_p, P(Problem), P(c_void_p)]),
        "gemmtune_explain": (c_int, [c_void_p, P(Problem), P(c_char_p)]),
        "gemmtune_database_records": (c_int, [c_char_p, P(c_char_p)]),
        "gemmtune_tune_on_devices": (c_int, [c_void_p, c_void_p, ctypes.c_size_t, c_char_p, P(c_char_p)]),
        "gemmtune_selection_run": (c_int, [c_void_p] * 8),
        "gemmtune_selection_backend": (c_char_p, [c_void_p]),
        "gemmtune_selection_choice": (c_char_p, [c_void_p]),
        "gemmtune_selection_time_us": (c_double, [c_void_p]),
        "gemmtune_selection_tuning_seconds": (c_double, [c_void_p]),
        "gemmtune_selection_cache_hit": (c_int, [c_void_p]),
        "gemmtune_selection_fallback": (c_int, [c_void_p]),
        "gemmtune_selection_record_json": (c_char_p, [c_void_p]),
        "gemmtune_selection_destroy": (None, [c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError(f"gemmtune: {lib._name} lacks {name}: it is older than this package; rebuild it") from None
        fn.restype = restype
        fn.argtypes = argtypes


lib, path = _load()
_declare(lib)
if lib.gemmtune_abi_version() != ABI_VERSION:
    raise ImportError(f"gemmtune: {path} implements C ABI {lib.gemmtune_abi_version()}, this package needs "
                      f"{ABI_VERSION}; rebuild the library and the package from one checkout")


def _load_fast_path():
    """(module, its path) when the C fast path loads beside the library, else (None, why)."""
    if sys.implementation.name != "cpython" or sys.version_info < (3, 11):
        return None, (f"{sys.implementation.name} {sys.version.split()[0]}: the C fast path is built for the stable "
                      "ABI of CPython 3.11 and later")
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None, "a free-threaded Python: the stable ABI extension does not load there"
    if os.sep not in path:
        return None, f"{_LIBRARY_NAME} was found by the dynamic loader's search, so there is no folder to look in"
    folders = []
    for library in (path, os.path.realpath(path)):
        folder = os.path.dirname(library)
        if folder not in folders:
            folders.append(folder)
    for folder in folders:
        candidate = os.path.join(folder, _FAST_PATH_NAME)
        if not os.path.exists(candidate):
            continue
        try:
            spec = importlib.util.spec_from_file_location("gemmtune._fastpath", candidate)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as e:  # ImportError, OSError: a broken or foreign file
            return None, f"{candidate} does not load: {e}"
        protocol = getattr(module, "PROTOCOL", None)
        if protocol != FAST_PATH_PROTOCOL:
            return None, (f"{candidate} speaks protocol {protocol}, this package {FAST_PATH_PROTOCOL}: rebuild it "
                          "with the library from one checkout")
        return module, candidate
    return None, f"no {_FAST_PATH_NAME} beside {path}" + (
        f" or {os.path.realpath(path)}" if len(folders) > 1 else "") + " (built by CMake from python/fastpath/)"


def run_address():
    """The address of the loaded library's gemmtune_selection_run (for the C fast path)."""
    return ctypes.cast(lib.gemmtune_selection_run, ctypes.c_void_p).value


fast_path_module, fast_path_detail = _load_fast_path()


def last_error():
    """The typed exception of the last failed call on this thread."""
    text = lib.gemmtune_last_error_json().decode()
    if not text:
        return errors.Error(lib.gemmtune_last_error().decode() or "unknown gemmtune error")
    return errors.from_json(json.loads(text))


def check(status):
    if status != OK:
        raise last_error()


def text(value):
    return value.decode() if value else ""
