"""Workload capture: every mm/addmm/bmm/baddbmm/linear that runs inside
`with gemmtune.capture("model.workload"):` becomes a line of a gemmtune
workload file, which `gemmtune tune --workload model.workload` tunes offline.

Two sources are recorded: gemmtune's own ops (exactly as they were tuned),
and, with torch, aten.mm / addmm / bmm / baddbmm seen by a TorchDispatchMode
(what nn.Linear, torch.matmul and friends lower to). An activation applied
directly to such a result (relu, gelu, gelu with approximate="tanh", silu;
also through a view of it) is folded into the recorded problem, as a fused
epilogue would compute it.
"""

import collections
import os
import threading
import weakref

from . import _arrays, _files

active = False  # read on every gemmtune op call, so a plain module global
_lock = threading.Lock()
_captures = []


def record(selection):
    """Called by gemmtune's ops while a capture is active."""
    with _lock:
        for capture in _captures:
            capture._events.append(selection._problem)


def _layout(rows, cols, row_stride, col_stride, batch, batch_stride):
    """('n' or 't', leading dimension, dense leading dimension) when a workload
    line can say this matrix's layout (--layout and --lda/--ldb/--ldc), else None."""
    if (col_stride == 1 or cols <= 1) and (rows <= 1 or row_stride >= cols):
        letter, ld, dense, extent = "n", row_stride if rows > 1 else cols, cols, rows
    elif (row_stride == 1 or rows <= 1) and (cols <= 1 or col_stride >= rows):
        letter, ld, dense, extent = "t", col_stride if cols > 1 else rows, rows, cols
    else:
        return None
    if batch > 1 and batch_stride not in (0, ld * extent):
        return None
    return letter, ld, dense


def workload_line(problem):
    """(line, note) for a gemmtune.Problem: the CLI's words for it (the same
    key when `gemmtune tune --workload` tunes it), and a note when its strides
    are more than a line can say."""
    s = problem._struct

    def text(v):
        return v.decode() if v else ""

    op = text(s.op)
    la = _layout(s.a.rows, s.a.cols, s.a.row_stride, s.a.col_stride, s.batch, s.a.batch_stride)
    lb = _layout(s.b.rows, s.b.cols, s.b.row_stride, s.b.col_stride, s.batch, s.b.batch_stride)
    lc = _layout(s.c.rows, s.c.cols, s.c.row_stride, s.c.col_stride, s.batch, s.c.batch_stride)
    shape = f"{s.batch}x{s.m}x{s.n}x{s.k}" if op in ("bmm", "baddbmm") else f"{s.m}x{s.n}x{s.k}"
    words = [op, shape, "--dtype", text(s.a.dtype)]
    if text(s.c.dtype) != text(s.a.dtype):
        words += ["--out-dtype", text(s.c.dtype)]
    words += ["--layout", (la[0] if la else "n") + (lb[0] if lb else "n")]
    bias = text(s.bias_kind) or "none"
    if bias != "none" or op in ("addmm", "baddbmm"):
        words += ["--bias", bias]
    if s.alpha != 1.0:
        words += ["--alpha", repr(s.alpha)]
    if s.beta != 1.0 and bias != "none":
        words += ["--beta", repr(s.beta)]
    activation = text(s.activation) or "none"
    if activation != "none":
        words += ["--activation", activation]
    if s.batch > 1 and s.b.batch_stride == 0:
        words += ["--broadcast-b"]
    if s.allow_tf32:
        words += ["--allow-tf32"]
    for flag, layout in (("--lda", la), ("--ldb", lb), ("--ldc", lc)):
        if layout and layout[1] != layout[2]:
            words += [flag, str(layout[1])]
    if s.alignment != 64:
        words += ["--alignment", str(s.alignment)]
    device = text(s.device)
    if device != "cpu":
        words += ["--device", device]
    note = None
    if la is None or lb is None or lc is None or lc[0] != "n":
        note = (f"strides a={s.a.row_stride},{s.a.col_stride},{s.a.batch_stride} "
                f"b={s.b.row_stride},{s.b.col_stride},{s.b.batch_stride} "
                f"c={s.c.row_stride},{s.c.col_stride},{s.c.batch_stride}: more than a line can say; "
                "it tunes the nearest dense layout")
    return " ".join(words), note


class Capture:
    """Records the GEMMs run inside `with`; writes the workload to `path` on a
    clean exit (when given). `problems` lists (line, calls) in first-seen
    order; `skipped` lists GEMMs gemmtune cannot describe, with why.

    `path` is checked on entering the block, before the work it captures: its
    folder must exist and be writable, and a file already there must be a
    regular file (or a symlink to one), else OSError naming the path. Saving
    replaces the file all at once, keeping its permissions and any symlink to
    it; a new file gets the umask's mode.

    torch_ops: also record aten GEMMs through a TorchDispatchMode (when torch
    is imported); False records gemmtune's own ops only.
    """

    def __init__(self, path=None, *, torch_ops=True):
        self.path = path
        self.skipped = []
        self._torch_ops = torch_ops
        self._events = []  # gemmtune.Problem per call, in order
        self._mode = None

    @property
    def problems(self):
        counts = collections.OrderedDict()
        for problem in self._events:
            line, _ = workload_line(problem)
            counts[line] = counts.get(line, 0) + 1
        return list(counts.items())

    def workload_text(self):
        counts, notes = collections.OrderedDict(), {}
        for problem in self._events:
            line, note = workload_line(problem)
            counts[line] = counts.get(line, 0) + 1
            if note:
                notes[line] = note
        out = ["# gemmtune workload captured by gemmtune.capture(): one problem per line, with how many calls",
               "# ran it. Tune it offline with: gemmtune tune --workload FILE"]
        for line, calls in counts.items():
            comment = f"calls={calls}" + (f"; {notes[line]}" if line in notes else "")
            out.append(f"{line}  # {comment}")
        return "\n".join(out) + "\n"

    def save(self, path):
        """Writes the workload next to `path` (a symlink's target) and renames
        it into place, so that no reader ever sees half a file and a failure
        leaves the old one; the file keeps its permissions and symlinks."""
        _files.write_atomically(path, self.workload_text(), _what(path))

    def __enter__(self):
        global active
        if self.path is not None:
            _files.writable_target(self.path, _what(self.path))
        with _lock:
            _captures.append(self)
            active = True
        if self._torch_ops and _arrays.torch_module() is not None:
            self._mode = _make_dispatch_mode(self)
            if self._mode is not None:
                self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        global active
        if self._mode is not None:
            self._mode.__exit__(*exc)
            self._mode = None
        with _lock:
            _captures.remove(self)
            active = bool(_captures)
        if self.path is not None and exc[0] is None:
            self.save(self.path)
        return False


def _what(path):
    return f"gemmtune.capture: {os.fsdecode(os.fspath(path))}"


def _make_dispatch_mode(capture):
    """A TorchDispatchMode recording aten GEMMs into `capture`; None where torch
    has no such mode."""
    try:
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:
        return None
    import torch

    from .tuner import _alignment, _layout_of

    aten = torch.ops.aten
    gemms = {aten.mm.default: "mm", aten.addmm.default: "addmm", aten.bmm.default: "bmm",
             aten.baddbmm.default: "baddbmm"}
    # Under torch.inference_mode the dispatcher hands the mode aten.linear
    # itself (its decomposition into addmm happens below the mode), so
    # nn.Linear shows up as linear there and as addmm/mm elsewhere; the
    # decomposition then runs with the mode off, so nothing is counted twice.
    # (The H100 run of gpu_check found an inference-mode capture empty.)
    if hasattr(aten, "linear"):
        gemms[aten.linear.default] = "linear"
    views = {aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.alias.default}
    activations = {aten.relu.default: "relu", aten.relu_.default: "relu", aten.silu.default: "silu",
                   aten.silu_.default: "silu", aten.gelu.default: "gelu"}
    if hasattr(aten, "gelu_"):
        activations[aten.gelu_.default] = "gelu"

    class Recorder(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            # id(result of a recorded GEMM, or a view of it) -> (weakref, problem)
            self._results = {}

        def _lookup(self, tensor):
            entry = self._results.get(id(tensor))
            if entry is None or entry[0]() is not tensor:
                return None
            return entry[1]

        def _remember(self, tensor, problem):
            self._results[id(tensor)] = (weakref.ref(tensor), problem)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            try:
                if func in gemms:
                    self._record_gemm(gemms[func], args, kwargs, out)
                elif args and isinstance(args[0], torch.Tensor):
                    problem = self._lookup(args[0])
                    if problem is not None and func in activations:
                        name = activations[func]
                        approximate = kwargs.get("approximate", args[1] if len(args) > 1 else "none")
                        if name == "gelu" and approximate == "tanh":
                            name = "gelu_tanh"
                        if (problem._struct.activation or b"none") == b"none":
                            problem._struct.activation = problem._text(name, "activation")
                    elif problem is not None and func in views and isinstance(out, torch.Tensor):
                        self._remember(out, problem)
            except Exception as e:  # recording must never break the model it watches
                capture.skipped.append((str(func), f"not recorded: {e}"))
            return out

        def _record_gemm(self, op, args, kwargs, out):
            alpha = float(kwargs.get("alpha", 1.0))
            beta = float(kwargs.get("beta", 1.0))
            if op == "linear":  # linear(input, weight, bias=None)
                bias = args[2] if len(args) > 2 else kwargs.get("bias")
                operands = (args[0], args[1], bias)
            else:
                operands = tuple(args[:3] if op in ("addmm", "baddbmm") else args[:2])
            try:
                problem, _ = _layout_of(op, operands, None, "none", alpha, beta)
            except (TypeError, ValueError) as e:
                capture.skipped.append((op, str(e)))
                return
            problem._struct.alignment = _alignment([x.data_ptr() for x in operands if x is not None])
            with _lock:
                capture._events.append(problem)
            self._remember(out, problem)

    return Recorder()
