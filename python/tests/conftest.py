"""Every test runs with its own results database and a known environment:
the developer's GEMMTUNE_* settings must not change what is tested."""

import os

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
