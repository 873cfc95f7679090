"""API keys, rate limits, size limits and headers on a real API (gunicorn, two processes).

The stack here is this module's own: API keys configured, a low rate limit and small
size limits. It runs no worker; nothing here needs a task to run. Each test uses a key
of its own, so the rate limit of one test never trips another.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from support.client import ApiClient
from support.stack import Stack, cleanup_workdir, start_stack
from taskyard_api import rate_limit
from taskyard_common.redis_keys import REDIS_KEYS

RATE_LIMIT_PER_MINUTE = 12
MAX_REQUEST_BYTES = 16 * 1024
MAX_UPLOAD_BYTES = 64 * 1024
MAX_DATA_RECORDS = 100
KEYS = [f"test-key-{index}-{secrets.token_urlsafe(18)}" for index in range(8)]


@pytest.fixture(scope="module")
def secured() -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="taskyard-security-api-"))
    # The rest come from a file, as the chart mounts them from a Secret.
    key_file = workdir / "api-keys"
    key_file.write_text("\n".join(KEYS[4:]) + "\n", encoding="utf-8")
    stack = start_stack(
        workdir,
        {
            "TASKYARD_API_KEYS": ",".join(KEYS[:4]),
            "TASKYARD_API_KEYS_FILE": str(key_file),
            "TASKYARD_RATE_LIMIT": f"{RATE_LIMIT_PER_MINUTE}/minute",
            "TASKYARD_MAX_REQUEST_BYTES": str(MAX_REQUEST_BYTES),
            "TASKYARD_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            "TASKYARD_MAX_DATA_RECORDS": str(MAX_DATA_RECORDS),
        },
        queues=[],
    )
    yield stack
    stack.stop()
    cleanup_workdir(workdir)


_unused_keys = iter(KEYS)


@pytest.fixture
def api(secured: Stack) -> ApiClient:
    """A client with a key no other test uses, so each test has its own rate limit budget."""
    return ApiClient(secured.base_url, api_key=next(_unused_keys))


def _error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return error


def _refused_as_too_large(send: Callable[[], requests.Response]) -> None:
    """A 413, or for a chunked body the connection closed while the client still sends.

    The API answers 413 and closes the connection (the unread rest of the body must not be
    taken for the next request); a client still writing may see the reset before it reads
    the answer. Either way the body is refused and the API carries on.
    """
    try:
        response = send()
    except requests.ConnectionError:
        return
    _error(response, 413)


def test_keys_guard_every_route_but_probes_and_metrics(secured: Stack, api: ApiClient) -> None:
    anonymous = ApiClient(secured.base_url)
    response = anonymous.get("/api/tasks")
    assert _error(response, 401)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    _error(ApiClient(secured.base_url, api_key="not-" + KEYS[0]).get("/api/tasks"), 401)
    assert api.get("/api/tasks", params={"limit": 1}).status_code == 200
    # A key from the key file works like one from the environment.
    from_file = ApiClient(secured.base_url, api_key=KEYS[-1])
    assert from_file.get(f"/api/tasks/{uuid.uuid4()}").status_code == 404
    for path in ("/healthz", "/readyz", "/metrics", "/api/openapi.json"):
        assert anonymous.get(path).status_code == 200, path


def test_the_rate_limit_is_one_budget_across_api_processes(secured: Stack, api: ApiClient) -> None:
    key = api.session.headers["Authorization"].split()[-1]
    # A fresh connection per request, so both gunicorn workers take their share.
    statuses = [
        requests.get(
            f"{secured.base_url}/api/tasks",
            params={"limit": 1},
            timeout=30,
            headers={"Authorization": f"Bearer {key}", "Connection": "close"},
        ).status_code
        for _ in range(RATE_LIMIT_PER_MINUTE)
    ]
    assert statuses == [200] * RATE_LIMIT_PER_MINUTE
    # Each process decides in memory and learns the other's hits at its next sync.
    time.sleep(3 * rate_limit.SYNC_INTERVAL_SECONDS)
    limited = api.get("/api/tasks")
    assert _error(limited, 429)["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # The counters are in Redis, under the key's name, never the key.
    counters = secured.redis.keys(REDIS_KEYS.rate_limit("*", "*", "*"))
    assert counters and not any(key in name for name in counters)
    # Another caller is not affected, and probes are never limited.
    other = ApiClient(secured.base_url, api_key=next(_unused_keys))
    assert other.get("/api/tasks").status_code == 200
    for _ in range(3):
        assert api.get("/healthz").status_code == 200
        assert api.get("/readyz").status_code == 200


def test_an_oversized_body_is_413_even_when_chunked(api: ApiClient) -> None:
    body = json.dumps(
        {"type": "data", "payload": {"input": {"records": [{"x": "y" * 1000}] * 20}}}
    ).encode()
    assert len(body) > MAX_REQUEST_BYTES
    headers = {"Content-Type": "application/json"}
    _error(api.post("/api/tasks", data=body, headers=headers), 413)
    # No Content-Length: the limit holds on the stream itself.
    chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
    _refused_as_too_large(lambda: api.post("/api/tasks", data=chunks, headers=headers))
    assert api.get("/api/tasks", params={"limit": 1}).json()["items"] == []


def test_an_oversized_upload_is_413_even_when_chunked(secured: Stack, api: ApiClient) -> None:
    data = b"z" * (MAX_UPLOAD_BYTES + 1024)
    _error(api.post("/api/files", files={"file": ("big.bin", data)}), 413)
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    parts = [head, *(data[i : i + 8192] for i in range(0, len(data), 8192)), tail]
    _refused_as_too_large(
        lambda: api.post(
            "/api/files",
            data=iter(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    )
    # Nothing of either was kept; under the limit the same upload is stored.
    stored = [path for path in (secured.workdir / "files").rglob("*") if path.is_file()]
    assert not [path for path in stored if path.stat().st_size > MAX_UPLOAD_BYTES], stored
    assert api.post("/api/files", files={"file": ("ok.bin", b"z" * 1024)}).status_code == 201


def test_bad_inputs_are_422_before_anything_is_queued(api: ApiClient) -> None:
    too_many = {"type": "data", "payload": {"input": {"records": [{}] * (MAX_DATA_RECORDS + 1)}}}
    error = _error(api.post("/api/tasks", json=too_many), 422)
    assert error["details"][0]["loc"] == ["payload", "input", "records"]
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    nested = {"type": "data", "payload": {"input": {"records": [{"x": deep}]}}}
    _error(api.post("/api/tasks", json=nested), 422)
    for file_id in ("../../etc/passwd", "/etc/passwd"):
        path_like = {"type": "data", "payload": {"input": {"file_id": file_id, "format": "csv"}}}
        _error(api.post("/api/tasks", json=path_like), 422)
    _error(api.get("/api/files/..%2F..%2Fetc%2Fpasswd"), 404)
    assert api.get("/api/tasks", params={"limit": 1}).json()["items"] == []


def test_responses_carry_the_security_headers(api: ApiClient) -> None:
    for response in (
        api.get("/api/tasks", params={"limit": 1}),
        api.get(f"/api/tasks/{uuid.uuid4()}"),
        ApiClient(api.base_url).get("/api/queues"),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert api.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"
