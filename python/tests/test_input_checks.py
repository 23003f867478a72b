"""Bad input to the Python package gets a clear error naming the argument or
field and what is wrong, before any work: never a silently different
problem, a write into read-only memory, or a raw AttributeError from deep
inside. (Each test is named after the rule it checks.)"""

import mmap
import sys

import numpy as np
import pytest

import gemmtune
from gemmtune import Problem

RNG = np.random.default_rng(11)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.fixture
def tuner(tmp_path):
    return gemmtune.Tuner(backends="BLAS", cache_dir=tmp_path / "db", budget_ms=1, warmup=1, min_repeats=2)


def nothing_tuned(tuner):
    return not tuner._plans and not tuner._failures


# ---------------------------------------------------------------- byte order

FOREIGN = ">" if sys.byteorder == "little" else "<"


@pytest.mark.parametrize("which", ["a", "b", "bias", "out"])
def test_non_native_byte_order_is_refused_naming_the_argument_and_the_order(tuner, which):
    a, b, bias = rand(4, 3), rand(3, 5), rand(5)
    out = np.zeros((4, 5), np.float32)
    arrays = {"a": a, "b": b, "bias": bias, "out": out}
    arrays[which] = arrays[which].astype(arrays[which].dtype.newbyteorder(FOREIGN))
    order = "big-endian" if FOREIGN == ">" else "little-endian"
    with pytest.raises(TypeError, match=f"{which} holds {order} data \\('{FOREIGN}f4'\\)"):
        gemmtune.addmm(arrays["bias"], arrays["a"], arrays["b"], out=arrays["out"], tuner=tuner)
    assert nothing_tuned(tuner)


def test_non_native_byte_order_is_refused_after_the_native_layout_was_tuned(tuner):
    a, b = rand(4, 3), rand(3, 5)
    gemmtune.mm(a, b, tuner=tuner)
    swapped = a.astype(a.dtype.newbyteorder(FOREIGN))
    with pytest.raises(TypeError, match="a holds"):
        gemmtune.mm(swapped, b, tuner=tuner)  # the memo entry of the native layout must not serve it
    with pytest.raises(TypeError, match="a holds"):
        tuner.select("mm", swapped, b)


# ---------------------------------------------------------------- read-only out


def test_read_only_out_is_refused_before_any_work(tuner, tmp_path):
    a, b = np.ones((4, 4), np.float32), np.ones((4, 4), np.float32)
    immutable = bytes(64)
    out = np.frombuffer(immutable, np.float32).reshape(4, 4)
    with pytest.raises(gemmtune.InvalidProblemError, match="out is read-only") as e:
        gemmtune.mm(a, b, out=out, tuner=tuner)
    assert e.value.field == "c.data"
    assert immutable == bytes(64) and nothing_tuned(tuner)
    # A read-only mapping: writing into it would kill the process (SIGSEGV).
    path = tmp_path / "ro.bin"
    np.zeros(16, np.float32).tofile(path)
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=(4, 4))
    with pytest.raises(gemmtune.InvalidProblemError, match="out is read-only"):
        gemmtune.mm(a, b, out=mapped, tuner=tuner)
    with pytest.raises(gemmtune.InvalidProblemError, match="out is read-only"):
        tuner.select("mm", a, b, out=mapped)
    # Once the layout is tuned with a writeable out, the memo entry must not
    # let a read-only one of the same layout through.
    writeable = np.zeros((4, 4), np.float32)
    gemmtune.mm(a, b, out=writeable, tuner=tuner)
    selection = tuner.select("mm", a, b, out=writeable)
    with pytest.raises(gemmtune.InvalidProblemError, match="out is read-only"):
        gemmtune.mm(a, b, out=out, tuner=tuner)
    with pytest.raises(gemmtune.InvalidProblemError, match="out is read-only"):
        selection(a, b, out=out)
    assert immutable == bytes(64)
    assert np.array_equal(np.fromfile(path, np.float32), np.zeros(16, np.float32))


def test_read_only_inputs_are_used_in_place(tuner, tmp_path):
    a, b, bias = rand(4, 6), rand(6, 5), rand(5)
    ro = [np.frombuffer(x.tobytes(), np.float32).reshape(x.shape) for x in (a, b, bias)]
    assert not any(x.flags.writeable for x in ro)
    np.testing.assert_allclose(gemmtune.addmm(ro[2], ro[0], ro[1], tuner=tuner), bias + a @ b, rtol=1e-4, atol=1e-4)
    path = tmp_path / "a.bin"
    a.tofile(path)
    with open(path, "rb") as f:
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    mapped = np.frombuffer(mapping, np.float32).reshape(a.shape)
    np.testing.assert_allclose(gemmtune.mm(mapped, b, tuner=tuner), a @ b, rtol=1e-4, atol=1e-4)
    del mapped
    mapping.close()


# ---------------------------------------------------------------- integers


@pytest.mark.parametrize("field, value", [
    ("m", 2**64 + 8), ("m", 2**63), ("n", -2**63 - 1), ("k", 2**70), ("batch", 2**64 + 1)])
def test_integers_beyond_int64_are_refused_naming_the_field_and_value(field, value):
    sizes = {"m": 8, "n": 8, "k": 8, "batch": 1}
    sizes[field] = value
    with pytest.raises(gemmtune.InvalidProblemError, match=f"{field}: {value} does not fit") as e:
        Problem.dense("bmm", sizes["m"], sizes["n"], sizes["k"], batch=sizes["batch"])
    assert e.value.field == field


@pytest.mark.parametrize("value", [2**31, 2**32 + 16, -2**31 - 1])
def test_alignment_beyond_a_c_int_is_refused_naming_the_value(value):
    with pytest.raises(gemmtune.InvalidProblemError, match=f"alignment: {value} does not fit") as e:
        Problem.dense("mm", 8, 8, 8, alignment=value)
    assert e.value.field == "alignment"


def test_sizes_that_fit_are_passed_on_unchanged():
    p = Problem.dense("mm", 2**62, 3, 2**40, alignment=2**31 - 1)
    s = p._struct
    assert (s.m, s.n, s.k, s.alignment) == (2**62, 3, 2**40, 2**31 - 1)
    q = Problem.dense("mm", np.int64(7), np.int32(5), 3)  # NumPy integers are integers
    assert (q._struct.m, q._struct.n) == (7, 5)


def test_run_pointers_refuses_what_is_not_an_address(tuner):
    selection = tuner.select(Problem.dense("mm", 4, 4, 4))
    for bad in (-1, 2**64):
        with pytest.raises(gemmtune.InvalidProblemError, match=f"{bad} is not an address") as e:
            selection.run_pointers(bad, 64, 64)
        assert e.value.field == "a.data"
    with pytest.raises(TypeError, match="b must be an address"):
        selection.run_pointers(64, 1.5, 64)


def test_run_pointers_takes_index_types_and_ctypes_pointers_as_their_addresses(tuner):
    # np.uintp and c_void_p are addresses too: converted to the int ctypes
    # is given, not refused (c_void_p) or passed on unconverted (np.uintp).
    import ctypes
    selection = tuner.select(Problem.dense("mm", 4, 4, 4, alignment=4))
    a = rand(4, 4)
    c = np.zeros((4, 4), np.float32)
    selection.run_pointers(np.uintp(a.ctypes.data), a.ctypes.data_as(ctypes.c_void_p), c.ctypes.data)
    np.testing.assert_allclose(c, a.astype(np.float64) @ a.astype(np.float64), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- argument types


def test_arguments_of_the_wrong_type_are_type_errors_naming_them(tuner):
    a = rand(4, 4)
    cases = [
        (lambda: gemmtune.mm([[1.0, 2.0]], [[1.0], [2.0]], tuner=tuner), "gemmtune.mm: a must be a NumPy array or a "
                                                                        "torch tensor, got list"),
        (lambda: gemmtune.mm(a, "b", tuner=tuner), "gemmtune.mm: b must be .* got str"),
        (lambda: gemmtune.addmm((1.0, 2.0), a, a, tuner=tuner), "gemmtune.addmm: bias must be .* got tuple"),
        (lambda: gemmtune.mm(a, a, out=[0.0], tuner=tuner), "gemmtune.mm: out must be .* got list"),
        (lambda: gemmtune.linear(a, None, tuner=tuner), "gemmtune.linear: weight must be .* got NoneType"),
        (lambda: tuner.select("mm", a), "gemmtune.mm takes 2 arrays \\(a, b\\), got 1"),
        (lambda: Problem.dense(None, 8, 8, 8), "op must be a string, got NoneType"),
        (lambda: Problem.dense("mm", 8, 8, 8, device=0), "device must be a string, got int"),
        (lambda: Problem.dense("mm", "8", 8, 8), "m must be an integer, got str"),
        (lambda: Problem.dense("mm", 8, 8, 8.0), "k must be an integer, got float"),
        (lambda: Problem.dense("mm", 8, 8, 8, alpha="x"), "alpha must be a number, got str"),
        (lambda: gemmtune.tune_on_devices([(8, 8, 8)], "cuda:0"), "problems\\[0\\] must be a gemmtune.Problem .* "
                                                                  "got tuple"),
        (lambda: gemmtune.tune_on_devices(Problem.dense("mm", 8, 8, 8), "cuda:0"), "problems must be a list"),
        (lambda: gemmtune.tune_on_devices([Problem.dense("mm", 8, 8, 8)], [0]), "devices must be a string"),
        (lambda: tuner.explain((8, 8, 8)), "problem must be a gemmtune.Problem"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()
    assert nothing_tuned(tuner)


def test_torch_and_numpy_arrays_are_not_mixed(tuner):
    torch = pytest.importorskip("torch")
    import gemmtune.torch  # noqa: F401

    a = rand(4, 4)
    t = torch.from_numpy(a)
    for call, message in (
            (lambda: gemmtune.mm(t, a, tuner=tuner), "a is a torch tensor but b is a NumPy array"),
            (lambda: gemmtune.mm(a, t, tuner=tuner), "a is a NumPy array but b is a torch tensor"),
            (lambda: gemmtune.mm(t, t, out=np.zeros((4, 4), np.float32), tuner=tuner),
             "a is a torch tensor but out is a NumPy array"),
            (lambda: gemmtune.mm(t, [[1.0]], tuner=tuner), "b must be a NumPy array or a torch tensor, got list"),
            (lambda: gemmtune.linear(t, t, [1.0] * 4, tuner=tuner), "bias must be .* got list")):
        with pytest.raises(TypeError, match=message):
            call()


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_a_bias_that_does_not_broadcast_is_an_invalid_problem_naming_its_shape(tuner, framework):
    if framework == "torch":
        torch = pytest.importorskip("torch")

    def array(*shape):
        x = rand(*shape)
        return torch.from_numpy(x) if framework == "torch" else x

    with pytest.raises(gemmtune.InvalidProblemError,
                       match=r"bias: bias has shape \(7,\), which does not broadcast to \(4, 5\)") as e:
        gemmtune.addmm(array(7), array(4, 3), array(3, 5), tuner=tuner)
    assert e.value.field == "bias"
    with pytest.raises(gemmtune.InvalidProblemError,
                       match=r"bias has shape \(2, 3, 5\), which does not broadcast to \(3, 4, 5\)"):
        gemmtune.baddbmm(array(2, 3, 5), array(3, 4, 3), array(3, 3, 5), tuner=tuner)
    assert nothing_tuned(tuner)
    column, a, b = array(4, 1), array(4, 3), array(3, 5)  # broadcastable shapes still work (as a dense copy)
    np.testing.assert_allclose(np.asarray(gemmtune.addmm(column, a, b, tuner=tuner)),
                               np.asarray(column) + np.asarray(a) @ np.asarray(b), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- closed objects


def test_a_closed_selection_or_tuner_says_it_is_closed(tuner):
    a, b = rand(8, 8), rand(8, 8)
    selection = tuner.select("mm", a, b)
    shape_only = tuner.select(Problem.dense("mm", 8, 8, 8))
    for s in (selection, shape_only):
        s.close()
        for call in (lambda: s.record, lambda: s.report, lambda: s.run_pointers(64, 64, 64),
                     lambda: s(a, b)):
            with pytest.raises(ValueError, match="this Selection is closed"):
                call()
        assert s.backend and s.choice  # what it was stays readable
    tuner.close()
    for call in (lambda: tuner.select(Problem.dense("mm", 8, 8, 8)), lambda: tuner.select("mm", a, b),
                 lambda: tuner.explain(Problem.dense("mm", 8, 8, 8)), lambda: gemmtune.mm(a, b, tuner=tuner)):
        with pytest.raises(ValueError, match="this Tuner is closed"):
            call()


def test_a_closed_tuner_says_it_is_closed_to_the_torch_ops(tuner):
    torch = pytest.importorskip("torch")
    import gemmtune.torch  # noqa: F401
    from gemmtune import ops

    a = torch.randn(4, 4)
    with torch.no_grad():
        gemmtune.mm(a, a, tuner=tuner)
        tuner.close()
        for native in (False, True):
            ops._use_fast_path(native)
            try:
                with pytest.raises(ValueError, match="this Tuner is closed"):
                    gemmtune.mm(a, a, tuner=tuner)
            finally:
                ops._use_fast_path(True)


# ---------------------------------------------------------------- NUL characters


@pytest.mark.parametrize("field, kwargs", [
    ("op", {"op": "mm\0garbage"}), ("device", {"device": "cpu\0:9"}), ("dtype", {"dtype": "f32\0"}),
    ("layout", {"layout": "nn\0"}), ("bias", {"op": "addmm", "bias": "row\0"}), ("out_dtype", {"out_dtype": "f32\0x"})])
def test_an_embedded_nul_in_a_problem_field_is_refused_naming_the_field(field, kwargs):
    op = kwargs.pop("op", "mm")
    with pytest.raises(gemmtune.InvalidProblemError, match=f"{field}: .* contains a NUL character") as e:
        Problem.dense(op, 8, 8, 8, **kwargs)
    assert e.value.field == field


def test_an_embedded_nul_in_the_devices_is_a_config_error():
    with pytest.raises(gemmtune.ConfigError, match="devices: .* contains a NUL character"):
        gemmtune.tune_on_devices([Problem.dense("mm", 1, 1, 1)], "cuda:0\0cuda:1", backends="BLAS", cache=False)
