"""The C API (include/gemmtune/c_api.h) through ctypes.

Binding over the C ABI rather than building a CPython extension keeps one
package usable by every Python 3 (3.11 here, 3.12 on the GPU machine) and by
any NumPy or torch: nothing here is compiled against Python.

The shared library is looked for, in order, at $GEMMTUNE_C_LIB, inside the
installed package (gemmtune/lib/, where `pip install ./python` copies it),
in the source tree's build folders, then by the dynamic loader's search.
"""

import ctypes
import json
import os
from pathlib import Path

from . import errors

# The C ABI this module was written for (GEMMTUNE_C_ABI_VERSION).
ABI_VERSION = 2

OK, ERROR, INVALID, NO_VALID_CHOICES = 0, 1, 2, 3

_LIBRARY_NAME = "libgemmtune_c.so"


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
