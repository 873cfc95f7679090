"""Scheduled tasks against real RabbitMQ, Redis, API and worker processes: held by the
broker's delay queues until run_at, then run once; cancellable while they wait; kept
across restarts of the worker and the API.

Timing: the attempt starts no earlier than run_at and at most START_TOLERANCE_SECONDS
after it. The delay queues count whole seconds (the API rounds the delay up, so up to 1 s
of that is by design); the rest is routing, a worker's poll and this 2-core machine's load.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from support.client import ApiClient
from support.polling import eventually
from support.stack import Stack, running_stack

START_TOLERANCE_SECONDS = 3.0
PAYLOAD = {"input": {"records": [{"x": 1}]}}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _statuses(record: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in record["history"]]


def _worker_events(stack: Stack, queue: str) -> list[tuple[str, str]]:
    events = []
    for line in stack.workers[queue].log_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append((event.get("event", ""), event.get("task_id", "")))
    return events


def _assert_started_on_time(record: dict[str, Any]) -> None:
    late = _at(record["started_at"]) - _at(record["run_at"])
    print(f"\ntask {record['id']} started {late.total_seconds():.3f} s after its run_at")
    assert timedelta(0) <= late <= timedelta(seconds=START_TOLERANCE_SECONDS), late


def test_a_delayed_task_is_scheduled_then_runs_at_run_at(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    submitted_at = datetime.now().astimezone()
    task = api.submit({"type": "data", "priority": "high", "delay_seconds": 3, "payload": PAYLOAD})

    assert task["status"] == "SCHEDULED"
    assert _statuses(task) == ["SCHEDULED"]
    run_at = _at(task["run_at"])
    assert timedelta(seconds=2.9) <= run_at - submitted_at <= timedelta(seconds=3.5)
    listed = api.get("/api/tasks", params={"status": "SCHEDULED", "type": "data"}).json()
    assert task["id"] in [item["id"] for item in listed["items"]]

    record = api.wait_for(task["id"], timeout_seconds=30)
    assert record["status"] == "SUCCESS"
    assert _statuses(record) == ["SCHEDULED", "RECEIVED", "PROCESSING", "SUCCESS"]
    assert record["attempts"] == 1
    _assert_started_on_time(record)


def test_a_run_at_in_the_past_runs_now(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    task = api.submit(
        {"type": "data", "priority": "high", "run_at": "2020-01-01T00:00:00Z", "payload": PAYLOAD}
    )
    assert task["status"] == "QUEUED"
    assert task["run_at"] == "2020-01-01T00:00:00.000Z"
    assert api.wait_for(task["id"], timeout_seconds=30)["status"] == "SUCCESS"


def test_a_task_cancelled_while_scheduled_never_runs(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    queue = "data.normal"
    response = api.post(
        "/api/tasks/batch",
        json={"tasks": [{"type": "data", "delay_seconds": 3, "payload": PAYLOAD}] * 2},
    )
    assert response.status_code == 202, response.text
    cancelled, kept = response.json()["items"]
    assert [cancelled["status"], kept["status"]] == ["SCHEDULED", "SCHEDULED"]

    response = api.delete(f"/api/tasks/{cancelled['id']}")
    assert response.status_code == 202, response.text
    assert _statuses(response.json()) == ["SCHEDULED", "CANCELLED"]

    record = api.wait_for(kept["id"], timeout_seconds=30)
    assert record["status"] == "SUCCESS"
    _assert_started_on_time(record)

    # The cancelled task's message did arrive, and the worker dropped it.
    def skipped() -> None:
        assert ("task_skipped", cancelled["id"]) in _worker_events(stack, queue)

    eventually(skipped, timeout_seconds=15)
    record = api.task(cancelled["id"])
    assert record["status"] == "CANCELLED"
    assert _statuses(record) == ["SCHEDULED", "CANCELLED"]
    assert record["attempts"] == 0
    assert record["worker"] is None


def test_a_scheduled_task_survives_a_restart_of_its_worker_and_the_api(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    queue = "data.low"
    task = api.submit({"type": "data", "priority": "low", "delay_seconds": 2, "payload": PAYLOAD})
    assert task["status"] == "SCHEDULED"
    assert stack.api is not None
    stack.stop_worker(queue)
    stack.api.stop()
    try:
        # Past run_at with nothing running: the message has left the delay queues and waits
        # in its own queue.
        stack.wait_queue_ready(queue, 1, timeout_seconds=20)
        time.sleep(1)
    finally:
        stack.start_api()
        stack.start_worker(queue)

    record = api.wait_for(task["id"], timeout_seconds=30)
    assert record["status"] == "SUCCESS"
    assert _statuses(record) == ["SCHEDULED", "RECEIVED", "PROCESSING", "SUCCESS"]
    assert record["attempts"] == 1
    assert _at(record["started_at"]) >= _at(record["run_at"])
    stack.wait_queue_ready(queue, 0)


def test_a_task_scheduled_before_any_worker_ever_started_is_kept() -> None:
    """On a fresh vhost nothing but the API has declared anything: the API itself sets up
    the delay queues and their way into the task's queue."""
    queue = "data.low"
    with running_stack("scheduled-first", queues=[]) as fresh:
        api = ApiClient(fresh.base_url)
        task = api.submit(
            {"type": "data", "priority": "low", "delay_seconds": 1, "payload": PAYLOAD}
        )
        assert task["status"] == "SCHEDULED"
        fresh.wait_queue_ready(queue, 1, timeout_seconds=20)
        fresh.start_worker(queue)
        record = api.wait_for(task["id"], timeout_seconds=30)
        assert record["status"] == "SUCCESS"
        assert _statuses(record) == ["SCHEDULED", "RECEIVED", "PROCESSING", "SUCCESS"]
