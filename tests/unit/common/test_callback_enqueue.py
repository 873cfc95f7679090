"""Asking for a callback delivery never fails the final status it follows."""

from __future__ import annotations

from typing import Any, cast

import redis
from structlog.testing import capture_logs

from taskyard_common.callbacks.enqueue import CallbackRequests
from taskyard_common.records import TaskStatus
from taskyard_common.status_store import StatusStore


class UnreachableStore:
    def callback_state(self, task_id: str) -> Any:
        raise redis.ConnectionError("Redis went away")


def test_a_redis_error_is_logged_not_raised() -> None:
    with capture_logs() as logs:
        CallbackRequests()(cast(StatusStore, UnreachableStore()), "task-1", TaskStatus.SUCCESS)
    assert [(line["event"], line["task_id"]) for line in logs] == [
        ("callback_enqueue_failed", "task-1")
    ]
