"""Workers that die or are told to stop never lose a task."""

from __future__ import annotations

import signal
import time

from faults.conftest import report_lost
from support.client import ApiClient
from support.stack import Stack


def email(priority: str, subject: str) -> dict[str, object]:
    return {
        "type": "email",
        "priority": priority,
        "payload": {"to": ["ops@example.com"], "subject": subject, "text": "body"},
    }


def wait_processing(api: ApiClient, task_id: str, timeout_seconds: float = 30) -> None:
    api.wait_for(task_id, {"PROCESSING"}, timeout_seconds=timeout_seconds)


def test_kill_9_mid_task_then_restart_completes_it(fault_stack: Stack) -> None:
    api = ApiClient(fault_stack.base_url)
    fault_stack.smtp.handler.delay_seconds = 5
    try:
        task = api.submit(email("high", "killed mid-task"))
        wait_processing(api, task["id"])
        fault_stack.workers["email.high"].kill()
    finally:
        fault_stack.smtp.handler.delay_seconds = 0
    fault_stack.workers.pop("email.high")
    fault_stack.start_worker("email.high")

    record = api.wait_for(task["id"], timeout_seconds=60)
    report_lost("kill -9", int(record["status"] != "SUCCESS"), 1)
    assert record["status"] == "SUCCESS", record
    assert record["attempts"] == 2
    assert [h["status"] for h in record["history"]] == [
        "QUEUED",
        "RECEIVED",
        "PROCESSING",
        "RECEIVED",
        "PROCESSING",
        "SUCCESS",
    ]


def test_sigterm_lets_the_running_task_finish(fault_stack: Stack) -> None:
    api = ApiClient(fault_stack.base_url)
    fault_stack.smtp.handler.delay_seconds = 3
    try:
        task = api.submit(email("normal", "finishes during soft shutdown"))
        wait_processing(api, task["id"])
        worker = fault_stack.workers.pop("email.normal")
        worker.signal(signal.SIGTERM)
        started = time.monotonic()
        time.sleep(0.5)
        waiting = api.submit(email("normal", "waits for the next worker"))
        assert worker.process is not None
        worker.process.wait(timeout=30)
        stopped_after = time.monotonic() - started
        record = api.task(task["id"])
        assert record["status"] == "SUCCESS", record
        assert api.task(waiting["id"])["status"] == "QUEUED"
        # Warm shutdown: the worker leaves once its task ends, not after the fault stack's
        # 15 s soft shutdown timeout (which only SIGQUIT uses).
        assert 1.5 <= stopped_after < 15, stopped_after
    finally:
        fault_stack.smtp.handler.delay_seconds = 0
    fault_stack.start_worker("email.normal")
    finished = api.wait_for(waiting["id"])
    report_lost("SIGTERM", int(finished["status"] != "SUCCESS"), 2)
    assert finished["status"] == "SUCCESS"


def test_sigquit_past_the_soft_timeout_requeues_the_task(fault_stack: Stack) -> None:
    """SIGQUIT, the cold shutdown, gives the running task the soft shutdown timeout, then
    hands it back to its queue."""
    api = ApiClient(fault_stack.base_url)
    fault_stack.stop_worker("email.low")
    fault_stack.start_worker("email.low", {"TASKYARD_WORKER_SOFT_SHUTDOWN_TIMEOUT_SECONDS": "1"})
    fault_stack.smtp.handler.delay_seconds = 8
    try:
        task = api.submit(email("low", "outlives the soft shutdown"))
        wait_processing(api, task["id"])
        worker = fault_stack.workers.pop("email.low")
        worker.signal(signal.SIGQUIT)
        assert worker.process is not None
        worker.process.wait(timeout=30)
        assert api.task(task["id"])["status"] != "SUCCESS"
    finally:
        fault_stack.smtp.handler.delay_seconds = 0
    fault_stack.start_worker("email.low")
    record = api.wait_for(task["id"], timeout_seconds=60)
    report_lost("SIGQUIT past soft timeout", int(record["status"] != "SUCCESS"), 1)
    assert record["status"] == "SUCCESS", record
    assert record["attempts"] == 2
