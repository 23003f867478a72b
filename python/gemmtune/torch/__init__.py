"""gemmtune in PyTorch: custom ops, a drop-in nn.Linear, and a model rewriter.

Importing this module registers the torch ops gemmtune::mm, addmm, bmm,
baddbmm and linear (torch.ops.gemmtune.*) with CPU and CUDA kernels and a
fake-tensor implementation, so torch.compile(fullgraph=True) traces models
that call gemmtune.mm & co. or gemmtune.torch.Linear without graph breaks,
and Inductor calls the op from the compiled graph.

Which torch offers what (checked at import, so each version gets what it can):
  torch >= 2.4  torch.library.register_fake and register_autograd: fake
                tensors and gradients are registered on the op itself.
  2.2, 2.3      torch.library.impl_abstract for fake tensors; gradients
                through a torch.autograd.Function around the op.
  2.0, 2.1      a Meta kernel stands in for the fake implementation.
  1.13          (Debian 12's python3-torch) the same Library API: eager ops,
                Meta kernels and autograd work; torch.compile does not exist.

Gradients: the forward runs gemmtune's kernel; the backward uses torch's own
GEMMs (with an activation, it recomputes the pre-activation product once).
"""

import functools
import sys

import torch
import torch.nn.functional as F

from .. import _arrays, ops as _ops
from ..tuner import _activation, activation_supported

_NAMESPACE = "gemmtune"
# Positional arguments only: the autograd and fake registrations then see
# every input the same way on every torch version.
_SCHEMAS = {
    "mm": 'mm(Tensor a, Tensor b, str activation="none") -> Tensor',
    "addmm": 'addmm(Tensor bias, Tensor a, Tensor b, float beta=1, float alpha=1, str activation="none") -> Tensor',
    "bmm": 'bmm(Tensor a, Tensor b, str activation="none") -> Tensor',
    "baddbmm": 'baddbmm(Tensor bias, Tensor a, Tensor b, float beta=1, float alpha=1, str activation="none") -> Tensor',
    "linear": 'linear(Tensor x, Tensor weight, Tensor? bias=None, str activation="none") -> Tensor',
}

# ---------------------------------------------------------------- kernels


def _kernel_mm(a, b, activation="none"):
    return _ops._fast(_ops._default or _ops.default_tuner(), "mm", a, b, None, activation, 1.0, 1.0)


def _kernel_addmm(bias, a, b, beta=1.0, alpha=1.0, activation="none"):
    return _ops._fast(_ops._default or _ops.default_tuner(), "addmm", a, b, bias, activation, float(alpha),
                      float(beta))


def _kernel_bmm(a, b, activation="none"):
    return _ops._fast(_ops._default or _ops.default_tuner(), "bmm", a, b, None, activation, 1.0, 1.0)


def _kernel_baddbmm(bias, a, b, beta=1.0, alpha=1.0, activation="none"):
    return _ops._fast(_ops._default or _ops.default_tuner(), "baddbmm", a, b, bias, activation, float(alpha),
                      float(beta))


def _kernel_linear(x, weight, bias=None, activation="none"):
    return _ops._fast(_ops._default or _ops.default_tuner(), "linear", x, weight, bias, activation, 1.0, 1.0)


_KERNELS = {"mm": _kernel_mm, "addmm": _kernel_addmm, "bmm": _kernel_bmm, "baddbmm": _kernel_baddbmm,
            "linear": _kernel_linear}

# ---------------------------------------------------------------- fake tensors


def _fake_mm(a, b, activation="none"):
    return a.new_empty((a.shape[0], b.shape[1]))


def _fake_addmm(bias, a, b, beta=1.0, alpha=1.0, activation="none"):
    return a.new_empty((a.shape[0], b.shape[1]))


def _fake_bmm(a, b, activation="none"):
    return a.new_empty((a.shape[0], a.shape[1], b.shape[2]))


def _fake_baddbmm(bias, a, b, beta=1.0, alpha=1.0, activation="none"):
    return a.new_empty((a.shape[0], a.shape[1], b.shape[2]))


def _fake_linear(x, weight, bias=None, activation="none"):
    return x.new_empty(tuple(x.shape[:-1]) + (weight.shape[0],))


_FAKES = {"mm": _fake_mm, "addmm": _fake_addmm, "bmm": _fake_bmm, "baddbmm": _fake_baddbmm, "linear": _fake_linear}

# ---------------------------------------------------------------- gradients


def _apply_activation(z, activation):
    if activation == "relu":
        return torch.relu(z)
    if activation == "gelu":
        return F.gelu(z)
    if activation == "gelu_tanh":
        return F.gelu(z, approximate="tanh")
    if activation == "silu":
        return F.silu(z)
    return z


def _through_activation(z, grad, activation):
    """d loss / d z from d loss / d activation(z)."""
    if activation == "none":
        return grad
    with torch.enable_grad():
        z = z.detach().requires_grad_()
        return torch.autograd.grad(_apply_activation(z, activation), z, grad)[0]


def _backward(name, inputs, grad):
    """Gradients of every input of op `name` (None for non-tensors), with torch's GEMMs."""
    if name in ("mm", "bmm"):
        a, b, activation = inputs
        t = (lambda x: x.transpose(-2, -1))
        g = grad if activation == "none" else _through_activation(torch.matmul(a, b), grad, activation)
        return (g.matmul(t(b)), t(a).matmul(g), None)
    if name in ("addmm", "baddbmm"):
        bias, a, b, beta, alpha, activation = inputs
        t = (lambda x: x.transpose(-2, -1))
        if activation != "none":
            z = torch.addmm(bias, a, b, beta=beta, alpha=alpha) if name == "addmm" else \
                torch.baddbmm(bias, a, b, beta=beta, alpha=alpha)
            grad = _through_activation(z, grad, activation)
        grad_bias = (grad * beta).sum_to_size(bias.shape) if beta != 0 else torch.zeros_like(bias)
        return (grad_bias, alpha * grad.matmul(t(b)), alpha * t(a).matmul(grad), None, None, None)
    if name == "linear":
        x, weight, bias, activation = inputs
        x2 = x.reshape(-1, x.shape[-1])
        g = grad.reshape(-1, weight.shape[0])
        if activation != "none":
            g = _through_activation(F.linear(x2, weight, bias), g, activation)
        grad_x = g.matmul(weight).reshape(x.shape)
        grad_w = g.t().matmul(x2)
        grad_b = g.sum(0) if bias is not None else None
        return (grad_x, grad_w, grad_b, None)
    raise AssertionError(name)


def _setup_context(name):
    def setup_context(ctx, inputs, output):
        ctx.gemmtune_inputs = tuple(x.detach() if isinstance(x, torch.Tensor) else x for x in inputs)
    return setup_context


def _autograd_backward(name):
    def backward(ctx, grad):
        grads = _backward(name, ctx.gemmtune_inputs, grad)
        return tuple(g if needed else None
                     for g, needed in zip(grads, ctx.needs_input_grad + (False,) * len(grads)))
    return backward


# ---------------------------------------------------------------- registration

_library = torch.library.Library(_NAMESPACE, "DEF")
_native_autograd = hasattr(torch.library, "register_autograd")


def _register():
    for name, schema in _SCHEMAS.items():
        _library.define(schema)
        for key in ("CPU", "CUDA"):
            _library.impl(name, _KERNELS[name], key)
        qualname = f"{_NAMESPACE}::{name}"
        if hasattr(torch.library, "register_fake"):
            torch.library.register_fake(qualname, _FAKES[name], lib=_library)
        elif hasattr(torch.library, "impl_abstract"):
            torch.library.impl_abstract(qualname, _FAKES[name], lib=_library)
        else:
            # Older torch has no autograd fallthrough for meta tensors either.
            _library.impl(name, _FAKES[name], "Meta")
            _library.impl(name, _FAKES[name], "AutogradMeta")
        if _native_autograd:
            torch.library.register_autograd(qualname, _autograd_backward(name), setup_context=_setup_context(name),
                                            lib=_library)


_register()


def _make_function(name):
    """A torch.autograd.Function around the op, for torch without register_autograd."""
    overload = getattr(getattr(torch.ops, _NAMESPACE), name)

    class Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            ctx.gemmtune_inputs = tuple(x.detach() if isinstance(x, torch.Tensor) else x for x in inputs)
            return overload(*inputs)

        @staticmethod
        def backward(ctx, grad):
            grads = _backward(name, ctx.gemmtune_inputs, grad)
            return tuple(g if needed else None for g, needed in zip(grads, ctx.needs_input_grad))

    Function.__name__ = f"gemmtune_{name}"
    return Function.apply


_OPS = {name: getattr(getattr(torch.ops, _NAMESPACE), name) if _native_autograd else _make_function(name)
        for name in _SCHEMAS}


def op(name):
    """The callable that runs torch op gemmtune::`name` with autograd (positional arguments)."""
    return _OPS[name]


_compiler = getattr(torch, "compiler", None)
if _compiler is not None and hasattr(_compiler, "is_compiling"):
    _is_compiling = _compiler.is_compiling
else:
    try:
        from torch._dynamo import is_compiling as _is_compiling
    except ImportError:  # torch 1.13: there is no compiler to trace for
        def _is_compiling():
            return False


_grad_enabled = torch.is_grad_enabled
_Parameter = torch.nn.Parameter


def needs_op(a, b, c=None):
    """Whether a call must go through the registered op rather than gemmtune's
    direct path: while torch.compile traces, when autograd must record it, or
    for tensor subclasses (fake, functional) only the dispatcher understands."""
    if _is_compiling():
        return True
    ta, tb = type(a), type(b)
    if (ta is not Tensor and ta is not _Parameter) or (tb is not Tensor and tb is not _Parameter):
        return True
    if c is not None and type(c) is not Tensor and type(c) is not _Parameter:
        return True
    return _grad_enabled() and (a.requires_grad or b.requires_grad or (c is not None and c.requires_grad))


# What gemmtune.ops' fast path needs from torch, looked up once. Private
# entry points are used where this torch has them, each with a public fallback.
Tensor = torch.Tensor
PLAIN = (torch.Tensor, torch.nn.Parameter)
grad_enabled = _grad_enabled
is_compiling = _is_compiling
# The raw CUstream of a device's current stream: an int, without building a
# torch.cuda.Stream object (Inductor's generated code calls the same function).
# torch._C._cuda_getCurrentRawStream is private (no stability promise; absent
# from CPU-only builds); without it, the public
# torch.cuda.current_stream(index).cuda_stream gives the same number.
raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None) or (
    lambda index: torch.cuda.current_stream(index).cuda_stream)

# Inductor's result allocators (torch >= 2.2): at::detail::empty_strided_* from
# (shape tuple, strides tuple, dtype), without the dispatcher's empty_strided,
# which torch's own comment calls "surprisingly slow". The CUDA one allocates on
# the current device (and its current stream), so it serves a tensor of that
# device only.
_guards = getattr(getattr(torch._C, "_dynamo", None), "guards", None)
_empty_strided_cpu = getattr(_guards, "_empty_strided_cpu", None)
_empty_strided_cuda = getattr(_guards, "_empty_strided_cuda", None)
_current_device = getattr(torch._C, "_cuda_getDevice", None)


def result_allocator(like, shape):
    """A function of no arguments that returns a new uninitialised row-major
    tensor of `shape` with `like`'s dtype and device: gemmtune's result,
    allocated the cheapest way this torch offers."""
    shape = tuple(shape)
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    strides = tuple(reversed(strides))
    device = like.device
    # empty_like of a one-element tensor expanded to the shape: no size list to
    # parse (cheaper than new_empty(shape)); contiguous_format makes it row-major.
    general = functools.partial(torch.empty_like, like.new_empty((1,)).expand(shape),
                                memory_format=torch.contiguous_format)
    if device.type == "cpu" and _empty_strided_cpu is not None:
        fast = functools.partial(_empty_strided_cpu, shape, strides, like.dtype)
        return fast if _allocates(fast, like, shape) else general
    if device.type != "cuda" or _empty_strided_cuda is None or _current_device is None:
        return general
    fast = functools.partial(_empty_strided_cuda, shape, strides, like.dtype)
    with torch.cuda.device(device):
        if not _allocates(fast, like, shape):
            return general
    index = device.index

    def allocate():
        return fast() if _current_device() == index else general()
    return allocate


def _allocates(allocate, like, shape):
    """Whether a private allocator (tried once) gives what torch.empty would:
    a later torch may change its arguments, and gemmtune must then fall back,
    not fail."""
    try:
        result = allocate()
    except Exception:
        return False
    return (result.dtype == like.dtype and result.device == like.device and tuple(result.shape) == shape
            and result.is_contiguous() and result.layout == like.layout)


_ops._install_torch(sys.modules[__name__])  # gemmtune.mm & co. route tensors through here from now on

# ---------------------------------------------------------------- modules

_ACTIVATION_MODULES = {torch.nn.ReLU: "relu", torch.nn.SiLU: "silu"}


def _activation_of(module):
    """The fused activation of an activation module, or None (also when the
    loaded library does not compute that activation)."""
    name = None
    for cls, candidate in _ACTIVATION_MODULES.items():
        if type(module) is cls:
            name = candidate
    if type(module) is torch.nn.GELU:
        name = "gelu_tanh" if getattr(module, "approximate", "none") == "tanh" else "gelu"
    return name if name is not None and activation_supported(name) else None


class Linear(torch.nn.Linear):
    """torch.nn.Linear computed by gemmtune (with an optional fused activation:
    "relu", "gelu", "gelu_tanh", "silu"). Same parameters, state_dict and
    initialisation as nn.Linear; each input layout is tuned on first sight."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, activation=None):
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self.activation = _activation(activation)

    @classmethod
    def from_linear(cls, linear, activation=None):
        """A gemmtune Linear sharing `linear`'s parameters (nothing copied)."""
        new = cls.__new__(cls)
        torch.nn.Module.__init__(new)
        new.in_features, new.out_features = linear.in_features, linear.out_features
        new.weight = linear.weight
        new.bias = linear.bias
        new.activation = _activation(activation)
        new.train(linear.training)
        return new

    def forward(self, x):
        return _ops.linear(x, self.weight, self.bias, self.activation)

    def extra_repr(self):
        return super().extra_repr() + f", activation={self.activation}"


def swap_linear(model, *, fuse_activations=True, predicate=None):
    """Replaces every torch.nn.Linear in `model` (exactly that class, not
    subclasses, whose callers may read the weight directly) by a gemmtune
    Linear sharing its parameters. With fuse_activations, a ReLU, GELU or SiLU
    module right after it in an nn.Sequential becomes the Linear's fused
    epilogue (and an nn.Identity). `predicate(name, module)` may veto a swap.
    Returns the model (a new module when `model` itself was an nn.Linear)."""
    if type(model) is torch.nn.Linear:
        return Linear.from_linear(model)
    for parent_name, parent in list(model.named_modules()):
        children = list(parent.named_children())
        for index, (name, child) in enumerate(children):
            if type(child) is not torch.nn.Linear:
                continue
            full_name = f"{parent_name}.{name}" if parent_name else name
            if predicate is not None and not predicate(full_name, child):
                continue
            activation = None
            if fuse_activations and isinstance(parent, torch.nn.Sequential) and index + 1 < len(children):
                next_name, next_module = children[index + 1]
                activation = _activation_of(next_module)
                if activation is not None:
                    setattr(parent, next_name, torch.nn.Identity())
            setattr(parent, name, Linear.from_linear(child, activation))
    return model
