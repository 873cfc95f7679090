"""The client against httpx.MockTransport: requests it sends, retries, errors, paging, files."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskyard_client import (
    ApiError,
    ApiUnreachable,
    BackoffPolicy,
    BadRequest,
    Client,
    Conflict,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
)

BASE = "http://taskyard.test"
TASK_ID = "6f1c1a59-3e43-4a43-9e0e-0c3e4e1a2b3c"
Handler = Callable[[httpx.Request], httpx.Response]


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def record(status: str = "QUEUED", **fields: Any) -> dict[str, Any]:
    return {"id": TASK_ID, "type": "data", "priority": "normal", "status": status, **fields}


class Recorder:
    """A MockTransport handler answering from a list, keeping every request it saw."""

    def __init__(self, *answers: httpx.Response | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer


def make_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any):
    sleeps: list[float] = []
    client = Client(
        BASE,
        "secret-key",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **kwargs,
    )
    return client, sleeps


def test_submit_sends_the_contract_body_key_and_idempotency_header() -> None:
    recorder = Recorder(httpx.Response(202, json=record()))
    client, _ = make_client(recorder)

    answer = client.submit(
        "email", {"to": ["a@example.com"]}, priority="high", idempotency_key="order-1"
    )

    assert answer["id"] == TASK_ID
    sent = recorder.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/api/tasks")
    assert json.loads(sent.content) == {
        "type": "email",
        "payload": {"to": ["a@example.com"]},
        "priority": "high",
    }
    assert sent.headers["Authorization"] == "Bearer secret-key"
    assert sent.headers["Idempotency-Key"] == "order-1"
    assert sent.headers["User-Agent"].startswith("taskyard-client/")


def test_submit_passes_the_optional_contract_fields_only_when_set() -> None:
    recorder = Recorder(httpx.Response(202, json=record("SCHEDULED")))
    client, _ = make_client(recorder)
    client.submit(
        "data",
        {"input": {"records": []}},
        max_retries=0,
        delay_seconds=30,
        timeout_seconds=5,
        callback_url="https://example.com/hook",
    )
    assert json.loads(recorder.requests[0].content) == {
        "type": "data",
        "payload": {"input": {"records": []}},
        "max_retries": 0,
        "delay_seconds": 30,
        "timeout_seconds": 5,
        "callback_url": "https://example.com/hook",
    }
    assert "Idempotency-Key" not in recorder.requests[0].headers


def test_429_is_retried_after_the_servers_retry_after() -> None:
    limited = httpx.Response(
        429, json=error_body("rate_limited", "slow down"), headers={"Retry-After": "3"}
    )
    recorder = Recorder(limited, limited, httpx.Response(202, json=record()))
    client, sleeps = make_client(recorder)

    assert client.submit("data", {})["id"] == TASK_ID
    assert sleeps == [3.0, 3.0]
    assert len(recorder.requests) == 3
    assert recorder.requests[0].content == recorder.requests[2].content


def test_503_without_retry_after_backs_off_exponentially_then_gives_up_with_the_body() -> None:
    down = httpx.Response(503, json=error_body("backend_unavailable", "rabbitmq is unavailable"))
    recorder = Recorder(down)
    client, sleeps = make_client(
        recorder, backoff=BackoffPolicy(max_retries=3, base_seconds=1, max_wait_seconds=3)
    )

    with pytest.raises(ServiceUnavailable) as raised:
        client.get(TASK_ID)

    assert sleeps == [1, 2, 3]  # 4 capped at max_wait_seconds
    assert len(recorder.requests) == 4
    assert raised.value.code == "backend_unavailable"
    assert raised.value.body == error_body("backend_unavailable", "rabbitmq is unavailable")


def test_retry_after_longer_than_the_cap_is_capped() -> None:
    recorder = Recorder(
        httpx.Response(429, json=error_body("rate_limited", "x"), headers={"Retry-After": "900"}),
        httpx.Response(200, json={"queues": []}),
    )
    client, sleeps = make_client(recorder, backoff=BackoffPolicy(max_wait_seconds=7))
    assert client.queues() == []
    assert sleeps == [7]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (404, NotFound),
        (405, MethodNotAllowed),
        (409, Conflict),
        (413, BadRequest),
        (415, BadRequest),
        (422, ValidationFailed),
        (500, ApiError),
        (502, ServiceUnavailable),
    ],
)
def test_error_statuses_map_to_typed_errors_carrying_the_body(
    status: int, error_class: type[ApiError]
) -> None:
    details = [{"loc": ["payload", "to", 0], "msg": "not an email address"}]
    body = error_body("some_code", "what went wrong", details)
    recorder = Recorder(httpx.Response(status, json=body))
    client, sleeps = make_client(recorder)

    with pytest.raises(error_class) as raised:
        client.cancel(TASK_ID)

    assert type(raised.value) is error_class
    assert raised.value.status_code == status
    assert (raised.value.code, raised.value.message) == ("some_code", "what went wrong")
    assert raised.value.details == details
    assert raised.value.body == body
    assert str(raised.value) == f"{status} some_code: what went wrong"
    assert sleeps == [] and len(recorder.requests) == 1


def test_an_error_without_the_json_shape_still_becomes_a_typed_error() -> None:
    recorder = Recorder(httpx.Response(502, text="<html>Bad Gateway</html>"))
    client, _ = make_client(recorder)
    with pytest.raises(ServiceUnavailable) as raised:
        client.get(TASK_ID)
    assert raised.value.code == "http_502"
    assert "Bad Gateway" in raised.value.message


def test_no_connection_is_api_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client, _ = make_client(refuse)
    with pytest.raises(ApiUnreachable, match="connection refused"):
        client.get(TASK_ID)


def test_ids_are_one_path_segment() -> None:
    recorder = Recorder(httpx.Response(404, json=error_body("not_found", "no task")))
    client, _ = make_client(recorder)
    with pytest.raises(NotFound):
        client.get("../files/x")
    assert recorder.requests[0].url.raw_path == b"/api/tasks/..%2Ffiles%2Fx"


def test_submit_batch_posts_items_in_order_each_with_an_idempotency_key() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        tasks = json.loads(request.content)["tasks"]
        return httpx.Response(202, json={"items": [record(id=str(i)) for i, _ in enumerate(tasks)]})

    recorder = Recorder(
        httpx.Response(
            503, json=error_body("backend_unavailable", "x"), headers={"Retry-After": "1"}
        ),
        echo,
    )
    client, sleeps = make_client(recorder)
    tasks = [
        {"type": "data", "payload": {"input": {"records": []}}},
        {"type": "data", "payload": {"input": {"records": []}}, "idempotency_key": "mine"},
    ]

    items = client.submit_batch(tasks)

    assert [item["id"] for item in items] == ["0", "1"]
    assert (recorder.requests[0].method, recorder.requests[0].url.path) == (
        "POST",
        "/api/tasks/batch",
    )
    first, second = (json.loads(r.content)["tasks"] for r in recorder.requests)
    # The repeated batch carries the same keys: the confirmed items come back, not twice.
    assert first == second
    assert first[1]["idempotency_key"] == "mine"
    assert first[0]["idempotency_key"] and first[0]["idempotency_key"] != "mine"
    assert "idempotency_key" not in tasks[0]  # the caller's items are left alone
    assert sleeps == [1.0]


def test_submit_batch_422_points_at_the_item() -> None:
    details = [{"loc": ["tasks", 1, "payload", "to"], "msg": "Field required"}]
    recorder = Recorder(httpx.Response(422, json=error_body("validation_error", "bad", details)))
    client, _ = make_client(recorder)
    with pytest.raises(ValidationFailed) as raised:
        client.submit_batch([{"type": "email", "payload": {}}] * 2)
    assert raised.value.details[0]["loc"][:2] == ["tasks", 1]


def test_list_iterates_every_page_with_its_filters() -> None:
    pages = {
        None: ({"items": [record(id="a"), record(id="b")], "next_cursor": "c1"}),
        "c1": ({"items": [record(id="c")], "next_cursor": "c2"}),
        "c2": ({"items": [], "next_cursor": None}),
    }

    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    recorder = Recorder(page)
    client, _ = make_client(recorder)

    ids = [r["id"] for r in client.list(status="FAILED", task_type="email", page_size=2)]

    assert ids == ["a", "b", "c"]
    assert [dict(r.url.params) for r in recorder.requests] == [
        {"status": "FAILED", "type": "email", "limit": "2"},
        {"status": "FAILED", "type": "email", "limit": "2", "cursor": "c1"},
        {"status": "FAILED", "type": "email", "limit": "2", "cursor": "c2"},
    ]


def test_retry_failed_collects_the_ids_before_retrying() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(
                200, json={"items": [record("FAILED", id="x"), record("FAILED", id="y")]}
            )
        task_id = request.url.path.split("/")[3]
        return httpx.Response(202, json=record("QUEUED", id=task_id))

    recorder = Recorder(answer)
    client, _ = make_client(recorder)

    retried = client.retry_failed(task_type="email")

    assert [r["id"] for r in retried] == ["x", "y"]
    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks/x/retry"),
        ("POST", "/api/tasks/y/retry"),
    ]


def test_wait_reports_every_poll_and_returns_the_final_record() -> None:
    recorder = Recorder(
        httpx.Response(200, json=record("QUEUED")),
        httpx.Response(200, json=record("PROCESSING", progress=0.5)),
        httpx.Response(200, json=record("FAILED", error={"type": "X", "message": "m"})),
    )
    client, sleeps = make_client(recorder)
    seen: list[str] = []

    final = client.wait(TASK_ID, poll_seconds=0.25, on_progress=lambda r: seen.append(r["status"]))

    assert final["status"] == "FAILED"
    assert seen == ["QUEUED", "PROCESSING", "FAILED"]
    assert sleeps == [0.25, 0.25]


def test_wait_times_out_with_the_last_record() -> None:
    client, _ = make_client(Recorder(httpx.Response(200, json=record("RETRYING"))))
    with pytest.raises(WaitTimeout) as raised:
        client.wait(TASK_ID, timeout_seconds=0)
    assert raised.value.record["status"] == "RETRYING"


def test_upload_sends_multipart_and_rewinds_the_file_for_a_retry(tmp_path: Path) -> None:
    source = tmp_path / "report.csv"
    source.write_bytes(b"a,b\n1,2\n")
    info = {"id": "f" * 32, "name": "report.csv", "size": 8}
    recorder = Recorder(
        httpx.Response(429, json=error_body("rate_limited", "x"), headers={"Retry-After": "0"}),
        httpx.Response(201, json=info),
    )
    client, _ = make_client(recorder)

    assert client.upload(source) == info

    for request in recorder.requests:
        assert request.headers["Content-Type"].startswith("multipart/form-data")
        assert b'name="file"; filename="report.csv"' in request.content
        assert b"a,b\n1,2\n" in request.content


def test_upload_from_an_open_stream_with_a_name_and_type() -> None:
    recorder = Recorder(httpx.Response(201, json={"id": "x"}))
    client, _ = make_client(recorder)
    client.upload(io.BytesIO(b"\x89PNG"), name="pic.png", content_type="image/png")
    assert b'filename="pic.png"\r\nContent-Type: image/png' in recorder.requests[0].content


def test_download_streams_into_a_folder_under_the_uploads_name(tmp_path: Path) -> None:
    body = b"x" * 200_000
    recorder = Recorder(
        httpx.Response(
            200,
            content=body,
            headers={"Content-Disposition": "attachment; filename*=UTF-8''sales%20q1.csv"},
        )
    )
    client, _ = make_client(recorder)

    target = client.download("f" * 32, tmp_path)

    assert target == tmp_path / "sales q1.csv"
    assert target.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales q1.csv"]


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", "passwd"),
        ('attachment; filename="plain.txt"', "plain.txt"),
        ("attachment; filename*=UTF-8''..", "f" * 32),
        ("", "f" * 32),
    ],
)
def test_download_names_never_leave_the_folder(
    tmp_path: Path, disposition: str, expected: str
) -> None:
    recorder = Recorder(
        httpx.Response(200, content=b"1", headers={"Content-Disposition": disposition})
    )
    client, _ = make_client(recorder)
    assert client.download("f" * 32, tmp_path) == tmp_path / expected


def test_download_of_a_missing_file_leaves_nothing_behind(tmp_path: Path) -> None:
    recorder = Recorder(httpx.Response(404, json=error_body("not_found", "no file x")))
    client, _ = make_client(recorder)
    with pytest.raises(NotFound, match="no file x"):
        client.download("x", tmp_path / "out.bin")
    assert list(tmp_path.iterdir()) == []


def test_list_files_pages_and_delete_file() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.url.params.get("cursor") == "n":
            return httpx.Response(200, json={"items": [{"id": "2"}], "next_cursor": None})
        return httpx.Response(200, json={"items": [{"id": "1"}], "next_cursor": "n"})

    recorder = Recorder(answer)
    client, _ = make_client(recorder)
    assert [f["id"] for f in client.list_files()] == ["1", "2"]
    client.delete_file("1")
    assert (recorder.requests[-1].method, recorder.requests[-1].url.path) == (
        "DELETE",
        "/api/files/1",
    )


def test_rate_limited_after_every_retry_carries_retry_after() -> None:
    limited = httpx.Response(
        429, json=error_body("rate_limited", "x"), headers={"Retry-After": "2"}
    )
    client, sleeps = make_client(Recorder(limited), backoff=BackoffPolicy(max_retries=1))
    with pytest.raises(RateLimited) as raised:
        client.workers()
    assert raised.value.retry_after_seconds == 2.0
    assert sleeps == [2.0]
