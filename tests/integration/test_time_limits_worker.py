"""Time limits with a real data worker: an attempt that overruns its timeout_seconds ends
FAILED with TimeLimitExceeded after one attempt, at the soft limit when the task returns
within the grace, by a hard kill of its pool process when it does not; either way the
message is acknowledged once (no redelivery) and the worker goes on serving."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from support.client import ApiClient
from support.polling import eventually
from support.slow_data import slow_task, upload_slow_input
from support.stack import Stack, running_stack

pytestmark = pytest.mark.integration

QUEUE = "data.normal"
SMALL = {"type": "data", "payload": {"input": {"records": [{"x": 1}, {"x": 2}]}}}


@pytest.fixture
def soft_stack() -> Iterator[Stack]:
    # A long grace: the pipeline returns (and meets its soft limit) well before the kill.
    with running_stack(
        "soft-limit", {"TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS": "30"}, queues=[QUEUE]
    ) as stack:
        yield stack


@pytest.fixture
def hard_stack() -> Iterator[Stack]:
    # One second of grace: the pipeline, blocked in native code, is killed first.
    with running_stack(
        "hard-limit", {"TASKYARD_HARD_TIME_LIMIT_GRACE_SECONDS": "1"}, queues=[QUEUE]
    ) as stack:
        yield stack


def _pool_pids(stack: Stack) -> set[int]:
    return {child.pid for child in psutil.Process(stack.workers[QUEUE].pid).children()}


def _assert_failed_once(api: ApiClient, stack: Stack, record: dict[str, Any]) -> None:
    assert record["status"] == "FAILED", record
    assert record["error"]["type"] == "TimeLimitExceeded"
    assert record["error"]["retryable"] is False
    assert record["attempts"] == 1
    # Acknowledged, not redelivered: nothing waits in the queue, and the record stays put.
    time.sleep(3)
    stack.wait_queue_ready(QUEUE, 0)
    again = api.task(record["id"])
    assert (again["status"], again["attempts"]) == ("FAILED", 1)
    statuses = [h["status"] for h in again["history"]]
    assert statuses.count("PROCESSING") == 1, statuses


def _still_serves(api: ApiClient) -> None:
    assert api.wait_for(api.submit(SMALL)["id"])["status"] == "SUCCESS"


def test_an_overrun_stops_at_the_soft_limit(soft_stack: Stack) -> None:
    api = ApiClient(soft_stack.base_url)
    file_id = upload_slow_input(api)
    _still_serves(api)  # the pool process has imported Polars: the limit meets the pipeline
    pool_before = _pool_pids(soft_stack)
    accepted = api.submit(slow_task(file_id, timeout_seconds=2))
    assert accepted["timeout_seconds"] == 2
    record = api.wait_for(accepted["id"], timeout_seconds=60)
    _assert_failed_once(api, soft_stack, record)
    assert record["error"]["message"] == "stopped at its time limit of 2 s"
    assert _pool_pids(soft_stack) == pool_before, "the soft limit keeps the pool process"
    _still_serves(api)


def test_a_task_that_does_not_stop_is_killed_at_the_hard_limit(hard_stack: Stack) -> None:
    api = ApiClient(hard_stack.base_url)
    file_id = upload_slow_input(api)
    _still_serves(api)  # the pool process has imported Polars: the limit meets the pipeline
    pool_before = _pool_pids(hard_stack)
    accepted = api.submit(slow_task(file_id, timeout_seconds=1))
    started = time.monotonic()
    record = api.wait_for(accepted["id"], timeout_seconds=60)
    elapsed = time.monotonic() - started
    _assert_failed_once(api, hard_stack, record)
    assert record["error"]["message"] == "killed after 2 s: it did not stop at its time limit"
    assert elapsed < 15, f"ended {elapsed:.1f} s after submit"
    log = hard_stack.workers[QUEUE].log_text()
    assert re.search(r"Hard time limit \(2(\.0)?s\) exceeded", log), log[-3000:]
    # The killed pool process is replaced (once it is reaped).
    eventually(
        lambda: _check(
            bool(_pool_pids(hard_stack)) and _pool_pids(hard_stack).isdisjoint(pool_before)
        )
    )
    _still_serves(api)
    assert api.task(record["id"])["attempts"] == 1


def test_sigterm_waits_for_the_running_task_up_to_its_time_limit(hard_stack: Stack) -> None:
    """A stopping worker (warm shutdown) lets its task run to its limit, records the
    outcome and leaves: the task is neither requeued nor waited for past its hard limit."""
    api = ApiClient(hard_stack.base_url)
    file_id = upload_slow_input(api)
    accepted = api.submit(slow_task(file_id, timeout_seconds=1))
    api.wait_for(accepted["id"], {"PROCESSING"}, timeout_seconds=30)
    worker = hard_stack.workers.pop(QUEUE)
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.process is not None
    worker.process.wait(timeout=60)
    stopped_after = time.monotonic() - started
    record = api.task(accepted["id"])
    assert (record["status"], record["attempts"]) == ("FAILED", 1), record
    assert record["error"]["type"] == "TimeLimitExceeded"
    # Well before the stack's 20 s soft shutdown timeout, which SIGTERM does not use.
    assert stopped_after < 15, stopped_after
    assert hard_stack.queue_stats(QUEUE)["ready"] == 0, "the message was acknowledged"


def _check(condition: bool) -> None:
    assert condition
