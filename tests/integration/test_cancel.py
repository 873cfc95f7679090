"""Cancellation lives in Redis, so it holds across worker restarts."""

from __future__ import annotations

from support.client import ApiClient
from support.stack import Stack

QUEUE = "data.low"
BODY = {"type": "data", "priority": "low", "payload": {"input": {"records": [{"x": 1}]}}}


def test_cancelled_before_a_worker_takes_it_never_runs_even_after_restart(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    stack.stop_worker(QUEUE)
    try:
        cancelled = api.submit(BODY)
        kept = api.submit(BODY)
        response = api.delete(f"/api/tasks/{cancelled['id']}")
        assert response.status_code == 202
        assert response.json()["status"] == "CANCELLED"
        stack.wait_queue_ready(QUEUE, 2)
    finally:
        stack.start_worker(QUEUE)

    assert api.wait_for(kept["id"])["status"] == "SUCCESS"
    stack.wait_queue_ready(QUEUE, 0)
    record = api.task(cancelled["id"])
    assert record["status"] == "CANCELLED"
    assert [h["status"] for h in record["history"]] == ["QUEUED", "CANCELLED"]
    assert record["attempts"] == 0
    assert record["worker"] is None


def test_cancelled_task_can_be_run_again_with_history_kept(stack: Stack) -> None:
    api = ApiClient(stack.base_url)
    stack.stop_worker(QUEUE)
    try:
        task = api.submit(BODY)
        assert api.delete(f"/api/tasks/{task['id']}").status_code == 202
        rerun = api.post(f"/api/tasks/{task['id']}/retry")
        assert rerun.status_code == 202, rerun.text
        assert rerun.json()["status"] == "QUEUED"
    finally:
        stack.start_worker(QUEUE)

    record = api.wait_for(task["id"])
    assert record["status"] == "SUCCESS"
    assert [h["status"] for h in record["history"]] == [
        "QUEUED",
        "CANCELLED",
        "QUEUED",
        "RECEIVED",
        "PROCESSING",
        "SUCCESS",
    ]
