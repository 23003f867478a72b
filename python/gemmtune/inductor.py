"""gemmtune's kernel as one more choice in Inductor's max-autotune.

    import gemmtune.inductor
    compiled = torch.compile(model, options=gemmtune.inductor.options())
    # or, for every compilation in this process:
    gemmtune.inductor.register()
    compiled = torch.compile(model, mode="max-autotune")

What it uses: `torch._inductor.config.external_matmul`, a list of callables
`fn(a, b, out)` that Inductor's mm lowering (tuned_mm) turns into extern
kernel choices. Under max-autotune each one is benchmarked beside ATEN and
the TRITON templates, and it is used only if it wins; its name appears in
Inductor's AUTOTUNE table as `gemmtune_mm`. The callable tunes the shape
with gemmtune on first call (Inductor's benchmark then times the selected
kernel) and computes into Inductor's `out` buffer with its strides.

What it does not do, because Inductor has no such hook: addmm, bmm and
fused-epilogue GEMMs are not offered (Inductor only consults
external_matmul for plain mm without an out_dtype); for those, call
gemmtune's ops (or gemmtune.torch.Linear) in the model, which torch.compile
keeps as custom ops in the graph.

Inductor's caches: Inductor keeps its autotuning results on disk
(TORCHINDUCTOR_CACHE_DIR). A compilation that finds the shape there chooses
again without benchmarking, so gemmtune's choice is neither timed nor run
when an earlier result picked another; options(force_disable_caches=True)
makes it benchmark afresh (seen on the GPU machine: a second process on the
same machine never called gemmtune_mm).

Which torch: the hook is looked up, not assumed. Where
torch._inductor.config has no external_matmul (torch before 2.4, 1.13 and
2.0-2.3 among them) register() and options() raise
InductorHookUnavailable naming the installed version; if a later torch
renames or drops it, the same error says so rather than silently doing
nothing. Checked on the GPU machine's torch 2.11 (scripts/device/python_suite.sh).
"""

import functools

from . import ops
from .errors import Error


class InductorHookUnavailable(Error):
    """The installed torch has no hook for extra GEMM choices."""


def _config():
    import torch

    try:
        import torch._inductor.config as config
    except ImportError as e:
        raise InductorHookUnavailable(f"torch {torch.__version__} has no Inductor ({e})") from None
    if not hasattr(config, "external_matmul"):
        raise InductorHookUnavailable(
            f"torch {torch.__version__}'s Inductor has no config.external_matmul, the hook for extra GEMM choices "
            "in max-autotune; use gemmtune's ops or gemmtune.torch.Linear in the model instead")
    return config


def choice(tuner=None):
    """The callable Inductor benchmarks: gemmtune_mm(a, b, out). One per tuner,
    so registering twice adds one choice, not two."""
    # Always one positional key: an lru_cache keys choice() and choice(None)
    # apart, which gave two callables for the default tuner (seen on the GPU
    # machine's torch 2.11: options() listed one, choice() returned another).
    return _choice(tuner)


@functools.lru_cache(maxsize=None)
def _choice(tuner):
    def gemmtune_mm(a, b, out):
        # Inductor calls this with plain tensors from its compiled graph:
        # the direct path, never the traced op.
        ops._call(tuner, "mm", (a, b), out, "none", 1.0, 1.0)

    if tuner is not None:
        gemmtune_mm.__name__ = gemmtune_mm.__qualname__ = f"gemmtune_mm_{id(tuner):x}"
    return gemmtune_mm


def options(tuner=None, **extra):
    """torch.compile(options=...) for max-autotune with gemmtune's choice added."""
    config = _config()
    current = [fn for fn in config.external_matmul if fn is not choice(tuner)]
    return {"max_autotune": True, "external_matmul": current + [choice(tuner)], **extra}


def register(tuner=None):
    """Adds gemmtune's choice to torch._inductor.config.external_matmul for
    every later compilation in this process. Returns the callable."""
    config = _config()
    fn = choice(tuner)
    if fn not in config.external_matmul:
        config.external_matmul = list(config.external_matmul) + [fn]
    return fn


def unregister(tuner=None):
    config = _config()
    config.external_matmul = [fn for fn in config.external_matmul if fn is not choice(tuner)]
