"""A captured workload is what `gemmtune tune --workload` needs to tune a
model offline: its lines describe each problem exactly (layouts, leading
dimensions, alignment), so the results the CLI stores are cache hits when
the program runs the same GEMMs again."""

import os
import subprocess

import numpy as np
import pytest

import gemmtune

RNG = np.random.default_rng(3)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def cli():
    path = os.environ.get("GEMMTUNE_CLI")
    if not path:
        pytest.skip("GEMMTUNE_CLI is not set (ctest sets it to the built gemmtune executable)")
    return path


def test_capture_lists_each_problem_once_with_its_call_count(tmp_path, gemmtune_module):
    x, w, bias = rand(16, 32), rand(24, 32), rand(24)
    with gemmtune.capture(tmp_path / "w.txt", torch_ops=False) as captured:
        for _ in range(3):
            gemmtune.linear(x, w, bias, activation="relu")
        gemmtune.bmm(rand(2, 4, 8), rand(2, 8, 5))
    problems = dict(captured.problems)
    assert len(problems) == 2
    [(linear_line, calls)] = [(line, n) for line, n in problems.items() if line.startswith("addmm")]
    assert calls == 3
    assert linear_line.startswith("addmm 16x24x32 --dtype f32 --layout nt --bias row --activation relu")
    text = (tmp_path / "w.txt").read_text()
    assert "calls=3" in text and "bmm 2x4x5x8" in text


def test_nothing_is_written_when_the_block_fails(tmp_path, gemmtune_module):
    target = tmp_path / "w.txt"
    target.write_text("previous workload\n")
    with pytest.raises(RuntimeError):
        with gemmtune.capture(target):
            gemmtune.mm(rand(4, 4), rand(4, 4))
            raise RuntimeError("model failed")
    assert target.read_text() == "previous workload\n"


def test_captured_workload_tuned_by_the_cli_is_a_cache_hit_at_run_time(tmp_path, gemmtune_module):
    gemmtune_cli = cli()
    x, w, bias = rand(16, 32), rand(24, 32), rand(24)
    wide = rand(16, 48)
    strided = wide[:, 8:40]  # rows 48 apart: a leading dimension a line must carry
    a3, b3 = rand(3, 6, 8), rand(3, 8, 5)
    workload = tmp_path / "model.workload"
    with gemmtune.capture(workload, torch_ops=False):
        gemmtune.linear(x, w, bias)
        gemmtune.mm(strided, w.T)
        gemmtune.bmm(a3, b3)
    text = workload.read_text()
    assert "--lda 48" in text, text
    cache = tmp_path / "cli-cache"
    run = subprocess.run([gemmtune_cli, "tune", "--workload", str(workload), "--backends", "BLAS,CPP", "--budget-ms",
                          "1", "--cache-dir", str(cache), "--quiet"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr + run.stdout
    tuner = gemmtune.Tuner(backends="BLAS,CPP", cache_dir=cache, budget_ms=1)
    for op, args in (("linear", (x, w, bias)), ("mm", (strided, w.T)), ("bmm", (a3, b3))):
        selection = tuner.select(op, *args)
        assert selection.cache_hit, f"{op}: the CLI's result was not found under the runtime's key"


@pytest.mark.parametrize("bad, message", [
    ("missing/w.workload", "folder {tmp}/missing does not exist"),
    ("folder", "is a folder"),
    ("fifo", "is a FIFO"),
    ("dangling", "is a symbolic link to a missing file"),
])
def test_a_path_that_cannot_be_written_is_refused_on_entering_before_the_work(tmp_path, gemmtune_module, bad, message):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    ran = []
    with pytest.raises(OSError) as e:
        with gemmtune.capture(tmp_path / bad):
            ran.append(True)
    assert not ran, "the captured work ran before the path was checked"
    assert f"gemmtune.capture: {tmp_path / bad}: " in str(e.value)
    assert message.format(tmp=tmp_path) in str(e.value)
    assert not gemmtune._capture.active  # nothing left registered


def test_saving_keeps_a_symlink_and_the_files_permissions(tmp_path, gemmtune_module):
    shared = tmp_path / "shared.workload"
    shared.write_text("mm 8x8x8\n")
    os.chmod(shared, 0o640)
    link = tmp_path / "link.workload"
    os.symlink("shared.workload", link)
    with gemmtune.capture(link, torch_ops=False):
        gemmtune.mm(rand(4, 4), rand(4, 4))
    assert link.is_symlink() and os.readlink(link) == "shared.workload"
    assert oct(shared.stat().st_mode & 0o777) == oct(0o640)
    assert "mm 4x4x4" in shared.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("cache")) == [
        "link.workload", "shared.workload"]  # no temporary file left


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_new_workload_file_gets_the_umasks_mode(tmp_path, gemmtune_module, umask):
    target = tmp_path / "new.workload"
    old = os.umask(umask)
    try:
        with gemmtune.capture(target, torch_ops=False):
            gemmtune.mm(rand(4, 4), rand(4, 4))
    finally:
        os.umask(old)
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~umask)
