"""gemmtune with PyTorch on the CPU: the ops equal torch's, results land in
the caller's tensors, the registered torch ops work eagerly, on meta tensors
and under autograd, Linear is a drop-in for nn.Linear, swap_linear rewrites a
model (fusing activations), and torch.compile traces it where torch has it.

Runs wherever torch is installed (Debian 12's python3-torch 1.13 here; the
GPU machine's torch 2.11 runs these and the CUDA ones in gpu_check.py)."""

import copy

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (Debian: python3-torch)")

import gemmtune  # noqa: E402
import gemmtune.torch as gt  # noqa: E402

F = torch.nn.functional
torch.manual_seed(0)


def close(x, y, tol=1e-4):
    torch.testing.assert_close(x, y, rtol=tol, atol=tol)


def library_supports(activation):
    try:
        gemmtune.Tuner(backends="REFERENCE", cache=False).explain(
            gemmtune.Problem.dense("mm", 2, 2, 2, activation=activation))
        return True
    except gemmtune.InvalidProblemError:
        return False


ACTIVATIONS = [("relu", torch.relu), ("gelu", F.gelu), ("silu", F.silu),
               ("gelu_tanh", lambda z: F.gelu(z, approximate="tanh"))]


@pytest.mark.parametrize("name,reference", ACTIVATIONS)
def test_linear_with_fused_activation_equals_torch(gemmtune_module, name, reference):
    if not library_supports(name):
        pytest.skip(f"this libgemmtune_c has no '{name}' activation yet")
    x, w, b = torch.randn(3, 5, 16), torch.randn(24, 16), torch.randn(24)
    with torch.no_grad():
        close(gemmtune.linear(x, w, b, activation=name), reference(F.linear(x, w, b)))


def test_mm_addmm_bmm_equal_torch_on_views(gemmtune_module):
    a, b = torch.randn(20, 40), torch.randn(30, 40)
    close(gemmtune.mm(a[:, 4:36], b[::2, 4:36].t()), a[:, 4:36] @ b[::2, 4:36].t())
    bias = torch.randn(15)
    close(gemmtune.addmm(bias, a, b[:15].t(), beta=0.5, alpha=1.5), torch.addmm(bias, a, b[:15].t(), beta=0.5,
                                                                                 alpha=1.5))
    x, y = torch.randn(4, 6, 8), torch.randn(4, 8, 5)
    close(gemmtune.bmm(x, y), torch.bmm(x, y))
    close(gemmtune.bmm(x, y[:1].expand(4, 8, 5)), torch.bmm(x, y[:1].expand(4, 8, 5)))


def test_result_is_written_into_out(gemmtune_module):
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    out = torch.full((8, 8), float("nan"))
    assert gemmtune.mm(a, b, out=out).data_ptr() == out.data_ptr()
    close(out, a @ b)


def test_registered_ops_run_eagerly_and_on_meta_tensors():
    x, w, b = torch.randn(4, 16), torch.randn(8, 16), torch.randn(8)
    close(torch.ops.gemmtune.linear(x, w, b, "relu"), torch.relu(F.linear(x, w, b)))
    meta = torch.ops.gemmtune.linear(torch.empty(2, 3, 16, device="meta"), torch.empty(8, 16, device="meta"), None,
                                     "none")
    assert meta.shape == (2, 3, 8) and meta.device.type == "meta"
    assert torch.ops.gemmtune.bmm(torch.empty(2, 3, 4, device="meta"), torch.empty(2, 4, 5, device="meta"),
                                  "none").shape == (2, 3, 5)


@pytest.mark.parametrize("activation", [None, "gelu"])
def test_gradients_equal_torch(gemmtune_module, activation):
    x = torch.randn(3, 4, 16, requires_grad=True)
    w = torch.randn(8, 16, requires_grad=True)
    b = torch.randn(8, requires_grad=True)
    y = gemmtune.linear(x, w, b, activation=activation)
    (y * torch.arange(8.0)).sum().backward()
    grads = [t.grad.clone() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    z = F.linear(x, w, b)
    ref = F.gelu(z) if activation == "gelu" else z
    (ref * torch.arange(8.0)).sum().backward()
    for got, want in zip(grads, (x.grad, w.grad, b.grad)):
        close(got, want)
    assert y.grad_fn is not None


def test_linear_is_a_drop_in_for_nn_linear(gemmtune_module):
    reference = torch.nn.Linear(16, 8)
    ours = gt.Linear.from_linear(reference)
    assert isinstance(ours, torch.nn.Linear)
    assert ours.weight is reference.weight  # shared, not copied
    assert set(ours.state_dict()) == set(reference.state_dict())
    x = torch.randn(5, 16)
    with torch.no_grad():
        close(ours(x), reference(x))
    fresh = gt.Linear(16, 8, activation="relu")
    with torch.no_grad():
        close(fresh(x), torch.relu(F.linear(x, fresh.weight, fresh.bias)))


def test_swap_linear_rewrites_a_model_and_fuses_its_activations(gemmtune_module):
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 4), torch.nn.ReLU())
    original = copy.deepcopy(model)
    gt.swap_linear(model)
    assert isinstance(model[0], gt.Linear) and model[0].activation == "gelu"
    assert isinstance(model[1], torch.nn.Identity) and model[2].activation == "relu"
    x = torch.randn(6, 16)
    with torch.no_grad():
        close(model(x), original(x))


def test_swap_linear_leaves_subclasses_and_vetoed_modules():
    attention = torch.nn.MultiheadAttention(16, 2)
    model = torch.nn.ModuleDict({"attn": attention, "keep": torch.nn.Linear(4, 4), "swap": torch.nn.Linear(4, 4)})
    gt.swap_linear(model, predicate=lambda name, module: name != "keep")
    assert type(model["keep"]) is torch.nn.Linear and isinstance(model["swap"], gt.Linear)
    assert not isinstance(attention.out_proj, gt.Linear)  # a subclass the attention reads directly


def test_capture_records_nn_linear_under_inference_mode_too(tmp_path, gemmtune_module):
    # Under torch.inference_mode the dispatcher shows the mode aten.linear
    # rather than its addmm (found on the GPU machine's torch 2.11: the
    # capture came back empty); a 3-D input is flattened to (rows, k).
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(approximate="tanh"),
                                torch.nn.Linear(32, 8, bias=False))
    with torch.inference_mode(), gemmtune.capture(tmp_path / "inference.workload") as captured:
        model(torch.randn(2, 4, 16))
    lines = dict(captured.problems)
    assert lines.get("addmm 8x32x16 --dtype f32 --layout nt --bias row --activation gelu_tanh") == 1, lines
    assert lines.get("mm 8x8x32 --dtype f32 --layout nt") == 1, lines
    assert len(lines) == 2, lines  # nothing counted twice (linear and the addmm inside it)


def test_capture_records_a_plain_torch_model_with_its_activation(tmp_path, gemmtune_module):
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(approximate="tanh"), torch.nn.Linear(32, 8))
    path = tmp_path / "model.workload"
    with torch.no_grad(), gemmtune.capture(path) as captured:
        model(torch.randn(4, 16))
        model(torch.randn(4, 16))
        torch.bmm(torch.randn(2, 3, 5), torch.randn(2, 5, 7))
    lines = dict(captured.problems)
    assert lines["addmm 4x32x16 --dtype f32 --layout nt --bias row --activation gelu_tanh"] == 2
    assert lines["addmm 4x8x32 --dtype f32 --layout nt --bias row"] == 2
    assert lines["bmm 2x3x7x5 --dtype f32 --layout nn"] == 1
    text = path.read_text()
    assert "calls=2" in text and text.startswith("# gemmtune workload")


def test_capture_records_gemmtune_ops_exactly(tmp_path, gemmtune_module):
    x, w = torch.randn(4, 16), torch.randn(8, 16)
    with torch.no_grad(), gemmtune.capture() as captured:
        gemmtune.linear(x, w, activation="relu")
    assert captured.problems == [("mm 4x8x16 --dtype f32 --layout nt --activation relu", 1)]


def test_torch_compile_traces_gemmtune_ops_without_graph_breaks(gemmtune_module):
    if not hasattr(torch, "compile"):
        pytest.skip(f"torch {torch.__version__} has no torch.compile (it came in 2.0)")
    model = gt.swap_linear(torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8)))
    x = torch.randn(4, 16)
    # aot_eager: dynamo's tracing and fake tensors without Inductor's C++ toolchain
    # (the GPU machine's check compiles with Inductor).
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        close(compiled(x), model(x))


def test_out_or_tuner_under_autograd_is_refused_not_silently_ungraded(gemmtune_module):
    x, w = torch.randn(2, 4, requires_grad=True), torch.randn(3, 4)
    with pytest.raises(TypeError, match="eagerly on plain tensors"):
        gemmtune.linear(x, w, out=torch.empty(2, 3))
    with pytest.raises(TypeError, match="eagerly on plain tensors"):
        gemmtune.mm(x, w.t(), tuner=gemmtune.default_tuner())


def test_expanded_and_batched_biases_are_used_in_place_or_broadcast(gemmtune_module):
    a, b = torch.randn(6, 8), torch.randn(8, 5)
    row = torch.randn(5)
    close(gemmtune.addmm(row.expand(6, 5), a, b), torch.addmm(row, a, b))  # stride 0 down the rows: a row bias
    column = torch.randn(6, 1)
    close(gemmtune.addmm(column.expand(6, 5), a, b), torch.addmm(column, a, b))
    x, y = torch.randn(3, 6, 8), torch.randn(3, 8, 5)
    per_batch = torch.randn(3, 6, 5)
    close(gemmtune.baddbmm(per_batch, x, y, beta=0.5), torch.baddbmm(per_batch, x, y, beta=0.5))
    per_batch_row = torch.randn(3, 1, 5)
    close(gemmtune.baddbmm(per_batch_row, x, y), torch.baddbmm(per_batch_row, x, y))
    close(gemmtune.baddbmm(row, x, y), torch.baddbmm(row, x, y))


@pytest.mark.parametrize("shape", [(5, 7), (1, 1), (0, 4), (3, 0), (2, 3, 4), (7,)])
def test_results_are_allocated_row_major_like_torch_empty(shape):
    like = torch.randn(3, dtype=torch.float64)
    result = gt.result_allocator(like, torch.Size(shape))()
    expected = torch.empty(shape, dtype=torch.float64)
    assert (result.shape, result.stride(), result.dtype, result.device) == \
        (expected.shape, expected.stride(), expected.dtype, expected.device)


def test_private_result_allocator_is_used_only_when_it_works(monkeypatch):
    like = torch.randn(3)
    calls = []

    def working(shape, strides, dtype):
        calls.append((shape, strides, dtype))
        return torch.empty_strided(shape, strides, dtype=dtype)

    monkeypatch.setattr(gt, "_empty_strided_cpu", working)
    result = gt.result_allocator(like, (4, 6))()
    assert calls[-1] == ((4, 6), (6, 1), torch.float32) and result.shape == (4, 6)

    def changed(*args):  # what a torch with other arguments would do
        raise TypeError("changed signature")

    monkeypatch.setattr(gt, "_empty_strided_cpu", changed)
    result = gt.result_allocator(like, (4, 6))()
    assert result.shape == (4, 6) and result.is_contiguous()
    monkeypatch.setattr(gt, "_empty_strided_cpu", lambda shape, strides, dtype: torch.empty(1))  # wrong result
    assert gt.result_allocator(like, (4, 6))().shape == (4, 6)


def test_memo_keys_every_operand_layout_and_device(gemmtune_module):
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    gemmtune.mm(a, b)
    # Same layout of `a`; `b` on another device (meta: index -1 like the CPU)
    # or transposed must not reuse the entry.
    with pytest.raises((gemmtune.InvalidProblemError, ValueError)):
        gemmtune.mm(a, torch.empty(8, 8, device="meta"))
    close(gemmtune.mm(a, b.t()), a @ b.t())
    bias = torch.randn(8)
    close(gemmtune.addmm(bias, a, b), torch.addmm(bias, a, b))
    close(gemmtune.addmm(bias[:1].expand(8), a, b), torch.addmm(bias[:1].expand(8), a, b))
    out = torch.empty(8, 8)
    close(gemmtune.mm(a, b, out=out.t()), a @ b)


def test_linear_into_an_out_that_cannot_be_flattened_is_refused(gemmtune_module):
    x, w = torch.randn(2, 3, 8), torch.randn(4, 8)
    out = torch.empty(3, 2, 4).transpose(0, 1)  # (2, 3, 4) whose rows are not (6, 4) in memory
    with pytest.raises(gemmtune.InvalidProblemError, match="copy"):
        gemmtune.linear(x, w, out=out)


def test_inductor_bridge_says_plainly_when_torch_has_no_hook():
    import gemmtune.inductor as gi

    config = None
    try:
        import torch._inductor.config as config
    except ImportError:
        pass
    if config is not None and hasattr(config, "external_matmul"):
        options = gi.options()
        assert options["max_autotune"] and gi.choice() in options["external_matmul"]
        assert gi.register() in config.external_matmul
        gi.unregister()
        assert gi.choice() not in config.external_matmul
    else:
        with pytest.raises(gi.InductorHookUnavailable, match=torch.__version__.split("+")[0]):
            gi.options()


def test_fast_path_keeps_one_entry_per_layout_and_routes_what_it_must_not_take(gemmtune_module):
    tuner = gemmtune.default_tuner()
    a, b, bias = torch.randn(6, 8), torch.randn(8, 5), torch.randn(5)
    with torch.no_grad():
        first = gemmtune.mm(a, b)
        entries = dict(tuner._fast)
        for _ in range(3):
            close(gemmtune.mm(a.clone(), b.clone()), first)
        assert len(tuner._fast) == len(entries) == 1
        assert all(tuner._fast[key] is entry for key, entry in entries.items())  # reused, not rebuilt
    # Only the bias needs a gradient: autograd's op, not the fast path.
    grad_bias = bias.clone().requires_grad_()
    for y in (gemmtune.addmm(grad_bias, a, b), gemmtune.linear(a, b.t(), grad_bias)):
        assert y.grad_fn is not None
        close(y, torch.addmm(bias, a, b))
    with torch.no_grad():  # the same call without autograd: fast, no graph
        assert gemmtune.linear(a, b.t(), grad_bias).grad_fn is None

    class Sub(torch.Tensor):
        pass

    # A subclass is never taken by the fast path (its own torch function may
    # mean anything); the registered op computes it.
    close(gemmtune.bmm(a[None].as_subclass(Sub), b[None]).as_subclass(torch.Tensor), (a @ b)[None])


@pytest.mark.parametrize("native", [True, False], ids=["C fast path", "Python path"])
def test_fast_path_memo_is_shared_by_threads_without_a_lock(gemmtune_module, native):
    import threading

    from gemmtune import ops

    ops._use_fast_path(native)  # the C one where it loaded (test_fastpath.py checks that it did)
    try:
        shapes = [(4, 8, 6), (5, 3, 7), (9, 9, 2)]
        tensors = [(torch.randn(m, k), torch.randn(k, n), torch.randn(n)) for m, k, n in shapes]
        expected = [(x @ y, torch.addmm(bias, x, y)) for x, y, bias in tensors]
        errors = []

        def work(offset):
            try:
                with torch.no_grad():
                    for i in range(60):
                        j = (i + offset) % len(tensors)
                        x, y, bias = tensors[j]
                        close(gemmtune.mm(x, y), expected[j][0])
                        close(gemmtune.addmm(bias, x, y), expected[j][1])
            except Exception as e:  # reported on the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(gemmtune.default_tuner()._fast) == 2 * len(shapes)
    finally:
        ops._use_fast_path(True)


def test_the_first_tensor_call_before_gemmtune_torch_takes_the_general_route(run_python):
    # gemmtune imported before torch: gemmtune.torch is not loaded, the ops'
    # fast test is off, and the first tensor call loads it.
    code = ("import gemmtune, gemmtune.ops as ops, sys\n"
            "assert 'gemmtune.torch' not in sys.modules and ops._PLAIN == () and ops._is_compiling()\n"
            "gemmtune.configure(budget_ms=1, warmup=1, min_repeats=2)\n"
            "import torch\n"
            "a, b = torch.randn(4, 6), torch.randn(6, 3)\n"
            "torch.testing.assert_close(gemmtune.mm(a, b), a @ b)\n"
            "assert 'gemmtune.torch' in sys.modules and ops._PLAIN and not ops._is_compiling()\n"
            "torch.testing.assert_close(gemmtune.mm(a, b), a @ b)\n"
            "assert len(gemmtune.default_tuner()._fast) == 1\n")
    run_python(code)
