"""The API's monitoring endpoints against the real stack: /metrics, /api/queues, /api/workers."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.client import ApiClient
from support.polling import eventually
from support.stack import Stack, available_task_types, management
from taskyard_common import topology

DATA_BODY = {
    "type": "data",
    "priority": "high",
    "payload": {"input": {"records": [{"x": 1}]}, "operations": []},
}
BACKLOG = 3


def scrape(api: ApiClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def api(stack: Stack) -> ApiClient:
    if "data" not in available_task_types():
        pytest.skip("needs the data worker")
    return ApiClient(stack.base_url)


def test_api_metrics_move_when_a_task_is_submitted(api: ApiClient) -> None:
    submitted = ("taskyard_api_tasks_submitted_total", (("priority", "high"), ("type", "data")))
    accepted = (
        "taskyard_api_http_requests_total",
        (("method", "POST"), ("route", "/api/tasks"), ("status", "202")),
    )
    latency = ("taskyard_api_submit_latency_seconds_count", ())
    before = scrape(api)
    task = api.submit(DATA_BODY)
    assert api.wait_for(task["id"])["status"] == "SUCCESS"
    after = scrape(api)
    for key in (submitted, accepted, latency):
        assert after[key] >= before.get(key, 0) + 1, key
    depth = (
        "taskyard_queue_messages_ready",
        (("priority", "high"), ("queue", "data.high"), ("type", "data")),
    )
    assert depth in after
    assert after[("taskyard_queue_stats_up", ())] == 1


def test_queue_depths_match_rabbitmq_while_a_backlog_waits(stack: Stack, api: ApiClient) -> None:
    queue = "data.normal"
    stack.stop_worker(queue)
    try:
        tasks = [api.submit({**DATA_BODY, "priority": "normal"}) for _ in range(BACKLOG)]
        stack.wait_queue_ready(queue, BACKLOG)

        def matches() -> dict[str, object]:
            listed = {q["name"]: q for q in api.get("/api/queues").json()["queues"]}
            assert listed[queue]["ready"] == BACKLOG, listed[queue]
            assert listed[queue]["consumers"] == 0, listed[queue]
            return listed

        # The management API refreshes its counts every 5 s, consumers and depths apart.
        listed = eventually(matches)
        path = f"/queues/{quote(stack.vhost, safe='')}/{queue}"
        reported = management("GET", path).json()
        assert listed[queue] == {
            "name": queue,
            "type": "data",
            "priority": "normal",
            "ready": reported["messages_ready"],
            "unacked": reported["messages_unacknowledged"],
            "consumers": reported["consumers"],
        }
        assert [q for q in listed] == list(topology.QUEUE_NAMES)
        # Cancelling leaves the message queued (the worker skips it) and logs one line.
        assert api.delete(f"/api/tasks/{tasks[0]['id']}").status_code == 202
    finally:
        stack.start_worker(queue)
    statuses = [api.wait_for(task["id"])["status"] for task in tasks]
    assert statuses == ["CANCELLED"] + ["SUCCESS"] * (BACKLOG - 1)
    assert stack.api is not None
    cancelled = [
        json.loads(line)
        for line in stack.api.log_path.read_text().splitlines()
        if tasks[0]["id"] in line and '"task_cancelled"' in line
    ]
    assert len(cancelled) == 1
    assert {k: cancelled[0][k] for k in ("type", "priority", "attempt")} == {
        "type": "data",
        "priority": "normal",
        "attempt": 0,
    }


def test_workers_lists_every_local_worker_with_its_queue(api: ApiClient) -> None:
    expected = {f"{t}.{p}" for t in available_task_types() for p in topology.PRIORITIES}
    assert api.wait_for(api.submit(DATA_BODY)["id"])["status"] == "SUCCESS"

    def listed() -> list[dict[str, object]]:
        workers = api.get("/api/workers").json()["workers"]
        queues = {q for worker in workers for q in worker["queues"]}  # type: ignore[attr-defined]
        assert expected <= queues, sorted(expected - queues)
        assert any(w["queues"] == ["data.high"] and w["processed"] >= 1 for w in workers)
        return workers

    workers = eventually(listed)
    by_queue = {w["queues"][0]: w for w in workers if w["queues"]}  # type: ignore[index]
    for queue in expected:
        worker = by_queue[queue]
        assert worker["queues"] == [queue]
        assert str(worker["name"]).startswith(queue.replace(".", "-") + "@")
        assert isinstance(worker["active"], int) and isinstance(worker["processed"], int)
        datetime.fromisoformat(str(worker["last_seen"]))
