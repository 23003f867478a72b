"""python -m gemmtune.report: the page lists every choice with its time and
TFLOP/s, marks the winner, lists rejections, and carries a roofline and a
speed-up plot per device that a real browser loads and draws."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gemmtune

pytest.importorskip("matplotlib", reason="matplotlib is not installed (Debian: python3-matplotlib)")

from gemmtune import report  # noqa: E402


@pytest.fixture
def database(tmp_path):
    """A results database with a few tunings of BLAS and CPP (and rejections)."""
    tuner = gemmtune.Tuner(backends="BLAS,CPP,ONEDNN", cache_dir=tmp_path, budget_ms=1, warmup=1, min_repeats=2)
    rng = np.random.default_rng(1)
    for m, n, k in ((16, 64, 64), (64, 64, 32), (8, 128, 64)):
        a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
        tuner.select("mm", a, b)
    tuner.select(gemmtune.Problem.dense("mm", 32, 32, 32, dtype="f64"))  # CPP rejects f64: a rejection to list
    return tmp_path / "tuning.db"


def test_report_lists_every_choice_winner_and_rejection(database, tmp_path):
    out = tmp_path / "report.html"
    assert report.main([str(database), "-o", str(out)]) == 0
    page = out.read_text()
    assert page.count("<img class='plot'") == 2  # one device: a roofline and a speed-up chart
    assert "&#9733;" in page and "class='winner'" in page
    assert "TFLOP/s" in page and "mm f32 16x64x64 nn" in page
    assert "unsupported_dtype" in page  # CPP's f64 rejection with its reason
    records = report.load_records(str(database))
    assert len(records) == 4


def test_existing_foreign_file_is_never_overwritten(database, tmp_path):
    precious = tmp_path / "notes.html"
    precious.write_text("my notes")
    with pytest.raises(SystemExit):
        report.main([str(database), "-o", str(precious)])
    assert precious.read_text() == "my notes"


def test_missing_database_is_an_error_that_creates_nothing(tmp_path):
    missing = tmp_path / "nope" / "tuning.db"
    result = subprocess.run([sys.executable, "-m", "gemmtune.report", str(missing), "-o", str(tmp_path / "r.html")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert not missing.parent.exists()


def test_roofline_uses_datasheet_peaks_for_known_gpus():
    problem = {"a": {"dtype": "bf16"}, "allow_tf32": False}
    assert report.known_peaks("NVIDIA H100 80GB HBM3", problem) == (989, 3350)
    assert report.known_peaks("NVIDIA H200", problem) == (989, 4800)
    assert report.known_peaks("Intel Xeon", problem) is None


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_plots_load_and_draw_in_a_headless_browser(database, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium here (scripts/setup.sh installs it)")
    out = tmp_path / "report.html"
    report.main([str(database), "-o", str(out)])
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run(common + ["--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'data-plots="2"' in dom.stdout and 'data-plots-loaded="2"' in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    subprocess.run(common + [f"--screenshot={shot}", "--window-size=1200,1600", out.as_uri()], capture_output=True,
                   timeout=120)
    assert shot.exists()
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    # The plots are drawn below the heading: that band must hold many colours,
    # not a blank page (a broken image shows as an empty box).
    band = pixels[150:1100, :, :3]
    colours = np.unique((band * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"only {len(colours)} colours: the plots did not draw"
    assert band.std() > 0.05
