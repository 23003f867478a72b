"""gemmtune: the fastest verified GEMM kernel among the backends you enable.

    import gemmtune
    tuner = gemmtune.Tuner(backends="CPP,ONEDNN")       # the option table's names
    sel = tuner.select("mm", a, b)                      # a Selection: backend, choice, time_us, report
    c = sel(a, b)                                       # runs the winner on a and b, zero-copy
    c = gemmtune.mm(a, b)                               # tune on first sight, then dispatch
    y = gemmtune.linear(x, w, bias, activation="gelu")  # nn.functional.linear with a fused epilogue

NumPy arrays and torch tensors (CPU and CUDA) are used in place. A call on
plain torch tensors whose layout was seen before is one call into a small C
extension where it loaded (stable ABI, any CPython >= 3.11), else the same
steps in Python: gemmtune.fast_path() says which, and why. The enabled
backend list is law: when none of them can serve a problem,
NoValidChoicesError says why for every backend and choice; the library
backend is used only with fallback_to_library=True (or
GEMMTUNE_FALLBACK_TO_LIBRARY=1), and loudly.

Submodules: gemmtune.torch (custom ops, Linear, swap_linear),
gemmtune.inductor (a choice for Inductor's max-autotune), gemmtune.report
(`python -m gemmtune.report DB`), gemmtune.options (the option table).
"""

import sys as _sys

from . import options
from ._capture import Capture as capture
from .errors import (BackendUnavailableError, ConfigError, Error, InvalidProblemError, KernelRunError,
                     NoValidChoicesError, Rejection, StoreError, StoreInputError)
from .ops import FastPath, addmm, baddbmm, bmm, configure, default_tuner, fast_path, linear, mm
from .tuner import Problem, Report, Selection, Tuner, backends, tune_on_devices, version

__version__ = version()

__all__ = [
    "Tuner", "Selection", "Problem", "Report", "tune_on_devices", "mm", "addmm", "bmm", "baddbmm", "linear", "configure",
    "default_tuner", "fast_path", "FastPath", "capture", "backends", "version", "options", "Error", "ConfigError",
    "InvalidProblemError", "NoValidChoicesError", "KernelRunError", "StoreError", "StoreInputError",
    "BackendUnavailableError", "Rejection",
]

if "torch" in _sys.modules:
    # Register the torch ops now, so that the first call is not the one that
    # torch.compile traces.
    from . import torch as _torch_support  # noqa: F401
