"""Asking for a callback delivery never fails the final status it follows."""

from __future__ import annotations

from typing import Any, cast

import celery
import pytest
import redis
from structlog.testing import capture_logs

from taskyard_common.callbacks.enqueue import CallbackRequests
from taskyard_common.records import CallbackState, CallbackStatus, TaskStatus
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


class RecordingStore:
    def __init__(self) -> None:
        self.deliveries: list[tuple[str, CallbackState]] = []

    def callback_state(self, task_id: str) -> CallbackState:
        return CallbackState(url="https://93.184.216.34/hook")

    def start_callback_delivery(self, task_id: str, delivery_id: str, state: CallbackState) -> bool:
        self.deliveries.append((delivery_id, state))
        return True

    def set_callback_state(self, task_id: str, delivery_id: str, state: CallbackState) -> bool:
        self.deliveries.append((delivery_id, state))
        return True


class RefusingApp:
    def send_task(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("nothing may be queued while callbacks are turned off")


@pytest.mark.usefixtures("callbacks_turned_off")
def test_while_callbacks_are_turned_off_nothing_is_queued_and_the_record_says_failed() -> None:
    store = RecordingStore()
    with capture_logs() as logs:
        CallbackRequests(cast(celery.Celery, RefusingApp()))(
            cast(StatusStore, store), "task-1", TaskStatus.SUCCESS
        )
    (started_id, started), (failed_id, failed) = store.deliveries
    assert started_id == failed_id
    assert started.status is CallbackStatus.PENDING
    assert failed.status is CallbackStatus.FAILED
    assert failed.last_error == (
        "not queued: callbacks are turned off on this server (TASKYARD_CALLBACKS_ENABLED)"
    )
    assert [(line["event"], line["task_id"]) for line in logs] == [
        ("callback_not_queued", "task-1")
    ]
