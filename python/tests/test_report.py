"""python -m gemmtune.report: the page lists every choice with its time and
TFLOP/s, marks the winner, lists rejections, and carries a roofline and a
speed-up plot per device that a real browser loads and draws."""

import json
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


def _report(*args, timeout=60):
    """python -m gemmtune.report ARGS in a fresh interpreter: (exit code, stderr)."""
    done = subprocess.run([sys.executable, "-m", "gemmtune.report", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stderr


def test_input_that_is_not_a_regular_file_is_refused_with_exit_2_without_reading_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = tmp_path / "r.html"
    # A FIFO would block the open forever, /dev/zero never end: both refused
    # from their kind, unopened (the timeout turns a hang into a failure).
    for source, kind in ((tmp_path, "is a folder"), (fifo, "is a FIFO"), ("/dev/zero", "is a character device")):
        code, err = _report(source, "-o", out)
        assert code == 2 and f"{source}: {kind}, not a regular file" in err, err
        assert "Traceback" not in err
    assert not out.exists()


def test_an_export_file_over_the_clis_1_gib_import_bound_is_refused(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(report.MAX_EXPORT_BYTES + 1)  # sparse: costs no disk
    code, err = _report(big, "-o", tmp_path / "r.html")
    assert code == 2 and "more than the 1073741824 bytes (1 GiB)" in err, err


def _export(tmp_path, records):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"format": "gemmtune-tuning-records", "version": 1, "records": records}))
    return path


def test_malformed_records_are_skipped_with_a_warning_naming_them(database, tmp_path):
    good = report.load_records(str(database))[0]
    bad_m = json.loads(json.dumps(good))
    bad_m["problem"]["m"] = "many"
    bad_choice = json.loads(json.dumps(good))
    bad_choice["choices"][0]["timing"] = {"median_us": None}
    out = tmp_path / "r.html"
    code, err = _report(_export(tmp_path, [good, {}, 1, bad_m, bad_choice, {"problem": []}]), "-o", out)
    assert code == 0, err
    for needle in ("records[1]: problem must be an object, not null", "records[2]: a record must be an object, not a "
                   "number", "records[3]: problem.m must be an integer", "records[4]: choices[0].timing.median_us must "
                   "be a finite number", "records[5]: problem must be an object, not an array"):
        assert needle in err, err
    assert "Traceback" not in err and "1 tuning records from" in out.read_text()


@pytest.mark.parametrize("records", [[{}], [1], [{"problem": {"op": "mm"}}]])
def test_a_file_with_no_usable_record_is_refused_with_exit_2(tmp_path, records):
    out = tmp_path / "r.html"
    code, err = _report(_export(tmp_path, records), "-o", out)
    assert code == 2 and "is a well-formed tuning record" in err and "Traceback" not in err, err
    assert not out.exists()


def test_the_output_is_checked_before_any_work(tmp_path):
    # The input is bad too: the output's fault is found first, so nothing is read.
    bad_input = _export(tmp_path, [1])
    missing = tmp_path / "missing"
    code, err = _report(bad_input, "-o", missing / "r.html")
    assert code == 2 and f"-o {missing / 'r.html'}: folder {missing} does not exist" in err, err
    code, err = _report(bad_input, "-o", tmp_path)
    assert code == 2 and "is a folder" in err, err
    fifo = tmp_path / "fifo.html"
    os.mkfifo(fifo)
    code, err = _report(bad_input, "-o", fifo)
    assert code == 2 and "is a FIFO" in err, err
    assert "Traceback" not in err


def test_the_page_replaces_a_report_keeping_its_symlink_and_permissions(database, tmp_path):
    real = tmp_path / "shared" / "report.html"
    real.parent.mkdir()
    assert report.main([str(database), "-o", str(real)]) == 0
    os.chmod(real, 0o640)
    link = tmp_path / "latest.html"
    os.symlink(real, link)
    assert report.main([str(database), "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert oct(real.stat().st_mode & 0o777) == oct(0o640)
    assert "gemmtune-report" in real.read_text()
    assert sorted(p.name for p in real.parent.iterdir()) == ["report.html"]  # no temporary file left


def test_an_sqlite_file_that_is_not_a_gemmtune_database_is_exit_2(tmp_path):
    import sqlite3

    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t(x)")
    before = foreign.read_bytes()
    code, err = _report(foreign, "-o", tmp_path / "r.html")
    assert code == 2 and "not a gemmtune database" in err and "Traceback" not in err, err
    assert foreign.read_bytes() == before
