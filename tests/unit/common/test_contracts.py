from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from taskyard_common.contracts import SubmitRequest
from taskyard_common.contracts.data import AggregateOp, DataPayload
from taskyard_common.file_ids import new_file_id

_RECORDS = {"input": {"records": [{"x": 1}]}}


def test_data_submission_defaults() -> None:
    submission = SubmitRequest.model_validate(
        {"type": "data", "payload": {"input": {"records": []}}}
    ).root
    assert submission.priority == "normal"
    assert submission.max_retries is None
    assert isinstance(submission.payload, DataPayload)
    assert submission.payload.output.format == "json"


def test_operations_are_discriminated_by_op() -> None:
    payload = DataPayload.model_validate(
        {"input": {"records": []}, "operations": [{"op": "aggregate", "metrics": {"a": ["sum"]}}]}
    )
    assert isinstance(payload.operations[0], AggregateOp)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "filter", "column": "a", "cmp": "in", "value": 1},
        {"op": "filter", "column": "a", "cmp": "==", "value": [1]},
        {"op": "filter", "column": "a", "cmp": ">", "value": True},
        {"op": "filter", "column": "a", "cmp": "~", "value": 1},
        {"op": "aggregate", "metrics": {}},
        {"op": "aggregate", "metrics": {"a": []}},
        {"op": "aggregate", "metrics": {"a": ["variance"]}},
        {"op": "select", "columns": []},
        {"op": "limit", "n": -1},
        {"op": "sort", "by": ["a"], "extra": 1},
    ],
)
def test_malformed_operations_are_rejected(operation: dict) -> None:
    with pytest.raises(ValidationError):
        DataPayload.model_validate({"input": {"records": []}, "operations": [operation]})


def test_input_is_records_or_a_stored_file_never_a_path() -> None:
    with pytest.raises(ValidationError):
        DataPayload.model_validate({"input": {"file_id": "../x", "format": "csv"}})
    with pytest.raises(ValidationError):
        DataPayload.model_validate({"input": {"file_id": "a" * 32, "format": "xlsx"}})
    DataPayload.model_validate({"input": {"file_id": "a" * 32, "format": "parquet"}})


@pytest.mark.parametrize("value", [True, False, "3", 2.5, -1, 101])
def test_max_retries_is_a_whole_number_in_range(value: object) -> None:
    with pytest.raises(ValidationError):
        SubmitRequest.model_validate({"type": "data", "payload": _RECORDS, "max_retries": value})


def test_max_retries_is_taken_as_given() -> None:
    assert (
        SubmitRequest.model_validate(
            {"type": "data", "payload": _RECORDS, "max_retries": 3}
        ).root.max_retries
        == 3
    )


def test_the_contracts_do_not_import_the_file_store() -> None:
    """Workers and the API validate payloads without loading a storage backend."""
    code = "import sys, taskyard_common.contracts; print('taskyard_common.storage' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr


def test_a_new_file_id_is_one_the_payloads_accept() -> None:
    file_id = new_file_id()
    payload = {"file_id": file_id, "operation": "checksum", "algorithm": "sha256"}
    assert (
        SubmitRequest.model_validate({"type": "file", "payload": payload}).root.payload.file_id
        == file_id
    )
    with pytest.raises(ValidationError):
        SubmitRequest.model_validate(
            {"type": "file", "payload": {**payload, "file_id": "../" + file_id}}
        )
