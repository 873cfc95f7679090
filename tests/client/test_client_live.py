"""The Python client against a real stack: API, RabbitMQ, Redis and worker processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from support.polling import eventually
from support.stack import Stack
from taskyard_client import (
    Client,
    Conflict,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    ValidationFailed,
)

from .conftest import API_KEY, RATE_LIMIT_PER_SECOND, UNSERVED_QUEUE

pytestmark = pytest.mark.integration

SALES = {"input": {"records": [{"region": "eu", "amount": 10}, {"region": "us", "amount": 3}]}}
FAILS = {**SALES, "operations": [{"op": "select", "columns": ["nope"]}]}


def test_submit_wait_get_with_progress_callback(client: Client) -> None:
    submitted = client.submit("data", SALES, priority="high")
    assert (submitted["status"], submitted["queue"]) == ("QUEUED", "data.high")

    seen: list[str] = []
    final = client.wait(
        submitted["id"], timeout_seconds=60, on_progress=lambda r: seen.append(r["status"])
    )

    assert final["status"] == "SUCCESS", final
    assert final["result"]["row_count"] == 2
    assert seen[-1] == "SUCCESS"
    assert client.get(submitted["id"]) == final


def test_idempotency_key_gives_back_the_first_task(client: Client) -> None:
    first = client.submit("data", SALES, idempotency_key="client-live-once")
    again = client.submit("data", SALES, idempotency_key="client-live-once")
    assert again["id"] == first["id"]


def test_list_iterates_every_page_with_filters(client: Client) -> None:
    ids = {client.submit("data", SALES, priority="high")["id"] for _ in range(5)}

    listed = [r["id"] for r in client.list(task_type="data", priority="high", page_size=2)]

    assert ids <= set(listed)
    assert len(listed) == len(set(listed))
    page = client.list_page(task_type="data", priority="high", limit=2)
    assert len(page.items) == 2 and page.next_cursor


def test_failed_task_is_retried_again_by_retry_failed(client: Client) -> None:
    failed = client.wait(client.submit("data", FAILS)["id"], timeout_seconds=60)
    assert failed["status"] == "FAILED"
    assert failed["error"]["retryable"] is False

    requeued = client.retry_failed(task_type="data")

    assert failed["id"] in {r["id"] for r in requeued}
    rerun = client.wait(failed["id"], timeout_seconds=60)
    assert [h["status"] for h in rerun["history"]].count("FAILED") == 2
    with pytest.raises(Conflict):
        client.cancel(failed["id"])


def test_cancel_then_retry_a_task_no_worker_has_taken(client: Client, client_stack: Stack) -> None:
    task = client.submit("data", SALES, priority="low")

    cancelled = client.cancel(task["id"])
    rerun = client.retry(task["id"])

    assert cancelled["status"] == "CANCELLED"
    assert rerun["status"] == "QUEUED"
    with pytest.raises(Conflict) as raised:
        client.retry(task["id"])
    assert raised.value.code == "conflict"
    client.cancel(task["id"])
    assert client_stack.queue_stats(UNSERVED_QUEUE)["consumers"] == 0


def test_errors_carry_the_contract_body(client: Client, client_stack: Stack) -> None:
    with pytest.raises(NotFound) as missing:
        client.get("00000000-0000-4000-8000-000000000000")
    assert missing.value.body["error"]["code"] == "not_found"

    with pytest.raises(ValidationFailed) as invalid:
        client.submit("email", {"to": ["not-an-address"], "subject": "s", "text": "t"})
    assert invalid.value.details[0]["loc"][:2] == ["payload", "to"]

    with Client(client_stack.base_url, "wrong-key") as stranger, pytest.raises(Unauthorized):
        stranger.queues()


def test_upload_download_and_a_file_task(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "numbers.csv"
    source.write_bytes(b"n\n" + b"".join(f"{i}\n".encode() for i in range(50_000)))
    info = client.upload(source)
    assert (info["name"], info["size"]) == ("numbers.csv", source.stat().st_size)

    target = client.download(info["id"], tmp_path / "copy")
    assert target.read_bytes() == source.read_bytes()
    named = client.download(info["id"], tmp_path)  # a folder: the upload's own name
    assert named == tmp_path / "numbers.csv"

    checksum = client.wait(
        client.submit("file", {"file_id": info["id"], "operation": "checksum"})["id"],
        timeout_seconds=60,
    )
    assert checksum["result"]["checksum"] == info["sha256"]


def test_queues_and_workers(client: Client) -> None:
    def served() -> None:
        # RabbitMQ's management stats refresh every few seconds (after a test's worker stops).
        queues = {q["name"]: q for q in client.queues()}
        assert queues["data.normal"]["consumers"] == 1
        assert queues[UNSERVED_QUEUE]["consumers"] == 0

    eventually(served)
    workers = eventually(lambda: _serving(client.workers(), "data.normal"))
    assert all(isinstance(w["processed"], int) for w in workers)


def _serving(workers: list[dict[str, Any]], queue: str) -> list[dict[str, Any]]:
    assert any(queue in w["queues"] for w in workers), workers
    return workers


def test_submit_batch_in_request_order(client: Client) -> None:
    bodies = [
        {"type": "data", "priority": "high", "payload": SALES},
        {"type": "data", "payload": SALES, "idempotency_key": "client-live-batch-2"},
    ]
    try:
        records = client.submit_batch(bodies)
    except (NotFound, MethodNotAllowed):
        pytest.skip("this API has no POST /api/tasks/batch yet")
    assert [r["queue"] for r in records] == ["data.high", "data.normal"]
    again = client.submit_batch(bodies[1:])
    assert again[0]["id"] == records[1]["id"]
    for record in records:
        assert client.wait(record["id"], timeout_seconds=60)["status"] == "SUCCESS"


def test_a_burst_meets_429_and_waits_out_retry_after(client_stack: Stack) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with Client(client_stack.base_url, API_KEY, sleep=sleep) as client:
        answers = [client.queues() for _ in range(4 * RATE_LIMIT_PER_SECOND)]

    assert all(answers)
    assert waits, "the burst never went over the limit"
    assert all(0 < seconds <= 1 for seconds in waits), waits  # the window's Retry-After
