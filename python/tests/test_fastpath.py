"""The C fast path (python/fastpath, `_fastpath.abi3.so`) against the Python
one: it is built and loaded here, both paths give identical results from one
shared memo (each finds the entries the other made), raise the same typed
errors, record captures, and leave everything that is not the common case
to the general route. (Two threads on either path: test_torch_cpu.py.)"""

import os
import shutil
import subprocess

import pytest

import gemmtune
from gemmtune import _capi, ops

try:
    import torch

    import gemmtune.torch  # noqa: F401  (the fast path takes tensors once this is loaded)
except ImportError:  # the tests that need no torch still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (Debian: python3-torch)")


def close(x, y):
    torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)


@pytest.fixture
def both(gemmtune_module):
    """Runs a call on the Python path and on the C path; restores the C path."""
    yield _Paths()
    ops._use_fast_path(True)


class _Paths:
    def run(self, call, first):
        """{"python": result, "native": result}, the path `first` called first."""
        results = {}
        for name in (first, "native" if first == "python" else "python"):
            ops._use_fast_path(name == "native")
            results[name] = call()
        return results


def test_the_c_fast_path_is_built_and_in_use():
    # CI's build must have it: a missing extension fails here, it is not skipped.
    path = gemmtune.fast_path()
    assert path.native, f"the C fast path is not in use: {path.detail}"
    assert os.path.basename(path.detail) == "_fastpath.abi3.so"
    assert os.path.dirname(path.detail) == os.path.dirname(_capi.path), (path.detail, _capi.path)
    assert ops._direct is _capi.fast_path_module.direct and ops._fast is _capi.fast_path_module.fast


def test_the_extension_uses_only_the_stable_abi_and_links_nothing():
    # One build for every CPython >= 3.11: no libpython, torch or gemmtune
    # library among its needs (the symbols come from the interpreter).
    path = gemmtune.fast_path().detail
    try:
        done = subprocess.run(["readelf", "-d", path], capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("no readelf here (binutils)")
    if done.returncode != 0:
        pytest.skip(f"readelf: {done.stderr.strip()}")
    needed = [line for line in done.stdout.splitlines() if "(NEEDED)" in line]
    assert not any(name in line for line in needed for name in ("libpython", "torch", "gemmtune")), needed


@needs_torch
def test_fast_path_says_which_path_and_why_when_switched_off():
    try:
        path = ops._use_fast_path(False)
        assert path == gemmtune.fast_path() and not path.native and "switched off" in path.detail
    finally:
        assert ops._use_fast_path(True).native


def _cases():
    torch.manual_seed(7)
    a, b = torch.randn(6, 8), torch.randn(8, 5)
    bias_row, bias_full, bias_column = torch.randn(5), torch.randn(6, 5), torch.randn(6, 1)
    a3, b3 = torch.randn(3, 6, 8), torch.randn(3, 8, 5)
    x3, weight = torch.randn(2, 3, 8), torch.nn.Parameter(torch.randn(5, 8))
    out2, out3, out_linear = torch.empty(6, 5), torch.empty(3, 6, 5), torch.empty(2, 3, 5)
    F = torch.nn.functional
    return {
        "mm": (lambda: gemmtune.mm(a, b), lambda: a @ b),
        "mm b transposed": (lambda: gemmtune.mm(a, b.t().contiguous().t()), lambda: a @ b),
        "mm relu": (lambda: gemmtune.mm(a, b, activation="relu"), lambda: torch.relu(a @ b)),
        "mm out=": (lambda: gemmtune.mm(a, b, out=out2).clone(), lambda: a @ b),
        "addmm row bias": (lambda: gemmtune.addmm(bias_row, a, b), lambda: torch.addmm(bias_row, a, b)),
        "addmm full bias, alpha, beta": (lambda: gemmtune.addmm(bias_full, a, b, beta=0.5, alpha=2),
                                         lambda: torch.addmm(bias_full, a, b, beta=0.5, alpha=2)),
        "addmm column bias (expanded)": (lambda: gemmtune.addmm(bias_column, a, b),
                                         lambda: torch.addmm(bias_column, a, b)),
        "addmm int alpha, out=": (lambda: gemmtune.addmm(bias_row, a, b, alpha=3, out=out2).clone(),
                                  lambda: torch.addmm(bias_row, a, b, alpha=3)),
        "bmm": (lambda: gemmtune.bmm(a3, b3), lambda: torch.bmm(a3, b3)),
        "bmm shared b": (lambda: gemmtune.bmm(a3, b[None].expand(3, 8, 5)), lambda: a3 @ b),
        "bmm out=": (lambda: gemmtune.bmm(a3, b3, out=out3).clone(), lambda: torch.bmm(a3, b3)),
        "baddbmm full bias": (lambda: gemmtune.baddbmm(out3.clone().fill_(0.25), a3, b3, beta=2),
                              lambda: torch.baddbmm(torch.full((3, 6, 5), 0.25), a3, b3, beta=2)),
        "baddbmm row bias (expanded)": (lambda: gemmtune.baddbmm(bias_row, a3, b3),
                                        lambda: torch.baddbmm(bias_row, a3, b3)),
        "linear": (lambda: gemmtune.linear(a, weight.detach(), bias_row), lambda: F.linear(a, weight.detach(), bias_row)),
        "linear parameter, flattened x": (lambda: gemmtune.linear(x3, weight, bias_row),
                                          lambda: F.linear(x3, weight, bias_row)),
        "linear flattened, no bias, out=": (lambda: gemmtune.linear(x3, weight, out=out_linear).clone(),
                                            lambda: F.linear(x3, weight)),
        "linear gelu_tanh": (lambda: gemmtune.linear(a, weight, bias_row, "gelu_tanh"),
                             lambda: F.gelu(F.linear(a, weight, bias_row), approximate="tanh")),
    }


@needs_torch
@pytest.mark.parametrize("first", ["python", "native"])
def test_both_paths_give_identical_results_from_one_memo(both, first):
    tuner = gemmtune.default_tuner()
    with torch.no_grad():
        for name, (call, reference) in _cases().items():
            before = len(tuner._fast)
            results = both.run(call, first)
            # The path called second hit the entry the first one made: one key, one memo.
            assert len(tuner._fast) == before + 1, name
            assert torch.equal(results["python"], results["native"]), name
            close(results["native"], reference())
            again = both.run(call, first)  # hits on both
            assert len(tuner._fast) == before + 1, name
            assert torch.equal(again["native"], results["native"]), name


@needs_torch
def test_the_c_key_is_the_python_key(both):
    tuner = gemmtune.default_tuner()
    a, b, bias, out = torch.randn(4, 6), torch.randn(6, 3), torch.randn(3), torch.empty(4, 3)
    module = _capi.fast_path_module
    with torch.no_grad():
        for op, args in (("mm", (a, b, None, "none", 1.0, 1.0)), ("addmm", (a, b, bias, "relu", 2.0, 0.5)),
                         ("linear", (a, b.t(), bias, "none", 1.0, 1.0))):
            for target in (None, out):
                ops._use_fast_path(False)
                tuner.forget()
                ops._fast(tuner, op, *args, target)
                (python_key,) = tuner._fast
                assert module.key(op, *args, target) == python_key
                assert hash(module.key(op, *args, target)) == hash(python_key)


@needs_torch
def test_misses_call_the_python_entry_builder_once_then_hit(both, monkeypatch):
    calls = []
    build = ops._fast_entry

    def counting(*args):
        calls.append(args[2])
        return build(*args)

    monkeypatch.setattr(ops, "_fast_entry", counting)  # the C path reads ops' globals per call
    a, b = torch.randn(5, 7), torch.randn(7, 2)
    with torch.no_grad():
        for _ in range(5):
            close(gemmtune.mm(a, b), a @ b)
        close(gemmtune.mm(a.t().contiguous().t(), b), a @ b)  # another layout: another miss
    assert calls == ["mm", "mm"]


@needs_torch
def test_errors_come_through_typed_on_both_paths(both):
    a, b = torch.randn(4, 5), torch.randn(5, 3)
    with torch.no_grad():
        gemmtune.mm(a, b)
        # A meta tensor has the key of a CPU one and a null pointer, which the
        # C library refuses on the memo hit: its typed error, not a crash.
        meta = (torch.empty(4, 5, device="meta"), torch.empty(5, 3, device="meta"))
        for call, error, match in (
                (lambda: gemmtune.mm(*meta), gemmtune.InvalidProblemError, "a.data is null"),
                (lambda: gemmtune.mm(a, b, activation="bogus"), gemmtune.InvalidProblemError, "unknown activation"),
                (lambda: gemmtune.mm(a, torch.randn(6, 3)), gemmtune.InvalidProblemError, "inner sizes differ"),
                (lambda: gemmtune.addmm(torch.randn(3), a, b, alpha="x"), ValueError, "could not convert"),
                (lambda: gemmtune.mm(a, b, out=[0]), TypeError, "out must be a NumPy array or a torch tensor, got "
                 "list")):
            for native in (False, True):
                ops._use_fast_path(native)
                with pytest.raises(error, match=match):
                    call()


@needs_torch
def test_a_failed_kernel_call_is_the_c_librarys_typed_error(both):
    tuner = gemmtune.default_tuner()
    a, b = torch.randn(3, 4), torch.randn(4, 2)
    with torch.no_grad():
        gemmtune.mm(a, b)
        ((key, entry),) = tuner._fast.items()
        tuner._fast[key] = entry[:1] + (None,) + entry[2:]  # no selection handle: the library says so
        raised = []
        for native in (False, True):
            ops._use_fast_path(native)
            with pytest.raises(gemmtune.Error, match="selection must not be NULL") as error:
                gemmtune.mm(a, b)
            raised.append((type(error.value), str(error.value)))
        assert raised[0] == raised[1], raised
        # The selection is still usable on both paths after the error (its
        # runs take turns in the C API, whose lock the failed call released).
        tuner._fast[key] = entry
        for native in (False, True):
            ops._use_fast_path(native)
            assert torch.allclose(gemmtune.mm(a, b), a @ b, atol=1e-5)


@needs_torch
def test_odd_inputs_go_the_general_route_on_the_c_path(gemmtune_module):
    import numpy as np

    a, b = torch.randn(3, 4), torch.randn(4, 2)
    direct = _capi.fast_path_module.direct
    assert direct("mm", np.ones((3, 4)), b, None, None, None, 1.0, 1.0, None) is None
    assert direct("mm", a, [1, 2], None, None, None, 1.0, 1.0, None) is None
    assert direct("addmm", a, b, 3.0, None, None, 1.0, 1.0, None) is None
    with pytest.raises(TypeError, match="9 arguments"):
        direct("mm", a, b)
    with pytest.raises(TypeError, match="8 or 9 arguments"):
        _capi.fast_path_module.fast()
    with torch.enable_grad():  # autograd must record it: not the fast path
        assert direct("mm", a.requires_grad_(), b, None, None, None, 1.0, 1.0, None) is None
    # NumPy arrays through the ops: the general route, with the C path in use.
    x, y = np.arange(12, dtype=np.float32).reshape(3, 4), np.ones((4, 2), dtype=np.float32)
    assert np.array_equal(gemmtune.mm(x, y), x @ y)
    with pytest.raises(TypeError, match="a must be a NumPy array or a torch tensor, got list"):  # on either path
        gemmtune.mm([[1.0]], "not an array")


@needs_torch
def test_capture_records_fast_path_calls_on_both_paths(both, tmp_path):
    a, b, bias = torch.randn(4, 6), torch.randn(6, 3), torch.randn(3)
    lines = {}
    with torch.no_grad():
        gemmtune.mm(a, b)  # tuned before the capture: later calls are memo hits
        for native in (False, True):
            ops._use_fast_path(native)
            path = tmp_path / f"{native}.workload"
            with gemmtune.capture(str(path)):
                gemmtune.mm(a, b)
                gemmtune.addmm(bias, a, b, activation="relu")
            lines[native] = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[True] == lines[False] and len(lines[True]) == 2, lines


def test_numpy_path_works_without_torch(run_python):
    # torch absent (an import of it fails): gemmtune and its C fast path load,
    # and NumPy arrays take the general route.
    code = ("import sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ImportError('torch is not installed here')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "import numpy as np, gemmtune\n"
            "assert gemmtune.fast_path().native, gemmtune.fast_path()\n"
            "gemmtune.configure(budget_ms=1, warmup=1, min_repeats=2)\n"
            "a, b = np.arange(12, dtype=np.float32).reshape(3, 4), np.ones((4, 5), dtype=np.float32)\n"
            "for _ in range(2):\n"
            "    assert np.array_equal(gemmtune.mm(a, b), a @ b)\n"
            "    assert np.allclose(gemmtune.addmm(np.ones(5, np.float32), a, b, beta=2), a @ b + 2)\n"
            "assert 'gemmtune.torch' not in sys.modules and 'torch' not in sys.modules\n")
    run_python(code)


@pytest.mark.parametrize("extension", ["absent", "broken"])
def test_without_a_loadable_extension_the_python_path_runs_and_says_why(tmp_path, run_python, extension):
    # A copy of the library in a folder of its own: no extension beside it,
    # or a file of that name that is no extension.
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy2(os.path.realpath(_capi.path), folder / "libgemmtune_c.so")
    if extension == "broken":
        (folder / "_fastpath.abi3.so").write_bytes(b"not a shared object")
    code = ("import gemmtune, numpy as np\n"
            "path = gemmtune.fast_path()\n"
            "print(path.detail)\n"
            "assert not path.native\n"
            "gemmtune.configure(budget_ms=1, warmup=1, min_repeats=2, isolation='none')\n"
            "a, b = np.arange(12, dtype=np.float32).reshape(3, 4), np.ones((4, 5), dtype=np.float32)\n"
            "assert np.array_equal(gemmtune.mm(a, b), a @ b)\n"
            "try:\n"
            "    import torch\n"
            "except ImportError:\n"
            "    torch = None\n"
            "if torch is not None:\n"
            "    x, y = torch.randn(3, 4), torch.randn(4, 5)\n"
            "    for _ in range(2):\n"
            "        torch.testing.assert_close(gemmtune.mm(x, y), x @ y)\n")
    said = run_python(code, GEMMTUNE_C_LIB=str(folder / "libgemmtune_c.so"))
    assert {"absent": "no _fastpath.abi3.so beside", "broken": "does not load"}[extension] in said, said
