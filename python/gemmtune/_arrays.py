"""NumPy arrays and torch tensors as gemmtune sees them: dtype name, shape,
strides in elements, data pointer, device, and the stream to run on.

Nothing is copied: the kernel reads and writes the caller's memory with the
caller's strides. Neither NumPy nor torch is required to import gemmtune;
each is imported when its first array arrives.
"""

import sys

_torch = None
_torch_dtypes = {}
_numpy_dtypes = {"float32": "f32", "float64": "f64", "float16": "f16", "int8": "i8", "uint8": "u8", "int32": "i32"}
_gemmtune_to_numpy = {v: k for k, v in _numpy_dtypes.items()}


def torch_module():
    """torch if it is imported in this process (gemmtune never imports it first)."""
    global _torch
    if _torch is None and "torch" in sys.modules:
        import torch

        _torch = torch
        names = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16", "int8": "i8",
                 "uint8": "u8", "int32": "i32", "float8_e4m3fn": "f8e4m3", "float8_e5m2": "f8e5m2"}
        for attr, name in names.items():
            if hasattr(torch, attr):
                _torch_dtypes[getattr(torch, attr)] = name
    return _torch


def is_tensor(x):
    torch = torch_module()
    return torch is not None and isinstance(x, torch.Tensor)


def is_ndarray(x):
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(x, numpy.ndarray)


def kind(x):
    """"torch tensor" or "NumPy array"; None for anything else."""
    if is_tensor(x):
        return "torch tensor"
    if is_ndarray(x):
        return "NumPy array"
    return None


def dtype_name(x, what="the array"):
    """gemmtune's name of an array's dtype ("bf16"), or TypeError naming it
    and `what` (the argument: "a", "bias")."""
    if is_tensor(x):
        name = _torch_dtypes.get(x.dtype)
    else:
        dtype = x.dtype
        if not dtype.isnative:
            # dtype.name ignores the byte order: '>f4' is "float32" too, and
            # the kernel would read its bytes as native ones.
            order = "big-endian" if dtype.byteorder == ">" else "little-endian"
            native = dtype.newbyteorder("=").str
            fix = f"an out of dtype {native!r}" if what == "out" else f"{what}.astype({native!r})"
            raise TypeError(f"gemmtune: {what} holds {order} data ({dtype.str!r}), not this machine's "
                            f"{sys.byteorder}-endian byte order; pass {fix}")
        name = _numpy_dtypes.get(dtype.name)
    if name is None:
        raise TypeError(f"gemmtune: {what} has dtype {x.dtype}, which is not supported (f32, f64, f16, bf16, i8, u8, "
                        "i32, fp8)")
    return name


def writeable(x):
    """Whether the kernel may write into x (a NumPy array may be read-only:
    np.frombuffer over bytes, a memmap opened with mode "r"; tensors are not)."""
    return is_tensor(x) or x.flags.writeable


def strides(x):
    """Strides in elements. NumPy's byte strides must be whole elements and
    not negative; anything else is refused rather than copied."""
    if is_tensor(x):
        return tuple(x.stride())
    size = x.itemsize
    out = []
    for s in x.strides:
        if s < 0 or s % size:
            raise ValueError(f"gemmtune: byte strides {x.strides} are not non-negative multiples of the element "
                             f"size {size}; pass numpy.ascontiguousarray(x)")
        out.append(s // size)
    return tuple(out)


def pointer(x):
    if is_tensor(x):
        return x.data_ptr()
    return x.__array_interface__["data"][0]


def device(x):
    """"cpu" or "cuda:N"."""
    if is_tensor(x):
        d = x.device
        if d.type == "cpu":
            return "cpu"
        if d.type == "cuda":
            return f"cuda:{d.index if d.index is not None else 0}"
        raise ValueError(f"gemmtune: tensors on {d} are not supported (cpu or cuda)")
    return "cpu"


def current_stream(device_text):
    """The raw CUstream torch is issuing to on that CUDA device (0 = the legacy
    default stream), so gemmtune's kernel is ordered with the caller's work."""
    if device_text == "cpu":
        return None
    torch = torch_module()
    if torch is None:
        return None
    index = int(device_text.split(":")[1])
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw is not None:
        return raw(index) or None
    return torch.cuda.current_stream(index).cuda_stream or None


def empty_like_result(template, shape, dtype_text):
    """An uninitialised row-major result with `template`'s framework and device."""
    if is_tensor(template):
        return _torch.empty(shape, dtype=template.dtype, device=template.device)
    import numpy

    # NumPy's own allocations may be only 16-byte aligned; results are 64-byte
    # aligned like torch's, so a problem's alignment (part of its key) does
    # not change from call to call.
    dtype = numpy.dtype(_gemmtune_to_numpy[dtype_text])
    count = 1
    for d in shape:
        count *= d
    raw = numpy.empty(count * dtype.itemsize + 64, dtype=numpy.uint8)
    offset = (-raw.__array_interface__["data"][0]) % 64
    return raw[offset:offset + count * dtype.itemsize].view(dtype).reshape(shape)


def contiguous(x):
    if is_tensor(x):
        return x.contiguous()
    import numpy

    return numpy.ascontiguousarray(x)


def broadcast(x, shape):
    """`x` broadcast to `shape` and made dense (a copy)."""
    if is_tensor(x):
        return x.expand(shape).contiguous()
    import numpy

    return numpy.ascontiguousarray(numpy.broadcast_to(x, shape))


def flatten_rows(x):
    """A (..., k) array as (rows, k): a view where the strides allow, as torch's
    own linear does, else a copy."""
    k = x.shape[-1]
    return x.reshape(-1, k)


def rows_view(x):
    """A (..., n) array as a (rows, n) view of the same memory, or None when
    that needs a copy (the kernel must write into the caller's array)."""
    if is_tensor(x):
        try:
            return x.view(-1, x.shape[-1])
        except RuntimeError:
            return None
    view = x.view()
    try:
        view.shape = (-1, x.shape[-1])
    except AttributeError:
        return None
    return view
