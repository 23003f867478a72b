"""gemmtune's ops and selections on NumPy arrays: results equal NumPy's, the
caller's memory is used in place, each layout is tuned once, and failures are
the typed errors with their structured parts."""

import numpy as np
import pytest

import gemmtune

RNG = np.random.default_rng(7)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def fast_tuner(**kw):
    return gemmtune.Tuner(budget_ms=1, warmup=1, min_repeats=2, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mm_equals_numpy(gemmtune_module, dtype):
    a, b = rand(17, 33, dtype=dtype), rand(33, 9, dtype=dtype)
    np.testing.assert_allclose(gemmtune.mm(a, b), a @ b, rtol=1e-4, atol=1e-4)


def test_transposed_and_strided_views_are_used_in_place(gemmtune_module):
    base_a, w = rand(40, 64), rand(24, 32)
    a = base_a[::2, 8:40]  # row stride 128, not dense: described by strides, not copied
    b = w.T                # column-major B: nn.Linear's layout
    np.testing.assert_allclose(gemmtune.mm(a, b), a @ b, rtol=1e-4, atol=1e-4)


def test_out_is_written_in_place(gemmtune_module):
    a, b = rand(8, 16), rand(16, 12)
    out = np.full((8, 12), np.nan, dtype=np.float32)
    result = gemmtune.mm(a, b, out=out)
    assert result is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-4, atol=1e-4)


def test_addmm_with_row_and_full_bias_and_activation(gemmtune_module):
    a, b = rand(6, 10), rand(10, 7)
    row, full = rand(7), rand(6, 7)
    np.testing.assert_allclose(gemmtune.addmm(row, a, b, beta=0.5, alpha=2.0), 0.5 * row + 2.0 * (a @ b),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gemmtune.addmm(full, a, b, activation="relu"), np.maximum(full + a @ b, 0),
                               rtol=1e-4, atol=1e-4)
    column = rand(6, 1)  # not a row or full bias: broadcast to a dense copy
    np.testing.assert_allclose(gemmtune.addmm(column, a, b), column + a @ b, rtol=1e-4, atol=1e-4)


def test_bmm_and_broadcast_batch(gemmtune_module):
    a, b = rand(3, 5, 8), rand(3, 8, 4)
    np.testing.assert_allclose(gemmtune.bmm(a, b), a @ b, rtol=1e-4, atol=1e-4)
    shared = np.broadcast_to(rand(1, 8, 4), (3, 8, 4))  # batch stride 0: one B for every batch
    np.testing.assert_allclose(gemmtune.bmm(a, shared), a @ shared, rtol=1e-4, atol=1e-4)


def test_linear_on_3d_input_with_bias_and_gelu(gemmtune_module):
    import math

    x, w, bias = rand(2, 5, 16), rand(12, 16), rand(12)
    z = x @ w.T + bias
    gelu = 0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    np.testing.assert_allclose(gemmtune.linear(x, w, bias, activation="gelu"), gelu, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gemmtune.linear(x, w), x @ w.T, rtol=1e-4, atol=1e-4)


def test_each_layout_is_tuned_once_then_dispatched_from_the_memo(gemmtune_module):
    tuner = gemmtune.default_tuner()
    a, b = rand(9, 9), rand(9, 9)
    gemmtune.mm(a, b)
    plans = dict(tuner._plans)
    assert len(plans) == 1
    gemmtune.mm(rand(9, 9), rand(9, 9))
    assert tuner._plans == plans  # same layout, same selection object
    gemmtune.mm(a.T, b)  # another layout: tuned on first sight
    assert len(tuner._plans) == 2


def test_select_returns_a_callable_selection_with_its_report():
    tuner = fast_tuner(backends="BLAS,CPP")
    a, b = rand(32, 48), rand(48, 16)
    sel = tuner.select("mm", a, b)
    assert sel.backend in ("BLAS", "CPP")
    assert sel.choice and sel.time_us > 0 and sel.time == pytest.approx(sel.time_us * 1e-6)
    assert not sel.fallback
    np.testing.assert_allclose(sel(a, b), a @ b, rtol=1e-4, atol=1e-4)
    text = str(sel.report)
    assert "<- selected" in text and sel.choice in text
    assert sel.record["winner"]["backend"] == sel.backend
    with pytest.raises(gemmtune.InvalidProblemError, match="differ from the ones"):
        sel(a.T.copy().T, b[:, :8])


def test_second_tuner_on_the_same_database_is_a_cache_hit(tmp_path):
    a, b = rand(16, 16), rand(16, 16)
    first = fast_tuner(backends="BLAS", cache_dir=tmp_path).select("mm", a, b)
    second = fast_tuner(backends="BLAS", cache_dir=tmp_path).select("mm", a, b)
    assert not first.cache_hit and second.cache_hit
    assert second.choice == first.choice


def test_no_valid_choices_carries_every_rejection_and_the_hint():
    tuner = fast_tuner(backends="BLAS", cache=False)
    problem = gemmtune.Problem.dense("int_mm", 16, 16, 16, dtype="i8")
    with pytest.raises(gemmtune.NoValidChoicesError) as e:
        tuner.select(problem)
    err = e.value
    assert err.status == 3 and err.enabled == ["BLAS"]
    blas = [r for r in err.rejections if r.backend == "BLAS"]
    assert blas and blas[0].stage == "enumerate" and blas[0].reason.startswith("unsupported")
    assert {h["backend"] for h in err.hints} & {"ONEDNN", "CPP"}


def test_fallback_to_library_is_opt_in_and_marked():
    problem = gemmtune.Problem.dense("mm", 8, 8, 8, dtype="f64")  # CPP has no f64 kernels; BLAS has
    with pytest.raises(gemmtune.NoValidChoicesError):
        fast_tuner(backends="CPP", cache=False).select(problem)
    sel = fast_tuner(backends="CPP", cache=False, fallback_to_library=True).select(problem)
    assert sel.fallback and sel.backend == "BLAS"


def test_invalid_problem_names_the_field(gemmtune_module):
    with pytest.raises(gemmtune.InvalidProblemError) as e:
        gemmtune.mm(rand(4, 5), rand(6, 7))
    assert e.value.field == "b"
    with pytest.raises(gemmtune.InvalidProblemError, match="activation"):
        gemmtune.mm(rand(4, 4), rand(4, 4), activation="tanh")


def test_unsupported_dtype_is_refused_before_any_work():
    with pytest.raises(TypeError, match="complex64"):
        gemmtune.mm(np.ones((2, 2), np.complex64), np.ones((2, 2), np.complex64))


def test_explain_lists_choices_without_timing():
    explained = fast_tuner(backends="BLAS,CPP", cache=False).explain(gemmtune.Problem.dense("mm", 64, 64, 64))
    assert explained["record"]["choices"] and explained["record"]["winner"] is None


def test_backends_lists_every_builtin_backend_with_availability():
    names = {name: available for name, available, _ in gemmtune.backends()}
    assert names["BLAS"] is True and "CUBLAS" in names


# The spreading itself needs GPUs: tests/core/multi_device_test.cpp runs it on
# fake ones, scripts/device/multi_gpu.sh on real ones. Here: the refusals,
# each before any work.
@pytest.mark.parametrize("devices, needle", [
    ("cuda:7", "cuda:7 is not available"),
    (["cuda:0", "cuda:0"], "cuda:0 is listed twice"),
    ("cpu", "cpu is not a GPU"),
    ("cuda:0,tpu:1", "'tpu:1' is not a GPU"),
])
def test_tune_on_devices_refuses_a_bad_device_list(gemmtune_module, devices, needle):
    with pytest.raises(gemmtune.ConfigError, match=needle):
        gemmtune.tune_on_devices([gemmtune.Problem.dense("mm", 1, 1, 1)], devices, backends="BLAS", cache=False)


def test_a_selection_outlives_its_tuner():
    import gc

    tuner = fast_tuner(backends="BLAS,CPP", cache=False)
    a, b = rand(12, 20), rand(20, 6)
    selection = tuner.select("mm", a, b)
    del tuner
    gc.collect()
    np.testing.assert_allclose(selection(a, b), a @ b, rtol=1e-4, atol=1e-4)


def test_the_inductor_choice_is_one_callable_per_tuner_however_it_is_asked_for(gemmtune_module):
    # No torch needed: choice() only builds the callable. The GPU machine's
    # torch 2.11 found choice() and choice(None) to be two callables.
    import gemmtune.inductor as gi

    assert gi.choice() is gi.choice(None) is gi.choice(tuner=None)
    tuner = object()
    assert gi.choice(tuner) is gi.choice(tuner=tuner) and gi.choice(tuner) is not gi.choice()
