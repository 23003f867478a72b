"""Python reads the one option table of the C++ code: the same names as the
CLI flags and GEMMTUNE_* variables, the same parsers and errors."""

import pytest

import gemmtune
from gemmtune import options


def test_table_names_match_cli_flags_and_variables():
    by_name = {o.name: o for o in options.TABLE}
    assert by_name["fallback_to_library"].flag == "--fallback-to-library"
    assert by_name["fallback_to_library"].env == "GEMMTUNE_FALLBACK_TO_LIBRARY"
    assert by_name["budget_ms"].flag == "--budget-ms"
    assert by_name["cache_dir"].env == "GEMMTUNE_CACHE_DIR"
    assert "log" not in options.names()  # process-wide: environment only
    for name in ("backends", "search_space", "fallback_to_library", "cache_dir", "verify", "threads"):
        assert name in options.names()


def test_unknown_keyword_is_a_config_error_listing_the_valid_names():
    with pytest.raises(gemmtune.ConfigError) as e:
        gemmtune.Tuner(colour="blue")
    assert "colour" in str(e.value) and "fallback_to_library" in str(e.value)


def test_malformed_value_is_a_config_error_naming_the_option():
    with pytest.raises(gemmtune.ConfigError, match="option budget_ms expects a positive number"):
        gemmtune.Tuner(budget_ms=-1)
    with pytest.raises(gemmtune.ConfigError, match="search_space"):
        gemmtune.Tuner(search_space="huge")


def test_unknown_backend_lists_the_valid_names():
    with pytest.raises(gemmtune.ConfigError) as e:
        gemmtune.Tuner(backends=["BLAS", "CUTLASS"])
    assert "CUTLASS" in str(e.value) and "ONEDNN" in str(e.value)


def test_keyword_beats_environment_which_beats_default(monkeypatch):
    monkeypatch.setenv("GEMMTUNE_BACKENDS", "BLAS")
    assert gemmtune.Tuner(cache=False).enabled == ["BLAS"]
    assert gemmtune.Tuner(backends="cpp", cache=False).enabled == ["CPP"]
    monkeypatch.delenv("GEMMTUNE_BACKENDS")
    assert "REFERENCE" not in gemmtune.Tuner(cache=False).enabled
    assert "BLAS" in gemmtune.Tuner(cache=False).enabled


def test_malformed_environment_variable_names_the_variable(monkeypatch):
    monkeypatch.setenv("GEMMTUNE_VERIFY", "sometimes")
    with pytest.raises(gemmtune.ConfigError, match="GEMMTUNE_VERIFY"):
        gemmtune.Tuner()


def test_cache_dir_places_the_database(tmp_path):
    tuner = gemmtune.Tuner(cache_dir=tmp_path / "here")
    assert tuner.db_path == str(tmp_path / "here" / "tuning.db")
    assert gemmtune.Tuner(cache=False).db_path == ""


def test_describe_lists_every_option_with_its_flag_and_variable():
    text = options.describe()
    assert "--fallback-to-library" in text and "GEMMTUNE_FALLBACK_TO_LIBRARY" in text


@pytest.mark.parametrize("name, value", [("backends", "BLAS\0CPP"), ("backends", ["BLAS", "CPP\0"]),
                                         ("cache_dir", "/tmp/gemmtune\0/etc"), ("search_space", "default\0")])
def test_an_embedded_nul_in_an_option_is_a_config_error_naming_the_option(name, value):
    # The C API takes C strings: the value would end at the NUL (BLAS alone
    # enabled, another folder used) without a word.
    with pytest.raises(gemmtune.ConfigError, match=f"option {name}: .* contains a NUL character"):
        gemmtune.Tuner(**{name: value})
