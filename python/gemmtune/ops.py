"""gemmtune.mm, addmm, bmm, baddbmm, linear: torch's signatures, gemmtune's kernels.

Each call looks its layout (op, epilogue, every array's dtype, shape, strides,
device and pointer alignment) up in the tuner's memo; on first sight it tunes
(or reads the results database) and keeps the selection. Later calls cost a
dictionary lookup and one C call on the caller's arrays, without copies,
on torch's current CUDA stream. For plain torch tensors that whole step is
one call into the C fast path (python/fastpath) where it loaded, else the
same steps in Python (_direct_python, _fast_python); fast_path() says which.

Torch tensors that need autograd, and calls being traced by torch.compile,
go through the registered torch ops (gemmtune.torch) instead, so gradients
and graphs work; everything else takes the direct path here.
"""

import collections
import threading

from . import _arrays, _capi, _capture
from .errors import NoValidChoicesError
from .tuner import (_ACTIVATION_SET, Tuner, _activation, _alignment, _check_operands, _execute, _signature,
                    _signature_unchecked)

_default = None
_default_lock = threading.Lock()

# gemmtune.torch, once imported (it sets this): the registered ops, the test
# for when a tensor call must use them, and the fast path's torch pieces.
_torch_support = None

# Alignment class of the low six bits of the OR of a call's pointers.
_ALIGNMENT_OF_LOW_BITS = tuple(min(64, i & -i) if i else 64 for i in range(64))


def default_tuner():
    """The tuner gemmtune.mm & co. use when given none: GEMMTUNE_* options, else defaults."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Tuner()
    return _default


def configure(backends=None, **options):
    """Replaces the default tuner with Tuner(backends, **options) (and forgets
    its memo). Returns the new tuner."""
    global _default
    tuner = Tuner(backends, **options)
    with _default_lock:
        old, _default = _default, tuner
    if old is not None:
        old.forget()
    return tuner


# ---------------------------------------------------------------- general path


def _memo_key(layout, operands, out):
    """The layout signature plus the alignment the call's pointers share (a
    part of the problem too)."""
    pointers = [_arrays.pointer(x) for x in operands if x is not None]
    if out is not None:
        pointers.append(_arrays.pointer(out))
    first = next(x for x in operands if x is not None)
    return layout + (_alignment(pointers, numpy=not _arrays.is_tensor(first)),)


def _call(tuner, op, operands, out, activation, alpha, beta):
    """Any arrays (NumPy, torch, an `out`): the memo by full signature."""
    tuner = tuner or _default or default_tuner()
    try:
        layout = _signature_unchecked(op, operands, out, activation, alpha, beta)
        key = _memo_key(layout, operands, out)
    except (AttributeError, TypeError, ValueError):
        _check_operands(op, operands, out)  # names the argument that is not an array
        raise
    selection = tuner._plans.get(key)
    if selection is None:
        # A key of mixed NumPy/torch operands is never stored (the check below
        # refuses it first), so a hit needs no check.
        _check_operands(op, operands, out)
        selection = _first_sight(tuner, key, layout, op, operands, out, activation, alpha, beta)
    if _capture.active:
        _capture.record(selection)
    return _execute(selection, selection._plan, op, operands, out)


def _first_sight(tuner, key, layout, op, operands, out, activation, alpha, beta):
    failure = tuner._failures.get(key)
    if failure is not None:
        raise failure  # the enabled set cannot serve it: retuning would only say so again
    try:
        selection = tuner._selection_for(layout, op, operands, out, activation, alpha, beta)
    except NoValidChoicesError as e:
        tuner._failures[key] = e
        raise
    tuner._plans[key] = selection
    return selection


# ---------------------------------------------------------------- torch fast path
#
# Plain torch tensors: the common case inside a model. The key is built from
# the tensors' own attributes (no conversions, no helper calls), and the memo
# entry holds everything a call needs, so a call is: key, dictionary lookup,
# the result's allocation, one ctypes call.
#
# Thread safety: the memo (tuner._fast) is read without a lock. dict.get and
# dict item assignment are each a single operation on the dictionary, atomic
# under the GIL (and internally locked per dictionary on free-threaded
# builds), and an entry is a tuple built completely before it is stored and
# never changed after, so a reader sees either no entry or a whole one. Two
# threads seeing the same new key at once may both build an entry (the C
# API's tuner handle makes selections take turns) and the later store wins:
# both are valid. A selection's kernel must not run concurrently: the C API's
# selection handle makes runs of one selection take turns (c_api.h), here as
# in Selection.run_pointers.
# The C fast path (python/fastpath/fastpath.c) is the same algorithm on the
# same objects: it reads the memo with the GIL held (one dictionary lookup),
# owns the entry it found before running anything else, builds a missing
# entry with _fast_entry below, and calls the kernel with the GIL released.
# It loads only where the GIL
# exists (the stable ABI does not load on a free-threaded build).

# Set by gemmtune.torch when it is imported (_install_torch): the types the fast
# path takes and the torch functions it calls, as module globals (cheaper to
# reach per call than attributes of another module; the C fast path reads
# them, _default, default_tuner, _act and _fast_entry from this module's
# globals per call too, so a reassignment reaches both paths). Until then
# every call takes the general route (_route), which imports gemmtune.torch
# for a tensor.
_PLAIN = ()
_grad_enabled = _raw_stream = None


def _is_compiling():
    """Replaced by torch's own test; until then, True sends every call the general way."""
    return True


def _install_torch(support):
    global _torch_support, _PLAIN, _is_compiling, _grad_enabled, _raw_stream
    _torch_support = support
    _grad_enabled = support.grad_enabled
    _raw_stream = support.raw_stream
    _PLAIN = tuple(support.PLAIN)
    # Last: the ops test it first, so a call on another thread meanwhile
    # still takes the general route rather than a half-set fast one.
    _is_compiling = support.is_compiling


def _fast_entry(tuner, key, op, operands, out, activation, alpha, beta):
    """The memo entry for a new fast-path key: (run, handle, allocate,
    stream_index, bias_shape, flatten, selection), unpacked by _fast in one step."""
    layout = _signature(op, operands, out, activation, alpha, beta)
    selection = _first_sight(tuner, _memo_key(layout, operands, out), layout, op, operands, out, activation, alpha,
                             beta)
    plan = selection._plan
    first = operands[1] if op in ("addmm", "baddbmm") else operands[0]
    entry = (selection._run, selection._handle,
             _torch_support.result_allocator(first, plan.out_shape),
             first.device.index if first.device.type == "cuda" else None,
             plan.bias_shape, plan.flatten_x, selection)
    tuner._fast[key] = entry
    return entry


def _fast_python(tuner, op, a, b, bias, activation, alpha, beta, out=None):
    """Runs op on plain tensors: `a` is the first GEMM operand (x for linear),
    `b` the second (the weight for linear), `bias` or None, into `out` or a
    new result. (The C fast path's fast() does the same; _fast is the one in use.)"""
    pa = a.data_ptr()
    pb = b.data_ptr()
    bits = pa | pb
    # Every tensor's dtype, shape, strides and device, and the alignment the
    # pointers share. The device as get_device() (its index, -1 off CUDA) and
    # is_cuda: cheaper than a torch.device, and together they tell apart every
    # device an entry can be made for (cpu, cuda:N); a tensor elsewhere either
    # has a key no entry has, or (meta, index -1) a null pointer the C API refuses.
    if bias is None:
        pbias = bias_key = None
    else:
        pbias = bias.data_ptr()
        bits |= pbias
        bias_key = (bias.dtype, bias.shape, bias.stride(), bias.get_device(), bias.is_cuda)
    if out is None:
        out_key = None
    else:
        bits |= out.data_ptr()
        out_key = (out.dtype, out.shape, out.stride(), out.get_device(), out.is_cuda)
    key = (op, activation, alpha, beta, a.dtype, a.shape, a.stride(), a.get_device(), a.is_cuda, b.dtype, b.shape,
           b.stride(), b.get_device(), b.is_cuda, bias_key, out_key, _ALIGNMENT_OF_LOW_BITS[bits & 63])
    entry = tuner._fast.get(key)
    if entry is None:
        operands = (a, b, bias) if op == "linear" else ((bias, a, b) if bias is not None else (a, b))
        entry = _fast_entry(tuner, key, op, operands, out, activation, alpha, beta)
    run, handle, allocate, stream_index, bias_shape, flatten, selection = entry
    if flatten:
        a = a.reshape(-1, a.shape[-1])
        pa = a.data_ptr()
    if bias_shape is not None:
        bias = bias.expand(bias_shape).contiguous()
        pbias = bias.data_ptr()
    c = allocate() if out is None else out
    # Looked up per call: the caller may have switched streams since.
    stream = None if stream_index is None else _raw_stream(stream_index)
    # Runs of one selection from several threads take turns in the C API.
    status = run(handle, pa, pb, c.data_ptr(), pbias, None, None, stream)
    if status:
        raise _capi.last_error()
    if _capture.active:
        _capture.record(selection)
    return c


_fast = _fast_python  # or the C fast path's fast(): _use_fast_path


def _route(first, second, third=None):
    """'op' when this tensor call must go through the registered torch op
    (torch.compile tracing, autograd, tensor subclasses), 'fast' for plain
    tensors, None for anything else (NumPy)."""
    support = _torch_support
    if support is None:
        if not _arrays.is_tensor(first):
            return None
        from . import torch as support  # registers the ops; sets _torch_support
    if not isinstance(first, support.Tensor):
        return None
    if not isinstance(second, support.Tensor) or not (third is None or isinstance(third, support.Tensor)):
        return None  # the general route names the argument that is not a tensor
    return "op" if support.needs_op(first, second, third) else "fast"


# ---------------------------------------------------------------- the ops
#
# Each op, unless torch.compile is tracing it (the test stays in Python, so
# that the tracer sees it and never meets the C function), first asks
# _direct for the common case: plain tensors, no autograd to record. _direct
# returns the result, or None for everything else (NumPy, subclasses,
# autograd, torch not yet seen), which takes the general route below.


def _act(activation):
    return "none" if activation is None else _activation(activation)


def _direct_python(op, a, b, bias, out, activation, alpha, beta, tuner):
    """The common case in Python (the C fast path's direct() where it loaded):
    plain tensors (torch.Tensor or nn.Parameter, no subclass; `bias` may be
    None) and no autograd to record run through _fast; anything else returns
    None. The caller has checked that torch.compile is not tracing."""
    if (type(a) in _PLAIN and type(b) in _PLAIN and (bias is None or type(bias) in _PLAIN)
            and not (_grad_enabled() and (a.requires_grad or b.requires_grad
                                          or (bias is not None and bias.requires_grad)))):
        return _fast(tuner or _default or default_tuner(), op, a, b, bias, _act(activation), float(alpha),
                     float(beta), out)
    return None


_direct = _direct_python  # or the C fast path's direct(): _use_fast_path

FastPath = collections.namedtuple("FastPath", "native detail")
FastPath.__doc__ = """Which per-call path gemmtune.mm & co. take for plain torch tensors:
native=True, the C extension (detail: its file); False, the Python one
(detail: why the extension is not in use)."""
_fast_path = None


def fast_path():
    """Which per-call path the ops take: FastPath(native, detail). native is
    True when the C extension (python/fastpath, `_fastpath.abi3.so` beside
    libgemmtune_c.so) runs the common case; otherwise the same steps run in
    Python, and detail says why the extension is not in use."""
    return _fast_path


def _use_fast_path(native):
    """Binds the ops to the C fast path (native=True, when it loaded) or to
    the Python one. Returns fast_path(). (Tests run both paths in one process.)"""
    global _direct, _fast, _fast_path
    module = _capi.fast_path_module
    if native and module is not None:
        try:
            module.bind(globals(), vars(_capture), _ACTIVATION_SET, _capi.last_error, _capi.run_address())
        except Exception as e:  # a foreign build of the module: say so, run the Python path
            _direct, _fast = _direct_python, _fast_python
            _fast_path = FastPath(False, f"{_capi.fast_path_detail} does not bind: {e}")
        else:
            _direct, _fast = module.direct, module.fast
            _fast_path = FastPath(True, _capi.fast_path_detail)
    else:
        _direct, _fast = _direct_python, _fast_python
        _fast_path = FastPath(False, _capi.fast_path_detail if module is None else
                              "the C fast path loaded but is switched off (ops._use_fast_path(False))")
    return _fast_path


def _op_route(op, out, tuner):
    """The registered op for a call that needs it: it takes neither `out` nor
    `tuner`, and silently running without them (or without autograd) would be wrong."""
    if out is not None or tuner is not None:
        raise TypeError(f"gemmtune.{op}(out=..., tuner=...) runs eagerly on plain tensors only; under autograd or "
                        "torch.compile call it without them (gemmtune.configure() sets the tuner the ops use)")
    return _torch_support.op(op)


def _product(op, a, b, out, activation, tuner):
    """mm or bmm off the common case."""
    route = _route(a, b)
    if route == "op":
        return _op_route(op, out, tuner)(a, b, _act(activation))
    if route is not None:
        return _fast(tuner or _default or default_tuner(), op, a, b, None, _act(activation), 1.0, 1.0, out)
    return _call(tuner, op, (a, b), out, _act(activation), 1.0, 1.0)


def _biased_product(op, bias, a, b, beta, alpha, out, activation, tuner):
    """addmm or baddbmm off the common case."""
    route = _route(a, b, bias)
    if route == "op":
        return _op_route(op, out, tuner)(bias, a, b, float(beta), float(alpha), _act(activation))
    if route is not None:
        return _fast(tuner or _default or default_tuner(), op, a, b, bias, _act(activation), float(alpha), float(beta),
                     out)
    return _call(tuner, op, (bias, a, b), out, _act(activation), float(alpha), float(beta))


def _linear(x, weight, bias, activation, out, tuner):
    """linear off the common case."""
    route = _route(x, weight, bias)
    if route == "op":
        return _op_route("linear", out, tuner)(x, weight, bias, _act(activation))
    if route is not None:
        return _fast(tuner or _default or default_tuner(), "linear", x, weight, bias, _act(activation), 1.0, 1.0, out)
    return _call(tuner, "linear", (x, weight, bias), out, _act(activation), 1.0, 1.0)


def _refuse(op, operands, out):
    """After an AttributeError of the common case: TypeError naming the
    argument that is not an array, if one is not (the fast path meets an `out`
    that is not a tensor as a missing data_ptr). The try around the common
    case sits inside `if not _is_compiling()`, so torch.compile never traces it.
    The TypeError stands alone, not as a consequence of the internal
    AttributeError."""
    try:
        _check_operands(op, operands, out)
    except TypeError as e:
        raise e from None


def mm(a, b, *, out=None, activation=None, tuner=None):
    """a @ b for 2-D a (m, k) and b (k, n), with an optional fused activation."""
    if not _is_compiling():
        try:
            c = _direct("mm", a, b, None, out, activation, 1.0, 1.0, tuner)
        except AttributeError:
            _refuse("mm", (a, b), out)
            raise
        if c is not None:
            return c
    return _product("mm", a, b, out, activation, tuner)


def addmm(bias, a, b, *, beta=1.0, alpha=1.0, out=None, activation=None, tuner=None):
    """activation(beta * bias + alpha * (a @ b)); bias is (n,), (1, n) or (m, n)
    (other broadcastable shapes are broadcast to a dense copy)."""
    if not _is_compiling():
        try:
            c = _direct("addmm", a, b, bias, out, activation, alpha, beta, tuner)
        except AttributeError:
            _refuse("addmm", (bias, a, b), out)
            raise
        if c is not None:
            return c
    return _biased_product("addmm", bias, a, b, beta, alpha, out, activation, tuner)


def bmm(a, b, *, out=None, activation=None, tuner=None):
    """a @ b for 3-D a (B, m, k) and b (B, k, n); a batch stride of 0 shares one matrix."""
    if not _is_compiling():
        try:
            c = _direct("bmm", a, b, None, out, activation, 1.0, 1.0, tuner)
        except AttributeError:
            _refuse("bmm", (a, b), out)
            raise
        if c is not None:
            return c
    return _product("bmm", a, b, out, activation, tuner)


def baddbmm(bias, a, b, *, beta=1.0, alpha=1.0, out=None, activation=None, tuner=None):
    """activation(beta * bias + alpha * (a @ b)) for batches."""
    if not _is_compiling():
        try:
            c = _direct("baddbmm", a, b, bias, out, activation, alpha, beta, tuner)
        except AttributeError:
            _refuse("baddbmm", (bias, a, b), out)
            raise
        if c is not None:
            return c
    return _biased_product("baddbmm", bias, a, b, beta, alpha, out, activation, tuner)


def linear(x, weight, bias=None, activation=None, *, out=None, tuner=None):
    """activation(x @ weight.T + bias), as torch.nn.functional.linear: x is
    (..., k), weight (n, k), bias (n,) or None."""
    if not _is_compiling():
        try:
            c = _direct("linear", x, weight, bias, out, activation, 1.0, 1.0, tuner)
        except AttributeError:
            _refuse("linear", (x, weight, bias), out)
            raise
        if c is not None:
            return c
    return _linear(x, weight, bias, activation, out, tuner)


_use_fast_path(True)
