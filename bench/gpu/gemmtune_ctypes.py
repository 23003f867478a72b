"""gemmtune's C API (include/gemmtune/c_api.h) through ctypes.

Lets a Python process tune and run gemmtune kernels on its own buffers and
stream, e.g. on PyTorch tensors beside torch.mm. Only the standard library is
needed; pointers and streams are plain integers.

    lib = Library()                                   # finds libgemmtune_c.so
    tuner = lib.tuner("CUBLAS,CUBLASLT", "cache=0")
    sel = tuner.select(dense_problem(lib, "mm", "bf16", 128, 4096, 4096, "nt", "cuda:0"))
    sel.run(a_ptr, b_ptr, c_ptr, stream=torch.cuda.current_stream().cuda_stream)
"""

import ctypes
import os
from pathlib import Path

OK, ERROR, INVALID, NO_VALID_CHOICES = 0, 1, 2, 3


class GemmtuneError(RuntimeError):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


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


class Args(ctypes.Structure):
    _fields_ = [
        ("a", ctypes.c_void_p),
        ("b", ctypes.c_void_p),
        ("c", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
        ("scale_a", ctypes.c_void_p),
        ("scale_b", ctypes.c_void_p),
    ]


def _candidates():
    env = os.environ.get("GEMMTUNE_C_LIB")
    if env:
        yield env
    here = Path(__file__).resolve().parent
    root = here.parent.parent
    for rel in (".device/lib/libgemmtune_c.so", "build-device/src/capi/libgemmtune_c.so",
                "build/src/capi/libgemmtune_c.so", "build-gpu/src/capi/libgemmtune_c.so"):
        yield str(root / rel)
    yield "libgemmtune_c.so"


class Library:
    """The loaded shared library with typed entry points."""

    def __init__(self, path=None):
        errors = []
        self._lib = None
        for candidate in ([path] if path else _candidates()):
            try:
                self._lib = ctypes.CDLL(candidate)
                self.path = candidate
                break
            except OSError as e:
                errors.append(f"{candidate}: {e}")
        if self._lib is None:
            raise OSError("libgemmtune_c.so not found (set GEMMTUNE_C_LIB): " + "; ".join(errors))
        L = self._lib
        L.gemmtune_version.restype = ctypes.c_char_p
        L.gemmtune_last_error.restype = ctypes.c_char_p
        L.gemmtune_backends.restype = ctypes.c_char_p
        L.gemmtune_tuner_create.restype = ctypes.c_void_p
        L.gemmtune_tuner_create.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        L.gemmtune_tuner_destroy.argtypes = [ctypes.c_void_p]
        L.gemmtune_problem_init.argtypes = [ctypes.POINTER(Problem)]
        L.gemmtune_problem_dense.argtypes = [ctypes.POINTER(Problem), ctypes.c_char_p, ctypes.c_char_p]
        L.gemmtune_select.argtypes = [ctypes.c_void_p, ctypes.POINTER(Problem), ctypes.POINTER(ctypes.c_void_p)]
        L.gemmtune_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(Args), ctypes.c_void_p]
        for name, restype in (("backend", ctypes.c_char_p), ("choice", ctypes.c_char_p),
                              ("time_us", ctypes.c_double), ("tuning_seconds", ctypes.c_double),
                              ("cache_hit", ctypes.c_int), ("fallback", ctypes.c_int),
                              ("report", ctypes.c_char_p)):
            fn = getattr(L, "gemmtune_selection_" + name)
            fn.restype = restype
            fn.argtypes = [ctypes.c_void_p]
        L.gemmtune_selection_destroy.argtypes = [ctypes.c_void_p]

    @property
    def raw(self):
        return self._lib

    def version(self):
        return self._lib.gemmtune_version().decode()

    def backends(self):
        """[(name, available, why)] of the built-in backends."""
        out = []
        for line in self._lib.gemmtune_backends().decode().splitlines():
            name, state, why = (line.split("\t") + ["", ""])[:3]
            out.append((name, state == "available", why))
        return out

    def last_error(self):
        return self._lib.gemmtune_last_error().decode()

    def check(self, code):
        if code != OK:
            raise GemmtuneError(code, self.last_error())

    def tuner(self, backends=None, options=None):
        return Tuner(self, backends, options)

    def problem(self):
        p = Problem()
        self._lib.gemmtune_problem_init(ctypes.byref(p))
        return p


class Tuner:
    def __init__(self, lib, backends, options):
        self._lib = lib
        self._handle = None
        handle = lib.raw.gemmtune_tuner_create(backends.encode() if backends else None,
                                               options.encode() if options else None)
        if not handle:
            raise GemmtuneError(INVALID, lib.last_error())
        self._handle = handle

    def select(self, problem):
        out = ctypes.c_void_p()
        self._lib.check(self._lib.raw.gemmtune_select(self._handle, ctypes.byref(problem), ctypes.byref(out)))
        return Selection(self._lib, out.value)

    def close(self):
        if self._handle:
            self._lib.raw.gemmtune_tuner_destroy(self._handle)
            self._handle = None

    def __del__(self):
        self.close()


class Selection:
    def __init__(self, lib, handle):
        self._lib = lib
        self._handle = handle
        self._args = Args()
        S = lib.raw
        self.backend = S.gemmtune_selection_backend(handle).decode()
        self.choice = S.gemmtune_selection_choice(handle).decode()
        self.time_us = S.gemmtune_selection_time_us(handle)
        self.tuning_seconds = S.gemmtune_selection_tuning_seconds(handle)
        self.cache_hit = bool(S.gemmtune_selection_cache_hit(handle))
        self.fallback = bool(S.gemmtune_selection_fallback(handle))
        self.report = S.gemmtune_selection_report(handle).decode()

    def run(self, a, b, c, bias=None, scale_a=None, scale_b=None, stream=None):
        """Runs the winner once; pointers and stream are integers (or None)."""
        args = self._args
        args.a, args.b, args.c, args.bias, args.scale_a, args.scale_b = a, b, c, bias, scale_a, scale_b
        code = self._lib.raw.gemmtune_run(self._handle, ctypes.byref(args), stream)
        if code != OK:
            raise GemmtuneError(code, self._lib.last_error())

    def close(self):
        if self._handle:
            self._lib.raw.gemmtune_selection_destroy(self._handle)
            self._handle = None

    def __del__(self):
        self.close()


def dense_problem(lib, op, dtype, m, n, k, layout="nt", device="cuda:0", batch=1, alignment=16, **fields):
    """A dense problem through gemmtune_problem_dense; extra fields are set
    afterwards (bias_kind is applied before, so its matrix is made too)."""
    p = lib.problem()
    p.op = op.encode()
    p.batch, p.m, p.n, p.k = batch, m, n, k
    if "bias_kind" in fields:
        p.bias_kind = fields.pop("bias_kind").encode()
    lib.check(lib.raw.gemmtune_problem_dense(ctypes.byref(p), dtype.encode(), layout.encode()))
    p.device = device.encode()
    p.alignment = alignment
    for key, value in fields.items():
        setattr(p, key, value.encode() if isinstance(value, str) else value)
    return p
