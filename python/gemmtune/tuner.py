"""Tuner, Problem, Selection: the C++ API's shape in Python.

    tuner = gemmtune.Tuner(backends="CPP,ONEDNN", budget_ms=5)
    sel = tuner.select("addmm", bias, x, w.T, activation="gelu")   # tunes, or reads the cache
    sel.backend, sel.choice, sel.time_us, sel.cache_hit, sel.fallback
    print(sel.report)                                                # every choice, winner marked
    y = sel(bias, x, w.T)                                            # runs the winner, zero-copy

Keywords of Tuner are the option names of the one option table (gemmtune.options):
the same names as the CLI flags (with dashes) and the GEMMTUNE_* variables.
"""

import contextlib
import ctypes
import json
import operator

from . import _arrays, _capi, options
from .errors import ConfigError, InvalidProblemError

_ACTIVATIONS = ("none", "relu", "gelu", "gelu_tanh", "silu")
_ACTIVATION_SET = frozenset(_ACTIVATIONS)


def _activation(value):
    if type(value) is str and value in _ACTIVATION_SET:  # the common case, on every op call that names one
        return value
    name = "none" if value is None else str(value)
    if name not in _ACTIVATIONS:
        raise InvalidProblemError(f"invalid problem: activation: unknown activation '{name}' "
                                  f"({', '.join(_ACTIVATIONS)})", field="activation")
    return name


# The alignment a problem promises (part of its key): what every pointer of
# the call has, up to 64 bytes, the CLI's default, so a layout tuned by
# `gemmtune tune --workload` is the same key here. NumPy allocates with
# 16-byte alignment, so its arrays promise at most 16: otherwise the same
# shape would be tuned again whenever malloc happens to return a 64-byte
# aligned block.
def _alignment(pointers, numpy=False):
    bits = 0
    for p in pointers:
        bits |= p
    cap = 16 if numpy else 64
    low = bits & -bits
    return min(cap, low) if low else cap


def _integer(field, value, bits=64, convert=operator.index):
    """`value` as an int for a C field of `bits` bits (int64_t, or int), or an
    error naming the field: ctypes would store it modulo 2**bits, silently
    turning one problem into another."""
    try:
        number = convert(value)
    except (TypeError, ValueError):
        raise TypeError(f"gemmtune: {field} must be an integer, got {type(value).__name__}") from None
    limit = 1 << (bits - 1)
    if not -limit <= number < limit:
        raise InvalidProblemError(f"invalid problem: {field}: {value} does not fit the C API's {bits}-bit signed "
                                  f"integer ({-limit} to {limit - 1})", field=field)
    return number


def _real(field, value):
    """`value` as a float for a C double field, or an error naming the field."""
    try:
        return float(value)
    except OverflowError:
        raise InvalidProblemError(f"invalid problem: {field}: {value} is too large for a double", field=field) from None
    except (TypeError, ValueError):
        raise TypeError(f"gemmtune: {field} must be a number, got {type(value).__name__}") from None


class Problem:
    """One GEMM as plain data (the C struct gemmtune_problem), with the byte
    strings it points to kept alive."""

    def __init__(self):
        self._struct = _capi.Problem()
        _capi.lib.gemmtune_problem_init(ctypes.byref(self._struct))
        self._keep = []

    def _text(self, value, field):
        """`value` as the bytes of a C string field, kept alive. A NUL inside
        would end the C string there, so the library would read a shorter one."""
        if not isinstance(value, str):
            raise TypeError(f"gemmtune: {field} must be a string, got {type(value).__name__}")
        if "\0" in value:
            raise InvalidProblemError(f"invalid problem: {field}: {value!r} contains a NUL character", field=field)
        data = value.encode()
        self._keep.append(data)
        return data

    def _set_sizes(self, batch, m, n, k):
        s = self._struct
        s.batch, s.m, s.n, s.k = (_integer("batch", batch), _integer("m", m), _integer("n", n), _integer("k", k))

    def _set_matrix(self, field, dtype, rows, cols, row_stride, col_stride, batch_stride=0):
        m = getattr(self._struct, field)
        m.dtype = self._text(dtype, field + ".dtype")
        m.rows, m.cols = _integer(field + ".rows", rows), _integer(field + ".cols", cols)
        # Strides of unit dimensions do not address anything; canonical values
        # keep equal layouts under one key.
        if rows <= 1:
            row_stride = max(cols, 1) * col_stride if cols > 1 else max(cols, 1)
        if cols <= 1:
            col_stride = 1
        m.row_stride = _integer(field + ".row_stride", row_stride)
        m.col_stride = _integer(field + ".col_stride", col_stride)
        m.batch_stride = _integer(field + ".batch_stride", batch_stride)

    @classmethod
    def dense(cls, op, m, n, k, *, batch=1, dtype="f32", layout="nn", bias=None, activation=None, alpha=1.0,
              beta=1.0, device="cpu", allow_tf32=False, out_dtype=None, alignment=64):
        """A problem on dense operands, as the CLI describes one: `layout` gives A
        and B ("nt": B stored transposed, as nn.Linear's x @ W.T); `bias` is None,
        "row" or "full" (addmm/baddbmm default to "row")."""
        p = cls()
        s = p._struct
        s.op = p._text(op, "op")
        p._set_sizes(batch, m, n, k)
        if bias is not None:
            s.bias_kind = p._text(bias, "bias")
        _capi.check(_capi.lib.gemmtune_problem_dense(ctypes.byref(s), p._text(dtype, "dtype"),
                                                     p._text(layout, "layout")))
        if out_dtype is not None:
            s.c.dtype = p._text(out_dtype, "out_dtype")
        s.activation = p._text(_activation(activation), "activation")
        s.alpha, s.beta = _real("alpha", alpha), _real("beta", beta)
        s.allow_tf32 = int(bool(allow_tf32))
        s.device = p._text(device, "device")
        s.alignment = _integer("alignment", alignment, 32, int)
        return p

    def describe(self):
        s = self._struct
        shape = f"{s.batch}x{s.m}x{s.n}x{s.k}" if s.batch != 1 else f"{s.m}x{s.n}x{s.k}"
        return f"{_capi.text(s.op)} {_capi.text(s.a.dtype)} {shape} on {_capi.text(s.device)}"

    def __repr__(self):
        return f"<gemmtune.Problem {self.describe()}>"


# ---------------------------------------------------------------- operands


class _Plan:
    """How to run one operand layout: its selection and what each call must do
    with the caller's arrays before passing their pointers."""

    __slots__ = ("out_shape", "out_dtype", "flatten_x", "bias_shape")


def _check(condition, field, message):
    if not condition:
        raise InvalidProblemError(f"invalid problem: {field}: {message}", field=field)


# Each op's arrays, in its argument order (torch's).
_OPERAND_NAMES = {"mm": ("a", "b"), "bmm": ("a", "b"), "addmm": ("bias", "a", "b"), "baddbmm": ("bias", "a", "b"),
                  "linear": ("x", "weight", "bias")}


def _check_operands(op, operands, out):
    """TypeError naming the argument unless every operand (and `out`) is a
    NumPy array or a torch tensor, all of one kind; bias and out may be None."""
    names = _OPERAND_NAMES[op]
    if len(operands) != len(names):
        raise TypeError(f"gemmtune.{op} takes {len(names)} arrays ({', '.join(names)}), got {len(operands)}")
    first = None
    for name, x in zip(names + ("out",), operands + (out,)):
        if x is None and name in ("bias", "out"):
            continue
        kind = _arrays.kind(x)
        if kind is None:
            raise TypeError(f"gemmtune.{op}: {name} must be a NumPy array or a torch tensor, got {type(x).__name__}")
        if first is None:
            first = (name, kind)
        elif kind != first[1]:
            # Mixed, the call would silently lose a tensor's autograd.
            raise TypeError(f"gemmtune.{op}: {first[0]} is a {first[1]} but {name} is a {kind}; pass arrays of one "
                            "kind (torch.from_numpy() or tensor.numpy())")


def _check_writeable(out):
    """The kernel writes into `out`: a read-only NumPy array is refused before
    any work (its memory may be immutable bytes, or a read-only mapping)."""
    if out is not None and not _arrays.writeable(out):
        raise InvalidProblemError("invalid problem: c.data: out is read-only (its flags.writeable is False); pass a "
                                  "writeable array, or no out", field="c.data")


def _broadcasts(shape, target):
    """Whether an array of `shape` broadcasts to `target` (NumPy's and torch's rule)."""
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))


def _bias_layout(bias, batched, batch, m, n):
    """(kind, row_stride, col_stride, batch_stride) of a bias used in place, or
    None when it must be broadcast to a dense (batch, m, n) copy: a bias
    varying down a column, or a per-batch row."""
    shape, strides = tuple(bias.shape), _arrays.strides(bias)
    batch_stride = 0
    if batched and len(shape) == 3:
        if shape[0] not in (1, batch):
            return None
        if shape[0] == batch and batch > 1:
            batch_stride = strides[0]
        shape, strides = shape[1:], strides[1:]
    if shape in ((n,), (1, n)) or (shape == (m, n) and strides[0] == 0):  # a row (maybe expanded down the rows)
        if batch_stride != 0 or (n > 1 and strides[-1] == 0):
            return None
        return "row", n * strides[-1], strides[-1], 0
    if shape == (m, n) and not (n > 1 and strides[1] == 0):
        return "full", strides[0], strides[1], batch_stride
    return None


def _layout_of(op, operands, out, activation, alpha, beta):
    """The problem for these operands (in torch's argument order for `op`) and
    the plan that runs it. Operands that cannot be described by strides (a bias
    needing broadcast) are broadcast to a dense copy; everything else is used
    in place."""
    plan = _Plan()
    plan.flatten_x = False
    plan.bias_shape = None
    bias = None
    if op == "linear":
        x, weight, bias = operands
        a_name, b_name = "x", "weight"
        _check(x.ndim >= 1 and weight.ndim == 2, "weight", f"linear needs x (..., k) and weight (n, k), got "
               f"{tuple(x.shape)} and {tuple(weight.shape)}")
        _check(x.shape[-1] == weight.shape[1], "weight", f"x has {x.shape[-1]} features but weight is "
               f"{tuple(weight.shape)} (n, k)")
        if x.ndim != 2:
            plan.flatten_x = True
            x = _arrays.flatten_rows(x)
        a, b_rows, b_cols = x, weight.shape[1], weight.shape[0]
        w_strides = _arrays.strides(weight)
        b_desc = (b_rows, b_cols, w_strides[1], w_strides[0], 0)
        gem_op = "addmm" if bias is not None else "mm"
        batched = False
        m, k, n = a.shape[0], a.shape[1], weight.shape[0]
        plan.out_shape = tuple(operands[0].shape[:-1]) + (n,)
        b_operand = weight
    else:
        batched = op in ("bmm", "baddbmm")
        a_name, b_name = "a", "b"
        if op in ("addmm", "baddbmm"):
            bias, a, b_operand = operands
        else:
            a, b_operand = operands
        dims = 3 if batched else 2
        _check(a.ndim == dims and b_operand.ndim == dims, "a",
               f"{op} needs {dims}-D operands, got {a.ndim}-D and {b_operand.ndim}-D")
        _check(a.shape[-1] == b_operand.shape[-2], "b",
               f"a is {tuple(a.shape)} but b is {tuple(b_operand.shape)}: inner sizes differ")
        if batched:
            _check(a.shape[0] == b_operand.shape[0], "b", f"batch sizes differ: {a.shape[0]} and {b_operand.shape[0]}")
        m, k, n = a.shape[-2], a.shape[-1], b_operand.shape[-1]
        bs = _arrays.strides(b_operand)
        b_desc = (k, n, bs[-2], bs[-1], bs[0] if batched else 0)
        gem_op = op
        plan.out_shape = ((a.shape[0],) if batched else ()) + (m, n)
    batch = a.shape[0] if batched else 1

    p = Problem()
    s = p._struct
    s.op = p._text(gem_op, "op")
    p._set_sizes(batch, m, n, k)
    a_dtype = _arrays.dtype_name(a, a_name)
    b_dtype = _arrays.dtype_name(b_operand, b_name)
    _check(b_dtype == a_dtype, "b.dtype", f"{a_name} is {a_dtype} but {b_name} is {b_dtype}; gemmtune's {op} takes one "
           "dtype")
    as_ = _arrays.strides(a)
    p._set_matrix("a", a_dtype, m, k, as_[-2], as_[-1], as_[0] if batched else 0)
    p._set_matrix("b", a_dtype, *b_desc[:4], b_desc[4])
    device = _arrays.device(a)
    for name, other in (("b", b_operand), ("bias", bias), ("out", out)):
        if other is not None:
            _check(_arrays.device(other) == device, f"{name}.data", f"{name} is on {_arrays.device(other)} but a is "
                   f"on {device}")
    out_dtype = _arrays.dtype_name(out, "out") if out is not None else a_dtype
    plan.out_dtype = out_dtype
    if out is not None:
        _check_writeable(out)
        _check(tuple(out.shape) == plan.out_shape, "c", f"out is {tuple(out.shape)} but the result is {plan.out_shape}")
        out_view = _arrays.rows_view(out) if plan.flatten_x else out
        _check(out_view is not None, "c", "out cannot be seen as (rows, n) without a copy; pass a contiguous out")
        os_ = _arrays.strides(out_view)
        p._set_matrix("c", out_dtype, m, n, os_[-2], os_[-1], os_[0] if batched else 0)
    else:
        p._set_matrix("c", out_dtype, m, n, n, 1, m * n if batched else 0)
    if bias is not None:
        bias_dtype = _arrays.dtype_name(bias, "bias")
        layout = _bias_layout(bias, batched, batch, m, n)
        if layout is None:
            plan.bias_shape = ((batch,) if batched else ()) + (m, n)
            _check(_broadcasts(tuple(bias.shape), plan.bias_shape), "bias", f"bias has shape {tuple(bias.shape)}, "
                   f"which does not broadcast to {plan.bias_shape}")
            layout = ("full", n, 1, m * n if batched else 0)
        kind, rs, cs, bs = layout
        p._set_matrix("bias", bias_dtype, 1 if kind == "row" else m, n, rs, cs, bs)
        s.bias_kind = p._text(kind, "bias")
    else:
        s.bias_kind = p._text("none", "bias")
    s.alpha, s.beta = _real("alpha", alpha), _real("beta", beta)
    s.activation = p._text(activation, "activation")
    s.device = p._text(device, "device")
    return p, plan


def _check_problem(problem, what, where=""):
    if not isinstance(problem, Problem):
        raise TypeError(f"{where}{what} must be a gemmtune.Problem (gemmtune.Problem.dense(...)), got "
                        f"{type(problem).__name__}")


def _signature(op, operands, out, activation, alpha, beta):
    """What decides the plan of a call: op, epilogue, and each array's dtype, shape and strides."""
    _check_operands(op, operands, out)
    return _signature_unchecked(op, operands, out, activation, alpha, beta)


def _signature_unchecked(op, operands, out, activation, alpha, beta):
    """_signature() without the operand check (ops._call checks on a memo miss or a failure)."""
    parts = [op, activation, alpha, beta]
    for x in operands:
        parts.append(None if x is None else (x.dtype, tuple(x.shape), _arrays.strides(x), _arrays.device(x)))
    parts.append(None if out is None else (out.dtype, tuple(out.shape), _arrays.strides(out)))
    return tuple(parts)


class Report:
    """Every choice of one tuning, as Inductor's AUTOTUNE block shows them:
    time, percent of the winner, and each rejection's stage and reason."""

    def __init__(self, record):
        self.record = record
        self.winner = record.get("winner") or {}
        self.choices = []
        for c in record.get("choices", []):
            rejection = c.get("rejection")
            self.choices.append({
                "backend": c["backend"],
                "choice": c["name"],
                "status": "rejected" if rejection else "ok",
                "time_us": (c.get("timing") or {}).get("median_us"),
                "stage": rejection["stage"] if rejection else None,
                "reason": rejection["reason"] if rejection else None,
                "message": rejection["message"] if rejection else "",
            })
        for b in record.get("backends", []):
            rejection = b.get("rejection")
            if rejection:
                self.choices.append({"backend": b["backend"], "choice": None, "status": "rejected", "time_us": None,
                                     "stage": rejection["stage"], "reason": rejection["reason"],
                                     "message": rejection["message"]})

    def __str__(self):
        best = self.winner.get("time_us")
        lines = [f"AUTOTUNE {_describe_problem(self.record.get('problem', {}))}"]
        timed = sorted((c for c in self.choices if c["time_us"] is not None), key=lambda c: c["time_us"])
        for c in timed:
            mark = " <- selected" if (c["backend"], c["choice"]) == (self.winner.get("backend"),
                                                                        self.winner.get("choice")) else ""
            share = f"{100.0 * best / c['time_us']:.1f}%" if best and c["time_us"] else "-"
            lines.append(f"  {c['backend'] + '/' + c['choice']:<48} {c['time_us']:10.2f} us {share:>7}{mark}")
        for c in self.choices:
            if c["status"] == "rejected":
                who = c["backend"] + ("/" + c["choice"] if c["choice"] else "")
                lines.append(f"  {who:<48} rejected at {c['stage']}: {c['reason']}: {c['message']}")
        if self.record.get("fallback"):
            lines.append(f"  FALLBACK to the library backend: {self.record.get('fallback_reason', '')}")
        return "\n".join(lines)

    def __repr__(self):
        return str(self)


def _describe_problem(p):
    if not p:
        return "?"
    shape = f"{p['m']}x{p['n']}x{p['k']}"
    if p.get("batch", 1) != 1:
        shape = f"{p['batch']}x" + shape
    layout = ("t" if p["a"]["row_stride"] == 1 and p["a"]["rows"] > 1 and p["a"]["col_stride"] != 1 else "n") + \
             ("t" if p["b"]["row_stride"] == 1 and p["b"]["rows"] > 1 and p["b"]["col_stride"] != 1 else "n")
    extra = ""
    if p.get("bias", "none") != "none":
        extra += f" bias={p['bias']}"
    if p.get("activation", "none") != "none":
        extra += f" act={p['activation']}"
    return f"{p['op']} {p['a']['dtype']} {shape} {layout}{extra} on {p['device']}"


class _CTuner:
    """The C tuner, destroyed when nothing refers to it any more. Selections
    hold it (their kernels may come from its backends), the Python Tuner holds
    it, and nothing it holds refers back, so reference counting destroys the
    selections first and the tuner last, whatever order the program drops them."""

    __slots__ = ("pointer",)

    def __init__(self, pointer):
        self.pointer = pointer

    def __del__(self):
        try:
            _capi.lib.gemmtune_tuner_destroy(self.pointer)
        except Exception:  # interpreter shutdown: the library may be gone
            pass


_ADDRESS_END = 1 << 64


def _check_addresses(pointers):
    """run_pointers()'s arguments as plain ints (or None), checked: an index
    type (np.uintp) is converted, a ctypes pointer (c_void_p) gives its
    value; ctypes itself would pass -1 or 2**64 on as another address."""
    out = []
    for name, value in zip(("a", "b", "c", "bias", "scale_a", "scale_b", "stream"), pointers):
        if value is None:
            out.append(None)
            continue
        if isinstance(value, ctypes.c_void_p):
            value = value.value or 0
        try:
            address = operator.index(value)
        except TypeError:
            raise TypeError(f"gemmtune: run_pointers: {name} must be an address (an int) or None, got "
                            f"{type(value).__name__}") from None
        _check(0 <= address < _ADDRESS_END, name if name == "stream" else name + ".data",
               f"{value} is not an address (0 to 2**64 - 1)")
        out.append(address)
    return tuple(out)


class Selection:
    """The winner for one problem, built and callable.

    backend, choice: what won; time_us (time: seconds): its median as tuned;
    cache_hit: taken from the results database; fallback: the library backend
    served it because the enabled set could not (only with fallback_to_library);
    report: every choice's time and every rejection; record: the whole tuning
    record as a dict. Calling it runs the winner on arrays of the problem's
    layout and returns the result.
    """

    def __init__(self, c_tuner, handle, problem, plan=None, signature=None):
        self._c_tuner = c_tuner  # owns the backends the kernel came from
        self._handle = handle
        self._run = _capi.lib.gemmtune_selection_run
        self._problem = problem
        self._plan = plan
        self._signature = signature
        lib = _capi.lib
        self.backend = _capi.text(lib.gemmtune_selection_backend(handle))
        self.choice = _capi.text(lib.gemmtune_selection_choice(handle))
        self.time_us = lib.gemmtune_selection_time_us(handle)
        self.tuning_seconds = lib.gemmtune_selection_tuning_seconds(handle)
        self.cache_hit = bool(lib.gemmtune_selection_cache_hit(handle))
        self.fallback = bool(lib.gemmtune_selection_fallback(handle))
        self._record = None

    @property
    def time(self):
        """The winner's median time in seconds."""
        return self.time_us * 1e-6

    def _live(self):
        """The C selection, or ValueError once close() has dropped it (as a closed file does)."""
        handle = self._handle
        if handle is None:
            raise ValueError("this Selection is closed")
        return handle

    @property
    def record(self):
        handle = self._live()
        if self._record is None:
            self._record = json.loads(_capi.lib.gemmtune_selection_record_json(handle).decode())
        return self._record

    @property
    def report(self):
        return Report(self.record)

    @property
    def problem(self):
        return self._problem

    def run_pointers(self, a, b, c, bias=None, scale_a=None, scale_b=None, stream=None):
        """Runs the winner once on raw pointers (integers) laid out as the
        problem says; `stream` is a CUstream as an integer (GPU problems)."""
        pointers = (a, b, c, bias, scale_a, scale_b, stream)
        # The common case (plain ints in range) costs one comparison each;
        # anything else gets the checks that name it.
        for value in pointers:
            if value is not None and (type(value) is not int or not 0 <= value < _ADDRESS_END):
                pointers = _check_addresses(pointers)
                break
        self._run_pointers(*pointers)

    def _run_pointers(self, a, b, c, bias, scale_a, scale_b, stream):
        """run_pointers() on addresses taken from arrays (nothing to check)."""
        # Runs of one selection from several threads take turns in the C API.
        status = self._run(self._live(), a, b, c, bias, scale_a, scale_b, stream)
        if status:
            raise _capi.last_error()

    def __call__(self, *operands, out=None):
        self._live()
        if self._plan is None:
            raise TypeError("this selection was made from a shape-only Problem; call run_pointers(), or select "
                            "with arrays (tuner.select(op, *arrays)) to get a selection that takes arrays")
        op, activation, alpha, beta = self._signature[:4]
        signature = _signature(op, operands, out, activation, alpha, beta)
        if signature != self._signature:
            raise InvalidProblemError("invalid problem: operands: these arrays' dtypes, shapes or strides differ "
                                      f"from the ones this selection was tuned for ({self._problem.describe()}); "
                                      "use gemmtune." + op + "() to tune each layout on first sight", field="operands")
        return _execute(self, self._plan, op, operands, out)

    def close(self):
        """Frees the built kernel. Running it, or reading record or report,
        afterwards raises ValueError; backend, choice and time_us stay."""
        if self._handle:
            _capi.lib.gemmtune_selection_destroy(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass

    def __repr__(self):
        flags = (" cache_hit" if self.cache_hit else "") + (" FALLBACK" if self.fallback else "")
        return f"<gemmtune.Selection {self.backend}/{self.choice} {self.time_us:.2f} us{flags}>"


def _execute(selection, plan, op, operands, out):
    """Runs a planned call: result array allocated (unless given), pointers passed, caller's stream used."""
    if op == "linear":
        x, weight, bias = operands
        if plan.flatten_x:
            x = _arrays.flatten_rows(x)
        a, b = x, weight
    elif op in ("addmm", "baddbmm"):
        bias, a, b = operands
    else:
        a, b = operands
        bias = None
    # Per call: a memo entry made for a writeable out of this layout fits a
    # read-only one too.
    _check_writeable(out)
    if bias is not None and plan.bias_shape is not None:
        bias = _arrays.broadcast(bias, plan.bias_shape)
    result = out if out is not None else _arrays.empty_like_result(a, plan.out_shape, plan.out_dtype)
    c = _arrays.flatten_rows(result) if plan.flatten_x else result
    device = selection._problem._struct.device.decode()
    selection._run_pointers(_arrays.pointer(a), _arrays.pointer(b), _arrays.pointer(c),
                            _arrays.pointer(bias) if bias is not None else None, None, None,
                            _arrays.current_stream(device))
    return result


@contextlib.contextmanager
def _options_handle(options_by_name):
    """A gemmtune_options handle with these options set (None: left unset)."""
    lib = _capi.lib
    handle = lib.gemmtune_options_create()
    if not handle:
        raise _capi.last_error()
    try:
        for name, value in options_by_name.items():
            if value is not None:
                _capi.check(lib.gemmtune_options_set(handle, name.encode(), options.to_text(name, value).encode()))
        yield handle
    finally:
        lib.gemmtune_options_destroy(handle)


class Tuner:
    """A gemmtune tuner. Keywords are the option table's names (gemmtune.options):

    backends             enabled backends, "CPP,ONEDNN" or a list (GEMMTUNE_BACKENDS)
    fallback_to_library  use the library backend, loudly, when the enabled set cannot serve
    search_space         "default" or "exhaustive"
    cache_dir, db        where the results database lives; cache=False: none
    budget_ms, verify, threads, ...: see gemmtune.options.describe()

    A keyword left out (or None) takes its GEMMTUNE_* variable, then the default.
    An unknown name or a malformed value raises ConfigError naming it.
    """

    def __init__(self, backends=None, **options_by_name):
        if backends is not None:
            options_by_name["backends"] = backends
        lib = _capi.lib
        with _options_handle(options_by_name) as handle:
            tuner = lib.gemmtune_tuner_create_with_options(handle)
        if not tuner:
            raise _capi.last_error()
        self._c_tuner = _CTuner(tuner)
        self._handle = tuner
        self.options = {k: v for k, v in options_by_name.items() if v is not None}
        self.enabled = [b for b in _capi.text(lib.gemmtune_tuner_enabled(tuner)).split(",") if b]
        self.db_path = _capi.text(lib.gemmtune_tuner_db_path(tuner))
        self._plans = {}  # signature -> Selection, for gemmtune.mm & co.
        self._fast = {}  # torch fast-path key -> the tuple ops._fast_entry builds
        self._failures = {}  # signature -> NoValidChoicesError, not retried

    def select(self, problem, *operands, out=None, activation=None, alpha=1.0, beta=1.0):
        """The winner for a Problem, or for `op` on arrays:
        select("mm", a, b), select("addmm", bias, a, b, beta=.5), select("linear", x, w, bias,
        activation="gelu"). Tunes on first sight, else reads the results database."""
        self._live()
        if isinstance(problem, Problem):
            if operands:
                raise TypeError("select(Problem) takes no arrays; use select(op, *arrays)")
            return Selection(self._c_tuner, self._select_handle(problem), problem)
        op = problem
        if op not in ("mm", "addmm", "bmm", "baddbmm", "linear"):
            raise InvalidProblemError(f"invalid problem: op: select() with arrays takes mm, addmm, bmm, baddbmm or "
                                      f"linear, not '{op}' (others: tuner.select(Problem.dense(...)))", field="op")
        if op == "linear" and len(operands) == 2:
            operands = operands + (None,)
        activation = _activation(activation)
        signature = _signature(op, operands, out, activation, float(alpha), float(beta))
        return self._selection_for(signature, op, operands, out, activation, float(alpha), float(beta))

    def _selection_for(self, signature, op, operands, out, activation, alpha, beta):
        self._live()
        problem, plan = _layout_of(op, operands, out, activation, alpha, beta)
        pointers = [_arrays.pointer(x) for x in operands if x is not None]
        if out is not None:
            pointers.append(_arrays.pointer(out))
        first = operands[1] if op in ("addmm", "baddbmm") else operands[0]
        problem._struct.alignment = _alignment(pointers, numpy=not _arrays.is_tensor(first))
        return Selection(self._c_tuner, self._select_handle(problem), problem, plan, signature)

    def _live(self):
        """The C tuner, or ValueError once close() has dropped it (as a closed file does)."""
        handle = self._handle
        if handle is None:
            raise ValueError("this Tuner is closed")
        return handle

    def _select_handle(self, problem):
        handle = self._live()
        out = ctypes.c_void_p()
        # Threads sharing this tuner take turns in the C API (select() is not
        # thread-safe in C++).
        status = _capi.lib.gemmtune_select(handle, ctypes.byref(problem._struct), ctypes.byref(out))
        if status:
            raise _capi.last_error()
        return out.value

    def explain(self, problem):
        """Choices and rejections of every enabled backend, nothing built or timed:
        {"record": ..., "disabled_would_serve": [...]}."""
        handle = self._live()
        _check_problem(problem, "problem")
        text = ctypes.c_char_p()
        _capi.check(_capi.lib.gemmtune_explain(handle, ctypes.byref(problem._struct), ctypes.byref(text)))
        return json.loads(text.value.decode())

    def forget(self):
        """Drops the per-problem memo of gemmtune.mm & co. (the database stays)."""
        self._plans.clear()
        self._fast.clear()
        self._failures.clear()

    def close(self):
        """Drops the memo and this object's hold on the C tuner; selections still
        in use keep it until they go. select(), explain() and the ops given this
        tuner raise ValueError afterwards."""
        self.forget()
        self._c_tuner = None
        self._handle = None

    def __repr__(self):
        return f"<gemmtune.Tuner enabled={','.join(self.enabled)} db={self.db_path or '(no cache)'}>"


def tune_on_devices(problems, devices, backends=None, **options_by_name):
    """Tunes each Problem once, spread over `devices` ("cuda:0,cuda:1", a list of
    them, or "all"), one tuner and one measuring worker per device, all at once;
    a problem is tuned on whichever device takes it. Identical GPUs share stored
    results. Keywords as for Tuner. Returns {"results": [{"device", "tuned",
    "cache_hit", "error", "record"}, ...] in the problems' order, "failed_devices":
    [...]}; a device that fails is listed there and its problems go to the others."""
    if backends is not None:
        options_by_name["backends"] = backends
    if isinstance(problems, Problem) or not hasattr(problems, "__iter__"):
        raise TypeError(f"gemmtune.tune_on_devices: problems must be a list of gemmtune.Problem, got "
                        f"{type(problems).__name__}")
    problems = list(problems)
    for i, p in enumerate(problems):
        _check_problem(p, f"problems[{i}]", "gemmtune.tune_on_devices: ")
    if not isinstance(devices, str):
        names = list(devices) if hasattr(devices, "__iter__") else [devices]
        if not all(isinstance(d, str) for d in names):
            raise TypeError(f"gemmtune.tune_on_devices: devices must be a string (\"cuda:0,cuda:1\", \"all\") or a "
                            f"list of strings, got {devices!r}")
        devices = ",".join(names)
    if "\0" in devices:
        raise ConfigError(f"devices: {devices!r} contains a NUL character")
    array = (_capi.Problem * len(problems))(*[p._struct for p in problems])
    text = ctypes.c_char_p()
    with _options_handle(options_by_name) as handle:
        status = _capi.lib.gemmtune_tune_on_devices(handle, ctypes.cast(array, ctypes.c_void_p), len(problems),
                                                    devices.encode(), ctypes.byref(text))
    if status not in (_capi.OK, _capi.NO_VALID_CHOICES):
        raise _capi.last_error()
    return json.loads(text.value.decode())


_supported_activations = {}


def activation_supported(name):
    """Whether the loaded library computes this fused activation (gelu_tanh
    came later than the others): the library's own problem parser decides."""
    if name not in _supported_activations:
        try:
            Tuner(backends="REFERENCE", cache=False).explain(Problem.dense("mm", 1, 1, 1, activation=name))
            _supported_activations[name] = True
        except InvalidProblemError:
            _supported_activations[name] = False
    return _supported_activations[name]


def backends():
    """[(name, available, why)] of every built-in backend."""
    out = []
    for line in _capi.text(_capi.lib.gemmtune_backends()).splitlines():
        name, state, why = (line.split("\t") + ["", ""])[:3]
        out.append((name, state == "available", why))
    return out


def version():
    return _capi.text(_capi.lib.gemmtune_version())
