"""POST /api/tasks/batch refuses a bad batch whole, pointing at the item, before anything is
stored or queued (nothing listens behind this app: a batch that got further would be a 503)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from taskyard_api import create_app
from taskyard_common.settings import Settings

MAX_BATCH_TASKS = 5
MAX_RECORDS = 3
OK = {"type": "data", "payload": {"input": {"records": [{"x": 1}]}}}
EMAIL = {"type": "email", "payload": {"to": ["a@example.com"], "subject": "s", "text": "t"}}


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_url=f"file://{tmp_path}/files",
        rate_limit="off",
        redis_url="redis://127.0.0.1:1/0",
        broker_url="amqp://guest:guest@127.0.0.1:1//",
        max_batch_tasks=MAX_BATCH_TASKS,
        max_data_records=MAX_RECORDS,
        log_format="console",
    )
    return create_app(settings).test_client()


def keyed(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {**body, "idempotency_key": key}


# (the batch body, the loc of every detail of the 422)
INVALID_BATCHES = [
    ({"tasks": []}, [["tasks"]]),
    ({"tasks": [OK] * (MAX_BATCH_TASKS + 1)}, [["tasks"]]),
    ({}, [["tasks"]]),
    ({"tasks": [OK], "priority": "high"}, [["priority"]]),
    ({"tasks": [OK, EMAIL, {"type": "nope", "payload": {}}]}, [["tasks", 2, "type"]]),
    ({"tasks": [OK, {**EMAIL, "priority": "urgent"}]}, [["tasks", 1, "priority"]]),
    ({"tasks": [OK, OK, {**OK, "max_retries": -1}]}, [["tasks", 2, "max_retries"]]),
    (
        {"tasks": [OK, {**EMAIL, "payload": {"to": [], "subject": "s", "text": "t"}}]},
        [["tasks", 1, "payload", "to"]],
    ),
    ({"tasks": [{**OK, "extra": 1}]}, [["tasks", 0, "extra"]]),
    ({"tasks": [keyed(OK, "has space")]}, [["tasks", 0, "idempotency_key"]]),
    ({"tasks": [keyed(OK, "k" * 256)]}, [["tasks", 0, "idempotency_key"]]),
    (
        {"tasks": [keyed(OK, "a"), keyed(OK, "b"), keyed(EMAIL, "a")]},
        [["tasks", 2, "idempotency_key"]],
    ),
    (
        {
            "tasks": [
                OK,
                {"type": "data", "payload": {"input": {"records": [{}] * (MAX_RECORDS + 1)}}},
            ]
        },
        [["tasks", 1, "payload", "input", "records"]],
    ),
    ({"tasks": OK}, [["tasks"]]),
]


@pytest.mark.parametrize(("body", "locs"), INVALID_BATCHES)
def test_an_invalid_batch_is_422_pointing_at_the_item(
    client: FlaskClient, body: dict[str, Any], locs: list[list[Any]]
) -> None:
    response = client.post("/api/tasks/batch", json=body)

    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert [d["loc"] for d in error["details"]] == locs


def test_a_valid_batch_goes_on_to_the_backends(client: FlaskClient) -> None:
    response = client.post("/api/tasks/batch", json={"tasks": [OK, keyed(EMAIL, "k-1")]})

    assert response.status_code == 503
    assert response.headers["Retry-After"]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"tasks": [', "application/json", 400),
        (b'{"tasks": [{"type": "data", "payload": {"x": NaN}}]}', "application/json", 400),
        (b'{"tasks": []}', "text/plain", 415),
    ],
)
def test_a_batch_body_that_is_not_json_is_refused(
    client: FlaskClient, data: bytes, content_type: str, status: int
) -> None:
    response = client.post("/api/tasks/batch", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["details"] is not None


def test_the_openapi_document_describes_the_batch_endpoint(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/tasks/batch"]["post"]
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body_schema = document["components"]["schemas"][body_ref.rsplit("/", 1)[-1]]
    assert body_schema["required"] == ["tasks"]
    assert body_schema["properties"]["tasks"]["minItems"] == 1
    assert {"202", "422", "503"} <= set(operation["responses"])
    assert "Retry-After" in operation["responses"]["503"]["headers"]
