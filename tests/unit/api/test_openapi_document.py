"""The OpenAPI document a person reads and a generator consumes: readable ids, valid examples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from taskyard_api import create_app
from taskyard_api.openapi_examples import SUBMIT_EXAMPLES
from taskyard_common.contracts import SubmitRequest
from taskyard_common.settings import Settings
from taskyard_common.topology import TASK_TYPES

CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)*$")
EXPECTED_IDS = {
    ("post", "/api/tasks"): "submitTask",
    ("get", "/api/tasks"): "listTasks",
    ("get", "/api/tasks/{task_id}"): "getTask",
    ("delete", "/api/tasks/{task_id}"): "cancelTask",
    ("post", "/api/tasks/{task_id}/retry"): "retryTask",
    ("post", "/api/files"): "uploadFile",
    ("get", "/api/files/{file_id}"): "downloadFile",
    ("get", "/api/files"): "listFiles",
    ("get", "/api/files/{file_id}/metadata"): "getFileMetadata",
    ("delete", "/api/files/{file_id}"): "deleteFile",
    ("get", "/api/queues"): "listQueues",
    ("get", "/api/workers"): "listWorkers",
    ("get", "/healthz"): "getLiveness",
    ("get", "/readyz"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("files")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_url=f"file://{folder}",
        rate_limit_storage_url="memory://",
        log_format="console",
    )
    response = create_app(settings).test_client().get("/api/openapi.json")
    assert response.status_code == 200
    result: dict[str, Any] = response.get_json()
    return result


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def test_every_operation_has_a_unique_camel_case_id(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for operation in _operations(document).values()]
    assert all(CAMEL_CASE.match(operation_id) for operation_id in ids), ids
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("operation", "operation_id"), EXPECTED_IDS.items())
def test_operation_ids(
    document: dict[str, Any], operation: tuple[str, str], operation_id: str
) -> None:
    assert _operations(document)[operation]["operationId"] == operation_id


def test_submit_has_one_example_per_task_type_data_first(document: dict[str, Any]) -> None:
    content = document["paths"]["/api/tasks"]["post"]["requestBody"]["content"]
    examples = content["application/json"]["examples"]
    assert list(examples) == ["data", "email", "file"]
    assert sorted(example["value"]["type"] for example in examples.values()) == sorted(TASK_TYPES)


@pytest.mark.parametrize("name", SUBMIT_EXAMPLES)
def test_each_submit_example_is_a_valid_submit_body(name: str) -> None:
    submission = SubmitRequest.model_validate(SUBMIT_EXAMPLES[name]["value"]).root
    assert submission.type == name


def test_the_schedule_fields_are_documented(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    submit = schemas["DataSubmission"]["properties"]
    assert submit["run_at"]["anyOf"][0] == {"format": "date-time", "type": "string"}
    assert submit["delay_seconds"]["anyOf"][0] == {"minimum": 0, "type": "integer"}
    assert "TASKYARD_MAX_SCHEDULE_SECONDS" in submit["delay_seconds"]["description"]
    assert "run_at" in schemas["TaskRecord"]["properties"]
    assert "SCHEDULED" in schemas["TaskStatus"]["enum"]
