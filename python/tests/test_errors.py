"""The C API's typed errors become the matching Python classes, with their
status codes (the CLI's exit codes) and structured parts."""

import json

import pytest

import gemmtune
from gemmtune import errors


def test_store_input_error_maps_from_json_as_a_store_error_and_value_error_with_status_2():
    typed = {"type": "StoreInputError", "status": 2, "message": "results database /x is not a regular file"}
    error = errors.from_json(json.loads(json.dumps(typed)))
    assert type(error) is gemmtune.StoreInputError
    assert isinstance(error, gemmtune.StoreError) and isinstance(error, ValueError)
    assert isinstance(error, gemmtune.Error)
    assert error.status == 2 and str(error) == typed["message"]
    assert errors.from_json({"type": "StoreInputError", "message": "m"}).status == 2  # its own status by default
    plain = errors.from_json({"type": "StoreError", "status": 1, "message": "disk full"})
    assert type(plain) is gemmtune.StoreError and plain.status == 1 and not isinstance(plain, ValueError)
    assert "StoreInputError" in gemmtune.__all__


def test_a_database_path_that_is_a_folder_is_a_store_input_error_with_status_2(tmp_path):
    # Needs the C API to report StoreInputError (status 2, as the CLI's exit
    # code) for a database path it cannot use; nothing is created there.
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(gemmtune.StoreInputError) as e:
        gemmtune.Tuner(backends="BLAS", db=str(folder), budget_ms=1).select(gemmtune.Problem.dense("mm", 8, 8, 8))
    assert e.value.status == 2 and str(folder) in str(e.value)
    assert list(folder.iterdir()) == []


def test_from_json_keeps_each_types_structured_parts():
    invalid = errors.from_json({"type": "InvalidProblemError", "status": 2, "message": "m", "field": "b.row_stride"})
    assert isinstance(invalid, gemmtune.InvalidProblemError) and invalid.field == "b.row_stride"
    unknown = errors.from_json({"type": "SomethingNew", "status": 1, "message": "m"})
    assert type(unknown) is gemmtune.Error and unknown.status == 1
