"""Every client mistake is a 4xx with the one error shape, never a 500."""

from __future__ import annotations

import uuid

import pytest

from support.client import ApiClient

VALID = {"type": "data", "payload": {"input": {"records": [{"x": 1}]}}}


def _assert_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["details"], list)
    return error


def test_malformed_json_is_400(api: ApiClient) -> None:
    response = api.post(
        "/api/tasks", data=b'{"type": ', headers={"Content-Type": "application/json"}
    )
    _assert_error(response, 400)


def test_not_json_is_415(api: ApiClient) -> None:
    response = api.post("/api/tasks", data=b"type=data", headers={"Content-Type": "text/plain"})
    _assert_error(response, 415)


def test_too_large_body_is_413(api: ApiClient) -> None:
    huge = {"type": "data", "payload": {"input": {"records": [{"x": "y" * 1000}] * 3000}}}
    _assert_error(api.post("/api/tasks", json=huge), 413)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"type": "sms", "payload": {}}, []),
        ({**VALID, "priority": "urgent"}, ["priority"]),
        ({**VALID, "max_retries": -1}, ["max_retries"]),
        (
            {
                "type": "data",
                "payload": {"input": {"records": []}, "operations": [{"op": "explode"}]},
            },
            ["payload", "operations", 0],
        ),
        (
            {
                "type": "data",
                "payload": {
                    "input": {"records": []},
                    "operations": [{"op": "aggregate", "metrics": {"x": ["variance"]}}],
                },
            },
            ["payload", "operations", 0, "metrics", "x", 0],
        ),
        (
            {
                "type": "data",
                "payload": {"input": {"records": []}, "operations": [{"op": "limit", "n": "ten"}]},
            },
            ["payload", "operations", 0, "n"],
        ),
        (
            {
                "type": "data",
                "payload": {"input": {"file_id": "../../etc/passwd", "format": "csv"}},
            },
            ["payload", "input"],
        ),
        ({"type": "data", "payload": {"input": {"records": []}}, "surprise": 1}, ["surprise"]),
    ],
)
def test_schema_violations_are_422_with_location(api: ApiClient, body: dict, loc: list) -> None:
    error = _assert_error(api.post("/api/tasks", json=body), 422)
    assert error["code"] == "validation_error"
    locations = [detail["loc"] for detail in error["details"]]
    assert any(location[: len(loc)] == loc for location in locations), locations


def test_unknown_task_is_404(api: ApiClient) -> None:
    for path in (f"/api/tasks/{uuid.uuid4()}", "/api/tasks/not-a-uuid"):
        _assert_error(api.get(path), 404)
    _assert_error(api.delete(f"/api/tasks/{uuid.uuid4()}"), 404)
    _assert_error(api.post(f"/api/tasks/{uuid.uuid4()}/retry"), 404)


def test_cancel_or_retry_in_the_wrong_state_is_409(api: ApiClient) -> None:
    record = api.wait_for(api.submit(VALID)["id"])
    assert record["status"] == "SUCCESS"
    _assert_error(api.delete(f"/api/tasks/{record['id']}"), 409)
    _assert_error(api.post(f"/api/tasks/{record['id']}/retry"), 409)


def test_upload_without_multipart_is_415_and_without_file_is_422(api: ApiClient) -> None:
    _assert_error(api.post("/api/files", data=b"raw", headers={"Content-Type": "text/plain"}), 415)
    _assert_error(api.post("/api/files", files={"other": ("a", b"x")}), 422)


def test_unknown_route_and_method_keep_the_shape(api: ApiClient) -> None:
    _assert_error(api.get("/api/nothing-here"), 404)
    _assert_error(api.request("PUT", "/api/tasks"), 405)
