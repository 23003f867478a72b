"""Every test runs with its own results database and a known environment:
the developer's GEMMTUNE_* settings must not change what is tested."""

import os
import subprocess
import sys

import pytest

for _name in list(os.environ):
    if _name.startswith("GEMMTUNE_") and _name not in ("GEMMTUNE_C_LIB", "GEMMTUNE_CLI"):
        del os.environ[_name]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMMTUNE_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"


@pytest.fixture
def gemmtune_module():
    """gemmtune with a fresh default tuner on fast settings (short timing budget)."""
    import gemmtune

    gemmtune.configure(budget_ms=1, warmup=1, min_repeats=2)
    yield gemmtune
    gemmtune.configure()


@pytest.fixture
def run_python(tmp_path):
    """run_python(code, **environment): runs `code` in a fresh interpreter
    (this one) with its own results database; fails the test, with its
    stderr, unless it exits 0. Returns its stdout."""
    def run(code, **environment):
        env = dict(os.environ, GEMMTUNE_CACHE_DIR=str(tmp_path / "subprocess_cache"), **environment)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout
    return run
