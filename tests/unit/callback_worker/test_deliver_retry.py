"""A delivery's retry the broker refuses is requeued, never acknowledged and lost."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Reject

from taskyard_callback_worker import tasks
from taskyard_common import task_runtime
from taskyard_common.settings import Settings


def test_a_refused_retry_publish_requeues_the_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("broker refused")

    monkeypatch.setattr(tasks.Deliveries, "attempt", lambda *_args: 3)
    monkeypatch.setattr(task_runtime.time, "sleep", lambda _seconds: None)
    deliver = tasks.register_deliver(Celery("callback-test"), Settings())
    monkeypatch.setattr(deliver, "retry", refused)
    with pytest.raises(Reject) as rejected:
        deliver("task-1", "delivery-1", "task.failed")
    assert rejected.value.requeue
