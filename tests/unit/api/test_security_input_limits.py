"""Bad and oversized input is a 4xx with the error shape before anything is stored or queued.

None of these requests reach Redis or RabbitMQ: they are refused first (the app here
has no servers behind it, so a request that got further would fail with a 503).
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from support.api_app import MakeClient
from taskyard_api.request_guards import _nesting_depth
from taskyard_common.contracts.data import MAX_STRING_VALUE_CHARS

MAX_REQUEST_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 128 * 1024
MAX_RECORDS = 50
PATH_LIKE_IDS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    "a/b",
    "..\\..\\windows",
    "0123456789abcdef0123456789abcdef/../x",
    "0123456789ABCDEF0123456789ABCDEF",
    "file:///etc/passwd",
    "%2e%2e%2fetc",
    "0123456789abcdef0123456789abcde\x00",
    "",
]


@pytest.fixture
def client(make_client: MakeClient) -> FlaskClient:
    return make_client(
        rate_limit="off",
        max_request_bytes=MAX_REQUEST_BYTES,
        max_upload_bytes=MAX_UPLOAD_BYTES,
        max_data_records=MAX_RECORDS,
    )


def _data(records: list[dict[str, Any]], **payload: Any) -> dict[str, Any]:
    return {"type": "data", "payload": {"input": {"records": records}, **payload}}


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error: dict[str, Any] = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


# Names pydantic puts into locations for the members of a plain union (not the client's path).
_UNION_MEMBER_TAGS = frozenset({"constrained-str", "str", "int", "float", "bool", "none", "list"})


def _locations(error: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            part
            for part in detail["loc"]
            if not (isinstance(part, str) and (part in _UNION_MEMBER_TAGS or part[:1].isupper()))
        ]
        for detail in error["details"]
    ]


def test_a_body_over_the_request_limit_is_413(client: FlaskClient) -> None:
    body = json.dumps(_data([{"x": "y" * 1000}] * 80)).encode()
    assert len(body) > MAX_REQUEST_BYTES
    response = client.post("/api/tasks", data=body, content_type="application/json")
    assert _error(response, 413)["code"] == "payload_too_large"


def test_an_upload_over_its_limit_is_413(client: FlaskClient) -> None:
    data = {"file": (io.BytesIO(b"z" * (MAX_UPLOAD_BYTES + 1)), "big.bin")}
    response = client.post("/api/files", data=data, content_type="multipart/form-data")
    _error(response, 413)


def test_an_upload_under_its_limit_is_stored(client: FlaskClient) -> None:
    # Uploads have their own, larger limit than other bodies.
    size = MAX_REQUEST_BYTES + 1
    data = {"file": (io.BytesIO(b"z" * size), "ok.bin")}
    response = client.post("/api/files", data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["size"] == size


def test_nesting_past_the_limit_is_422(client: FlaskClient) -> None:
    deep: dict[str, Any] = {
        "type": "email",
        "payload": {"to": ["a@example.com"], "subject": "x", "context": {}},
    }
    inner: Any = "bottom"
    for _ in range(40):
        inner = {"a": inner}
    deep["payload"]["context"] = inner
    error = _error(client.post("/api/tasks", json=deep), 422)
    assert _locations(error) == [["body"]]


def test_nesting_that_would_blow_the_parser_stack_is_422_not_500(client: FlaskClient) -> None:
    text = "[" * 30_000 + "]" * 30_000
    response = client.post("/api/tasks", data=text, content_type="application/json")
    _error(response, 422)


def test_the_nesting_scan_is_fast_on_a_full_size_body() -> None:
    text = json.dumps({"records": [{"a": "x[{" * 30, "b": [1, 2, {"c": "]"}]}] * 9000})
    assert len(text) > 1_000_000
    started = time.perf_counter()
    assert _nesting_depth(text) == 5
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "data", "payload": {"input": {"records": [{"x": NaN}]}}}',
        b'{"type": "data", "payload": {"input": {"records": [{"x": Infinity}]}}}',
        b'{"type": "data", "payload": {"input": {"records": [{"x": -Infinity}]}}}',
        b'{"type": "data",',
        b"\xff\xfe{}",
    ],
)
def test_what_is_not_json_is_400(client: FlaskClient, body: bytes) -> None:
    response = client.post("/api/tasks", data=body, content_type="application/json")
    assert _error(response, 400)["code"] == "bad_request"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/x-python-pickle",
        "application/yaml",
    ],
)
def test_a_body_that_is_not_json_is_415(client: FlaskClient, content_type: str) -> None:
    response = client.post("/api/tasks", data=b"type: data", content_type=content_type)
    _error(response, 415)


def test_inline_records_beyond_the_configured_count_are_422(client: FlaskClient) -> None:
    error = _error(client.post("/api/tasks", json=_data([{}] * (MAX_RECORDS + 1))), 422)
    assert _locations(error) == [["payload", "input", "records"]]


def test_inline_records_beyond_the_contract_are_422_whatever_the_setting(
    make_client: MakeClient,
) -> None:
    client = make_client(
        rate_limit="off", max_data_records=10_000_000, max_request_bytes=2 * 1024 * 1024
    )
    error = _error(client.post("/api/tasks", json=_data([{}] * 100_001)), 422)
    assert ["payload", "input", "records"] in _locations(error)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (_data([{"x": "y" * (MAX_STRING_VALUE_CHARS + 1)}]), ["payload", "input", "records", 0]),
        (_data([{"c" * 257: 1}]), ["payload", "input", "records", 0]),
        (
            _data([], operations=[{"op": "select", "columns": ["c" * 257]}]),
            ["payload", "operations", 0, "columns", 0],
        ),
        (_data([], operations=[{"op": "limit", "n": 10**30}]), ["payload", "operations", 0, "n"]),
        (_data([], operations=[{"op": "describe"}] * 51), ["payload", "operations"]),
        ({**_data([]), "max_retries": 10**6}, ["max_retries"]),
    ],
    ids=[
        "long-value",
        "long-column",
        "long-selected-column",
        "huge-number",
        "too-many-ops",
        "huge-retries",
    ],
)
def test_oversized_values_are_422(
    client: FlaskClient, body: dict[str, Any], loc: list[Any]
) -> None:
    error = _error(client.post("/api/tasks", json=body), 422)
    assert any(location[: len(loc)] == loc for location in _locations(error)), error


def test_an_oversized_idempotency_key_is_422(client: FlaskClient) -> None:
    response = client.post("/api/tasks", json=_data([]), headers={"Idempotency-Key": "k" * 256})
    _error(response, 422)


def test_an_oversized_list_cursor_is_422(client: FlaskClient) -> None:
    _error(client.get("/api/tasks", query_string={"cursor": "c" * 201}), 422)


@pytest.mark.parametrize("file_id", PATH_LIKE_IDS)
def test_path_like_file_ids_in_payloads_are_422(client: FlaskClient, file_id: str) -> None:
    bodies = [
        {"type": "data", "payload": {"input": {"file_id": file_id, "format": "csv"}}},
        {
            "type": "file",
            "payload": {"file_id": file_id, "operation": "checksum", "algorithm": "sha256"},
        },
        {
            "type": "email",
            "payload": {
                "to": ["a@example.com"],
                "subject": "s",
                "text": "t",
                "attachments": [{"file_id": file_id}],
            },
        },
    ]
    for body in bodies:
        error = _error(client.post("/api/tasks", json=body), 422)
        assert any(location[:1] == ["payload"] for location in _locations(error)), error


@pytest.mark.parametrize(
    "path",
    [
        "/api/files/..%2F..%2Fetc%2Fpasswd",
        "/api/files/%2e%2e",
        "/api/files/..",
        "/api/files/etc%00passwd",
        "/api/files/0123456789ABCDEF0123456789ABCDEF",
    ],
)
def test_path_like_file_ids_in_downloads_are_404(client: FlaskClient, path: str) -> None:
    _error(client.get(path), 404)
