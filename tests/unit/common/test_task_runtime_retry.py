from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import Reject, Retry

from taskyard_common import task_runtime
from taskyard_common.celery_app import task_reprs


class _Task:
    def __init__(self, outcome: BaseException) -> None:
        self.request = SimpleNamespace(id="t-1")
        self.outcome = outcome
        self.options: dict[str, Any] = {}

    def retry(self, **options: Any) -> BaseException:
        self.options = options
        raise self.outcome


REPRS = task_reprs("email", 3)


class _Log:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict[str, Any]]] = []

    def error(self, event: str, **fields: Any) -> None:
        self.errors.append((event, fields))


def test_a_published_retry_is_returned_to_be_raised() -> None:
    task = _Task(Retry("later"))
    outcome = task_runtime.publish_retry(task, "email.high", 4, REPRS, _Log())  # type: ignore[arg-type]
    assert isinstance(outcome, Retry)
    assert task.options["countdown"] == 4
    assert task.options["queue"] == "email.high"
    assert task.options["kwargsrepr"] == "{'payload': <email>, 'max_retries': 3}"


@pytest.mark.parametrize(("delay", "pause"), [(2, 2), (60, 5)])
def test_an_unpublished_retry_requeues_after_a_bounded_pause(
    monkeypatch: pytest.MonkeyPatch, delay: int, pause: int
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(task_runtime.time, "sleep", slept.append)
    log = _Log()
    outcome = task_runtime.publish_retry(
        _Task(ConnectionError("broker refused")),  # type: ignore[arg-type]
        "email.high",
        delay,
        REPRS,
        log,
    )
    assert isinstance(outcome, Reject) and outcome.requeue
    assert slept == [pause]
    # One structured line on the task's bound logger (task_id, type, priority, attempt).
    ((event, fields),) = log.errors
    assert event == "task_retry_publish_failed"
    assert fields["error_type"] == "ConnectionError"
    assert fields["requeue_after_seconds"] == pause
